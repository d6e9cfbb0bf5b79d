// Generic annotation page: takes the next item (or a chosen one), mounts the modality's UI module, saves.
// Work protection lives here, once for every modality: autosaved server-side drafts, undo/redo of every edit,
// a prompt before leaving with unsaved edits, a session kept alive by activity, and a re-login that keeps edits.
import { api, toast, h, hooks, setCsrf, mediaOf } from './api.js';

const root = document.getElementById('annotator');
const projectId = root.dataset.projectId;
const stage = root.dataset.stage;
const labelConfig = JSON.parse(document.getElementById('label-config').textContent);
const status = document.getElementById('annotator-status');
const view = document.getElementById('item-view');
const saveState = document.getElementById('save-state');
const notices = document.getElementById('annotator-notices');
const AUTOSAVE_MS = 1500;
const HISTORY_LIMIT = 200;

let modality = null;
let ui = null;
let current = null;  // {item, mine, draftRevision}
let started = 0;
let busy = false;  // one save at a time: a second Ctrl+Enter must not post the same annotation twice
let history = [];  // snapshots (JSON strings), oldest first; the last one is what is on screen
let future = [];  // undone snapshots, for redo
let savedSnapshot = null;  // what the server holds (annotation or draft)
let autosaveTimer = null;
let saving = null;  // the autosave in flight
let lastServerContact = Date.now();
let lastActivity = Date.now();
let idleTimeoutS = 1800;
let sessionLost = false;

function snapshotOf(instance) {
  if (!instance) return null;
  if (instance.snapshot) return JSON.stringify(instance.snapshot());
  try { return JSON.stringify({ payload: instance.value(), pending: [] }); } catch (_) { return null; }
}
const dirty = () => Boolean(ui) && history.length > 0 && history[history.length - 1] !== savedSnapshot;

function setSaveState(text, kind = '') {
  saveState.textContent = text;
  saveState.className = `save-state ${kind}`;
}

function mountSnapshot(snap, fromModel = false) {
  if (ui && ui.destroy) ui.destroy();
  const state = snap ? JSON.parse(snap) : null;
  ui = modality.mount(view, { item: current.item, labelConfig, stage, initial: state ? state.payload : null,
    pending: state ? state.pending : [], fromModel, annotations: current.annotations, readOnly: false,
    ...mediaOf(current.item) });
}

async function load(itemId) {
  modality = modality || await import(root.dataset.uiModule);
  let item;
  if (itemId) item = await api('GET', `/items/${itemId}`);
  else item = await api('POST', `/projects/${projectId}/next?stage=${stage}`);
  notices.replaceChildren();
  if (ui && ui.destroy) ui.destroy();
  ui = null;
  history = []; future = []; savedSnapshot = null;
  if (!item) {
    current = null;  // else Ctrl+Enter would submit the last item again
    view.hidden = true;
    view.replaceChildren();
    status.textContent = 'Nothing left for you in this queue. Thank you!';
    document.getElementById('submit').disabled = true;
    document.getElementById('skip').disabled = true;
    setSaveState('');
    return;
  }
  const [anns, draft, comments] = await Promise.all([
    api('GET', `/items/${item.id}/annotations`).then((r) => r.items),
    api('GET', `/items/${item.id}/draft?stage=${stage}`),
    api('GET', `/projects/${projectId}/comments?limit=100`).then((r) => r.items.filter((c) => c.item_id === item.id)),
  ]);
  const me = document.querySelector('.who').textContent;
  // Latest first: after a revision of a decided item the author has several versions.
  const mine = anns.filter((a) => a.author === me && a.stage === stage && a.source === 'human').pop();
  const model = anns.filter((a) => a.source === 'model' || a.source === 'import' || a.author === null).pop();
  current = { item, mine, annotations: anns, draftRevision: draft ? draft.revision : 0 };
  status.textContent = `Item #${item.id}${item.name ? ` · ${item.name}` : ''}${mine ? ` · your version ${mine.version}` : ''}`;
  showComments(comments);
  if (item.stage === 'done') {
    notices.append(h('p', { class: 'notice', id: 'frozen-note' }, mine
      ? 'This item is decided (gold). Your change will be sent as a new version for a new review round; gold stays as it is until a reviewer decides.'
      : 'This item is decided (gold) and frozen.'));
  }
  view.hidden = false;
  if (draft) {
    mountSnapshot(JSON.stringify({ payload: draft.payload, pending: (draft.ui_state || {}).pending || [] }));
    savedSnapshot = snapshotOf(ui);
    notices.append(h('p', { class: 'notice', id: 'draft-restored' },
      `Restored your unsaved edits from ${new Date(draft.updated_at).toLocaleString()}. `,
      h('button', { type: 'button', class: 'link', id: 'discard-draft', onclick: discardDraft }, 'Discard them')));
  } else {
    if (!mine && model && model.comment) notices.append(h('p', { class: 'notice', id: 'model-note' }, model.comment));
    ui = modality.mount(view, { item, labelConfig, stage, initial: mine ? mine.payload : (model ? model.payload : null),
      fromModel: !mine && Boolean(model), annotations: anns, readOnly: false, ...mediaOf(item) });
    savedSnapshot = snapshotOf(ui);
  }
  history = [snapshotOf(ui)];
  setSaveState(draft ? 'Draft restored' : 'No unsaved edits');
  started = performance.now();
}

function commentLine(c) {
  return h('li', {}, h('span', { class: 'muted' }, `${c.from || '?'} · ${c.kind} · ${new Date(c.created_at).toLocaleString()}: `), c.text);
}

// The item's thread: the reviewer's send-back reason on top, every comment below, and a box to answer or ask.
function showComments(comments) {
  const sent = comments.filter((c) => c.kind === 'send_back');
  const latest = sent[sent.length - 1];
  const list = h('ul', { class: 'comment-thread', id: 'comment-thread' }, comments.map(commentLine));
  const input = h('input', { id: 'comment-text', maxlength: 5000, placeholder: 'Ask the reviewer or answer…', size: 50 });
  const post = async () => {
    const text = input.value.trim();
    if (!text || !current) return;
    try {
      await api('POST', `/items/${current.item.id}/comments`, { text });
      list.append(commentLine({ from: document.querySelector('.who').textContent, kind: 'question', text, created_at: new Date().toISOString() }));
      input.value = '';
    } catch (e) { toast(e.message, 'error'); }
  };
  input.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); post(); } });
  const thread = h('details', { open: comments.length > 0 }, h('summary', {}, `Comments (${comments.length})`), list,
    h('div', { class: 'row' }, input, h('button', { type: 'button', id: 'post-comment', onclick: post }, 'Post')));
  notices.append(latest
    ? h('div', { class: 'notice warn', id: 'send-back' }, h('strong', {}, `Sent back by ${latest.from}: `), latest.text, thread)
    : h('div', { class: 'notice', id: 'comments' }, thread));
}

// ------------------------------------------------------------------------------------ edits, undo and autosave
function noteChange() {
  if (!ui || !current) return;
  const snap = snapshotOf(ui);
  if (snap === null || snap === history[history.length - 1]) return;
  history.push(snap);
  if (history.length > HISTORY_LIMIT) history.shift();
  future = [];
  scheduleAutosave();
}

// Snapshots cost a walk over every span: look for a change once the person pauses, and right before undo, redo,
// submit or leaving, not on every keystroke of a 50,000-span note.
let changeTimer = null;
function scheduleChangeCheck() { clearTimeout(changeTimer); changeTimer = setTimeout(flushChange, 250); }
function flushChange() { clearTimeout(changeTimer); changeTimer = null; noteChange(); }

function undo() {
  flushChange();
  if (history.length < 2) { toast('Nothing to undo'); return; }
  future.push(history.pop());
  mountSnapshot(history[history.length - 1]);
  scheduleAutosave();
}

function redo() {
  flushChange();
  if (!future.length) { toast('Nothing to redo'); return; }
  history.push(future.pop());
  mountSnapshot(history[history.length - 1]);
  scheduleAutosave();
}

function scheduleAutosave() {
  clearTimeout(autosaveTimer);
  if (!dirty()) { setSaveState('No unsaved edits'); return; }
  setSaveState('Unsaved edits…', 'pending');
  autosaveTimer = setTimeout(autosave, AUTOSAVE_MS);
}

async function autosave() {
  if (!current || !dirty() || sessionLost) return;
  if (saving) { await saving; return autosave(); }
  const snap = history[history.length - 1];
  const state = JSON.parse(snap);
  const item = current.item;
  saving = api('PUT', `/items/${item.id}/draft`, {
    stage, payload: state.payload, ui_state: { pending: state.pending }, revision: current.draftRevision,
    base_annotation_id: current.mine ? current.mine.id : null, base_version: current.mine ? current.mine.version : null,
  }).then((draft) => {
    if (current && current.item.id === item.id) {
      current.draftRevision = draft.revision;
      savedSnapshot = snap;
      lastServerContact = Date.now();
      setSaveState(dirty() ? 'Unsaved edits…' : `Draft saved ${new Date().toLocaleTimeString()}`, dirty() ? 'pending' : 'ok');
    }
  }).catch((e) => {
    if (e.status !== 401) setSaveState(`Draft not saved: ${e.message}`, 'error');
  }).finally(() => { saving = null; });
  return saving;
}

async function discardDraft() {
  if (!current) return;
  await api('DELETE', `/items/${current.item.id}/draft?stage=${stage}`);
  history = []; savedSnapshot = null;
  await load(current.item.id);
}

async function submit() {
  if (!current || !ui || busy) return;
  let payload;
  try { payload = ui.value(); } catch (e) { toast(e.message, 'error'); return; }
  busy = true;
  flushChange();
  clearTimeout(autosaveTimer);
  const spent = Math.round(performance.now() - started);
  try {
    if (current.mine && current.item.stage === 'done') {
      // A decided item is frozen: the change becomes a new version for a new review round.
      await api('POST', `/annotations/${current.mine.id}/revisions`, { payload, time_spent_ms: spent });
    } else if (current.mine) {
      try {
        await api('PUT', `/annotations/${current.mine.id}`, { payload, version: current.mine.version, status: 'submitted', time_spent_ms: spent });
      } catch (err) {
        // The item was decided while this page was open: the correction goes to a new review round, not lost.
        if (err.body?.error?.code !== 'frozen') throw err;
        await api('POST', `/annotations/${current.mine.id}/revisions`, { payload, time_spent_ms: spent });
      }
    } else {
      await api('POST', `/items/${current.item.id}/annotations`, { payload, stage, status: 'submitted', time_spent_ms: spent });
    }
    savedSnapshot = history[history.length - 1];
    toast('Saved');
    root.dataset.itemId = '';
    await load(null);
  } catch (e) {
    if (e.status !== 401) toast(e.message, 'error');
    else toast('Your session ended: log in again below; your edits are kept.', 'error');
  } finally { busy = false; }
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

// ----------------------------------------------------------------------------------------- session upkeep
function showRelogin() {
  if (document.getElementById('relogin')) return;
  sessionLost = true;
  const user = h('input', { id: 'relogin-username', autocomplete: 'username', value: document.querySelector('.who').textContent });
  const pass = h('input', { id: 'relogin-password', type: 'password', autocomplete: 'current-password' });
  const error = h('p', { class: 'error small', id: 'relogin-error' });
  // Accounts with two-factor login are asked for a code when the server says so (error code otp_required).
  const otp = h('input', { id: 'relogin-otp', autocomplete: 'one-time-code', inputmode: 'numeric' });
  const otpLabel = h('label', { hidden: true }, 'Two-factor code ', otp);
  const form = h('form', { class: 'card relogin', id: 'relogin' },
    h('h2', {}, 'Your session ended'),
    h('p', {}, 'Your edits are still here. Log in again to keep working; nothing is lost.'),
    h('label', {}, 'Username ', user), h('label', {}, 'Password ', pass), otpLabel, error,
    h('button', { class: 'primary', type: 'submit' }, 'Log in and continue'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const body = { username: user.value, password: pass.value };
      if (otp.value) body.otp = otp.value;
      let out;
      try {
        out = await api('POST', '/session', body);
      } catch (err) {
        if (err.body?.error?.code === 'otp_required') {
          otpLabel.hidden = false;
          otp.focus();
        }
        throw err;
      }
      setCsrf(out.csrf_token);
      idleTimeoutS = out.idle_timeout_s;
      sessionLost = false;
      lastServerContact = Date.now();
      form.remove();
      document.getElementById('expiry-warning')?.remove();
      toast('Logged in again; saving your edits');
      if (dirty()) await autosave();
    } catch (err) { error.textContent = err.message; }
  });
  root.prepend(form);
  pass.focus();
}

async function keepAlive() {
  try {
    const me = await api('GET', '/me');
    idleTimeoutS = me.idle_timeout_s || idleTimeoutS;
    lastServerContact = Date.now();
    document.getElementById('expiry-warning')?.remove();
  } catch (_) { /* a 401 shows the re-login dialog */ }
}

function checkSession() {
  if (sessionLost) return;
  const idleFor = (Date.now() - lastServerContact) / 1000;
  // In-page activity counts as activity: it renews the server's idle timer.
  if (lastActivity > lastServerContact && idleFor > 60) { keepAlive(); return; }
  const left = idleTimeoutS - idleFor;
  if (left < 120 && !document.getElementById('expiry-warning')) {
    root.prepend(h('p', { class: 'notice warn', id: 'expiry-warning' },
      'Your session ends in under 2 minutes of inactivity. ',
      h('button', { type: 'button', id: 'stay-signed-in', onclick: keepAlive }, 'Stay signed in')));
  }
}

hooks.unauthorized = showRelogin;
for (const kind of ['keydown', 'pointerdown', 'input', 'change']) {
  document.addEventListener(kind, () => { lastActivity = Date.now(); }, true);
}
// Each keystroke is its own undo step: a change still waiting to be recorded is recorded before the next key acts.
document.addEventListener('keydown', () => { if (changeTimer) flushChange(); }, true);
// Modules edit from document-level key handlers and panel widgets: look for a change after every user event.
for (const kind of ['keyup', 'pointerup', 'change', 'input']) {
  document.addEventListener(kind, scheduleChangeCheck);
}
document.addEventListener('keydown', (e) => {
  const inField = e.target.closest && e.target.closest('input, textarea, select, [contenteditable="true"]');
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { submit(); return; }
  if (inField || !(e.ctrlKey || e.metaKey)) return;
  const key = e.key.toLowerCase();
  if (key === 'z' && !e.shiftKey) { e.preventDefault(); undo(); } else if ((key === 'z' && e.shiftKey) || key === 'y') { e.preventDefault(); redo(); }
});
// UI modules handle keys on their own container (the contract: no document-level key handlers). A key pressed
// while the focus is outside it (nothing focused, a toolbar button) is handed to the module's container.
document.addEventListener('keydown', (e) => {
  const t = e.target;
  if (!ui || e.ctrlKey || e.metaKey || e.altKey || view.contains(t)) return;
  if (t.closest && t.closest('input, textarea, select, [contenteditable="true"], dialog')) return;
  if ((e.key === 'Enter' || e.key === ' ') && t.closest && t.closest('button, a, summary')) return;
  const forwarded = new KeyboardEvent('keydown', { key: e.key, code: e.code, shiftKey: e.shiftKey,
    bubbles: true, cancelable: true });
  view.dispatchEvent(forwarded);
  if (forwarded.defaultPrevented) e.preventDefault();
});
window.addEventListener('beforeunload', (e) => {
  flushChange();
  if (!dirty()) return;
  autosave();
  e.preventDefault();
  e.returnValue = '';  // the browser shows its own "leave site?" prompt
});
document.getElementById('submit').addEventListener('click', submit);
document.getElementById('skip').addEventListener('click', skip);
document.getElementById('undo').addEventListener('click', undo);
document.getElementById('redo').addEventListener('click', redo);
setInterval(checkSession, 15_000);
keepAlive();
load(root.dataset.itemId || null).catch((e) => { status.textContent = e.message; });
export { h };
