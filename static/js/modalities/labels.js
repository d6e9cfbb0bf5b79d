// UI of the `labels` modality: the text, one button per label (hotkeys), model suggestion preselected.
import { h } from '../api.js';

let readOnlyMounts = 0;

export function mount(container, { item, labelConfig, initial, fromModel, readOnly }) {
  const idSuffix = readOnly ? `-v${++readOnlyMounts}` : '';  // several read-only mounts share the review page
  const multi = Boolean(labelConfig.multi_label);
  const chosen = new Set(initial ? initial.labels : []);
  const buttons = new Map();
  const refresh = () => { for (const [name, b] of buttons) b.classList.toggle('selected', chosen.has(name)); };
  const toggle = (name) => {
    if (chosen.has(name)) chosen.delete(name);
    else { if (!multi) chosen.clear(); chosen.add(name); }
    refresh();
  };
  const bar = h('div', { class: 'label-bar', role: 'group', 'aria-label': 'labels' });
  labelConfig.labels.forEach((label, i) => {
    const key = label.hotkey || (i < 9 ? String(i + 1) : '');
    const b = h('button', { type: 'button', class: 'label', title: label.description || '', dataset: { label: label.name },
      onclick: () => toggle(label.name) }, key ? `${key} · ` : '', label.name);
    buttons.set(label.name, b);
    bar.append(b);
  });
  const hint = fromModel ? h('p', { class: 'muted', id: `model-hint${idSuffix}` }, 'Suggestion from the model is preselected; correct it if needed.') : null;
  const instructions = labelConfig.instructions
    ? h('p', { class: 'muted instructions', id: `instructions${idSuffix}` }, labelConfig.instructions) : null;
  const text = h('pre', { class: 'item-text', id: `item-text${idSuffix}` }, item.text || '');
  container.replaceChildren(...[instructions, hint, text, bar].filter(Boolean));  // replaceChildren(null) would print "null"
  refresh();
  const onKey = (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || ['INPUT', 'TEXTAREA'].includes(e.target.tagName)) return;
    labelConfig.labels.forEach((label, i) => {
      if (e.key === (label.hotkey || String(i + 1))) toggle(label.name);
    });
  };
  if (!readOnly) container.addEventListener('keydown', onKey);  // scoped: the page forwards unfocused keys
  return {
    value() {
      if (!chosen.size) throw new Error('Choose a label first.');
      return { labels: [...chosen] };
    },
    snapshot() { return { payload: { labels: [...chosen] }, pending: [] }; },
    destroy() { container.removeEventListener('keydown', onKey); container.replaceChildren(); },
  };
}
export { editConfig } from './labels_config.js';
