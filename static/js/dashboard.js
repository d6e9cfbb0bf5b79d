// Dashboard: agreement (server-rendered SVG charts + metric table), progress and annotator quality.
import { api, toast, h } from './api.js';

const root = document.getElementById('dashboard');
const projectId = root.dataset.projectId;
const fmt = (v) => (v === null || v === undefined ? '—' : typeof v === 'number' ? (Math.abs(v) <= 1 ? v.toFixed(3) : v.toFixed(1)) : String(v));

function metricRows(scope, metrics) {
  return Object.entries(metrics || {}).filter(([, v]) => typeof v === 'number' || v === null)
    .map(([k, v]) => h('tr', {}, h('td', {}, scope), h('td', {}, k), h('td', {}, fmt(v))));
}

async function loadAgreement() {
  const data = await api('GET', `/projects/${projectId}/agreement`);
  const live = data.live.items;
  document.getElementById('agreement-summary').textContent = live.items
    ? `${live.items} item(s) with several versions · mean agreement ${fmt(live.mean_agreement)} · with the model ${fmt(live.mean_model_agreement)}`
    : 'No item has several versions yet.';
  const m = (data.latest && data.latest.modality) || {};
  const rows = [...metricRows('overall', m.metrics || m.overall)];
  for (const p of data.live.pairs) {
    rows.push(h('tr', { class: 'pair' }, h('td', {}, `${p.a} – ${p.b}`), h('td', {}, `agreement (${p.items} items)`), h('td', {}, fmt(p.agreement))));
    // The modality's other metrics for the pair, averaged over its items (consult: wer, der, jer ...).
    for (const [name, value] of Object.entries(p.metrics || {})) rows.push(h('tr', { class: 'pair-metric', dataset: { metric: name } }, h('td', {}, `${p.a} – ${p.b}`), h('td', {}, name), h('td', {}, fmt(value))));
  }
  for (const [label, values] of Object.entries(m.per_label || {})) rows.push(...metricRows(`label ${label}`, values));
  // The modality's own metrics per annotator pair (consult: WER, DER, JER, segment-type kappa ...).
  for (const [pair, values] of Object.entries(m.per_pair || {})) rows.push(...metricRows(pair, values));
  document.querySelector('#agreement-metrics tbody').replaceChildren(...rows);
}

async function loadQuality() {
  const progress = await api('GET', `/projects/${projectId}/progress`);
  document.getElementById('progress-summary').textContent = `${progress.items} items · ${fmt(progress.done_per_day_last_7)} done/day (last 7 days)`
    + (progress.estimated_days_left !== null ? ` · about ${Math.ceil(progress.estimated_days_left)} day(s) left` : '');
  document.querySelector('#progress-stages tbody').replaceChildren(...Object.entries(progress.per_stage)
    .map(([s, n]) => h('tr', {}, h('td', {}, s), h('td', {}, String(n)))));
  if (progress.pilot) {
    const p = progress.pilot;
    document.getElementById('pilot').replaceChildren(h('h3', {}, `Pilot batch (${p.items} items)`),
      h('p', {}, `Median ${fmt(p.median_seconds_per_item)} s per item · agreement ${fmt(p.mean_agreement)}`),
      h('ul', {}, ...p.questions.map((q) => h('li', {}, `#${q.item_id}: ${q.text}`))));
  }
  const people = await api('GET', `/projects/${projectId}/annotators`);
  document.querySelector('#annotators tbody').replaceChildren(...people.items.map((r) => h('tr', { dataset: { user: r.username } },
    h('td', {}, h('a', { href: `/projects/${projectId}/annotators/${r.user_id}`, class: 'annotator-link' }, r.username)),
    h('td', {}, String(r.items)), h('td', {}, fmt(r.median_seconds_per_item)),
    h('td', {}, fmt(r.items_per_active_day)), h('td', {}, fmt(r.gold_accuracy)), h('td', {}, fmt(r.peer_agreement)),
    h('td', {}, fmt(r.preannotations_accepted_unchanged)),
    h('td', { class: r.sub_second_items ? 'error' : '' }, String(r.sub_second_items ?? 0)), h('td', {}, String(r.sent_back)))));
}

loadAgreement().catch((e) => toast(e.message, 'error'));
if (root.dataset.canQuality === 'true') loadQuality().catch((e) => toast(e.message, 'error'));
