// Type-ahead concept picker (WAI-ARIA combobox + listbox) over GET /api/v1/ontologies/search.
// Shared by the annotation UIs: conceptPicker({terminologies, projectId, initialQuery, onPick, onCancel}) -> element.
// Keyboard: ArrowDown/ArrowUp move, Enter picks the active option, Escape cancels.
import { api, h } from '../api.js';

const DEBOUNCE_MS = 120;
let instances = 0;

const TERMINOLOGY_NAMES = {
  icd10cm: 'ICD-10-CM', icd10pcs: 'ICD-10-PCS', hpo: 'HPO', snomed: 'SNOMED CT', loinc: 'LOINC', rxnorm: 'RxNorm',
  drugs: 'Drugs', umls: 'UMLS', mondo: 'MONDO', doid: 'DOID',
};

export function terminologyName(t) { return TERMINOLOGY_NAMES[t] || t; }

export function conceptPicker({ terminologies = [], projectId = null, initialQuery = '', onPick = () => {},
  onCancel = () => {}, limit = 10, placeholder = null } = {}) {
  const uid = `cp${++instances}`;
  const listId = `${uid}-list`;
  const scope = terminologies.length ? terminologies.map(terminologyName).join(', ') : 'all terminologies';
  const input = h('input', {
    type: 'text', class: 'cp-input', role: 'combobox', autocomplete: 'off', spellcheck: 'false',
    'aria-autocomplete': 'list', 'aria-expanded': 'false', 'aria-controls': listId, 'aria-label': `Search ${scope}`,
    placeholder: placeholder || `Search ${scope}…`,
  });
  const status = h('div', { class: 'cp-status', role: 'status', 'aria-live': 'polite' });
  const list = h('ul', { class: 'cp-list', role: 'listbox', id: listId, 'aria-label': 'Matching concepts', hidden: true });
  const root = h('div', { class: 'concept-picker', dataset: { open: 'true', state: 'idle', query: '' } }, input, status, list);

  let items = [];
  let options = [];
  let active = -1;
  let timer = null;
  let sequence = 0;  // answers that arrive after a newer request was sent are dropped
  let lastQuery = null;  // the query last sent
  let shownQuery = null;  // the query whose answer is on screen
  let closed = false;
  let pickWhenReady = false;  // Enter pressed while a search was still pending
  let userMoved = false;  // arrows used since the text last changed

  function setStatus(text, kind = '') {
    status.textContent = text;
    status.className = `cp-status${kind ? ` ${kind}` : ''}`;
  }

  function setActive(index) {
    if (active >= 0 && options[active]) options[active].setAttribute('aria-selected', 'false');
    active = index;
    if (active >= 0 && options[active]) {
      const opt = options[active];
      opt.setAttribute('aria-selected', 'true');
      input.setAttribute('aria-activedescendant', opt.id);
      opt.scrollIntoView({ block: 'nearest' });
    } else {
      input.removeAttribute('aria-activedescendant');
    }
  }

  function renderOption(item, i) {
    const showMatched = item.matched && item.matched.toLowerCase() !== String(item.name || '').toLowerCase();
    const flags = [];
    if (item.billable === true) flags.push(h('span', { class: 'cp-flag billable', title: 'Billable code' }, 'billable'));
    if (item.billable === false) flags.push(h('span', { class: 'cp-flag header', title: 'Category, not billable' }, 'not billable'));
    const path = Array.isArray(item.path) && item.path.length
      ? h('div', { class: 'cp-path', title: item.path.join(' › ') }, item.path.join(' › ')) : null;
    return h('li', {
      id: `${uid}-opt-${i}`, role: 'option', class: 'cp-option', 'aria-selected': 'false',
      dataset: { code: item.code, terminology: item.terminology },
      onmousedown: (e) => e.preventDefault(),  // keep the focus (and the caret) in the input
      onmousemove: () => { if (active !== i) { userMoved = true; setActive(i); } },
      onclick: () => pick(i),
    },
    h('div', { class: 'cp-line' },
      h('span', { class: 'cp-code' }, item.code),
      ...flags,
      h('span', { class: 'cp-term' }, terminologyName(item.terminology))),
    h('div', { class: 'cp-name' }, item.name || ''),
    showMatched ? h('div', { class: 'cp-matched' }, 'matched “', item.matched, '”') : null,
    path);
  }

  const keyOf = (item) => (item ? `${item.terminology}\u0000${item.code}` : null);

  function render(results, query) {
    // an answer arriving after the user moved with the arrows must not move their choice
    const keep = userMoved && active >= 0 ? keyOf(items[active]) : null;
    items = results;
    options = results.map(renderOption);
    list.replaceChildren(...options);
    list.hidden = options.length === 0;
    input.setAttribute('aria-expanded', options.length ? 'true' : 'false');
    active = -1;
    const kept = keep === null ? -1 : items.findIndex((item) => keyOf(item) === keep);
    setActive(kept >= 0 ? kept : (options.length ? 0 : -1));
    shownQuery = query;
    root.dataset.query = query;
    if (!options.length) setStatus(`No concept matches “${query}”.`);
    else setStatus(`${options.length} concept${options.length === 1 ? '' : 's'}; ↑↓ to move, Enter to pick, Esc to cancel.`);
  }

  async function search(query) {
    const q = query.trim();
    lastQuery = q;
    if (!q) {
      sequence += 1;
      setState('idle');
      render([], q);
      setStatus('Type a name, a synonym or a code.');
      pickWhenReady = false;
      return;
    }
    const mine = ++sequence;
    const params = new URLSearchParams({ q });
    for (const t of terminologies) params.append('terminology', t);
    params.set('limit', String(limit));
    if (projectId !== null && projectId !== undefined && projectId !== '') params.set('project_id', String(projectId));
    root.classList.add('loading');
    setState('loading');
    setStatus('Searching…');
    try {
      const answer = await api('GET', `/ontologies/search?${params}`);
      if (mine !== sequence || closed) return;
      render(answer && Array.isArray(answer.items) ? answer.items : [], q);
      if (pickWhenReady) { pickWhenReady = false; if (options.length) pick(active); }
    } catch (err) {
      if (mine !== sequence || closed) return;
      render([], q);
      shownQuery = null;  // the same query may be tried again
      pickWhenReady = false;
      setStatus(err.message || 'Search failed.', 'error');
    } finally {
      if (mine === sequence) { root.classList.remove('loading'); setState('idle'); }
    }
  }

  function setState(state) { root.dataset.state = state; }  // idle | pending | loading (tests wait on it)

  function schedule() {
    clearTimeout(timer);
    setState('pending');
    timer = setTimeout(() => {
      timer = null;
      if (input.value.trim() === shownQuery && !root.classList.contains('loading')) { setState('idle'); return; }
      search(input.value);
    }, DEBOUNCE_MS);
  }

  function close() {
    closed = true;
    clearTimeout(timer);
    root.dataset.open = 'false';
  }

  function pick(i) {
    const item = items[i];
    if (!item || closed) return;
    close();
    onPick({ terminology: item.terminology, code: item.code, name: item.name, score: item.score,
      billable: item.billable, matched: item.matched, path: item.path || [] });
  }

  input.addEventListener('input', () => { userMoved = false; schedule(); });
  input.addEventListener('keydown', (e) => {
    // The picker owns its keys: nothing typed here may reach the page's hotkeys.
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) return;  // the page's save shortcut
    e.stopPropagation();
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      if (options.length) { userMoved = true; setActive(active < options.length - 1 ? active + 1 : 0); }
    } else if (e.key === 'ArrowUp') {
      e.preventDefault();
      if (options.length) { userMoved = true; setActive(active > 0 ? active - 1 : options.length - 1); }
    } else if (e.key === 'Enter') {
      e.preventDefault();
      const q = input.value.trim();
      if (q === shownQuery && !root.classList.contains('loading')) {
        clearTimeout(timer); timer = null; setState('idle');
        if (active >= 0) pick(active);
      } else if (q === lastQuery && root.classList.contains('loading')) {
        pickWhenReady = true;  // the answer for this very query is on its way
      } else {  // typed faster than the debounce: search now, pick the first answer
        clearTimeout(timer); timer = null; pickWhenReady = true; search(input.value);
      }
    } else if (e.key === 'Escape') {
      e.preventDefault();
      close();
      onCancel();
    }
  });
  input.addEventListener('keyup', (e) => e.stopPropagation());

  input.value = initialQuery || '';
  setStatus('Type a name, a synonym or a code.');
  if (input.value.trim()) search(input.value);
  // Focus once attached (the caller appends the element right after this returns), unless the caller did.
  root.focusInput = () => { input.focus(); input.select(); };
  requestAnimationFrame(() => { if (input.isConnected && !closed && document.activeElement !== input) root.focusInput(); });
  return root;
}
