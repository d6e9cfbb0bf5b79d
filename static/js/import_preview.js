// Import preview with label mapping: before annotated files are imported, the manager sees how many items and
// annotations they hold, which labels the project lacks (with counts), and the first items with their spans; per
// unknown label they choose: map to a project label, add it to the project, or drop it. Nothing is stored until
// "Import" (the server parses the files again then, with the chosen plan).
import { api, h } from './api.js';

const PREVIEW_TEXT = 1500;

function targetsOf(config) {
  const entity = (config.entity_labels || []).map((l) => l.name);
  return { labels: [...entity, ...(config.phi_labels || [])], relations: (config.relation_types || []).map((r) => r.name) };
}

// The first guess: what the project's standing plan says, else a project label of the same name in another case.
function initialChoice(name, kind, plan, targets) {
  const standing = (plan[kind] || {})[name];
  if (standing !== undefined) return standing === null ? '' : standing;
  const same = targets[kind].find((t) => t.toLowerCase() === name.toLowerCase());
  if (same) return same;
  return plan.unknown === 'add' ? '+' : '';
}

function choiceSelect(name, kind, count, choice, targets, mayAdd, onChange) {
  const select = h('select', { class: 'label-choice', 'aria-label': `what to do with ${name}`, dataset: { name, kind } },
    h('option', { value: '' }, 'drop these annotations'),
    mayAdd ? h('option', { value: '+' }, `add "${name}" to the project`) : null,
    ...targets[kind].map((t) => h('option', { value: t }, `map to ${t}`)));
  select.value = choice;
  select.addEventListener('change', onChange);
  return h('tr', { class: 'unknown-label', dataset: { name, kind } }, h('td', {}, h('code', {}, name)), h('td', { class: 'num' }, String(count)),
    h('td', {}, select));
}

// Spans inline where they do not overlap; the others are listed under the text (the count says how many).
function itemPreview(item, labelOf) {
  const text = item.text.slice(0, PREVIEW_TEXT);
  const spans = (item.annotations[0] || { spans: [] }).spans.slice().sort((a, b) => a.start - b.start || b.end - a.end);
  const parts = [];
  let at = 0;
  let overlapping = 0;
  for (const s of spans) {
    if (s.start < at || s.end > text.length) { overlapping += 1; continue; }
    parts.push(text.slice(at, s.start));
    const target = labelOf(s.label);
    parts.push(h('mark', { class: `preview-span${target === null ? ' dropped' : ''}`, dataset: { label: s.label },
      title: target === null ? `${s.label}: dropped` : `${s.label} → ${target}` },
    text.slice(s.start, s.end), h('sup', { class: 'preview-label' }, target === null ? `${s.label} ✕` : target)));
    at = s.end;
  }
  parts.push(text.slice(at));
  const more = [item.text.length > PREVIEW_TEXT || item.truncated ? ' …' : '',
    overlapping ? ` (${overlapping} overlapping or later span(s) not shown)` : ''].join('');
  return h('li', { class: 'preview-item' }, h('strong', {}, item.name), ` · ${spans.length} span(s)${more}`,
    h('p', { class: 'preview-text' }, ...parts));
}

function summaryLine(data) {
  const failed = data.failed.length ? `, ${data.failed.length} file(s) with errors` : '';
  return `${data.items} item(s) with ${data.annotations} imported annotation set(s) in these files${failed}.`;
}

// Shows the preview in `box`; resolves with the plan to import with, or null when the manager cancels.
export async function previewImport(box, projectId, files, sendPreview) {
  const [data, project] = await Promise.all([sendPreview(), api('GET', `/projects/${projectId}`)]);
  const targets = targetsOf(project.label_config || {});
  const plan = data.plan || { labels: {}, relations: {}, unknown: 'drop' };
  const plan_ = (project.workflow || {}).import_label_plan || {};
  const unknown = (data.labels && data.labels.unknown) || { labels: {}, relations: {} };
  const names = Object.keys(unknown.labels);
  const relationNames = Object.keys(unknown.relations);
  // Nothing to decide: import at once (files that fail are reported by the import itself, as without a preview).
  if (!names.length && !relationNames.length) return { labels: {}, relations: {}, unknown: plan.unknown };
  const rows = [
    ...names.map((n) => choiceSelect(n, 'labels', unknown.labels[n], initialChoice(n, 'labels', plan, targets), targets, data.may_add_labels, () => redraw())),
    ...relationNames.map((n) => choiceSelect(n, 'relations', unknown.relations[n], initialChoice(n, 'relations', plan, targets), targets, data.may_add_labels, () => redraw())),
  ];
  const chosen = () => {
    const out = { labels: {}, relations: {}, unknown: 'drop' };
    for (const row of rows) {
      const select = row.querySelector('select');
      out[select.dataset.kind][select.dataset.name] = select.value || null;
    }
    return out;
  };
  const list = h('ol', { class: 'preview-items', id: 'import-preview-items' });
  const redraw = () => {
    const current = chosen().labels;
    const labelOf = (label) => (label in current ? (current[label] === '+' ? label : current[label]) : label);
    list.replaceChildren(...data.preview.map((item) => itemPreview(item, labelOf)));
  };
  redraw();
  const importButton = h('button', { type: 'button', class: 'primary', id: 'import-commit' }, `Import ${files.length} file(s)`);
  const cancel = h('button', { type: 'button', id: 'import-cancel' }, 'Cancel');
  const remember = h('input', { type: 'checkbox', id: 'remember-plan' });
  box.replaceChildren(h('section', { class: 'import-preview', id: 'import-preview' },
    h('h3', {}, 'Import preview'),
    h('p', { id: 'import-preview-summary' }, summaryLine(data)),
    data.label_error ? h('p', { class: 'error' }, data.label_error) : null,
    ...data.failed.map((f) => h('p', { class: 'error upload-failure' }, `${f.name}: ${f.error}`)),
    rows.length ? h('table', { class: 'list', id: 'unknown-labels' },
      h('caption', {}, 'Labels this project does not have'),
      h('thead', {}, h('tr', {}, h('th', {}, 'label in the files'), h('th', {}, 'count'), h('th', {}, 'import as'))),
      h('tbody', {}, ...rows)) : null,
    data.preview.length ? h('p', { class: 'muted' }, `The first ${data.preview.length} item(s), with the labels they will get:`) : null,
    list,
    h('label', { class: 'small' }, remember, ' use these choices for this project\'s next imports too'),
    h('div', { class: 'row' }, importButton, cancel)));
  return new Promise((resolve) => {
    importButton.addEventListener('click', async () => {
      const plan = chosen();
      if (remember.checked) {  // the project's standing plan: later uploads, background jobs and server imports
        const standing = { labels: { ...(plan_.labels || {}), ...plan.labels }, relations: { ...(plan_.relations || {}), ...plan.relations }, unknown: plan_.unknown || 'drop' };
        await api('PATCH', `/projects/${projectId}`, { workflow: { import_label_plan: standing } });
      }
      box.replaceChildren();
      resolve(plan);
    });
    cancel.addEventListener('click', () => { box.replaceChildren(); resolve(null); });
  });
}

export function labelsSummary(report) {
  if (!report) return '';
  const bits = [];
  const mapped = Object.entries(report.mapped || {}).map(([k, v]) => `${k} (${v})`);
  if (mapped.length) bits.push(`mapped ${mapped.join(', ')}`);
  const added = [...(report.added?.labels || []), ...(report.added?.relations || [])];
  if (added.length) bits.push(`added ${added.join(', ')}`);
  if (report.dropped?.spans) bits.push(`dropped ${report.dropped.spans} span(s)`);
  if (report.dropped?.relations) bits.push(`dropped ${report.dropped.relations} relation(s)`);
  return bits.length ? ` Labels: ${bits.join('; ')}.` : '';
}
