"""What differs between two transcripts of one recording, for the review screen: word-level edits (jiwer's
alignment of the normalised words, with the time where each happens) and speaker-turn, segment-type differences
over time (after mapping one version's speaker names onto the other's, as DER does)."""
from __future__ import annotations

from itertools import combinations
from typing import Sequence

from annotators.consult.metrics import FRAME_MS, _speaker_frames, _type_frames, normalise

MAX_DIFFS_PER_PAIR = 500
MIN_RUN_MS = 300  # speaker or type disagreements shorter than this are boundary jitter, not a different turn


def timed_words(payload: dict) -> list[tuple[str, int]]:
    """(normalised word, start_ms) in time order; words without timestamps take their segment's start."""
    out = []
    for seg in sorted(payload.get("segments", []), key=lambda s: (s["start_ms"], s["id"])):
        timed = [(normalise(w["text"]), w["start_ms"]) for w in seg.get("words") or []]
        timed = [(t, ms) for t, ms in timed if t]
        if timed and " ".join(t for t, _ in timed) == normalise(seg.get("text", "")):
            out += [(token, ms) for text, ms in timed for token in text.split()]
        else:  # edited text: the words list no longer matches it
            out += [(token, seg["start_ms"]) for token in normalise(seg.get("text", "")).split()]
    return out


def word_diffs(a: dict, b: dict) -> list[dict]:
    import jiwer

    wa, wb = timed_words(a), timed_words(b)
    if not wa and not wb:
        return []
    if not wa or not wb:
        present, side = (wa, "b") if not wa else (wb, "a")
        return [{"kind": "words_only_in", "in_version": side, "start_ms": present[0][1],
                 "values": [" ".join(t for t, _ in present)[:500]]}]
    out = []
    alignment = jiwer.process_words(" ".join(t for t, _ in wa), " ".join(t for t, _ in wb)).alignments[0]
    for chunk in alignment:
        if chunk.type == "equal":
            continue
        left = " ".join(t for t, _ in wa[chunk.ref_start_idx:chunk.ref_end_idx])
        right = " ".join(t for t, _ in wb[chunk.hyp_start_idx:chunk.hyp_end_idx])
        if chunk.ref_end_idx > chunk.ref_start_idx:
            at = wa[chunk.ref_start_idx][1]
        else:
            at = wb[min(chunk.hyp_start_idx, len(wb) - 1)][1]
        out.append({"kind": "words_differ", "op": chunk.type, "start_ms": at, "values": [left, right]})
    return out


def _speaker_mapping(fa: list, fb: list) -> dict:
    """b's speaker names mapped onto a's (the one-to-one mapping with most shared time)."""
    from collections import Counter

    from scipy.optimize import linear_sum_assignment
    import numpy as np

    names_a, names_b = sorted({x for x in fa if x}), sorted({y for y in fb if y})
    if not names_a or not names_b:
        return {}
    shared = Counter((x, y) for x, y in zip(fa, fb) if x and y)
    matrix = np.array([[shared[(x, y)] for x in names_a] for y in names_b], dtype=float)
    rows, cols = linear_sum_assignment(-matrix)
    return {names_b[r]: names_a[c] for r, c in zip(rows, cols)}


def _runs(fa: list, fb: list, same) -> list[tuple[int, int]]:
    runs, start = [], None
    for i, (x, y) in enumerate(list(zip(fa, fb)) + [(None, None)]):
        differs = (x or y) and not same(x, y)
        if differs and start is None:
            start = i
        elif not differs and start is not None:
            if (i - start) * FRAME_MS >= MIN_RUN_MS:
                runs.append((start, i))
            start = None
    return runs


def _label(payload: dict, speaker: str | None) -> str | None:
    if not speaker:
        return None
    for s in payload.get("speakers", []):
        if s["id"] == speaker:
            return s.get("name") or s.get("role") or speaker
    return speaker


def turn_diffs(a: dict, b: dict) -> list[dict]:
    end = max([s["end_ms"] for p in (a, b) for s in p.get("segments", [])] or [0])
    length = end // FRAME_MS + 1
    out = []
    sa, sb = _speaker_frames(a, FRAME_MS, length), _speaker_frames(b, FRAME_MS, length)
    if any(sa) and any(sb):
        mapping = _speaker_mapping(sa, sb)
        for start, stop in _runs(sa, sb, lambda x, y: bool(x and y) and mapping.get(y) == x):
            x, y = sa[start], sb[start]
            out.append({"kind": "speaker_differs", "start_ms": start * FRAME_MS, "end_ms": stop * FRAME_MS,
                        "values": [_label(a, x), _label(b, y)]})
    ta, tb = _type_frames(a, length), _type_frames(b, length)
    if any(ta) or any(tb):
        for start, stop in _runs(ta, tb, lambda x, y: x == y):
            out.append({"kind": "type_differs", "start_ms": start * FRAME_MS, "end_ms": stop * FRAME_MS,
                        "values": [ta[start], tb[start]]})
    return out


def diff(payloads: Sequence[dict]) -> list[dict]:
    """Differences between every pair of versions (by index), in time order, at most MAX_DIFFS_PER_PAIR a pair."""
    out = []
    for ia, ib in combinations(range(len(payloads)), 2):
        a, b = payloads[ia] or {"segments": []}, payloads[ib] or {"segments": []}
        found = sorted(word_diffs(a, b) + turn_diffs(a, b), key=lambda d: (d["start_ms"], d["kind"]))
        for d in found[:MAX_DIFFS_PER_PAIR]:
            if d.get("in_version"):
                d["in"] = ia if d.pop("in_version") == "a" else ib
            out.append({"a": ia, "b": ib, **d})
    return out
