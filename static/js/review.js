// Review page: the queue (riskiest first), then one item's versions side by side (rendered read-only by the
// modality's own UI module), the modality's diff, agreement per layer, the comment thread, and decisions:
// accept one version, send one back, or curate a merge unit by unit (ties are never decided by order).
import { api, toast, h, mediaOf } from './api.js';

const root = document.getElementById('review');
const projectId = root.dataset.projectId;
const labelConfig = JSON.parse(document.getElementById('label-config').textContent);
const pct = (v) => (v === null || v === undefined ? '—' : `${Math.round(v * 100)}%`);
const MAX_UNITS_SHOWN = 500;
let modality = null;
let current = null;
let curation = null;
let choices = {};
let mounted = [];

async function loadQueue() {
  const data = await api('GET', `/projects/${projectId}/review-queue?limit=100`);
  const body = document.querySelector('#review-queue tbody');
  body.replaceChildren(...data.items.map((i) => h('tr', { class: 'queue-row', dataset: { itemId: i.id } },
    h('td', {}, h('a', { href: '#', onclick: (e) => { e.preventDefault(); open(i.id); } }, `#${i.id} ${i.name || ''}`)),
    h('td', {}, i.stage), h('td', {}, i.reason))));
  if (!data.items.length) body.replaceChildren(h('tr', {}, h('td', { colspan: 3, class: 'muted', id: 'queue-empty' }, 'Nothing awaits review.')));
  return data.items;
}

const who = (i) => (current.versions[i] ? current.versions[i].author : `version ${i + 1}`);

function genericDiff(d) {
  return `${d.what || d.kind || 'difference'}${d.versions ? `: ${d.versions.map((v) => JSON.stringify(v)).join(' vs ')}` : ''}`;
}

function genericOption(option) {
  if (option.payload !== undefined) return JSON.stringify(option.payload).slice(0, 120);
  return JSON.stringify(option).slice(0, 120);
}

function versionCard(version, index) {
  const box = h('div', { class: 'version-body' });
  mounted.push(modality.mount(box, { item: current.item, labelConfig, stage: 'review', initial: version.payload, fromModel: false, readOnly: true, annotations: [], ...mediaOf(current.item) }));
  const accept = h('button', { class: 'primary', dataset: { annotationId: version.annotation_id },
    onclick: () => decide({ action: 'accept', annotation_id: version.annotation_id }) }, `Accept ${version.author}'s version`);
  const back = h('button', { class: 'send-back', onclick: () => decide({ action: 'send_back', annotation_id: version.annotation_id }) }, `Send back to ${version.author}`);
  return h('article', { class: 'version card', dataset: { author: version.author } },
    h('h3', {}, `Version ${index + 1} · ${version.author}`), box, h('div', { class: 'row' }, accept, back));
}

function renderCuration() {
  const describe = modality.describeOption || genericOption;
  const open = curation.units.filter((u) => !u.agreed);
  document.getElementById('curation-summary').textContent =
    `${curation.units.length - open.length} unit(s) agreed · ${open.length} differ · ${curation.tied} tied (must choose)`;
  const rows = open.slice(0, MAX_UNITS_SHOWN).map((unit) => {
    const name = `unit-${unit.id}`;
    const options = unit.options.map((option, index) => {
      const input = h('input', { type: 'radio', name, value: index, dataset: { unit: unit.id },
        onchange: () => { choices[unit.id] = index; row.classList.remove('tied'); } });
      if ((choices[unit.id] ?? unit.default) === index) input.checked = true;
      return h('label', {}, input, ` ${option.versions.map(who).join(', ')}: `, describe(option, current.item));
    });
    const row = h('div', { class: `curation-unit${unit.default === null && choices[unit.id] === undefined ? ' tied' : ''}`, dataset: { unit: unit.id } },
      h('div', { class: 'unit-where' }, modality.describeUnit ? modality.describeUnit(unit, current.item) : unit.id),
      h('div', { class: 'options' }, options));
    return row;
  });
  if (open.length > MAX_UNITS_SHOWN) rows.push(h('p', { class: 'muted' }, `…and ${open.length - MAX_UNITS_SHOWN} more; those take the majority's option, and tied ones must be chosen before saving.`));
  document.getElementById('curation-units').replaceChildren(...rows);
  document.getElementById('curation-preview-box').hidden = true;
}

async function open(itemId) {
  if (!modality) modality = await import(root.dataset.uiModule);
  for (const m of mounted) if (m && m.destroy) m.destroy();
  mounted = [];
  [current, curation] = await Promise.all([api('GET', `/items/${itemId}/review`), api('GET', `/items/${itemId}/curation`)]);
  choices = {};
  document.getElementById('review-detail').hidden = false;
  document.getElementById('review-title').textContent = `Item #${itemId} · ${current.item.stage}`;
  const a = current.agreement;
  document.getElementById('review-reason').textContent = a
    ? `Why here: ${a.reason}.` + (a.model_agreement === null ? ' No model draft to compare with.' : '') : 'Peer review';
  document.getElementById('review-layers').textContent = a && a.layers && Object.keys(a.layers).length
    ? `Agreement per layer: ${Object.entries(a.layers).map(([k, v]) => `${k} ${pct(v)}`).join(' · ')}` : '';
  const thread = current.comments || [];
  document.getElementById('review-thread-summary').textContent = `Comments (${thread.length})`;
  document.getElementById('review-thread').replaceChildren(...thread.map((c) => h('li', {},
    h('span', { class: 'muted' }, `${c.from || '?'}${c.to ? ` → ${c.to}` : ''} · ${c.kind} · ${new Date(c.created_at).toLocaleString()}: `), c.text)));
  document.getElementById('review-thread-box').open = thread.length > 0;
  const describe = modality.describeDiff ? (d) => modality.describeDiff(d, current.item, who) : genericDiff;
  document.getElementById('review-diff').replaceChildren(...current.diff.slice(0, 200).map((d) => h('li', { class: 'diff' }, describe(d))));
  document.getElementById('review-versions').replaceChildren(...current.versions.map(versionCard));
  const compare = document.getElementById('review-compare');
  if (modality.compareView && current.versions.length > 1) {  // e.g. surgical phases stacked, disagreements marked
    const players = mounted.slice();
    modality.compareView(compare, { item: current.item, versions: current.versions, labelConfig, who,
      seek: (frame) => players.forEach((m) => m && m.seek && m.seek(frame)) });
  } else compare.replaceChildren();
  document.getElementById('review-comment').value = '';
  document.getElementById('curation').hidden = current.versions.length < 2;
  renderCuration();
}

async function decide(body) {
  body.comment = document.getElementById('review-comment').value || null;
  try {
    const out = await api('POST', `/items/${current.item.id}/decision`, body);
    toast(`Decision saved: ${out.action}`);
    document.getElementById('review-detail').hidden = true;
    await loadQueue();
  } catch (e) { toast(e.message, 'error'); }
}

document.getElementById('curation-preview').addEventListener('click', async () => {
  try {
    const out = await api('POST', `/items/${current.item.id}/curation/preview`, { choices });
    const box = document.getElementById('curation-preview-box');
    box.hidden = false;
    mounted.push(modality.mount(box, { item: current.item, labelConfig, stage: 'review', initial: out.payload, fromModel: false, readOnly: true, annotations: [], ...mediaOf(current.item) }));
  } catch (e) { toast(e.message, 'error'); }
});
document.getElementById('curation-save').addEventListener('click', () => decide({ action: 'merge', choices }));
document.getElementById('post-review-comment').addEventListener('click', async () => {
  const text = document.getElementById('review-comment').value.trim();
  if (!text || !current) return;
  try {
    await api('POST', `/items/${current.item.id}/comments`, { text });
    toast('Comment posted');
    await open(current.item.id);
  } catch (e) { toast(e.message, 'error'); }
});
loadQueue().then((items) => {
  const wanted = Number(new URLSearchParams(window.location.search).get('item'));
  if (wanted && items.some((i) => i.id === wanted)) open(wanted);
}).catch((e) => toast(e.message, 'error'));
