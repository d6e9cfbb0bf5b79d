// Ontologies page: what is loaded, and the shared concept picker with the chosen concept's hierarchy.
import { api, toast, h } from './api.js';
import { conceptPicker, terminologyName } from './widgets/concept_picker.js';

const filter = document.getElementById('terminology-filter');
const host = document.getElementById('picker-host');

function mountPicker(query = '') {
  const terminologies = filter.value ? [filter.value] : [];
  host.replaceChildren(conceptPicker({ terminologies, initialQuery: query, onPick: show, onCancel: () => mountPicker() }));
}

async function show(concept) {
  try {
    const c = await api('GET', `/ontologies/${encodeURIComponent(concept.terminology)}/concepts/${encodeURIComponent(concept.code)}`);
    document.getElementById('concept-detail').hidden = false;
    document.getElementById('concept-title').textContent = `${terminologyName(concept.terminology)} ${c.code} · ${c.name}`;
    document.getElementById('concept-path').textContent = (c.path || []).map((p) => (typeof p === 'string' ? p : p.name)).join(' › ');
    document.getElementById('concept-synonyms').textContent = (c.synonyms || []).length ? `Synonyms: ${c.synonyms.join('; ')}` : '';
    document.getElementById('concept-children').replaceChildren(...(c.children || []).slice(0, 50)
      .map((child) => h('li', {}, `${child.code} ${child.name}`)));
  } catch (e) { toast(e.message, 'error'); }
  mountPicker();
}

async function load() {
  const data = await api('GET', '/ontologies');
  document.querySelector('#terminologies tbody').replaceChildren(...data.items.map((t) => h('tr', { dataset: { name: t.name } },
    h('td', {}, terminologyName(t.name)), h('td', {}, t.version), h('td', {}, String(t.concept_count)), h('td', {}, t.licence))));
  for (const t of data.items) filter.append(h('option', { value: t.name }, terminologyName(t.name)));
  filter.addEventListener('change', () => mountPicker());
  mountPicker();
}

load().catch((e) => toast(e.message, 'error'));
