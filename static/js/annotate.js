// Generic annotation page: takes the next item (or a chosen one), mounts the modality's UI module, saves.
import { api, toast, h } from './api.js';

const root = document.getElementById('annotator');
const projectId = root.dataset.projectId;
const stage = root.dataset.stage;
const labelConfig = JSON.parse(document.getElementById('label-config').textContent);
const status = document.getElementById('annotator-status');
const view = document.getElementById('item-view');
let ui = null;
let current = null;  // {item, mine}
let started = 0;
let busy = false;  // one save at a time: a second Ctrl+Enter must not post the same annotation twice

async function load(itemId) {
  const modality = await import(root.dataset.uiModule);
  let item;
  if (itemId) item = await api('GET', `/items/${itemId}`);
  else item = await api('GET', `/projects/${projectId}/next?stage=${stage}`);
  if (!item) {
    current = null;  // else Ctrl+Enter would submit the last item again
    ui = null;
    view.hidden = true;
    view.replaceChildren();
    status.textContent = 'Nothing left for you in this queue. Thank you!';
    document.getElementById('submit').disabled = true;
    document.getElementById('skip').disabled = true;
    return;
  }
  const anns = (await api('GET', `/items/${item.id}/annotations`)).items;
  const me = document.querySelector('.who').textContent;
  const mine = anns.find((a) => a.author === me && a.stage === stage && a.source === 'human');
  const draft = anns.filter((a) => a.source === 'model' || a.source === 'import' || a.author === null).pop();
  current = { item, mine };
  status.textContent = `Item #${item.id}${item.name ? ` · ${item.name}` : ''}${mine ? ` · your version ${mine.version}` : ''}`;
  view.hidden = false;
  ui = modality.mount(view, { item, labelConfig, stage, initial: mine ? mine.payload : (draft ? draft.payload : null),
    fromModel: !mine && Boolean(draft), annotations: anns });
  started = performance.now();
}

async function submit() {
  if (!current || !ui || busy) return;
  let payload;
  try { payload = ui.value(); } catch (e) { toast(e.message, 'error'); return; }
  busy = true;
  const spent = Math.round(performance.now() - started);
  try {
    if (current.mine) {
      await api('PUT', `/annotations/${current.mine.id}`, { payload, version: current.mine.version, status: 'submitted', time_spent_ms: spent });
    } else {
      await api('POST', `/items/${current.item.id}/annotations`, { payload, stage, status: 'submitted', time_spent_ms: spent });
    }
    toast('Saved');
    root.dataset.itemId = '';
    await load(null);
  } catch (e) { toast(e.message, 'error'); } finally { busy = false; }
}

async function skip() {
  if (!current || busy) return;
  const reason = window.prompt('Why skip this item?');
  if (!reason) return;
  try {
    await api('POST', `/items/${current.item.id}/skip`, { reason });
    await load(null);
  } catch (e) { toast(e.message, 'error'); }
}

document.getElementById('submit').addEventListener('click', submit);
document.getElementById('skip').addEventListener('click', skip);
document.addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) submit(); });
load(root.dataset.itemId || null).catch((e) => { status.textContent = e.message; });
export { h };
