// One annotator's quality in a project: what the dashboard row says, spelled out, and their pace per day.
import { api, toast, h } from './api.js';

const root = document.getElementById('annotator-page');
const fmt = (v, digits = 2) => (v === null || v === undefined ? '—' : Number(v).toFixed(digits));
const pct = (v) => (v === null || v === undefined ? '—' : `${Math.round(v * 100)}%`);

async function load() {
  const r = await api('GET', `/projects/${root.dataset.projectId}/annotators/${root.dataset.userId}`);
  document.getElementById('annotator-title').textContent = `Annotator ${r.username || `#${r.user_id}`}`;
  const rows = [
    ['Items submitted', String(r.items)],
    ['Median seconds per item', fmt(r.median_seconds_per_item, 1)],
    ['Items per active day', fmt(r.items_per_active_day, 1)],
    ['Accuracy on gold checks', `${pct(r.gold_accuracy)} (${r.gold_items ?? 0} items)`],
    ['Agreement with peers', pct(r.peer_agreement)],
    ['Model units kept exactly as drafted', `${pct(r.preannotations_accepted_unchanged)} of ${r.preannotated_units ?? 0}`],
    ['Items submitted in under a second', String(r.sub_second_items ?? 0)],
    ['Sent back by reviewers', String(r.sent_back ?? 0)],
  ];
  document.querySelector('#annotator-stats tbody').replaceChildren(...rows.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v))));
  if (r.sub_second_items) {
    const warn = document.getElementById('sub-second-warning');
    warn.hidden = false;
    warn.textContent = `${r.sub_second_items} item(s) were submitted in under a second: were they read?`;
  }
  document.querySelector('#annotator-days tbody').replaceChildren(...Object.entries(r.per_day || {})
    .map(([day, n]) => h('tr', {}, h('td', {}, day), h('td', {}, String(n)))));
}

load().catch((e) => toast(e.message, 'error'));
