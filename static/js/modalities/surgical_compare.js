// Review page, surgical videos: the versions' phase bands stacked on one frame axis, with the frames where they
// disagree highlighted across all rows, and a list of those regions; choosing one moves every version's player
// to its first frame. Phases are few per version (tens, even on a 4-hour video), so plain DOM bands are enough.
import { h } from '../api.js';
import { colorOf } from './surgical_timeline.js';

// [start, end, [phase per version]] over the union of every version's boundaries; unlabelled gaps are null.
export function disagreements(versions) {
  const cuts = new Set([0]);
  let extent = 0;
  for (const phases of versions) for (const s of phases) { cuts.add(s.start_frame); cuts.add(s.end_frame); extent = Math.max(extent, s.end_frame); }
  const points = [...cuts].filter((c) => c <= extent).sort((a, b) => a - b);
  const at = (phases, frame) => (phases.find((s) => frame >= s.start_frame && frame < s.end_frame) || {}).phase || null;
  const regions = [];
  for (let i = 0; i + 1 < points.length; i += 1) {
    const values = versions.map((phases) => at(phases, points[i]));
    if (values.some((v) => v !== values[0])) {
      const last = regions[regions.length - 1];
      if (last && last.end === points[i] && last.values.every((v, k) => v === values[k])) last.end = points[i + 1];
      else regions.push({ start: points[i], end: points[i + 1], values });
    }
  }
  return { extent, regions };
}

export function compareView(box, { versions, labelConfig, who, seek }) {
  const names = (labelConfig && labelConfig.phases) || [];
  const phasesOf = versions.map((v) => ((v.payload && v.payload.phases) || []).slice().sort((a, b) => a.start_frame - b.start_frame));
  const { extent, regions } = disagreements(phasesOf);
  if (!extent) { box.replaceChildren(); return; }
  const pct = (frame) => `${(100 * frame) / extent}%`;
  // CSSOM, not style attributes: the page's Content-Security-Policy refuses inline style attributes
  const placed = (el, start, end, colour) => {
    Object.assign(el.style, { left: pct(start), width: `max(2px, ${pct(end - start)})` });
    if (colour) el.style.background = colour;
    return el;
  };
  const band = (phases, index) => h('div', { class: 'compare-row', dataset: { version: index } },
    h('span', { class: 'compare-who' }, who(index)),
    h('div', { class: 'compare-band' }, ...phases.map((s) => placed(h('div', {
      class: 'compare-seg', title: `${s.phase || 'unlabelled'}: frames ${s.start_frame}–${s.end_frame - 1}`,
      dataset: { phase: s.phase || '', start: s.start_frame, end: s.end_frame },
    }), s.start_frame, s.end_frame, colorOf(names, s.phase)))));
  const marks = h('div', { class: 'compare-row compare-disagree-row' }, h('span', { class: 'compare-who' }, 'differ'),
    h('div', { class: 'compare-band' }, ...regions.map((r) => placed(h('div', {
      class: 'compare-disagree', dataset: { start: r.start, end: r.end } }), r.start, r.end))));
  const total = regions.reduce((n, r) => n + r.end - r.start, 0);
  const list = h('ol', { class: 'compare-regions', id: 'compare-regions' }, ...regions.slice(0, 200).map((r) => h('li', {},
    h('button', { type: 'button', class: 'link compare-go', dataset: { start: r.start }, onclick: () => seek && seek(r.start) },
      `frames ${r.start}–${r.end - 1}`),
    `: ${r.values.map((v, i) => `${who(i)} ${v || 'unlabelled'}`).join(' · ')}`)));
  box.replaceChildren(h('section', { class: 'surgical-compare', id: 'surgical-compare' },
    h('h3', {}, 'Phases side by side'),
    h('p', { class: 'muted', id: 'compare-summary' }, regions.length
      ? `${regions.length} region(s) differ, ${total} of ${extent} frames (${((100 * total) / extent).toFixed(1)}%).`
      : 'The versions agree on every frame.'),
    h('div', { class: 'compare-bands' }, ...phasesOf.map(band), regions.length ? marks : null), regions.length ? list : null));
}
