// UI of the `consult` modality: the recording in an <audio> element (HTTP Range, or the server's browser proxy)
// drawn by wavesurfer.js from the server's peaks (the browser never decodes the file), with the transcript's
// segments as draggable regions, a timeline, a minimap and zoom; the transcript as a conversation: per segment its
// times, speaker, type and editable text; the word being spoken is highlighted while playing. Keys (focus outside
// a field): p play or pause, r replay the segment, j/k next/previous segment, s split at the playhead, 1-4 speaker.
import { h } from '../api.js';
import WaveSurfer from '../../vendor/node_modules/wavesurfer.js/dist/wavesurfer.esm.js';
import RegionsPlugin from '../../vendor/node_modules/wavesurfer.js/dist/plugins/regions.esm.js';
import TimelinePlugin from '../../vendor/node_modules/wavesurfer.js/dist/plugins/timeline.esm.js';
import MinimapPlugin from '../../vendor/node_modules/wavesurfer.js/dist/plugins/minimap.esm.js';
import { mount as mountSpans } from './notes.js';  // clinical entities in a turn's text: the notes span tools

let readOnlyMounts = 0;
const MAX_PEAK_PAIRS = 200_000;  // per channel: the finest level under this is drawn (10 ms up to ~33 min)

async function loadPeaks(url) {
  const data = await fetch(url, { credentials: 'same-origin' }).then((r) => r.json());
  const level = data.levels.find((lv) => lv.channels[0].length / 2 <= MAX_PEAK_PAIRS) || data.levels[data.levels.length - 1];
  return { duration: data.duration_ms / 1000, peaks: level.channels.map((c) => Float32Array.from(c, (v) => v / data.scale)) };
}

const fmt = (ms) => {
  const s = Math.max(0, ms) / 1000;
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${(s % 60).toFixed(2).padStart(5, '0')}`;
};

export function mount(container, { item, labelConfig, initial, readOnly, mediaUrl, assets }) {
  const suffix = readOnly ? `-v${++readOnlyMounts}` : '';
  const payload = JSON.parse(JSON.stringify(initial || { speakers: [], segments: [] }));
  let speakers = payload.speakers && payload.speakers.length ? payload.speakers : [{ id: 'S1' }, { id: 'S2' }];
  let segments = (payload.segments || []).map((s) => ({ ...s, originalText: s.text }));
  let nextId = segments.length + 1;
  let current = -1;
  const src = (assets && assets.proxy && assets.proxy.url) || mediaUrl;
  const player = h('audio', { controls: true, preload: 'metadata', class: 'consult-audio', id: `consult-audio${suffix}` });
  if (src) player.src = src;
  const speed = h('select', { class: 'consult-speed', 'aria-label': 'playback speed',
    onchange: () => { player.playbackRate = Number(speed.value); } },
  ...[0.5, 0.75, 1, 1.25, 1.5, 2].map((r) => h('option', { value: r, selected: r === 1 }, `${r}×`)));
  const list = h('ol', { class: 'consult-segments', id: `consult-segments${suffix}` });
  const speakerBox = h('div', { class: 'consult-speakers row', id: `consult-speakers${suffix}` });
  const wave = h('div', { class: 'consult-waveform', id: `consult-waveform${suffix}` });
  const now = h('p', { class: 'consult-now', id: `consult-now${suffix}`, 'aria-live': 'off' });
  const zoom = h('input', { type: 'range', min: '10', max: '400', value: '50', class: 'consult-zoom', 'aria-label': 'zoom',
    oninput: () => { if (ws) ws.zoom(Number(zoom.value)); } });
  let ws = null;
  let regions = null;
  let destroyed = false;
  const types = labelConfig.segment_types || [];
  const roles = labelConfig.speaker_roles || [];
  const attributes = labelConfig.segment_attributes || [];
  // The notes editor (spans, assertion, concept picker, relations) on one turn's text at a time.
  const entityConfig = labelConfig.entities ? { ...labelConfig.entities, phi_labels: [] } : null;
  let openEntities = null;  // { seg, editor }

  function closeEntities() {
    if (!openEntities) return;
    const { seg, editor } = openEntities;
    const found = editor.snapshot().payload;
    if (found.spans.length) seg.entities = found; else delete seg.entities;
    editor.destroy();
    openEntities = null;
  }

  function toggleEntities(i) {
    const seg = segments[i];
    const wasOpen = openEntities && openEntities.seg === seg;
    renderRows();  // closes the open editor, keeping what it holds
    if (wasOpen) return;
    seg.entities = anchorEntities(seg.entities, seg.text);
    const box = list.children[i].querySelector('.consult-entities');
    const editor = mountSpans(box, { item: { id: item.id, text: seg.text }, labelConfig: entityConfig,
      initial: seg.entities || { spans: [], relations: [] }, readOnly: false });
    openEntities = { seg, editor };
  }

  function seek(ms, play = true) {
    player.currentTime = ms / 1000;
    if (play && !readOnly) player.play().catch(() => {});
  }

  function syncRegions() {
    if (!regions) return;
    regions.clearRegions();
    for (const seg of segments) {
      regions.addRegion({ id: seg.id, start: seg.start_ms / 1000, end: seg.end_ms / 1000, drag: !readOnly,
        resize: !readOnly, color: 'rgba(31, 111, 235, 0.12)' });
    }
  }

  function render() {
    syncRegions();
    renderSpeakers();
    renderRows();
  }

  // Each speaker's role (the model's first guess of the clinician included) and name: a named clinician confirmed
  // here is enrolled as a known voice by `fit`, and recognised by name in later recordings.
  function renderSpeakers() {
    speakerBox.replaceChildren(...speakers.map((sp, n) => {
      const role = h('select', { class: 'speaker-role', disabled: readOnly, 'aria-label': `${sp.id} role`, onchange: () => {
        if (role.value) sp.role = role.value; else delete sp.role;
        renderRows();
      } }, h('option', { value: '' }, 'role…'), ...roles.map((r) => h('option', { value: r, selected: r === sp.role }, r)));
      const name = h('input', { type: 'text', class: 'speaker-name', maxlength: '120', placeholder: 'name', disabled: readOnly,
        'aria-label': `${sp.id} name`, onchange: () => { if (name.value.trim()) sp.name = name.value.trim(); else delete sp.name; } });
      name.value = sp.name || '';
      return h('span', { class: 'consult-speaker', dataset: { speaker: sp.id } }, h('kbd', {}, String(n + 1)), ` ${sp.id} `, role, name);
    }));
  }

  function renderRows() {
    closeEntities();
    list.replaceChildren(...segments.map((seg, i) => {
      const startIn = h('input', { type: 'number', step: '0.01', min: '0', class: 'seg-start', value: (seg.start_ms / 1000).toFixed(2),
        disabled: readOnly, onchange: () => { seg.start_ms = Math.round(Number(startIn.value) * 1000); render(); } });
      const endIn = h('input', { type: 'number', step: '0.01', min: '0', class: 'seg-end', value: (seg.end_ms / 1000).toFixed(2),
        disabled: readOnly, onchange: () => { seg.end_ms = Math.round(Number(endIn.value) * 1000); render(); } });
      const who = h('select', { class: 'seg-speaker', disabled: readOnly, onchange: () => { seg.speaker = who.value || null; } },
        h('option', { value: '' }, '—'),
        ...speakers.map((sp) => h('option', { value: sp.id, selected: sp.id === seg.speaker },
          sp.role ? `${sp.id} (${sp.role})` : sp.id)));
      const type = h('select', { class: 'seg-type', disabled: readOnly, onchange: () => { seg.type = type.value || null; } },
        h('option', { value: '' }, 'segment type…'),
        ...types.map((t) => h('option', { value: t, selected: t === seg.type }, t)));
      // Per-segment attributes from the project's configuration (emotion, interruption, overlap ...).
      const attrs = attributes.map((attr) => {
        const pick = h('select', { class: 'seg-attr', dataset: { attr: attr.name }, disabled: readOnly,
          'aria-label': attr.name, onchange: () => {
            seg.attrs = { ...(seg.attrs || {}) };
            if (pick.value) seg.attrs[attr.name] = pick.value; else delete seg.attrs[attr.name];
            if (!Object.keys(seg.attrs).length) delete seg.attrs;
          } },
        h('option', { value: '' }, `${attr.name}…`),
        ...attr.values.map((v) => h('option', { value: v, selected: (seg.attrs || {})[attr.name] === v }, v)));
        return pick;
      });
      const text = h('textarea', { class: 'seg-text', rows: 2, disabled: readOnly, 'aria-label': `segment ${i + 1} text`,
        oninput: () => { seg.text = text.value; } });
      text.value = seg.text;
      const entityCount = seg.entities ? seg.entities.spans.length : 0;
      const actions = readOnly ? [] : [
        h('button', { type: 'button', class: 'link seg-play', onclick: () => { current = i; seek(seg.start_ms); } }, '▶'),
        entityConfig ? h('button', { type: 'button', class: 'link seg-entities', title: 'clinical entities in this turn',
          onclick: () => toggleEntities(i) }, entityCount ? `entities (${entityCount})` : 'entities') : null,
        h('button', { type: 'button', class: 'link seg-split', title: 'split at the playhead', onclick: () => split(i) }, 'split'),
        h('button', { type: 'button', class: 'link seg-merge', title: 'merge with the next segment', onclick: () => merge(i) }, 'merge'),
        h('button', { type: 'button', class: 'link seg-delete', onclick: () => { segments.splice(i, 1); render(); } }, 'delete'),
      ];
      const phiMarks = (seg.phi && seg.text === seg.originalText ? seg.phi : []).map((p) => h('span', {
        class: 'phi', title: `${p.label} ${fmt(p.start_ms)}–${fmt(p.end_ms)}` }, `${p.label}: ${Array.from(seg.text).slice(p.start, p.end).join('')}`));
      return h('li', { class: `consult-segment${i === current ? ' current' : ''}${seg.overlap ? ' overlap' : ''}`, dataset: { index: i } },
        h('div', { class: 'seg-head' },
          h('button', { type: 'button', class: 'link seg-time', onclick: () => { current = i; seek(seg.start_ms); } }, fmt(seg.start_ms)),
          startIn, ' – ', endIn, who, type, ...attrs, ...actions.filter(Boolean), ...phiMarks),
        text,
        entityCount ? h('div', { class: 'entity-chips' }, ...seg.entities.spans.map((sp) => h('span', { class: 'entity-chip',
          title: sp.concept ? `${sp.concept.terminology} ${sp.concept.code}` : sp.label },
          `${sp.label}: ${sp.text || ''}${sp.assertion && sp.assertion !== 'present' ? ` (${sp.assertion})` : ''}`))) : null,
        h('div', { class: 'consult-entities' }));
    }));
  }

  function split(i) {
    const seg = segments[i];
    const at = Math.round(player.currentTime * 1000);
    if (!(at > seg.start_ms + 10 && at < seg.end_ms - 10)) return;
    const words = seg.text.split(/\s+/);
    const cut = Math.max(1, Math.round(words.length * (at - seg.start_ms) / (seg.end_ms - seg.start_ms)));
    const second = { id: `n${nextId++}`, start_ms: at, end_ms: seg.end_ms, speaker: seg.speaker, text: words.slice(cut).join(' '), type: seg.type };
    seg.end_ms = at;
    seg.text = words.slice(0, cut).join(' ');
    segments.splice(i + 1, 0, second);
    render();
  }

  function merge(i) {
    if (i + 1 >= segments.length) return;
    const [a, b] = [segments[i], segments[i + 1]];
    a.end_ms = Math.max(a.end_ms, b.end_ms);
    a.text = `${a.text} ${b.text}`.trim();
    segments.splice(i + 1, 1);
    render();
  }

  const onTime = () => {
    const ms = player.currentTime * 1000;
    const at = segments.findIndex((s) => ms >= s.start_ms && ms < s.end_ms);
    if (at !== current && at >= 0) {
      // Only the two rows that change: restyling all of an hour's 600 rows took ~100 ms a frame while playing.
      list.querySelector('.consult-segment.current')?.classList.remove('current');
      const row = list.children[at];
      row?.classList.add('current');
      if (row && !player.paused) row.scrollIntoView({ block: 'nearest' });  // the conversation follows playback
      current = at;
      const seg = segments[at];
      now.replaceChildren(...(seg.words && seg.text === seg.originalText
        ? seg.words.flatMap((w) => [h('span', { class: 'word', dataset: { start: w.start_ms, end: w.end_ms } }, w.text), ' '])
        : [seg.text]));
    }
    for (const span of now.querySelectorAll('.word')) {  // the word being spoken
      span.classList.toggle('current', ms >= Number(span.dataset.start) && ms < Number(span.dataset.end));
    }
  };
  player.addEventListener('timeupdate', onTime);

  const addSpeaker = readOnly ? null : h('button', { type: 'button', class: 'link', id: `add-speaker${suffix}`, onclick: () => {
    speakers = [...speakers, { id: `S${speakers.length + 1}`, role: roles[speakers.length] || undefined }];
    render();
  } }, '+ speaker');
  const header = h('div', { class: 'consult-player row' }, player, speed, readOnly ? null : zoom, addSpeaker);
  container.replaceChildren(...[header, readOnly ? null : wave, speakerBox, now, list].filter(Boolean));
  render();
  if (!readOnly && assets && assets.peaks) {
    loadPeaks(assets.peaks.url).then(({ duration, peaks }) => {
      if (destroyed) return;
      regions = RegionsPlugin.create();
      const nonce = document.querySelector('meta[name="csp-nonce"]')?.content || '';
      ws = WaveSurfer.create({
        container: wave, media: player, peaks, duration, height: peaks.length > 1 ? 56 : 80, minPxPerSec: 50,
        splitChannels: peaks.length > 1 ? peaks.map(() => ({})) : undefined, normalize: true, dragToSeek: true,
        cspNonce: nonce, waveColor: '#8aa4c8', progressColor: '#1f6feb', cursorColor: '#d62728',
        plugins: [regions, TimelinePlugin.create(), MinimapPlugin.create({ height: 24, waveColor: '#c5d3e8', progressColor: '#8aa4c8', cspNonce: nonce })],
      });
      regions.on('region-updated', (region) => {
        const seg = segments.find((s) => s.id === region.id);
        if (!seg) return;
        seg.start_ms = Math.round(region.start * 100) * 10;  // boundaries to 10 ms
        seg.end_ms = Math.round(region.end * 100) * 10;
        renderRows();  // the regions are already where the user dragged them
      });
      regions.on('region-clicked', (region, e) => {
        e.stopPropagation();
        current = segments.findIndex((s) => s.id === region.id);
        seek(region.start * 1000);
      });
      ws.on('ready', () => {  // regions need the drawn waveform (its width) to be placed
        syncRegions();
        container.dataset.waveform = 'ready';
      });
      // With precomputed peaks and duration wavesurfer loads the media element's source itself (metadata over
      // HTTP Range) and draws the peaks: it never fetches the whole file to decode it.
    }).catch((err) => {
      wave.dataset.error = String(err && err.message || err);
      wave.replaceChildren(h('p', { class: 'muted' }, 'The waveform could not be loaded; playback still works.'));
    });
  }

  const onKey = (e) => {
    if (e.target.closest && e.target.closest('.consult-entities')) return;  // the span editor's own keys
    if (e.ctrlKey || e.metaKey || e.altKey || ['INPUT', 'TEXTAREA', 'SELECT'].includes(e.target.tagName)) return;
    const i = current < 0 ? 0 : current;
    if (e.key === 'p') { if (player.paused) player.play().catch(() => {}); else player.pause(); }
    else if (e.key === 'r' && segments[i]) seek(segments[i].start_ms);
    else if (e.key === 'j' && i + 1 < segments.length) { current = i + 1; seek(segments[current].start_ms, false); renderRows(); }
    else if (e.key === 'k' && i > 0) { current = i - 1; seek(segments[current].start_ms, false); renderRows(); }
    else if (e.key === 's') split(i);
    else if (/^[1-4]$/.test(e.key) && segments[i] && speakers[Number(e.key) - 1]) { segments[i].speaker = speakers[Number(e.key) - 1].id; renderRows(); }
    else return;
    e.preventDefault();
  };
  if (!readOnly) container.addEventListener('keydown', onKey);

  function collect() {
    if (openEntities) openEntities.seg.entities = openEntities.editor.snapshot().payload;
    return segments.map((s) => {
      const seg = { id: s.id, start_ms: s.start_ms, end_ms: s.end_ms, text: s.text.trim() };
      if (s.speaker) seg.speaker = s.speaker;
      if (s.type) seg.type = s.type;
      if (s.channel !== undefined && s.channel !== null) seg.channel = s.channel;
      if (s.attrs) seg.attrs = s.attrs;
      if (s.overlap) seg.overlap = true;
      // PHI offsets point into the text the detector saw: kept while it is unchanged (exports re-detect anyway).
      if (s.phi && s.phi.length && s.text === s.originalText) seg.phi = s.phi;
      // Word times belong to the words the model heard: kept only while the text is unchanged.
      if (s.words && s.text === s.originalText) seg.words = s.words;
      const entities = anchorEntities(s.entities, seg.text);
      if (entities && entities.spans.length) seg.entities = entities;
      return seg;
    }).sort((a, b) => a.start_ms - b.start_ms);
  }

  function value() {
    const out = collect();
    const bad = out.find((s) => !(s.end_ms > s.start_ms));
    if (bad) throw new Error(`Segment at ${fmt(bad.start_ms)} ends before it starts.`);
    const used = new Set(out.map((s) => s.speaker).filter(Boolean));
    return { speakers: speakers.filter((s) => used.has(s.id)), segments: out };
  }
  return {
    value,
    snapshot() {  // never throws: a half-edited boundary is autosaved as it is and checked on submit
      const out = collect();
      const used = new Set(out.map((s) => s.speaker).filter(Boolean));
      return { payload: { speakers: speakers.filter((s) => used.has(s.id)), segments: out }, pending: [] };
    },
    destroy() {
      closeEntities();
      destroyed = true;
      if (ws) ws.destroy();
      player.pause();
      player.removeEventListener('timeupdate', onTime);
      player.removeAttribute('src');
      container.removeEventListener('keydown', onKey);
      container.replaceChildren();
    },
  };
}

// Entity offsets are code points into the turn's text (as in notes). After the text is edited, a span whose words
// moved follows them to their nearest occurrence; one whose words are gone is dropped, with its relations.
function anchorEntities(entities, text) {
  if (!entities || !entities.spans) return entities;
  const cps = Array.from(text);
  const spans = [];
  for (const sp of entities.spans) {
    if (cps.slice(sp.start, sp.end).join('') === sp.text) { spans.push(sp); continue; }
    let best = null;
    for (let at = text.indexOf(sp.text); sp.text && at >= 0; at = text.indexOf(sp.text, at + 1)) {
      const start = Array.from(text.slice(0, at)).length;
      if (best === null || Math.abs(start - sp.start) < Math.abs(best - sp.start)) best = start;
    }
    if (best !== null) spans.push({ ...sp, start: best, end: best + Array.from(sp.text).length });
  }
  const kept = new Set(spans.map((sp) => sp.id));
  return { spans, relations: (entities.relations || []).filter((r) => kept.has(r.head) && kept.has(r.tail)) };
}

// ------------------------------------------------------------------------------ review page (describeDiff)
// One difference from the server's diff (annotators/consult/review.py) in words, with where it happens.
export function describeDiff(d, item, who) {
  const at = d.start_ms !== undefined ? fmt(d.start_ms) : '';
  const until = d.end_ms !== undefined ? `–${fmt(d.end_ms)}` : '';
  const quote = (v) => (v ? `“${v}”` : '(nothing)');
  switch (d.kind) {
    case 'words_differ': return `${at} words: ${who(d.a)} ${quote(d.values[0])} · ${who(d.b)} ${quote(d.values[1])}`;
    case 'words_only_in': return `${at} only ${who(d.in)} transcribed this recording`;
    case 'speaker_differs': return `${at}${until} speaker: ${who(d.a)} ${d.values[0] || 'none'} · ${who(d.b)} ${d.values[1] || 'none'}`;
    case 'type_differs': return `${at}${until} segment type: ${who(d.a)} ${d.values[0] || 'none'} · ${who(d.b)} ${d.values[1] || 'none'}`;
    default: return d.kind || 'difference';
  }
}
