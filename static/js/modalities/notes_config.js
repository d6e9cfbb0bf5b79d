// Label configuration form of the notes modality (Settings page): entity labels with hotkeys, colours and
// terminologies, PHI labels, relation types, assertions, de-identification. The server validates on save.
import { h } from '../api.js';
import { csv, fromCsv, rowsEditor } from '../widgets/rows_editor.js';

const ASSERTIONS = ['present', 'negated', 'possible', 'hypothetical', 'historical', 'family'];

export function editConfig(container, config) {
  const entities = h('fieldset', {}, h('legend', {}, 'Entity labels'));
  const relations = h('fieldset', {}, h('legend', {}, 'Relation types (head labels → tail labels)'));
  const phi = h('input', { id: 'cfg-phi-labels', value: csv(config.phi_labels), size: 60, 'aria-label': 'PHI labels' });
  const assertionBoxes = ASSERTIONS.map((a) => h('label', {}, h('input', { type: 'checkbox', value: a, class: 'cfg-assertion',
    checked: (config.assertions || ASSERTIONS).includes(a) }), ` ${a} `));
  const deid = h('input', { type: 'checkbox', id: 'cfg-deid', checked: Boolean(config.deidentify_at_ingest) });
  const mode = h('select', { id: 'cfg-deid-mode' }, ...['mask', 'surrogate'].map((m) => h('option', { value: m, selected: config.deidentify_mode === m }, m)));
  const maxChars = h('input', { type: 'number', id: 'cfg-max-chars', min: 1, max: 10_000_000, value: config.max_chars || 1_000_000 });
  container.append(entities, relations,
    h('label', {}, 'PHI labels (comma-separated) ', phi),
    h('fieldset', {}, h('legend', {}, 'Assertions offered'), ...assertionBoxes),
    h('label', {}, deid, ' De-identify notes at upload (annotators never see the original)'),
    h('label', {}, 'De-identification ', mode),
    h('label', {}, 'Longest note accepted (characters) ', maxChars));
  const entityRows = rowsEditor(entities, { idPrefix: 'entity-labels', addLabel: 'Add entity label', rows: config.entity_labels,
    columns: [{ key: 'name', title: 'Name' }, { key: 'hotkey', title: 'Key', kind: 'key' },
      { key: 'color', title: 'Colour', kind: 'color' }, { key: 'terminologies', title: 'Terminologies', kind: 'list' }] });
  const relationRows = rowsEditor(relations, { idPrefix: 'relation-types', addLabel: 'Add relation type', rows: config.relation_types,
    columns: [{ key: 'name', title: 'Name' }, { key: 'head', title: 'Head labels', kind: 'list' },
      { key: 'tail', title: 'Tail labels', kind: 'list' }] });
  return {
    value() {
      return {
        ...config,
        entity_labels: entityRows.value(),
        relation_types: relationRows.value(),
        phi_labels: fromCsv(phi.value),
        assertions: [...container.querySelectorAll('.cfg-assertion')].filter((b) => b.checked).map((b) => b.value),
        deidentify_at_ingest: deid.checked,
        deidentify_mode: mode.value,
        max_chars: Number(maxChars.value),
      };
    },
  };
}
