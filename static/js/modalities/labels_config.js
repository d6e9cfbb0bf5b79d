// Label configuration form of the labels modality (Settings page).
import { h } from '../api.js';
import { rowsEditor } from '../widgets/rows_editor.js';

export function editConfig(container, config) {
  const labels = h('fieldset', {}, h('legend', {}, 'Labels'));
  const multi = h('input', { type: 'checkbox', id: 'cfg-multi', checked: Boolean(config.multi_label) });
  const instructions = h('textarea', { id: 'cfg-instructions', rows: 3, maxlength: 5000 });
  instructions.value = config.instructions || '';
  container.append(labels, h('label', {}, multi, ' Several labels per item'),
    h('label', {}, 'Instructions for annotators ', instructions));
  const rows = rowsEditor(labels, { idPrefix: 'labels', addLabel: 'Add label', rows: config.labels,
    columns: [{ key: 'name', title: 'Name' }, { key: 'hotkey', title: 'Key', kind: 'key' },
      { key: 'keywords', title: 'Keywords (pre-annotation)', kind: 'list' }, { key: 'description', title: 'Guideline', kind: 'textarea' }] });
  return {
    value() {
      const out = { ...config, labels: rows.value(), multi_label: multi.checked };
      if (instructions.value.trim()) out.instructions = instructions.value; else delete out.instructions;
      return out;
    },
  };
}
