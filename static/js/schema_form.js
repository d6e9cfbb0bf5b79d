// Renders a form for a JSON Schema subset (object, array of objects/strings, string, number, boolean, enum) and
// reads it back. Unknown shapes fall back to a JSON textarea, so every schema stays editable.
import { h } from './api.js';

function field(schema, value, label) {
  if (schema.type === 'boolean') {
    const input = h('input', { type: 'checkbox' });
    input.checked = Boolean(value ?? schema.default);
    return { element: h('label', { class: 'check' }, input, ` ${label}`), value: () => input.checked };
  }
  if (schema.type === 'string' && schema.enum) {
    const sel = h('select', {}, ...schema.enum.map((v) => h('option', { value: v }, v)));
    sel.value = value ?? schema.default ?? schema.enum[0];
    return { element: h('label', {}, `${label} `, sel), value: () => sel.value };
  }
  if (schema.type === 'string' || schema.type === 'number' || schema.type === 'integer') {
    const long = schema.type === 'string' && (schema.maxLength || 0) >= 500;  // guidelines, instructions
    const input = long
      ? h('textarea', { rows: 2, 'data-field': label, maxlength: schema.maxLength })
      : h('input', { type: schema.type === 'string' ? 'text' : 'number', 'data-field': label, maxlength: schema.maxLength });
    input.value = value ?? schema.default ?? '';
    const read = () => {
      if (schema.type === 'string') return input.value;
      return input.value === '' ? undefined : Number(input.value);
    };
    return { element: h('label', {}, `${label} `, input), value: read };
  }
  if (schema.type === 'array' && schema.items && schema.items.type === 'string') {
    const input = h('input', { type: 'text', placeholder: 'comma-separated' });
    input.value = (value || []).join(', ');
    const read = () => input.value.split(',').map((s) => s.trim()).filter(Boolean);
    return { element: h('label', {}, `${label} `, input), value: read };
  }
  if (schema.type === 'array' && schema.items && schema.items.type === 'object') return arrayOfObjects(schema, value || [], label);
  if (schema.type === 'object' && schema.properties) return objectForm(schema, value || {}, label);
  const area = h('textarea', { rows: 4 });
  area.value = JSON.stringify(value ?? schema.default ?? null, null, 2);
  return { element: h('label', {}, `${label} (JSON) `, area), value: () => JSON.parse(area.value) };
}

function objectForm(schema, value, label) {
  const fields = Object.entries(schema.properties).map(([key, sub]) => [key, field(sub, value[key], sub.title || key)]);
  const element = h('div', { class: 'schema-object' }, label ? h('strong', {}, label) : null, ...fields.map(([, f]) => f.element));
  const read = () => {
    const out = {};
    const required = schema.required || [];
    for (const [key, f] of fields) {
      const v = f.value();
      // An optional field left empty is omitted: '' would fail patterns such as a hotkey's.
      const empty = v === '' || (Array.isArray(v) && v.length === 0);
      if (v !== undefined && !(empty && !required.includes(key))) out[key] = v;
    }
    return out;
  };
  return { element, value: read };
}

function arrayOfObjects(schema, values, label) {
  const list = h('div', { class: 'schema-array' });
  const rows = [];
  const add = (v) => {
    const f = objectForm(schema.items, v, '');
    const row = h('div', { class: 'schema-row' }, f.element);
    const entry = { f, row };
    row.append(h('button', { type: 'button', class: 'link', onclick: () => { rows.splice(rows.indexOf(entry), 1); row.remove(); } }, 'Remove'));
    rows.push(entry);
    list.append(row);
  };
  values.forEach(add);
  const addButton = h('button', { type: 'button', class: 'add-row', onclick: () => add({}) }, `Add ${label.toLowerCase().replace(/s$/, '')}`);
  return { element: h('div', {}, h('strong', {}, label), list, addButton), value: () => rows.map((r) => r.f.value()) };
}

export function schemaForm(schema, initial) {
  return objectForm(schema, initial || {}, '');
}
