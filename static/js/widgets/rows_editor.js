// A small table editor for lists of records (labels, relation types): one row per record, one input per column,
// add and remove rows. Columns: {key, title, kind: 'text' | 'list' | 'color' | 'key' | 'textarea', width}.
// 'list' columns edit arrays as comma-separated text.
import { h } from '../api.js';

export function rowsEditor(container, { columns, rows, addLabel = 'Add', idPrefix = 'row' }) {
  const body = h('tbody');
  const table = h('table', { class: 'list rows-editor', id: `${idPrefix}-table` },
    h('thead', {}, h('tr', {}, ...columns.map((c) => h('th', {}, c.title)), h('th', {}))), body);

  function input(column, value) {
    const common = { 'aria-label': column.title, dataset: { key: column.key }, class: `col-${column.key}` };
    if (column.kind === 'color') return h('input', { ...common, type: 'color', value: value || '#888888' });
    if (column.kind === 'key') return h('input', { ...common, maxlength: 1, size: 2, value: value || '' });
    if (column.kind === 'list') return h('input', { ...common, value: (value || []).join(', '), placeholder: 'a, b' });
    if (column.kind === 'textarea') { const t = h('textarea', { ...common, rows: 1 }); t.value = value || ''; return t; }
    return h('input', { ...common, value: value || '' });
  }

  function addRow(record = {}) {
    const tr = h('tr', { class: 'editor-row' }, ...columns.map((c) => h('td', {}, input(c, record[c.key]))),
      h('td', {}, h('button', { type: 'button', class: 'link remove-row', onclick: () => tr.remove() }, 'Remove')));
    tr._extra = record;  // fields this editor does not show are kept as they were
    body.append(tr);
    return tr;
  }

  for (const record of rows || []) addRow(record);
  container.append(table, h('button', { type: 'button', class: 'add-row', id: `${idPrefix}-add`,
    onclick: () => addRow().querySelector('input, textarea').focus() }, addLabel));

  return {
    value() {
      return [...body.querySelectorAll('tr.editor-row')].map((tr) => {
        const out = { ...tr._extra };
        for (const c of columns) {
          const el = tr.querySelector(`[data-key="${c.key}"]`);
          const raw = el.value.trim();
          if (c.kind === 'list' && raw) out[c.key] = raw.split(',').map((x) => x.trim()).filter(Boolean);
          else if (c.kind === 'list' && Array.isArray(tr._extra[c.key])) out[c.key] = [];  // emptied on purpose
          else if (raw && c.kind !== 'list') out[c.key] = raw;
          else delete out[c.key];
        }
        return out;
      }).filter((r) => Object.keys(r).length);
    },
  };
}

export const csv = (values) => (values || []).join(', ');
export const fromCsv = (text) => text.split(',').map((x) => x.trim()).filter(Boolean);
