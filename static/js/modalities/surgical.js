// UI of the `surgical` modality: the video (the server's browser proxy) with a frame-accurate timeline under it
// (thumbnails, phase bands, one row per instrument / event track, comment markers, playhead), a segment list to edit
// phases precisely, tag and comment lists. The frame shown is the frame the browser presented
// (requestVideoFrameCallback's mediaTime mapped through the frame index), never time x fps.
// Keys (focus outside a field): ←/→ one frame, Shift+←/→ one second, Home/End, 1-9 "this phase starts here",
// [ ] or PageUp/PageDown previous/next boundary, space or k play/pause, l loop the current phase.
import { h } from '../api.js';
import { Timeline, colorOf, fmtTime, frameIndex } from './surgical_timeline.js';

export { compareView } from './surgical_compare.js';

let readOnlyMounts = 0;
const remembered = new Map();  // item id -> {frame, zoom, start}: an undo/redo remount keeps the playhead and view
const SPEEDS = [0.25, 0.5, 0.75, 1, 1.5, 2, 4];
const MAX_LISTED = 1000;
const byStart = (a, b) => a.start_frame - b.start_frame || a.end_frame - b.end_frame;

export function mount(container, { item, labelConfig, initial, readOnly, mediaUrl, assets }) {
  const sfx = readOnly ? `-v${++readOnlyMounts}` : '';
  const cfg = labelConfig || {};
  const names = cfg.phases || [];
  const stepsOf = (phase) => (cfg.steps && phase && cfg.steps[phase]) || [];
  const actionsOf = (step) => (cfg.actions && step && cfg.actions[step]) || [];
  const tracks = cfg.tracks || [];
  const start = JSON.parse(JSON.stringify(initial || {}));
  let phases = (start.phases || []).sort(byStart);
  let tags = (start.tags || []).sort(byStart);
  let comments = (start.comments || []).sort((a, b) => a.frame - b.frame);
  const used = new Set([...phases, ...tags, ...comments].map((e) => e.id));
  let counter = 0;
  const newId = (prefix) => { let id; do id = `${prefix}${++counter}`; while (used.has(id)); used.add(id); return id; };
  const open = new Map();  // track -> the frame its interval being recorded started at
  const memo = (!readOnly && item && remembered.get(item.id)) || { frame: 0 };
  let idx = null; let shown = memo.frame; let pending = null; let loopSeg = null;
  let vfc = null; let fallback = null; let destroyed = false; let videoReady = false;

  // ------------------------------------------------------------------------------------------------ elements
  const video = h('video', { class: 'surgical-video', id: `surgical-video${sfx}`, preload: 'auto', playsinline: true,
  });
  video.muted = Boolean(readOnly);  // the review page plays two versions side by side
  const src = (assets && assets.proxy && assets.proxy.url) || mediaUrl;
  const playBtn = h('button', { type: 'button', class: 'surgical-play', title: 'play / pause (space, k)', onclick: () => togglePlay() }, '▶');
  const frameOut = h('output', { class: 'surgical-frame', id: `surgical-frame${sfx}`, 'aria-live': 'off' }, 'frame – / –');
  const speed = h('select', { class: 'surgical-speed', 'aria-label': 'playback speed', onchange: () => { video.playbackRate = Number(speed.value); } },
    ...SPEEDS.map((r) => h('option', { value: r, selected: r === 1 }, `${r}×`)));
  const loopBtn = h('button', { type: 'button', class: 'surgical-loop', title: 'loop the current phase (l)', 'aria-pressed': 'false', onclick: () => toggleLoop() }, '⟲ loop');
  const zoom = h('input', { type: 'range', min: '0', max: '1000', value: '0', class: 'surgical-zoom', 'aria-label': 'timeline zoom',
    oninput: () => { tl.setZoom(tl.maxZoom ** (Number(zoom.value) / 1000)); remember(); } });
  const status = h('p', { class: 'surgical-status muted', id: `surgical-status${sfx}` });
  const canvas = h('canvas', { class: 'surgical-timeline', id: `surgical-timeline${sfx}`, role: 'img', 'aria-label': 'timeline: phases, tags, comments' });
  const trackBar = h('div', { class: 'surgical-tracks row', id: `surgical-tracks${sfx}` });
  const commentIn = h('input', { type: 'text', class: 'surgical-comment-text', id: `surgical-comment-text${sfx}`, maxlength: '5000', placeholder: 'comment…' });
  const segBody = h('tbody', {});
  const segTable = h('table', { class: 'surgical-segments list', id: `surgical-segments${sfx}` },
    h('thead', {}, h('tr', {}, ...['', 'phase', cfg.steps ? 'step' : null, 'frames', 'time', ''].filter((c) => c !== null).map((c) => h('th', {}, c)))), segBody);
  const tagList = h('ol', { class: 'surgical-tag-list', id: `surgical-tags${sfx}` });
  const commentList = h('ol', { class: 'surgical-comment-list', id: `surgical-comments${sfx}` });

  const wrap = h('div', { class: 'surgical-timeline-wrap' }, canvas);  // the timeline fills this box's width
  const tl = new Timeline(canvas, { tracks, phaseNames: names, readOnly,
    onSeek: (k) => go(k), onEdge: moveEdge, onEdgeDone: () => refresh(), onView: () => { syncZoom(); remember(); } });

  // -------------------------------------------------------------------------------------- frames and the player
  const cur = () => (pending ? pending.frame : shown);
  const fmtFrame = (k) => (idx ? fmtTime(idx.sec(k)) : '–');

  function setShown(k) {
    shown = k;
    frameOut.textContent = `frame ${k} / ${idx.count} · ${fmtTime(idx.sec(k))}`;
    container.dataset.frame = String(k);
    tl.setFrame(k);
    const at = phases.findIndex((s) => k >= s.start_frame && k < s.end_frame);
    segBody.querySelector('tr.current')?.classList.remove('current');
    segBody.children[at]?.classList.add('current');
    remember();
  }

  function remember() { if (!readOnly && item) remembered.set(item.id, { frame: cur(), zoom: tl.zoom, start: tl.start }); }

  function go(k) {  // show frame k: seek inside it; the display follows what the browser presents
    if (!idx) return;
    k = Math.min(idx.count - 1, Math.max(0, Math.round(k)));
    if (!videoReady) { shown = k; remember(); return; }  // keys pressed while the video loads still count
    if (!video.paused) video.pause();
    const t = idx.seekTime(k);
    if (k === shown && !pending && !video.seeking) {  // the same frame: no new frame is presented, no callback comes
      if (Math.abs(video.currentTime - t) > 1e-6) video.currentTime = t;
      setShown(k);
      return;
    }
    pending = { frame: k };
    video.currentTime = t;
    tl.setFrame(k);
    remember();  // a remount (undo, redo) before the frame is presented starts where the user was going
  }

  function onFrame(_now, meta) {
    vfc = video.requestVideoFrameCallback(onFrame);
    const k = idx.fromMediaTime(meta.mediaTime);
    if (pending && video.paused && k !== pending.frame) return;  // a stale frame right after a seek: wait for the next
    pending = null;
    if (loopSeg && !video.paused && (k >= loopSeg.end_frame || k < loopSeg.start_frame)) {
      video.currentTime = idx.seekTime(loopSeg.start_frame);
      return;
    }
    setShown(k);
  }

  const onSeeked = () => {  // no callback after a seek that presents no new frame: trust the player's time
    clearTimeout(fallback);
    fallback = setTimeout(() => {
      if (pending && !video.seeking && idx) { pending = null; setShown(idx.fromMediaTime(video.currentTime)); }
    }, 300);
  };
  const onTime = () => { if (idx && !pending && !('requestVideoFrameCallback' in video)) setShown(idx.fromMediaTime(video.currentTime)); };
  const onPlay = () => { pending = null; playBtn.textContent = '❚❚'; };
  const onPause = () => { playBtn.textContent = '▶'; };
  const onLoaded = () => { videoReady = true; start0(); };
  const listeners = { seeked: onSeeked, timeupdate: onTime, play: onPlay, pause: onPause, loadeddata: onLoaded };
  for (const [k, fn] of Object.entries(listeners)) video.addEventListener(k, fn);

  function start0() {  // both the index and the first frame are there
    if (!idx || !videoReady || destroyed || container.dataset.ready) return;
    if ('requestVideoFrameCallback' in video) vfc = video.requestVideoFrameCallback(onFrame);
    container.dataset.ready = 'true';
    const want = shown;
    shown = -1;
    go(Math.min(want, idx.count - 1));
  }

  function togglePlay() {
    if (!idx) return;
    if (video.paused) {
      if (loopSeg) { const k = cur(); if (k < loopSeg.start_frame || k >= loopSeg.end_frame) video.currentTime = idx.seekTime(loopSeg.start_frame); }
      video.play().catch(() => {});
    } else video.pause();
  }

  function toggleLoop() {
    loopSeg = loopSeg ? null : phases.find((s) => cur() >= s.start_frame && cur() < s.end_frame) || null;
    loopBtn.setAttribute('aria-pressed', String(Boolean(loopSeg)));
    loopBtn.classList.toggle('on', Boolean(loopSeg));
    tl.setLoop(loopSeg);
  }

  function syncZoom() { zoom.value = String(tl.maxZoom > 1 ? Math.round((1000 * Math.log(tl.zoom)) / Math.log(tl.maxZoom)) : 0); }

  // ------------------------------------------------------------------------------------------------- editing
  function normalize() {  // sorted, no empty segments, equal neighbours merged
    const out = [];
    for (const s of phases.filter((p) => p.end_frame > p.start_frame).sort(byStart)) {
      const last = out[out.length - 1];
      if (last && last.end_frame === s.start_frame && last.phase === s.phase && (last.step || null) === (s.step || null)
        && (last.action || null) === (s.action || null)) {
        last.end_frame = s.end_frame; delete last.score;
        if (loopSeg === s) loopSeg = last;
      } else out.push(s);
    }
    phases = out;
    if (loopSeg && !phases.includes(loopSeg)) { loopSeg = null; tl.setLoop(null); loopBtn.setAttribute('aria-pressed', 'false'); }
  }

  function relabel(seg, phase) {
    seg.phase = phase; delete seg.score;
    if (seg.step && !stepsOf(phase).includes(seg.step)) delete seg.step;
    delete seg.action;
  }

  // Key n: "phase n starts at this frame": split the segment there (relabel it if it starts here).
  function setPhaseAt(f, phase) {
    const seg = phases.find((s) => f >= s.start_frame && f < s.end_frame);
    if (seg && seg.start_frame === f) relabel(seg, phase);
    else if (seg) {
      phases.push({ id: newId('p'), phase, start_frame: f, end_frame: seg.end_frame });
      seg.end_frame = f;
    } else {  // in a gap (or no phases yet): up to the next segment or the end
      const next = phases.find((s) => s.start_frame > f);
      if (!phases.length && f > 0) phases.push({ id: newId('p'), phase: null, start_frame: 0, end_frame: f });
      phases.push({ id: newId('p'), phase, start_frame: f, end_frame: next ? next.start_frame : idx.count });
    }
    refresh();
  }

  // Move the boundary at frame `from` to `to` (both sides of a shared boundary), kept inside its neighbours.
  function moveEdge(from, to) {
    const i = phases.findIndex((s) => s.end_frame === from); const j = phases.findIndex((s) => s.start_frame === from);
    const left = phases[i]; const right = phases[j];
    const lo = left ? left.start_frame + 1 : (phases[j - 1] ? phases[j - 1].end_frame : 0);
    const hi = right ? right.end_frame - 1 : (phases[i + 1] ? phases[i + 1].start_frame : idx.count);
    const at = Math.min(hi, Math.max(lo, Math.round(to)));
    if (left) left.end_frame = at;
    if (right) right.start_frame = at;
    tl.setData({ phases, tags, comments });
    return at;
  }

  function toggleTag(track) {
    const f = cur();
    if (!open.has(track)) open.set(track, f);
    else {
      const a = open.get(track); open.delete(track);
      tags.push({ id: newId('t'), track, start_frame: Math.min(a, f), end_frame: Math.max(a, f) + 1 });
      tags.sort(byStart);
    }
    refresh();
  }

  function addComment() {
    const text = commentIn.value.trim();
    if (!text || !idx) return;
    comments.push({ id: newId('c'), frame: cur(), text });
    comments.sort((a, b) => a.frame - b.frame);
    commentIn.value = '';
    refresh();
  }

  function boundary(dir) {
    const f = cur(); const all = [...new Set(phases.flatMap((s) => [s.start_frame, s.end_frame]))].filter((b) => b < idx.count).sort((a, b) => a - b);
    return dir > 0 ? all.find((b) => b > f) ?? f : [...all].reverse().find((b) => b < f) ?? f;
  }

  // ----------------------------------------------------------------------------------------------- rendering
  function refresh() {
    normalize();
    tl.setData({ phases, tags, comments });
    tl.setOpen(open);
    renderTracks(); renderSegments(); renderTags(); renderComments();
    if (idx && shown >= 0) setShown(shown);
  }

  const span = (a, b) => `${a}–${b - 1}`;
  const times = (a, b) => (idx ? `${fmtFrame(a)} – ${fmtTime(b >= idx.count ? idx.duration : idx.sec(b))}` : '');
  const goBtn = (k, label, cls) => h('button', { type: 'button', class: `link ${cls}`, title: `go to frame ${k}`, onclick: () => go(k) }, label);

  function renderTracks() {
    if (readOnly) return;
    trackBar.replaceChildren(h('span', { class: 'muted' }, 'tags:'), ...tracks.map((t) => h('button', {
      type: 'button', class: `surgical-track ${t.kind}${open.has(t.name) ? ' on' : ''}`, dataset: { track: t.name },
      'aria-pressed': String(open.has(t.name)), title: open.has(t.name) ? 'press again to end the tag here' : 'start a tag here',
      onclick: () => toggleTag(t.name) }, open.has(t.name) ? `● ${t.name} from ${open.get(t.name)}` : t.name)));
  }

  function renderSegments() {
    segBody.replaceChildren(...phases.map((seg, i) => {
      const pick = h('select', { class: 'surgical-seg-phase', disabled: readOnly, 'aria-label': `segment ${i + 1} phase`,
        onchange: () => { relabel(seg, pick.value || null); refresh(); } },
      h('option', { value: '' }, 'unlabelled'), ...names.map((p, n) => h('option', { value: p, selected: p === seg.phase }, n < 9 ? `${n + 1} ${p}` : p)));
      const steps = stepsOf(seg.phase);
      const step = h('select', { class: 'surgical-seg-step', disabled: readOnly || !steps.length, 'aria-label': `segment ${i + 1} step`,
        onchange: () => { if (step.value) seg.step = step.value; else delete seg.step; delete seg.action; refresh(); } },
      h('option', { value: '' }, steps.length ? 'step…' : '—'), ...steps.map((s) => h('option', { value: s, selected: s === seg.step }, s)));
      const acts = actionsOf(seg.step);  // the third level: the step's actions from the project's vocabulary
      const action = acts.length ? h('select', { class: 'surgical-seg-action', disabled: readOnly, 'aria-label': `segment ${i + 1} action`,
        onchange: () => { if (action.value) seg.action = action.value; else delete seg.action; refresh(); } },
      h('option', { value: '' }, 'action…'), ...acts.map((a) => h('option', { value: a, selected: a === seg.action }, a))) : null;
      const edge = (key) => {
        const input = h('input', { type: 'number', min: '0', max: String(idx ? idx.count : ''), step: '1', class: `surgical-seg-${key}`,
          value: String(key === 'start' ? seg.start_frame : seg.end_frame - 1), disabled: readOnly || !idx, 'aria-label': `segment ${i + 1} ${key} frame`,
          onchange: () => { moveEdge(key === 'start' ? seg.start_frame : seg.end_frame, Number(input.value) + (key === 'start' ? 0 : 1)); refresh(); } });
        return input;
      };
      const actions = readOnly ? [] : [
        i + 1 < phases.length ? h('button', { type: 'button', class: 'link surgical-seg-merge', title: 'merge with the next segment',
          onclick: () => { seg.end_frame = phases[i + 1].end_frame; phases.splice(i + 1, 1); refresh(); } }, 'merge ↓') : null,
        h('button', { type: 'button', class: 'link surgical-seg-delete', onclick: () => { phases.splice(i, 1); refresh(); } }, 'delete')];
      const swatch = h('span', { class: 'surgical-swatch' });
      swatch.style.background = colorOf(names, seg.phase);
      return h('tr', { class: `surgical-seg${seg.phase ? '' : ' unlabelled'}`, dataset: { start: seg.start_frame, end: seg.end_frame, phase: seg.phase || '' } },
        h('td', {}, swatch), h('td', {}, pick), cfg.steps ? h('td', {}, step, action ? ' ' : null, action) : null,
        h('td', { class: 'surgical-seg-frames' }, edge('start'), ' – ', edge('end')),
        h('td', { class: 'muted' }, goBtn(seg.start_frame, '▶', 'surgical-seg-go'), ' ', times(seg.start_frame, seg.end_frame)),
        h('td', {}, ...actions.filter(Boolean)));
    }));
  }

  function renderTags() {
    tagList.replaceChildren(...tags.slice(0, MAX_LISTED).map((t) => h('li', { class: 'surgical-tag', dataset: { track: t.track, start: t.start_frame, end: t.end_frame } },
      goBtn(t.start_frame, `${t.track} ${span(t.start_frame, t.end_frame)}`, 'surgical-tag-go'), ' ', h('span', { class: 'muted' }, times(t.start_frame, t.end_frame)),
      readOnly ? null : h('button', { type: 'button', class: 'link surgical-tag-delete', onclick: () => { tags.splice(tags.indexOf(t), 1); refresh(); } }, 'delete'))));
    if (tags.length > MAX_LISTED) tagList.append(h('li', { class: 'muted' }, `…and ${tags.length - MAX_LISTED} more (see the timeline)`));
  }

  function renderComments() {
    commentList.replaceChildren(...comments.map((c) => h('li', { class: 'surgical-comment', dataset: { frame: c.frame } },
      goBtn(c.frame, `frame ${c.frame}`, 'surgical-comment-go'), ` ${fmtFrame(c.frame)} `, h('span', { class: 'surgical-comment-body' }, c.text),
      readOnly ? null : h('button', { type: 'button', class: 'link surgical-comment-delete', onclick: () => { comments.splice(comments.indexOf(c), 1); refresh(); } }, 'delete'))));
  }

  // ------------------------------------------------------------------------------------------------------ keys
  const onKey = (e) => {
    const t = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName) || t.isContentEditable) return;
    if ((e.key === ' ' || e.key === 'Enter') && t.tagName === 'BUTTON') return;
    if (!idx) return;
    const k = e.key; const f = cur();
    if (k === 'ArrowRight' || k === 'ArrowLeft') {
      const dir = k === 'ArrowRight' ? 1 : -1;
      const to = e.shiftKey ? idx.nearest(idx.sec(f) + dir) : f + dir;  // one second: the frame nearest to it
      go(to === f ? f + dir : to);
    } else if (k === 'Home') go(0);
    else if (k === 'End') go(idx.count - 1);
    else if (k === '[' || k === 'PageUp') go(boundary(-1));
    else if (k === ']' || k === 'PageDown') go(boundary(1));
    else if (/^[1-9]$/.test(k) && names[Number(k) - 1]) setPhaseAt(f, names[Number(k) - 1]);
    else if (k === ' ' || k === 'k') togglePlay();
    else if (k === 'l') toggleLoop();
    else return;
    e.preventDefault();
  };
  if (!readOnly) container.addEventListener('keydown', onKey);
  video.addEventListener('click', togglePlay);

  // ---------------------------------------------------------------------------------------------------- layout
  const bar = h('div', { class: 'surgical-bar row' }, playBtn, frameOut, speed, loopBtn, h('label', { class: 'surgical-zoom-label' }, 'zoom ', zoom));
  const commentRow = readOnly ? null : h('div', { class: 'surgical-comment-row row' }, commentIn,
    h('button', { type: 'button', class: 'surgical-comment-add', id: `surgical-comment-add${sfx}`, onclick: addComment }, 'comment at this frame'));
  commentIn.addEventListener('keydown', (e) => { if (e.key === 'Enter' && !e.ctrlKey && !e.metaKey) { e.preventDefault(); addComment(); } });
  const hint = readOnly ? null : h('p', { class: 'surgical-hint muted' },
    '←/→ frame · Shift+←/→ second · 1–9 phase starts here · [ ] boundaries · space play · l loop · drag a boundary · Ctrl+wheel zoom');
  container.replaceChildren(h('div', { class: `surgical${readOnly ? ' readonly' : ''}` },
    h('div', { class: 'surgical-stage' }, video), bar, status, wrap, trackBar, commentRow,
    h('div', { class: 'surgical-panels' },
      h('section', {}, h('h4', {}, 'Phases'), segTable),
      h('section', {}, h('h4', {}, 'Tags'), tagList),
      h('section', {}, h('h4', {}, 'Comments'), commentList)), hint));
  refresh();

  if (src) video.src = src; else status.textContent = 'This item has no video.';
  if (assets && assets.frames) {
    fetch(assets.frames.url, { credentials: 'same-origin' }).then((r) => { if (!r.ok) throw new Error(`HTTP ${r.status}`); return r.json(); })
      .then((data) => {
        if (destroyed) return;
        idx = frameIndex(data);
        tl.setIndex(idx);
        if (memo.zoom) { tl.zoom = memo.zoom; tl.start = memo.start; tl.clampView(); syncZoom(); }
        refresh();
        frameOut.textContent = `frame ${Math.max(0, shown)} / ${idx.count}`;
        start0();
      }).catch((err) => { status.textContent = `The frame index could not be loaded (${err.message}): playback works, editing does not.`; });
  } else status.textContent = 'The video is still being prepared (no frame index yet): reload in a moment.';
  if (assets && assets.sprite && assets.sprite.meta) {
    const img = new Image();
    img.addEventListener('load', () => { if (!destroyed) tl.setSprite(img, assets.sprite.meta); });
    img.src = assets.sprite.url;
  }

  function collect() {
    const iv = (e, a, b) => (idx ? { start_frame: a, end_frame: b, start_ms: idx.ms(a), end_ms: idx.ms(b) }
      : { start_frame: a, end_frame: b, ...(e.start_ms !== undefined ? { start_ms: e.start_ms, end_ms: e.end_ms } : {}) });
    const score = (e) => (typeof e.score === 'number' ? { score: e.score } : {});
    return {
      phases: phases.map((s) => ({ id: s.id, phase: s.phase || null, ...(s.step ? { step: s.step } : {}), ...(s.action ? { action: s.action } : {}),
        ...iv(s, s.start_frame, s.end_frame), ...score(s) })),
      tags: tags.map((t) => ({ id: t.id, track: t.track, ...iv(t, t.start_frame, t.end_frame), ...score(t) })),
      comments: comments.map((c) => ({ id: c.id, frame: c.frame, ...(idx ? { ms: idx.ms(c.frame) } : c.ms !== undefined ? { ms: c.ms } : {}), text: c.text })),
    };
  }

  return {
    value() {
      if (!idx) throw new Error('The video\'s frame index is not loaded yet: wait a moment, then submit again.');
      if (open.size) { const [t, f] = [...open][0]; throw new Error(`The ${t} tag started at frame ${f} is still open: press ${t} again to end it.`); }
      if (!phases.length) throw new Error('No phases yet: step to where a phase starts and press its key (1–9).');
      const blank = phases.find((s) => !s.phase);
      if (blank) throw new Error(`Frames ${span(blank.start_frame, blank.end_frame)} have no phase: label them (keys 1–9 or the list) or delete the segment.`);
      const past = [...phases, ...tags].find((s) => s.end_frame > idx.count);
      if (past) throw new Error(`An interval ends at frame ${past.end_frame}, after the video's last frame (${idx.count - 1}).`);
      return collect();
    },
    snapshot() { return { payload: collect(), pending: [] }; },  // never throws: an open tag is not kept
    seek(frame) { go(frame); },  // the review page moves every version to a disagreement
    destroy() {
      destroyed = true;
      clearTimeout(fallback);
      if (vfc !== null && video.cancelVideoFrameCallback) video.cancelVideoFrameCallback(vfc);
      for (const [k, fn] of Object.entries(listeners)) video.removeEventListener(k, fn);
      video.removeEventListener('click', togglePlay);
      video.pause(); video.removeAttribute('src'); video.load();
      tl.destroy();
      container.removeEventListener('keydown', onKey);
      container.replaceChildren();
      delete container.dataset.ready; delete container.dataset.frame;
    },
  };
}

// ------------------------------------------------------------------------------ review page (describeDiff)
// One difference from the server's diff (annotators/surgical/review.py) in words, with the frames it concerns.
export function describeDiff(d, item, who) {
  const name = (p) => p || 'unlabelled';
  switch (d.kind) {
    case 'phase_differs':
      return `frames ${d.start_frame}–${d.end_frame - 1} (${d.end_frame - d.start_frame}): ${who(d.a)} ${name(d.values[0])} · ${who(d.b)} ${name(d.values[1])}`;
    case 'boundary_moved':
      return `${name(d.values[0])} starts at frame ${d.frame_a} for ${who(d.a)}, at frame ${d.frame_b} for ${who(d.b)} (${Math.abs(d.frame_a - d.frame_b)} frames apart)`;
    default: return JSON.stringify(d);
  }
}

// A merge option (a whole version's timeline) in words: its phases with their frames, and its tag/comment counts.
export function describeOption(option) {
  const p = (option.payload && option.payload) || {};
  const phases = (p.phases || []).map((s) => `${s.phase || 'unlabelled'} ${s.start_frame}–${s.end_frame - 1}`).join(' · ');
  return `${phases || 'no phases'}; ${(p.tags || []).length} tag(s), ${(p.comments || []).length} comment(s)`;
}
