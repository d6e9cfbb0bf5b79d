// The `surgical` modality's frame index and timeline (one canvas). Frame numbers always come from the server's frame
// index (sorted presentation timestamps), never from time x fps. The timeline draws only what is in view: phases
// and each track's intervals are sorted and found by binary search, intervals thinner than a pixel are coalesced,
// so a two-hour video with thousands of tags redraws in well under a millisecond or two.

// ---------------------------------------------------------------------------------------------- the frame index
export function frameIndex(data) {
  const pts = Float64Array.from(data.pts || []);
  const n = pts.length;
  if (!n) throw new Error('the frame index holds no frames');
  const unit = data.time_base[0] / data.time_base[1];
  const offset = Number(data.offset_s) || 0;
  const fps = data.fps_measured || (data.fps_nominal ? data.fps_nominal[0] / data.fps_nominal[1] : 25);
  const sec = (k) => pts[Math.min(Math.max(k, 0), n - 1)] * unit;  // from the first frame, without offset_s
  const dur = (k) => {
    const d = k + 1 < n ? (pts[k + 1] - pts[k]) * unit : (n > 1 ? (pts[n - 1] - pts[n - 2]) * unit : 0);
    return d > 0 ? d : 1 / fps;
  };
  const duration = sec(n - 1) + dur(n - 1);
  const floor = (rel) => {  // the last frame whose pts is <= rel seconds (0 before the first)
    const v = rel / unit + 1e-6;
    let lo = 0; let hi = n - 1;
    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (pts[mid] <= v) lo = mid; else hi = mid - 1; }
    return lo;
  };
  const nearest = (rel) => {
    const k = floor(rel);
    return k + 1 < n && Math.abs(sec(k + 1) - rel) < Math.abs(rel - sec(k)) ? k + 1 : k;
  };
  return {
    count: n, offset, duration, sec, dur, floor, nearest,
    ms: (k) => Math.round((k >= n ? duration : sec(k)) * 1000),  // end_frame == n: the end of the last frame
    // The frame a player time shows: the nearest pts when within half a frame of it, else the one before.
    fromMediaTime(t) {
      const rel = t - offset;
      const k = nearest(rel);
      return Math.abs(sec(k) - rel) <= dur(k) / 2 ? k : floor(rel);
    },
    seekTime: (k) => offset + sec(k) + dur(k) / 4,  // inside the frame, never on a boundary
  };
}

export function fmtTime(seconds) {
  const s = Math.max(0, seconds);
  const hh = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = (s % 60).toFixed(3).padStart(6, '0');
  return hh ? `${hh}:${mm}:${ss}` : `${mm}:${ss}`;
}

const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f',
  '#8cd17d', '#499894', '#d37295'];
export const UNLABELLED = '#c3c8d0';
export const colorOf = (phases, code) => (code ? PALETTE[Math.max(0, phases.indexOf(code)) % PALETTE.length] : UNLABELLED);
const inkOn = (hex) => {
  const v = parseInt(hex.slice(1), 16);
  return (0.299 * (v >> 16) + 0.587 * ((v >> 8) & 255) + 0.114 * (v & 255)) > 150 ? '#111827' : '#ffffff';
};

// ------------------------------------------------------------------------------------------------- the timeline
const GUTTER = 112;  // px of row names on the left
const ROWS = { ruler: 18, thumbs: 40, phases: 28, track: 14, comments: 16 };
const EDGE_PX = 5;  // a phase boundary within this many px of the pointer is grabbed
const MAX_PX_PER_FRAME = 24;

// The first entry of `list` (sorted by start_frame) whose running maximum end is after `frame`.
function firstVisible(list, maxEnd, frame) {
  let lo = 0; let hi = list.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (maxEnd[mid] > frame) hi = mid; else lo = mid + 1; }
  return lo;
}

function sortedWithMaxEnd(list) {
  const sorted = list.slice().sort((a, b) => a.start_frame - b.start_frame);
  const maxEnd = new Float64Array(sorted.length);
  let m = -Infinity;
  sorted.forEach((s, i) => { m = Math.max(m, s.end_frame); maxEnd[i] = m; });
  return { sorted, maxEnd };
}

export class Timeline {
  // opts: {tracks, phaseNames, readOnly, onSeek(frame), onEdge(from, to) -> frame, onEdgeDone(), onView()}
  constructor(canvas, opts) {
    this.canvas = canvas; this.opts = opts; this.ctx = canvas.getContext('2d');
    this.n = 0; this.idx = null; this.zoom = 1; this.start = 0; this.width = 600; this.frame = 0;
    this.phases = { sorted: [], maxEnd: new Float64Array(0) }; this.tracks = new Map(); this.comments = [];
    this.open = new Map(); this.loop = null; this.sprite = null; this.drag = null; this.raf = 0;
    this.rows = [['ruler', ROWS.ruler, 'frame · time'], ['phases', ROWS.phases, 'phases'],
      ...opts.tracks.map((t) => [`track:${t.name}`, ROWS.track, t.name]), ['comments', ROWS.comments, 'comments']];
    this.layout();
    this.handlers = { pointerdown: (e) => this.down(e), pointermove: (e) => this.move(e), pointerup: (e) => this.up(e),
      pointercancel: (e) => this.up(e), wheel: (e) => this.wheel(e) };
    for (const [k, fn] of Object.entries(this.handlers)) canvas.addEventListener(k, fn, k === 'wheel' ? { passive: false } : undefined);
    this.resizer = new ResizeObserver(() => this.resize());
    this.resizer.observe(canvas.parentElement);
  }

  layout() {
    let y = 0;
    this.y = {};
    for (const [key, height] of this.rows) { this.y[key] = [y, height]; y += height; }
    this.height = y;
    this.resize();
  }

  resize() {
    const dpr = window.devicePixelRatio || 1;
    this.width = Math.max(GUTTER + 100, this.canvas.parentElement.clientWidth || 600);
    this.canvas.width = Math.round(this.width * dpr); this.canvas.height = Math.round(this.height * dpr);
    this.canvas.style.width = `${this.width}px`; this.canvas.style.height = `${this.height}px`;
    this.canvas.parentElement.style.height = `${this.height}px`;  // the canvas is absolute: it never widens its box
    this.clampView();
    this.draw();
  }

  setIndex(idx) { this.idx = idx; this.n = idx.count; this.clampView(); this.redraw(); }
  setSprite(img, meta) {
    this.sprite = { img, ...meta };
    this.rows.splice(1, 0, ['thumbs', ROWS.thumbs, 'thumbnails']);
    this.layout();
  }

  setData({ phases, tags, comments }) {
    this.phases = sortedWithMaxEnd(phases);
    this.tracks = new Map(this.opts.tracks.map((t) => [t.name, sortedWithMaxEnd(tags.filter((g) => g.track === t.name))]));
    this.comments = comments.slice().sort((a, b) => a.frame - b.frame);
    this.redraw();
  }

  setOpen(open) { this.open = open; this.redraw(); }
  setLoop(seg) { this.loop = seg; this.redraw(); }
  setFrame(k) {
    this.frame = k;
    const vis = this.visible;
    if (!this.drag && !this.scrub && (k < this.start || k + 1 > this.start + vis)) {  // follow the playhead
      this.start = k - vis * 0.1; this.clampView(); this.opts.onView?.();
    }
    this.redraw();
  }

  get visible() { return Math.max(1, this.n) / this.zoom; }
  get ppf() { return (this.width - GUTTER) / this.visible; }
  get maxZoom() { return Math.max(1, (this.n * MAX_PX_PER_FRAME) / (this.width - GUTTER)); }
  x(frame) { return GUTTER + (frame - this.start) * this.ppf; }
  frameAtX(x) { return this.start + (x - GUTTER) / this.ppf; }
  clampView() {
    this.zoom = Math.min(Math.max(1, this.zoom), this.maxZoom);
    this.start = Math.min(Math.max(0, this.start), Math.max(0, this.n - this.visible));
  }

  setZoom(z, anchorFrame = this.frame + 0.5, anchorX = null) {
    const ax = anchorX === null ? this.x(anchorFrame) : anchorX;
    this.zoom = z; this.clampView();
    this.start = anchorFrame - (ax - GUTTER) / this.ppf;
    this.clampView();
    this.redraw();
  }

  redraw() { if (!this.raf) this.raf = requestAnimationFrame(() => { this.raf = 0; this.draw(); }); }

  draw() {
    const { ctx } = this;
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, this.width, this.height);
    ctx.font = '11px system-ui, sans-serif'; ctx.textBaseline = 'middle';
    ctx.fillStyle = '#f2f4f7'; ctx.fillRect(0, 0, GUTTER, this.height);
    for (const [key, height, label] of this.rows) {
      const [y] = this.y[key];
      ctx.fillStyle = '#475467'; ctx.fillText(this.fit(label, GUTTER - 8), 4, y + height / 2);
      ctx.fillStyle = '#e4e7ec'; ctx.fillRect(0, y + height - 1, this.width, 1);
    }
    Object.assign(this.canvas.dataset, { x0: GUTTER, pxPerFrame: this.ppf, viewStart: this.start,
      phaseY: this.y.phases[0] + ROWS.phases / 2, frames: this.n });
    if (!this.n) return;
    const end = Math.min(this.n, this.start + this.visible);
    ctx.save(); ctx.beginPath(); ctx.rect(GUTTER, 0, this.width - GUTTER, this.height); ctx.clip();
    this.drawRuler(end); this.drawThumbs(end); this.drawPhases(end);
    for (const t of this.opts.tracks) this.drawTrack(t, end);
    this.drawComments(end); this.drawPlayhead();
    ctx.restore();
  }

  fit(text, width) {
    let s = text;
    while (s.length > 1 && this.ctx.measureText(s).width > width) s = `${s.slice(0, -2)}…`;
    return this.ctx.measureText(s).width <= width ? s : '';
  }

  drawRuler(end) {
    const { ctx } = this; const [y, height] = this.y.ruler;
    const label = (f) => `${f} · ${fmtTime(this.idx.sec(f)).replace(/(\.\d)\d+$/, '$1')}`;
    const room = ctx.measureText(label(this.n - 1)).width + 16;
    let step = 0;  // 1, 2, 5, 10, 20, 50 ... frames: labels never overlap
    for (let p = 1; !step; p *= 10) step = [p, 2 * p, 5 * p].find((s) => s * this.ppf >= room) || 0;
    ctx.fillStyle = '#667085';
    for (let f = Math.floor(this.start / step) * step; f <= end; f += step) {
      const x = this.x(f);
      ctx.fillRect(x, y + height - 6, 1, 6);
      if (f < this.n) ctx.fillText(label(f), x + 3, y + height / 2 - 1);
    }
  }

  drawThumbs(end) {
    const s = this.sprite; if (!s || !this.y.thumbs) return;
    const [y, height] = this.y.thumbs;
    const dw = (height * s.thumb_width) / s.thumb_height;
    const x1 = this.x(end);
    for (let x = Math.max(GUTTER, this.x(0)); x < x1; x += dw) {
      const f = Math.min(this.n - 1, Math.floor(this.frameAtX(Math.min(x + dw / 2, x1 - 1))));
      const k = Math.min(s.count - 1, Math.floor(this.idx.sec(f) / s.interval_s + 1e-6));
      this.ctx.drawImage(s.img, (k % s.columns) * s.thumb_width, Math.floor(k / s.columns) * s.thumb_height,
        s.thumb_width, s.thumb_height, x, y, Math.min(dw, x1 - x), height - 1);
    }
  }

  drawPhases(end) {
    const { ctx } = this; const [y, height] = this.y.phases; const { sorted, maxEnd } = this.phases;
    for (let i = firstVisible(sorted, maxEnd, this.start); i < sorted.length && sorted[i].start_frame < end; i += 1) {
      const seg = sorted[i];
      const x0 = this.x(seg.start_frame); const x1 = this.x(seg.end_frame);
      const color = colorOf(this.opts.phaseNames, seg.phase);
      ctx.fillStyle = color; ctx.fillRect(x0, y + 2, Math.max(1, x1 - x0), height - 5);
      ctx.fillStyle = '#ffffff'; ctx.fillRect(x0, y + 2, 1, height - 5);
      const from = Math.max(x0, GUTTER) + 4; const label = this.fit(seg.phase || 'unlabelled', Math.min(x1, this.width) - from - 2);
      if (label) { ctx.fillStyle = inkOn(color); ctx.fillText(label, from, y + height / 2); }
      if (this.loop === seg) { ctx.strokeStyle = '#101828'; ctx.lineWidth = 2; ctx.strokeRect(x0 + 1, y + 1, x1 - x0 - 2, height - 3); }
    }
  }

  drawTrack(track, end) {
    const { ctx } = this; const [y, height] = this.y[`track:${track.name}`];
    const { sorted, maxEnd } = this.tracks.get(track.name) || { sorted: [], maxEnd: [] };
    ctx.fillStyle = track.kind === 'event' ? '#d9622b' : '#3b6fb6';
    let runX0 = null; let runX1 = null;  // intervals thinner than a pixel join one rectangle
    for (let i = firstVisible(sorted, maxEnd, this.start); i < sorted.length && sorted[i].start_frame < end; i += 1) {
      const x0 = this.x(sorted[i].start_frame); const x1 = Math.max(x0 + 1, this.x(sorted[i].end_frame));
      if (runX0 !== null && x0 <= runX1 + 0.5) { runX1 = Math.max(runX1, x1); continue; }
      if (runX0 !== null) ctx.fillRect(runX0, y + 2, runX1 - runX0, height - 4);
      runX0 = x0; runX1 = x1;
    }
    if (runX0 !== null) ctx.fillRect(runX0, y + 2, runX1 - runX0, height - 4);
    if (this.open.has(track.name)) {  // being recorded: from its start to the playhead
      const a = Math.min(this.open.get(track.name), this.frame); const b = Math.max(this.open.get(track.name), this.frame) + 1;
      ctx.globalAlpha = 0.45; ctx.fillRect(this.x(a), y + 2, Math.max(2, this.x(b) - this.x(a)), height - 4); ctx.globalAlpha = 1;
    }
  }

  drawComments(end) {
    const { ctx } = this; const [y, height] = this.y.comments;
    ctx.fillStyle = '#7a5af8';
    let lo = 0; let hi = this.comments.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (this.comments[mid].frame < this.start - 1) lo = mid + 1; else hi = mid; }
    for (let i = lo; i < this.comments.length && this.comments[i].frame <= end; i += 1) {
      const x = this.x(this.comments[i].frame + 0.5);
      ctx.beginPath(); ctx.moveTo(x, y + 2); ctx.lineTo(x + 5, y + height / 2); ctx.lineTo(x, y + height - 2);
      ctx.lineTo(x - 5, y + height / 2); ctx.closePath(); ctx.fill();
    }
  }

  drawPlayhead() {
    const { ctx } = this; const x0 = this.x(this.frame); const x1 = this.x(this.frame + 1);
    if (x1 - x0 > 3) { ctx.fillStyle = 'rgba(217, 45, 32, 0.15)'; ctx.fillRect(x0, 0, x1 - x0, this.height); }
    const x = Math.round((x0 + x1) / 2);
    ctx.fillStyle = '#d92d20'; ctx.fillRect(x - 1, 0, 2, this.height);
    ctx.beginPath(); ctx.moveTo(x - 5, 0); ctx.lineTo(x + 5, 0); ctx.lineTo(x, 7); ctx.closePath(); ctx.fill();
  }

  // --------------------------------------------------------------------------------------------------- pointer
  local(e) { const r = this.canvas.getBoundingClientRect(); return { x: e.clientX - r.left, y: e.clientY - r.top }; }
  rowAt(y) { return Object.keys(this.y).find((k) => y >= this.y[k][0] && y < this.y[k][0] + this.y[k][1]); }

  edgeNear(x) {  // the phase boundary (a frame number) nearest to x within EDGE_PX, or null
    const { sorted, maxEnd } = this.phases;
    let best = null; let bestD = EDGE_PX + 1;
    const f = this.frameAtX(x); const pad = EDGE_PX / this.ppf + 1;
    for (let i = firstVisible(sorted, maxEnd, f - pad); i < sorted.length && sorted[i].start_frame <= f + pad; i += 1) {
      for (const edge of [sorted[i].start_frame, sorted[i].end_frame]) {
        const d = Math.abs(this.x(edge) - x);
        if (d < bestD) { best = edge; bestD = d; }
      }
    }
    return best;
  }

  down(e) {
    if (!this.n || e.button !== 0) return;
    const { x, y } = this.local(e); const row = this.rowAt(y);
    if (x < GUTTER) return;
    this.canvas.setPointerCapture(e.pointerId);
    e.preventDefault();
    if (!this.opts.readOnly && row === 'phases') {
      const edge = this.edgeNear(x);
      if (edge !== null) { this.drag = { edge }; return; }
    }
    if (row === 'comments') {
      const hit = this.comments.find((c) => Math.abs(this.x(c.frame + 0.5) - x) <= 6);
      if (hit) { this.opts.onSeek(hit.frame); return; }
    }
    this.scrub = true;
    this.opts.onSeek(this.frameAt(x));
  }

  frameAt(x) { return Math.min(this.n - 1, Math.max(0, Math.floor(this.frameAtX(x)))); }

  move(e) {
    const { x, y } = this.local(e);
    if (this.drag) {
      this.drag.edge = this.opts.onEdge(this.drag.edge, Math.round(this.frameAtX(x)));  // snapped to a frame
      this.redraw();
    } else if (this.scrub) {
      this.opts.onSeek(this.frameAt(x));
    } else if (!this.opts.readOnly) {
      this.canvas.style.cursor = this.rowAt(y) === 'phases' && x > GUTTER && this.edgeNear(x) !== null ? 'ew-resize' : 'pointer';
    }
  }

  up(e) {
    if (this.canvas.hasPointerCapture(e.pointerId)) this.canvas.releasePointerCapture(e.pointerId);
    if (this.drag) { this.drag = null; this.opts.onEdgeDone(); }
    this.scrub = false;
  }

  wheel(e) {
    if (!this.n) return;
    const { x } = this.local(e);
    if (e.ctrlKey) {  // zoom around the pointer
      e.preventDefault();
      this.setZoom(this.zoom * Math.exp(-e.deltaY * 0.002), this.frameAtX(Math.max(x, GUTTER)), Math.max(x, GUTTER));
      this.opts.onView?.();
    } else if (this.zoom > 1 && (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY))) {  // pan
      e.preventDefault();
      this.start += (e.deltaX || e.deltaY) / this.ppf; this.clampView(); this.redraw();
      this.opts.onView?.();
    }
  }

  destroy() {
    cancelAnimationFrame(this.raf);
    this.resizer.disconnect();
    for (const [k, fn] of Object.entries(this.handlers)) this.canvas.removeEventListener(k, fn);
  }
}
