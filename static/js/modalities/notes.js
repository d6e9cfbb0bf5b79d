// UI of the `notes` modality: clinical note text with entity and PHI spans (overlaps allowed), assertion, concept
// linking, relations, and model suggestions to accept or reject.
//
// Rendering: the text is cut into segments at every span boundary; each segment knows the spans covering it and
// draws one underline bar per span (stacked by "track", so overlapping spans stay visible) plus a tint of its
// innermost span. The text is rendered once; later changes split at most two segments and restyle only the
// segments of the spans involved. Offsets are code points (Python string indices), never UTF-16 units.
import { h, toast } from '../api.js';
import { conceptPicker, terminologyName } from '../widgets/concept_picker.js';

const ASSERTIONS = ['present', 'negated', 'possible', 'hypothetical', 'historical', 'family'];
const PALETTE = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#8c564b', '#17becf', '#bcbd22', '#e377c2', '#7f7f7f', '#ff7f0e'];
const PHI_COLOR = '#344054';  // PHI is a layer of its own: slate bars, hatched tint, filled tags
const UNKNOWN_COLOR = '#667085';
const BAR = 3;  // px, one underline bar
const STEP = 5;  // px between stacked bars
const MAX_TRACKS = 4;  // deeper overlaps share the last bar position
const MAX_LISTED_RELATIONS = 300;

// ------------------------------------------------------------------------------------------ code points vs UTF-16

function codePoints(text) {
  let astral = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) { astral = true; break; }
  }
  if (!astral) return { length: text.length, toU16: (cp) => cp, toCp: (u) => u };
  const n = text.length;
  const u2c = new Int32Array(n + 1);
  const c2u = new Int32Array(n + 1);
  let cp = 0;
  for (let i = 0; i < n;) {
    u2c[i] = cp; c2u[cp] = i;
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) { u2c[i + 1] = cp; i += 2; cp += 1; continue; }
    }
    i += 1; cp += 1;  // a lone surrogate counts as one code point, as in Python
  }
  u2c[n] = cp; c2u[cp] = n;
  const length = cp;
  return {
    length,
    toU16: (c) => c2u[Math.max(0, Math.min(length, c))],
    // A boundary inside a surrogate pair (browsers do not produce one) rounds outwards for an end.
    toCp: (u, roundUp = false) => {
      const v = Math.max(0, Math.min(n, u));
      const inside = v > 0 && v < n && u2c[v] === u2c[v - 1];
      return inside && roundUp ? u2c[v] + 1 : u2c[v];
    },
  };
}

function bisectRight(arr, x) {  // first index whose value is > x
  let lo = 0; let hi = arr.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (arr[mid] <= x) lo = mid + 1; else hi = mid; }
  return lo;
}

function rgba(hex, alpha) {
  const m = /^#?([0-9a-f]{6})$/i.exec(hex || '');
  const v = m ? parseInt(m[1], 16) : 0x667085;
  return `rgba(${(v >> 16) & 255}, ${(v >> 8) & 255}, ${v & 255}, ${alpha})`;
}

const cleanConcept = (c) => (c && c.terminology && c.code
  ? { terminology: String(c.terminology), code: String(c.code), ...(c.name ? { name: String(c.name) } : {}) } : null);
const cleanCandidate = (c) => ({ ...cleanConcept(c), ...(typeof c.score === 'number' ? { score: c.score } : {}),
  ...(Array.isArray(c.icd10cm) && c.icd10cm.length ? { icd10cm: c.icd10cm.slice(0, 10).map(String) } : {}) });
const shortText = (t, n = 60) => (t.length > n ? `${t.slice(0, n - 1)}…` : t);
const isSpace = (ch) => /\s/.test(ch);

// ----------------------------------------------------------------------------------------------------- the module

const CHUNK_FROM_CHARS = 50_000;
const CHUNK_CHARS = 4_000;

// Off-screen blocks need a good height estimate, or the scroll position jumps as they come into view:
// count their lines at the note's width in its monospace font (measured once with a probe).
function sizeChunks(textEl, frag, container) {
  container.classList.add('notes-annotator');  // the note's font variables live on the container
  const probe = document.createElement('span');
  probe.textContent = '0'.repeat(100);
  probe.style.cssText = 'position:absolute;visibility:hidden;white-space:pre';
  textEl.append(probe);
  container.append(textEl);
  const charWidth = probe.getBoundingClientRect().width / 100 || 8;
  const lineHeight = parseFloat(getComputedStyle(textEl).lineHeight) || 34;
  probe.remove();
  textEl.remove();
  // the note column: the container less the side panel (320px), the gap and the text's padding
  const width = Math.max(200, (container.clientWidth || 1000) - 320 - 16 - 40);
  const perLine = Math.max(20, Math.floor(width / charWidth));
  for (const chunk of frag.children) {
    let lines = 0;
    for (const line of chunk.textContent.split('\n')) lines += Math.max(1, Math.ceil(line.length / perLine));
    chunk.style.containIntrinsicSize = `auto ${Math.round(lines * lineHeight)}px`;
  }
}

let readOnlyMounts = 0;

export function mount(container, { item, labelConfig, initial, fromModel, pending, readOnly }) {
  // Read-only mounts (the review page shows several versions side by side) get ids of their own.
  const idSuffix = readOnly ? `-v${++readOnlyMounts}` : '';
  const ID = (name) => name + idSuffix;
  const pendingIds = new Set(pending || []);  // restored draft: model suggestions still undecided
  const text = item.text || '';
  const cps = codePoints(text);
  const config = labelConfig || {};
  const projectId = document.getElementById('annotator')?.dataset.projectId ?? null;
  const explicitKeys = new Set((config.entity_labels || []).map((l) => l.hotkey).filter(Boolean));
  const entityLabels = (config.entity_labels || []).map((l, i) => ({
    name: l.name, color: l.color || PALETTE[i % PALETTE.length], terminologies: l.terminologies || [],
    hotkey: l.hotkey || (i < 9 && !explicitKeys.has(String(i + 1)) ? String(i + 1) : ''),
  }));
  const entityByName = new Map(entityLabels.map((l) => [l.name, l]));
  const phiLabels = (config.phi_labels || []).map((name, i) => ({ name, key: i < 9 ? String(i + 1) : '' }));
  const phiNames = new Set(phiLabels.map((l) => l.name));
  const relationTypes = config.relation_types || [];
  const assertions = config.assertions && config.assertions.length ? config.assertions : ASSERTIONS;

  // --- state
  const spans = new Map();  // id -> span (payload fields + status 'accepted' | 'suggested' + track)
  let order = [];  // spans in document order
  const relations = new Map();  // id -> {id, type, head, tail}
  const relationsOf = new Map();  // span id -> Set of relation ids
  const pendingByLabel = new Map();  // label -> count of suggestions not yet decided
  let focusedId = null;
  let linkHead = null;  // span id while choosing the tail of a relation
  let chooser = null;  // {head, tail, types} while choosing among several relation types
  let masked = false;
  let nextSpan = 1;
  let nextRelation = 1;

  const colorOf = (s) => (s.layer === 'phi' ? PHI_COLOR : (entityByName.get(s.label)?.color || UNKNOWN_COLOR));
  const spanText = (s, e) => text.slice(cps.toU16(s), cps.toU16(e));
  const cmp = (a, b) => a.start - b.start || b.end - a.end || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  const newSpanId = () => { while (spans.has(`s${nextSpan}`)) nextSpan += 1; return `s${nextSpan++}`; };
  const newRelationId = () => { while (relations.has(`r${nextRelation}`)) nextRelation += 1; return `r${nextRelation++}`; };

  // --- initial payload
  let dropped = 0;
  for (const raw of (initial && Array.isArray(initial.spans) ? initial.spans : [])) {
    const start = Number(raw.start); const end = Number(raw.end);
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > cps.length || end <= start
        || !raw.id || spans.has(String(raw.id))) { dropped += 1; continue; }
    const layer = raw.layer === 'phi' ? 'phi' : 'entity';
    const s = {
      id: String(raw.id), start, end, label: String(raw.label), layer, text: raw.text ?? spanText(start, end),
      assertion: raw.assertion || (layer === 'entity' ? 'present' : undefined),
      concept: cleanConcept(raw.concept), candidates: (raw.candidates || []).filter((c) => c && c.code && c.terminology).map(cleanCandidate),
      attributes: { ...(raw.attributes || {}) }, score: raw.score, section: raw.section,
      status: fromModel || pendingIds.has(String(raw.id)) ? 'suggested' : 'accepted', track: 0,
    };
    spans.set(s.id, s);
    if (s.status === 'suggested') pendingByLabel.set(s.label, (pendingByLabel.get(s.label) || 0) + 1);
  }
  order = [...spans.values()].sort(cmp);
  for (const raw of (initial && Array.isArray(initial.relations) ? initial.relations : [])) {
    if (!raw || !raw.id || !spans.has(raw.head) || !spans.has(raw.tail) || relations.has(String(raw.id))) continue;
    addRelationRecord({ id: String(raw.id), type: String(raw.type), head: raw.head, tail: raw.tail });
  }
  // tracks: the lowest bar position not used by an overlapping span that started earlier
  {
    const active = [];
    for (const s of order) {
      for (let i = active.length - 1; i >= 0; i -= 1) if (active[i].end <= s.start) active.splice(i, 1);
      const used = new Set(active.map((a) => a.track));
      let t = 0; while (used.has(t)) t += 1;
      s.track = t;
      active.push(s);
    }
  }

  // --- segments
  const segStart = [];
  const segEl = [];
  const textEl = h('div', { class: 'note-text', id: ID('note-text'), tabindex: '0', role: 'document',
    'aria-label': 'Note text. Select text and press a label key; j and k move between spans.' });
  {
    const cuts = new Set([0, cps.length]);
    for (const s of order) { cuts.add(s.start); cuts.add(s.end); }
    // A long note is laid out in blocks ending at line breaks, each skipped by the browser's layout while
    // off screen (content-visibility): a keypress restyles one block, not a million characters.
    const chunked = cps.length > CHUNK_FROM_CHARS;
    if (chunked) for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) cuts.add(cps.toCp(i + 1));
    const bounds = [...cuts].sort((a, b) => a - b);
    const frag = document.createDocumentFragment();
    let chunk = null;
    const closeChunk = (end) => { if (chunk) { chunk._e = end; frag.append(chunk); chunk = null; } };
    for (let i = 0; i + 1 < bounds.length; i += 1) {
      const el = document.createElement('span');
      el.className = 'seg';
      const piece = spanText(bounds[i], bounds[i + 1]);
      el.append(piece);
      el._s = bounds[i]; el._e = bounds[i + 1]; el._c = [];
      segStart.push(bounds[i]); segEl.push(el);
      if (!chunked) { frag.append(el); continue; }
      if (!chunk) { chunk = document.createElement('div'); chunk.className = 'note-chunk'; chunk._s = bounds[i]; }
      chunk.append(el);
      const size = bounds[i + 1] - chunk._s;
      if ((size >= CHUNK_CHARS && piece.endsWith('\n')) || (size >= 4 * CHUNK_CHARS && /\s$/.test(piece))) closeChunk(bounds[i + 1]);
    }
    closeChunk(cps.length);
    if (chunked) sizeChunks(textEl, frag, container);
    for (const s of order) for (let i = segIndexAt(s.start); i < segStart.length && segStart[i] < s.end; i += 1) segEl[i]._c.push(s.id);
    for (const el of segEl) if (el._c.length) restyle(el);
    textEl.append(frag);
  }

  function segIndexAt(cp) { return bisectRight(segStart, cp) - 1; }
  function segmentsOf(s) {
    const out = [];
    for (let i = Math.max(0, segIndexAt(s.start)); i < segStart.length && segStart[i] < s.end; i += 1) out.push(segEl[i]);
    return out;
  }

  function split(cp) {  // make `cp` a segment boundary
    if (cp <= 0 || cp >= cps.length) return;
    const i = segIndexAt(cp);
    if (segStart[i] === cp) return;
    const el = segEl[i];
    const tail = el.firstChild.splitText(cps.toU16(cp) - cps.toU16(el._s));
    const nel = document.createElement('span');
    nel.className = 'seg';
    nel.append(tail);
    nel._s = cp; nel._e = el._e; nel._c = el._c.slice();
    el._e = cp;
    el.after(nel);
    segStart.splice(i + 1, 0, cp); segEl.splice(i + 1, 0, nel);
    restyle(el); restyle(nel);
  }

  function restyle(el) {
    const st = el.style;
    const covering = el._c.map((id) => spans.get(id)).filter(Boolean);
    if (!covering.length) {
      el.className = 'seg';
      for (const p of ['background-image', 'background-size', 'background-position', 'padding-bottom', '--tag']) st.removeProperty(p);
      for (const a of ['data-tags', 'data-mask', 'data-spans', 'title']) el.removeAttribute(a);
      return;
    }
    const related = focusedId ? relationsOf.get(focusedId) : null;
    const isRelated = (s) => related && [...related].some((rid) => { const r = relations.get(rid); return r && (r.head === s.id || r.tail === s.id); });
    let inner = null; let maxTrack = 0; let phi = false; let phiInside = false;
    const bars = []; const sizes = []; const positions = []; const ending = []; const masks = [];
    let focused = null;
    for (const s of covering) {
      if (!inner || s.end - s.start < inner.end - inner.start) inner = s;
      if (s.id === focusedId || s.id === linkHead) focused = s;
      const track = Math.min(s.track, MAX_TRACKS - 1);
      maxTrack = Math.max(maxTrack, track);
      const c = colorOf(s);
      bars.push(s.status === 'suggested'
        ? `repeating-linear-gradient(90deg, ${c} 0 6px, transparent 6px 9px)` : `linear-gradient(${c}, ${c})`);
      sizes.push(`100% ${s.id === focusedId ? BAR + 1 : BAR}px`);
      positions.push(`0 calc(100% - ${track * STEP}px)`);
      if (s.layer === 'phi') { phi = true; if (s.start === el._s) masks.push(`[${s.label}]`); else phiInside = true; }
      if (s.end === el._e) ending.push(s);
    }
    const pad = (maxTrack + 1) * STEP;
    const top = focused || inner;
    let alpha = top.status === 'suggested' ? 0.07 : 0.15;
    if (focused) alpha = 0.34;
    else if (covering.some(isRelated)) alpha = 0.26;
    bars.push(`linear-gradient(${rgba(colorOf(top), alpha)}, ${rgba(colorOf(top), alpha)})`);
    sizes.push(`100% calc(100% - ${pad}px)`); positions.push('0 0');
    if (phi) {
      bars.push(`repeating-linear-gradient(135deg, ${rgba(PHI_COLOR, 0.16)} 0 2px, transparent 2px 6px)`);
      sizes.push(`100% calc(100% - ${pad}px)`); positions.push('0 0');
    }
    st.backgroundImage = bars.join(', ');
    st.backgroundSize = sizes.join(', ');
    st.backgroundPosition = positions.join(', ');
    st.paddingBottom = `${pad}px`;
    const cls = ['seg', 'on'];
    if (focused) cls.push('focused');
    if (phi) cls.push('phi');
    // masked view: one [LABEL] where a run of PHI begins; the rest of the run is hidden
    if (masks.length && !phiInside) { cls.push('phi-first'); el.dataset.mask = masks.join(''); } else el.removeAttribute('data-mask');
    if (ending.length) {
      ending.sort((a, b) => b.start - a.start);
      const first = ending.find((s) => s.id === focusedId) || ending[0];
      cls.push('tagged');
      if (first.status === 'suggested') cls.push('tag-suggested');
      if (ending.some((s) => s.id === focusedId)) cls.push('tag-focused');
      if (ending.every((s) => s.layer === 'phi')) cls.push('tag-phi');
      el.dataset.tags = ending.map((s) => s.label + (s.assertion && s.assertion !== 'present' ? ` · ${s.assertion}` : '')).join(' | ');
      st.setProperty('--tag', colorOf(first));
    } else {
      el.removeAttribute('data-tags');
      st.removeProperty('--tag');
    }
    el.className = cls.join(' ');
    el.dataset.spans = covering.map((s) => s.id).join(' ');
    el.title = covering.map((s) => `${s.label}${s.status === 'suggested' ? ' (suggestion)' : ''}`).join(', ');
  }

  const restyleSpan = (s) => { if (s) for (const el of segmentsOf(s)) restyle(el); };
  function restyleAround(id) {  // a span and the spans it is related to
    const s = spans.get(id);
    if (!s) return;
    restyleSpan(s);
    for (const rid of relationsOf.get(id) || []) {
      const r = relations.get(rid);
      if (r) restyleSpan(spans.get(r.head === id ? r.tail : r.head));
    }
  }

  // --- span and relation edits
  function insertSpan(s) {
    split(s.start); split(s.end);
    const segs = segmentsOf(s);
    const used = new Set();
    for (const el of segs) for (const id of el._c) { const o = spans.get(id); if (o) used.add(o.track); }
    let t = 0; while (used.has(t)) t += 1;
    s.track = t;
    spans.set(s.id, s);
    let lo = 0; let hi = order.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (cmp(order[mid], s) < 0) lo = mid + 1; else hi = mid; }
    order.splice(lo, 0, s);
    for (const el of segs) { el._c.push(s.id); restyle(el); }
  }

  function removeSpan(id, { quiet = false } = {}) {
    const s = spans.get(id);
    if (!s) return;
    const rels = [...(relationsOf.get(id) || [])];
    for (const rid of rels) removeRelation(rid, { quiet: true });
    spans.delete(id);
    const idx = order.indexOf(s);
    if (idx >= 0) order.splice(idx, 1);
    if (s.status === 'suggested') bumpPending(s.label, -1);
    for (const el of segmentsOf(s)) { el._c = el._c.filter((x) => x !== id); restyle(el); }
    if (focusedId === id) focusedId = null;
    if (linkHead === id) linkHead = null;
    if (!quiet) { renderPanel(); renderSuggestionBar(); }
  }

  function addRelationRecord(r) {
    relations.set(r.id, r);
    for (const end of [r.head, r.tail]) {
      if (!relationsOf.has(end)) relationsOf.set(end, new Set());
      relationsOf.get(end).add(r.id);
    }
  }

  function removeRelation(rid, { quiet = false } = {}) {
    const r = relations.get(rid);
    if (!r) return;
    relations.delete(rid);
    for (const end of [r.head, r.tail]) relationsOf.get(end)?.delete(rid);
    if (!quiet) { restyleAround(r.head); restyleAround(r.tail); renderPanel(); }
  }

  function bumpPending(label, delta) {
    const n = (pendingByLabel.get(label) || 0) + delta;
    if (n > 0) pendingByLabel.set(label, n); else pendingByLabel.delete(label);
  }

  function accept(s, { quiet = false } = {}) {
    if (!s || s.status !== 'suggested') return;
    s.status = 'accepted';
    bumpPending(s.label, -1);
    restyleSpan(s);
    if (!quiet) { renderSuggestionBar(); if (s.id === focusedId) renderPanel(); }
  }
  const touch = (s) => { if (s.status === 'suggested') accept(s, { quiet: true }); renderSuggestionBar(); };

  function allowedTypes(head, tail) {
    return relationTypes.filter((t) => t.head.includes(head.label) && t.tail.includes(tail.label)).map((t) => t.name);
  }

  function setLabel(s, label, layer) {
    if (s.label === label && s.layer === layer) return;
    if (s.status === 'suggested') { bumpPending(s.label, -1); s.status = 'accepted'; }
    s.label = label; s.layer = layer;
    if (layer === 'entity' && !s.assertion) s.assertion = 'present';
    let removed = 0;
    for (const rid of [...(relationsOf.get(s.id) || [])]) {
      const r = relations.get(rid);
      const head = spans.get(r.head); const tail = spans.get(r.tail);
      if (!allowedTypes(head, tail).includes(r.type)) { removeRelation(rid, { quiet: true }); removed += 1; }
    }
    restyleAround(s.id);
    renderSuggestionBar();
    if (removed) toast(`${removed} relation(s) no longer allowed for ${label} removed.`);
  }

  // --- selection (DOM -> code points)
  function pointToCp(node, offset, isEnd) {
    if (node !== textEl && !textEl.contains(node)) {
      return textEl.compareDocumentPosition(node) & Node.DOCUMENT_POSITION_PRECEDING ? 0 : cps.length;
    }
    if (node === textEl || node.classList?.contains('note-chunk')) {  // between segments (or chunks)
      const child = node.children[offset];
      return child ? child._s : (node === textEl ? cps.length : node._e);
    }
    const seg = (node.nodeType === Node.TEXT_NODE ? node.parentElement : node).closest('.seg');
    if (!seg) return 0;
    if (node.nodeType !== Node.TEXT_NODE) return offset === 0 ? seg._s : seg._e;
    return cps.toCp(cps.toU16(seg._s) + offset, isEnd);
  }

  function selectedRange() {
    const sel = window.getSelection();
    if (!sel || !sel.rangeCount || sel.isCollapsed) return null;
    const r = sel.getRangeAt(0);
    if (!r.intersectsNode(textEl)) return null;
    let start = pointToCp(r.startContainer, r.startOffset, false);
    let end = pointToCp(r.endContainer, r.endOffset, true);
    while (start < end && isSpace(text[cps.toU16(start)])) start += 1;
    while (end > start && isSpace(text[cps.toU16(end) - 1])) end -= 1;
    return end > start ? { start, end } : null;
  }

  function createOrRelabel(label, layer) {
    const range = selectedRange();
    if (!range) {
      const s = spans.get(focusedId);
      if (s) { setLabel(s, label, layer); renderPanel(); announce(s); return; }
      toast('Select some text first, then press a label key.', 'error');
      return;
    }
    const same = order.find((o) => o.start === range.start && o.end === range.end && o.label === label);
    window.getSelection().removeAllRanges();
    selectionInfo.textContent = '';
    if (same) { accept(same); focus(same.id); return; }
    const s = {
      id: newSpanId(), start: range.start, end: range.end, label, layer, text: spanText(range.start, range.end),
      assertion: layer === 'entity' ? 'present' : undefined, concept: null, candidates: [], attributes: {},
      status: 'accepted', track: 0,
    };
    insertSpan(s);
    focus(s.id, { scroll: false });
  }

  // --- focus and navigation
  function focus(id, { scroll = true } = {}) {
    const old = focusedId;
    focusedId = id && spans.has(id) ? id : null;
    if (old && old !== focusedId) restyleAround(old);
    if (focusedId) {
      restyleAround(focusedId);
      if (scroll) segmentsOf(spans.get(focusedId))[0]?.scrollIntoView({ block: 'nearest' });
      announce(spans.get(focusedId));
    }
    renderPanel();
  }

  function neighbour(step, predicate = () => true) {
    if (!order.length) return null;
    const cur = spans.get(focusedId);
    let i;
    if (!cur) i = step > 0 ? 0 : order.length - 1;
    else {
      let lo = 0; let hi = order.length;
      while (lo < hi) { const mid = (lo + hi) >> 1; if (cmp(order[mid], cur) < 0) lo = mid + 1; else hi = mid; }
      i = lo + step;
    }
    for (; i >= 0 && i < order.length; i += step) if (predicate(order[i])) return order[i];
    return null;
  }

  function decide(acceptIt) {
    const s = spans.get(focusedId);
    if (!s || s.status !== 'suggested') return;
    const next = neighbour(1, (o) => o.status === 'suggested' && o !== s) || neighbour(-1, (o) => o.status === 'suggested' && o !== s);
    if (acceptIt) accept(s); else removeSpan(s.id);
    focus(next ? next.id : (acceptIt ? s.id : null));
  }

  function decideLabel(label, acceptIt) {
    const targets = order.filter((s) => s.status === 'suggested' && (label === null || s.label === label));
    for (const s of targets) { if (acceptIt) accept(s, { quiet: true }); else removeSpan(s.id, { quiet: true }); }
    renderSuggestionBar();
    renderPanel();
    toast(`${acceptIt ? 'Accepted' : 'Rejected'} ${targets.length} suggestion(s)${label ? ` of ${label}` : ''}.`);
  }

  // --- relations
  function startLink() {
    const s = spans.get(focusedId);
    if (!s) { toast('Focus a span first (click it or press j).', 'error'); return; }
    linkHead = s.id;
    restyleSpan(s);
    renderPanel();
  }

  function cancelLink() {
    const head = linkHead;
    linkHead = null; chooser = null;
    if (head) { restyleSpan(spans.get(head)); focus(head, { scroll: false }); } else renderPanel();
  }

  function chooseTail(tailId) {
    const head = spans.get(linkHead); const tail = spans.get(tailId);
    if (!head || !tail || head === tail) return;
    const types = allowedTypes(head, tail);
    if (!types.length) {
      toast(`No relation type links ${head.label} to ${tail.label}.`, 'error');
      return;
    }
    if (types.length === 1) makeRelation(head, tail, types[0]);
    else { chooser = { head: head.id, tail: tail.id, types }; renderPanel(); }
  }

  function makeRelation(head, tail, type) {
    chooser = null;
    linkHead = null;
    const exists = [...(relationsOf.get(head.id) || [])].map((rid) => relations.get(rid))
      .some((r) => r.head === head.id && r.tail === tail.id && r.type === type);
    if (exists) toast(`That ${type} relation exists already.`);
    else {
      addRelationRecord({ id: newRelationId(), type, head: head.id, tail: tail.id });
      touch(head); touch(tail);
    }
    focus(head.id, { scroll: false });
    restyleAround(head.id);
  }

  // ------------------------------------------------------------------------------------------------ layout
  const liveRegion = h('div', { class: 'visually-hidden', 'aria-live': 'polite', id: ID('span-announce') });
  const announce = (s) => {
    if (!s) return;
    liveRegion.textContent = `${s.label}${s.status === 'suggested' ? ' suggestion' : ''}: ${shortText(s.text || '', 80)}${s.assertion ? `, ${s.assertion}` : ''}`;
  };
  const selectionInfo = h('span', { class: 'selection-info', id: ID('selection-info'), 'aria-live': 'polite' });

  const keepSelection = (e) => e.preventDefault();  // buttons must not clear the text selection
  const entityBar = h('div', { class: 'notes-labels', role: 'group', 'aria-label': 'Entity labels' },
    h('span', { class: 'bar-title' }, 'Entities'),
    entityLabels.map((l) => {
      const b = h('button', { type: 'button', class: 'label entity', dataset: { label: l.name }, title: `${l.name}${l.hotkey ? ` (key ${l.hotkey})` : ''}`,
        onmousedown: keepSelection, onclick: () => createOrRelabel(l.name, 'entity') },
      l.hotkey ? h('kbd', {}, l.hotkey) : null, l.name);
      b.style.setProperty('--label', l.color);
      return b;
    }));
  const phiBar = phiLabels.length ? h('div', { class: 'notes-labels phi-labels', role: 'group', 'aria-label': 'PHI labels' },
    h('span', { class: 'bar-title' }, 'PHI'),
    phiLabels.map((l) => h('button', { type: 'button', class: 'label phi', dataset: { label: l.name },
      title: `${l.name}${l.key ? ` (Shift+${l.key})` : ''}`, onmousedown: keepSelection, onclick: () => createOrRelabel(l.name, 'phi') },
    l.key ? h('kbd', {}, `⇧${l.key}`) : null, l.name))) : null;
  const phiToggle = h('button', { type: 'button', id: ID('phi-toggle'), class: 'toggle', 'aria-pressed': 'false',
    title: 'Mask PHI spans as [LABEL] (key m)', onclick: () => toggleMask() }, 'PHI shown');
  function toggleMask() {
    masked = !masked;
    textEl.classList.toggle('masked', masked);
    phiToggle.setAttribute('aria-pressed', String(masked));
    phiToggle.textContent = masked ? 'PHI masked' : 'PHI shown';
  }
  const tagToggle = h('button', { type: 'button', id: ID('tags-toggle'), class: 'toggle', 'aria-pressed': 'true',
    title: 'Show label names after spans', onclick: () => {
      const on = textEl.classList.toggle('no-tags');
      tagToggle.setAttribute('aria-pressed', String(!on));
    } }, 'Label tags');
  const toolbar = h('div', { class: 'notes-toolbar' }, entityBar, phiBar,
    h('div', { class: 'notes-view row' }, selectionInfo, h('span', { class: 'spacer' }), tagToggle, phiToggle));

  const suggestionBar = h('div', { class: 'suggestion-bar', id: ID('suggestion-bar'), hidden: true });
  function renderSuggestionBar() {
    const total = [...pendingByLabel.values()].reduce((a, b) => a + b, 0);
    suggestionBar.hidden = total === 0;
    if (!total) { suggestionBar.replaceChildren(); return; }
    suggestionBar.replaceChildren(
      h('span', { class: 'sugg-title' }, h('strong', { id: ID('pending-count') }, String(total)),
        ` model suggestion${total === 1 ? '' : 's'} to review`),
      h('button', { type: 'button', id: ID('accept-all'), class: 'small primary', onclick: () => decideLabel(null, true) }, 'Accept all'),
      h('span', { class: 'sugg-labels' }, [...pendingByLabel.entries()].sort().map(([label, n]) => {
        const chip = h('span', { class: 'sugg-chip', dataset: { label } },
          h('span', { class: 'swatch' }), `${label} `, h('span', { class: 'count' }, String(n)),
          h('button', { type: 'button', class: 'icon ok', dataset: { acceptLabel: label }, title: `Accept all ${label} suggestions`,
            'aria-label': `Accept all ${label}`, onclick: () => decideLabel(label, true) }, '✓'),
          h('button', { type: 'button', class: 'icon no', dataset: { rejectLabel: label }, title: `Reject all ${label} suggestions`,
            'aria-label': `Reject all ${label}`, onclick: () => decideLabel(label, false) }, '✕'));
        chip.style.setProperty('--label', phiNames.has(label) && !entityByName.has(label) ? PHI_COLOR : (entityByName.get(label)?.color || UNKNOWN_COLOR));
        return chip;
      })));
  }

  const panel = h('aside', { class: 'span-panel', id: ID('span-panel'), 'aria-label': 'Span details' });
  const layout = h('div', { class: 'notes-layout' }, h('div', { class: 'note-scroll', id: ID('note-scroll') }, textEl), panel);
  const hint = fromModel && spans.size
    ? h('p', { class: 'muted notes-hint', id: ID('model-hint') }, 'Model suggestions are dashed: accept (a) or reject (x) each, or decide per label above.') : null;
  container.replaceChildren(...[toolbar, hint, suggestionBar, layout, liveRegion].filter(Boolean));
  container.classList.add('notes-annotator');
  renderSuggestionBar();
  if (dropped) toast(`${dropped} span(s) of the stored annotation lie outside the text and were left out.`, 'error');

  // ------------------------------------------------------------------------------------------------ side panel
  const field = (labelText, control, id) => h('div', { class: 'field' }, h('label', { for: id }, labelText), control);
  const relationLine = (r, from) => {
    const head = spans.get(r.head); const tail = spans.get(r.tail);
    const other = from === r.head ? tail : head;
    const arrow = from === null ? `${shortText(head.text, 24)} → ${shortText(tail.text, 24)}` : (from === r.head ? `→ ${shortText(other.text, 30)}` : `← ${shortText(other.text, 30)}`);
    return h('li', { class: 'relation', dataset: { relation: r.id, type: r.type } },
      h('span', { class: 'rel-type' }, r.type),
      h('button', { type: 'button', class: 'link rel-target', title: 'Go to the span', onclick: () => focus(from === null ? head.id : other.id) }, arrow),
      h('button', { type: 'button', class: 'icon no', title: 'Delete relation', 'aria-label': `Delete ${r.type} relation`,
        onclick: () => removeRelation(r.id) }, '✕'));
  };

  function renderPanel() {
    const s = spans.get(focusedId);
    if (chooser) { panel.replaceChildren(renderChooser()); return; }
    if (!s) { panel.replaceChildren(...renderSummary()); return; }
    const color = colorOf(s);
    const head = h('div', { class: 'panel-head' },
      h('span', { class: `chip ${s.layer}` }, s.label),
      s.status === 'suggested' ? h('span', { class: 'badge suggested' }, 'suggestion') : null,
      typeof s.score === 'number' ? h('span', { class: 'badge' }, `score ${s.score.toFixed(2)}`) : null,
      s.section ? h('span', { class: 'badge', title: `Section of the note: ${s.section}` }, s.section.replace(/_/g, ' ')) : null);
    head.style.setProperty('--label', color);
    const quote = h('blockquote', { class: 'span-quote', id: ID('span-text') }, s.text);
    const where = h('div', { class: 'muted small' }, `characters ${s.start}–${s.end} · ${order.indexOf(s) + 1} of ${order.length}`);
    const parts = [head, quote, where];
    if (linkHead) {
      parts.unshift(h('div', { class: 'link-banner', id: ID('link-banner'), role: 'status' },
        h('strong', {}, 'Relation: '), `from ${spans.get(linkHead).label} “${shortText(spans.get(linkHead).text, 30)}”. `,
        'Click the tail span, or move with j/k and press Enter. Esc cancels.'));
    }
    if (s.status === 'suggested') {
      parts.push(h('div', { class: 'row decide' },
        h('button', { type: 'button', id: ID('accept-span'), class: 'primary small', onclick: () => decide(true) }, 'Accept (a)'),
        h('button', { type: 'button', id: ID('reject-span'), class: 'small danger', onclick: () => decide(false) }, 'Reject (x)')));
    }
    // label
    const labelSel = h('select', { id: ID('span-label'), onchange: (e) => {
      const [layer, name] = e.target.value.split(':');
      setLabel(s, name, layer); renderPanel();
    } },
    h('optgroup', { label: 'Entity' }, entityLabels.map((l) => h('option', { value: `entity:${l.name}` }, l.name))),
    phiLabels.length ? h('optgroup', { label: 'PHI' }, phiLabels.map((l) => h('option', { value: `phi:${l.name}` }, l.name))) : null);
    if (![...labelSel.options].some((o) => o.value === `${s.layer}:${s.label}`)) labelSel.append(h('option', { value: `${s.layer}:${s.label}` }, `${s.label} (not in config)`));
    labelSel.value = `${s.layer}:${s.label}`;
    parts.push(field('Label', labelSel, 'span-label'));
    if (s.layer === 'entity') {
      const assertionSel = h('select', { id: ID('span-assertion'), onchange: (e) => {
        s.assertion = e.target.value; touch(s); restyleSpan(s); announce(s);
      } }, assertions.map((a) => h('option', { value: a }, a)));
      assertionSel.value = s.assertion || 'present';
      parts.push(field('Assertion', assertionSel, 'span-assertion'));
      parts.push(renderConcept(s));
    }
    parts.push(renderAttributes(s));
    parts.push(renderSpanRelations(s));
    parts.push(h('div', { class: 'row panel-actions' },
      h('button', { type: 'button', id: ID('link-span'), class: 'small', onclick: startLink, disabled: Boolean(linkHead) }, 'Add relation (r)'),
      h('button', { type: 'button', id: ID('delete-span'), class: 'small danger', onclick: () => { const n = neighbour(1); removeSpan(s.id); focus(n ? n.id : null, { scroll: false }); } }, 'Delete (Del)')));
    panel.replaceChildren(...parts);
  }

  function renderConcept(s) {
    const box = h('section', { class: 'concept', id: ID('concept-box'), 'aria-label': 'Concept' });
    const current = s.concept
      ? h('div', { class: 'concept-current', id: ID('concept-current'), dataset: { code: s.concept.code, terminology: s.concept.terminology } },
        h('span', { class: 'code' }, s.concept.code), h('span', { class: 'name' }, s.concept.name || ''),
        h('span', { class: 'term' }, terminologyName(s.concept.terminology)),
        h('button', { type: 'button', class: 'icon no', title: 'Clear the concept', 'aria-label': 'Clear the concept',
          onclick: () => { s.concept = null; touch(s); renderPanel(); } }, '✕'))
      : h('div', { class: 'concept-current empty muted', id: ID('concept-current') }, 'No concept linked');
    const cands = (s.candidates || []).length ? h('ul', { class: 'candidates', 'aria-label': 'Candidate concepts' },
      s.candidates.map((c) => {
        const chosen = s.concept && s.concept.code === c.code && s.concept.terminology === c.terminology;
        return h('li', {}, h('button', { type: 'button', class: `candidate${chosen ? ' chosen' : ''}`, 'aria-pressed': String(Boolean(chosen)),
          dataset: { code: c.code }, onclick: () => { s.concept = cleanConcept(c); touch(s); renderPanel(); } },
        h('span', { class: 'code' }, c.code), h('span', { class: 'name' }, c.name || ''),
        c.icd10cm ? h('span', { class: 'xrefs', title: 'ICD-10-CM codes this concept cross-references' },
          `ICD-10-CM ${c.icd10cm.join(', ')}`) : null,
        typeof c.score === 'number' ? h('span', { class: 'score' }, c.score.toFixed(2)) : null));
      })) : null;
    const pickerHost = h('div', { class: 'picker-host' });
    const open = () => openPicker(s, pickerHost);
    box.append(...[h('h3', {}, 'Concept'), current, cands].filter(Boolean),
      h('button', { type: 'button', id: ID('concept-search'), class: 'small', onclick: open }, 'Search concepts (c)'), pickerHost);
    box._open = open;
    return box;
  }

  function openPicker(s, host) {
    const label = entityByName.get(s.label);
    const picker = conceptPicker({
      terminologies: label ? label.terminologies : [], projectId, initialQuery: (s.text || '').trim().slice(0, 100),
      onPick: (c) => { s.concept = cleanConcept(c); touch(s); renderPanel(); textEl.focus({ preventScroll: true }); },
      onCancel: () => { renderPanel(); textEl.focus({ preventScroll: true }); },
    });
    picker.id = ID('concept-picker');
    host.replaceChildren(picker);
    picker.focusInput();
  }

  function renderAttributes(s) {
    const rows = Object.entries(s.attributes || {}).map(([k, v]) => h('li', { dataset: { key: k } },
      h('span', { class: 'attr-key' }, k), h('span', { class: 'attr-value' }, v),
      h('button', { type: 'button', class: 'icon no', 'aria-label': `Remove attribute ${k}`,
        onclick: () => { delete s.attributes[k]; touch(s); renderPanel(); } }, '✕')));
    const key = h('input', { type: 'text', id: ID('attr-key'), placeholder: 'name', 'aria-label': 'Attribute name', maxlength: '64' });
    const value = h('input', { type: 'text', id: ID('attr-value'), placeholder: 'value', 'aria-label': 'Attribute value', maxlength: '1000' });
    const add = () => {
      const k = key.value.trim();
      if (!k) { key.focus(); return; }
      s.attributes = { ...(s.attributes || {}), [k]: value.value.trim() };
      touch(s); renderPanel();
      document.getElementById(ID('attr-key'))?.focus();
    };
    value.addEventListener('keydown', (e) => { if (e.key === 'Enter' && !e.ctrlKey && !e.metaKey) { e.preventDefault(); add(); } });
    return h('details', { class: 'attributes', open: rows.length > 0 },
      h('summary', {}, `Attributes${rows.length ? ` (${rows.length})` : ''}`),
      rows.length ? h('ul', { class: 'attr-list' }, rows) : null,
      h('div', { class: 'attr-add' }, key, value, h('button', { type: 'button', class: 'small', onclick: add }, 'Add')));
  }

  function renderSpanRelations(s) {
    const rels = [...(relationsOf.get(s.id) || [])].map((rid) => relations.get(rid)).filter(Boolean);
    return h('section', { class: 'relations', 'aria-label': 'Relations of this span' },
      h('h3', {}, `Relations${rels.length ? ` (${rels.length})` : ''}`),
      rels.length ? h('ul', { class: 'relation-list', id: ID('span-relations') }, rels.map((r) => relationLine(r, s.id)))
        : h('p', { class: 'muted small' }, 'None. Press r, then click the tail span.'));
  }

  function renderChooser() {
    const head = spans.get(chooser.head); const tail = spans.get(chooser.tail);
    return h('div', { class: 'chooser', id: ID('relation-chooser'), role: 'dialog', 'aria-label': 'Relation type' },
      h('h3', {}, 'Relation type'),
      h('p', { class: 'small' }, `${head.label} “${shortText(head.text, 30)}” → ${tail.label} “${shortText(tail.text, 30)}”`),
      h('div', { class: 'chooser-options' }, chooser.types.map((t, i) => h('button', { type: 'button', class: 'small', dataset: { type: t },
        onclick: () => makeRelation(head, tail, t) }, h('kbd', {}, String(i + 1)), t))),
      h('button', { type: 'button', class: 'link', onclick: cancelLink }, 'Cancel (Esc)'));
  }

  function renderSummary() {
    const counts = new Map();
    for (const s of order) counts.set(s.label, (counts.get(s.label) || 0) + 1);
    const all = [...relations.values()];
    const out = [h('h3', {}, 'Summary'),
      h('p', { class: 'small', id: ID('span-count') }, `${order.length} span${order.length === 1 ? '' : 's'} · ${all.length} relation${all.length === 1 ? '' : 's'}`)];
    if (counts.size) {
      out.push(h('ul', { class: 'label-counts' }, [...counts.entries()].sort().map(([label, n]) => {
        const li = h('li', {}, h('span', { class: 'swatch' }), h('span', {}, label), h('span', { class: 'count' }, String(n)));
        li.style.setProperty('--label', phiNames.has(label) && !entityByName.has(label) ? PHI_COLOR : (entityByName.get(label)?.color || UNKNOWN_COLOR));
        return li;
      })));
    }
    out.push(h('details', { class: 'all-relations', open: all.length > 0 && all.length <= 20 },
      h('summary', {}, `All relations (${all.length})`),
      all.length ? h('ul', { class: 'relation-list', id: ID('relations-list') }, all.slice(0, MAX_LISTED_RELATIONS).map((r) => relationLine(r, null)),
        all.length > MAX_LISTED_RELATIONS ? h('li', { class: 'muted' }, `…and ${all.length - MAX_LISTED_RELATIONS} more`) : null)
        : h('p', { class: 'muted small' }, 'No relations yet.')));
    out.push(h('div', { class: 'keys small' }, h('h3', {}, 'Keys'), h('dl', {},
      ...[['select + 1–9', 'label entity'], ['select + ⇧1–9', 'label PHI'], ['j / k, Tab', 'next / previous span'],
        ['Del', 'delete span'], ['a / x', 'accept / reject suggestion'], ['c', 'search concept'], ['r', 'add relation'],
        ['m', 'mask PHI'], ['Esc', 'unfocus'], ['Ctrl+Enter', 'submit']].flatMap(([k, d]) => [h('dt', {}, h('kbd', {}, k)), h('dd', {}, d)]))));
    return out;
  }

  // ------------------------------------------------------------------------------------------------ events
  textEl.addEventListener('click', (e) => {
    if (selectedRange()) return;  // the end of a drag, not a click
    const seg = e.target.closest && e.target.closest('.seg');
    const ids = seg ? seg._c.filter((id) => spans.has(id)) : [];
    if (!ids.length) { if (!linkHead && !chooser) focus(null); return; }
    const byLength = ids.map((id) => spans.get(id)).sort((a, b) => (a.end - a.start) - (b.end - b.start));
    if (linkHead) {
      const tail = byLength.find((s) => s.id !== linkHead);
      if (tail) chooseTail(tail.id);
      return;
    }
    // repeated clicks on overlapping spans cycle from the innermost outwards
    const at = byLength.findIndex((s) => s.id === focusedId);
    focus(byLength[(at + 1) % byLength.length].id, { scroll: false });
  });

  const onSelection = () => {
    const r = selectedRange();
    selectionInfo.textContent = r ? `Selected “${shortText(spanText(r.start, r.end), 50)}” (${r.end - r.start} chars): press a label key or click a label.` : '';
  };

  // Keys are handled on the container (events from the text and panel bubble here; the page forwards keys
  // pressed while nothing is focused), never on document: several mounts can share a page.
  const onKey = (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (t && t.closest && t.closest('input, textarea, select, [contenteditable="true"]')) {
      if (e.key === 'Escape' && t.tagName === 'SELECT') textEl.focus({ preventScroll: true });
      return;
    }
    if (chooser) {
      const n = Number(e.key);
      if (n >= 1 && n <= chooser.types.length) { e.preventDefault(); makeRelation(spans.get(chooser.head), spans.get(chooser.tail), chooser.types[n - 1]); return; }
      if (e.key === 'Escape') { e.preventDefault(); cancelLink(); }
      return;
    }
    if (e.key === 'Escape') {
      if (linkHead) cancelLink();
      else if (window.getSelection().isCollapsed === false) window.getSelection().removeAllRanges();
      else focus(null);
      return;
    }
    if (e.shiftKey && /^Digit[1-9]$/.test(e.code)) {
      const l = phiLabels.find((p) => p.key === e.code.slice(5));
      if (l) { e.preventDefault(); createOrRelabel(l.name, 'phi'); }
      return;
    }
    const label = entityLabels.find((l) => l.hotkey && l.hotkey === e.key);
    if (label) { e.preventDefault(); createOrRelabel(label.name, 'entity'); return; }
    const inText = t === textEl || textEl.contains(t) || t === document.body || t === container;
    let target = null;
    switch (e.key) {
      case 'j': case 'Tab': case 'k': {
        if (e.key === 'Tab' && !inText) return;
        const back = e.key === 'k' || (e.key === 'Tab' && e.shiftKey);
        target = neighbour(back ? -1 : 1);
        if (!target && e.key === 'Tab') return;  // let Tab leave the text at either end
        e.preventDefault();
        if (target) focus(target.id);
        return;
      }
      case 'Enter':
        if (linkHead && focusedId && focusedId !== linkHead) { e.preventDefault(); chooseTail(focusedId); }
        return;
      case 'Delete': case 'Backspace':
        if (focusedId && !linkHead) {
          e.preventDefault();
          const n = neighbour(1) || neighbour(-1);
          removeSpan(focusedId);
          focus(n ? n.id : null);
        }
        return;
      case 'a': e.preventDefault(); decide(true); return;
      case 'x': e.preventDefault(); decide(false); return;
      case 'r': if (focusedId && !linkHead) { e.preventDefault(); startLink(); } return;
      case 'c': {
        const box = document.getElementById(ID('concept-box'));
        if (focusedId && box && box._open) { e.preventDefault(); box._open(); }
        return;
      }
      case 'm': e.preventDefault(); toggleMask(); return;
      default:
    }
  };

  renderPanel();

  if (!readOnly) {
    container.addEventListener('keydown', onKey);
    document.addEventListener('selectionchange', onSelection);
  }

  function payload() {
      const out = order.map((s) => {
        const o = { id: s.id, start: s.start, end: s.end, label: s.label, layer: s.layer, text: s.text };
        if (s.assertion) o.assertion = s.assertion;
        o.concept = s.concept || null;
        o.candidates = s.candidates || [];
        o.attributes = s.attributes || {};
        if (typeof s.score === 'number') o.score = s.score;
        if (s.section) o.section = s.section;
        return o;
      });
      const rels = [...relations.values()].filter((r) => spans.has(r.head) && spans.has(r.tail))
        .map((r) => ({ id: r.id, type: r.type, head: r.head, tail: r.tail }));
      return { spans: out, relations: rels };
  }

  return {
    value() {
      const pending = order.filter((s) => s.status === 'suggested').length;
      if (pending) {
        throw new Error(`${pending} model suggestion${pending === 1 ? ' is' : 's are'} still pending: accept or reject ${pending === 1 ? 'it' : 'them'} (a / x, or Accept all).`);
      }
      return payload();
    },
    // Everything needed to restore this state exactly (undo, autosaved drafts): suggestions stay suggestions.
    snapshot() {
      return { payload: payload(), pending: order.filter((s) => s.status === 'suggested').map((s) => s.id) };
    },
    destroy() {
      container.removeEventListener('keydown', onKey);
      document.removeEventListener('selectionchange', onSelection);
      container.replaceChildren();
    },
  };
}

// ------------------------------------------------------------------------------ review page (describeDiff etc.)
const snippetOf = (item, start, end) => `“${Array.from(item.text || '').slice(start, end).join('')}”`;
const conceptText = (v) => (v && typeof v === 'object' ? `${v.terminology || ''} ${v.code || ''}`.trim() : String(v));

// One difference from the server's diff in words. Offsets are code points into the text.
export function describeDiff(d, item, who) {
  const snippet = d.start !== undefined && d.end !== undefined ? snippetOf(item, d.start, d.end) : '';
  switch (d.kind) {
    case 'span_only_in': return `${d.label} ${snippet} marked only by ${who(d.in)}`;
    case 'label_differs': return `${snippet}: label ${d.values.join(' vs ')}`;
    case 'assertion_differs': return `${snippet}: assertion ${d.values.join(' vs ')}`;
    case 'concept_differs': return `${snippet}: concept ${d.values.map(conceptText).join(' vs ')}`;
    case 'relation_only_in': return `${d.type} relation only in ${who(d.in)}'s version`;
    default: return d.kind || 'difference';
  }
}

// A curation unit is a span position; an option is what one or more versions put there.
export function describeUnit(unit, item) {
  return `${unit.layer === 'phi' ? 'PHI ' : ''}${snippetOf(item, unit.start, unit.end)}`;
}

export function describeOption(option) {
  if (!option.spans || !option.spans.length) return '(left out)';
  return option.spans.map((s) => [s.label, s.assertion && s.assertion !== 'present' ? s.assertion : '',
    s.concept ? conceptText(s.concept) : ''].filter(Boolean).join(' · ')).join(' + ');
}
export { editConfig } from './notes_config.js';
