// Review page: the queue (riskiest first), then one item's versions side by side (rendered read-only by the
// modality's own UI module), the modality's diff, and the decisions.
import { api, toast, h } from './api.js';

const root = document.getElementById('review');
const projectId = root.dataset.projectId;
const labelConfig = JSON.parse(document.getElementById('label-config').textContent);
const pct = (v) => (v === null || v === undefined ? '—' : `${Math.round(v * 100)}%`);
let modality = null;
let current = null;

async function loadQueue() {
  const data = await api('GET', `/projects/${projectId}/review-queue?limit=100`);
  const body = document.querySelector('#review-queue tbody');
  body.replaceChildren(...data.items.map((i) => h('tr', { class: 'queue-row', dataset: { itemId: i.id } },
    h('td', {}, h('a', { href: '#', onclick: (e) => { e.preventDefault(); open(i.id); } }, `#${i.id} ${i.name || ''}`)),
    h('td', {}, i.stage), h('td', {}, i.reason))));
  if (!data.items.length) body.replaceChildren(h('tr', {}, h('td', { colspan: 3, class: 'muted', id: 'queue-empty' }, 'Nothing awaits review.')));
}

// A modality's diff entry in words. Entries may carry their own `what`; offsets are code points into the text.
function describe(d) {
  const who = (i) => (current.versions[i] ? current.versions[i].author : `version ${i + 1}`);
  const snippet = d.start !== undefined && d.end !== undefined
    ? `“${Array.from(current.item.text || '').slice(d.start, d.end).join('')}”` : '';
  const show = (v) => (v && typeof v === 'object' ? `${v.terminology || ''} ${v.code || ''}`.trim() : String(v));
  switch (d.kind) {
    case 'span_only_in': return `${d.label} ${snippet} marked only by ${who(d.in)}`;
    case 'label_differs': return `${snippet}: label ${d.values.join(' vs ')}`;
    case 'assertion_differs': return `${snippet}: assertion ${d.values.join(' vs ')}`;
    case 'concept_differs': return `${snippet}: concept ${d.values.map(show).join(' vs ')}`;
    case 'relation_only_in': return `${d.type} relation only in ${who(d.in)}'s version`;
    default: return `${d.what || d.kind || 'difference'}${d.versions ? `: ${d.versions.map((v) => JSON.stringify(v)).join(' vs ')}` : ''}`;
  }
}

function versionCard(version, index) {
  const box = h('div', { class: 'version-body' });
  modality.mount(box, { item: current.item, labelConfig, stage: 'review', initial: version.payload, fromModel: false, readOnly: true, annotations: [] });
  const accept = h('button', { class: 'primary', dataset: { annotationId: version.annotation_id },
    onclick: () => decide({ action: 'accept', annotation_id: version.annotation_id }) }, `Accept ${version.author}'s version`);
  const back = h('button', { onclick: () => decide({ action: 'send_back', annotation_id: version.annotation_id }) }, `Send back to ${version.author}`);
  return h('article', { class: 'version card', dataset: { author: version.author } },
    h('h3', {}, `Version ${index + 1} · ${version.author}`), box, h('div', { class: 'row' }, accept, back));
}

async function open(itemId) {
  if (!modality) modality = await import(root.dataset.uiModule);
  current = await api('GET', `/items/${itemId}/review`);
  document.getElementById('review-detail').hidden = false;
  document.getElementById('review-title').textContent = `Item #${itemId} · ${current.item.stage}`;
  const a = current.agreement;
  document.getElementById('review-reason').textContent = a
    ? `Why here: ${a.reason}.` + (a.model_agreement === null ? ' No model draft to compare with.' : '') : 'Peer review';
  document.getElementById('review-diff').replaceChildren(...current.diff.map((d) => h('li', { class: 'diff' }, describe(d))));
  document.getElementById('review-versions').replaceChildren(...current.versions.map(versionCard));
  document.getElementById('review-comment').value = '';
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

document.getElementById('review-merge').addEventListener('click', () => decide({ action: 'merge' }));
loadQueue().catch((e) => toast(e.message, 'error'));
