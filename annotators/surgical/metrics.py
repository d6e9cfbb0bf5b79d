"""Agreement between two phase timelines (the measures surgical workflow papers report), annotator a as the
reference wherever a measure is asymmetric:

- frame-wise: accuracy (`agreement`, in [0, 1], what the review workflow's thresholds compare; also
  `phase_accuracy`), Cohen's kappa over frames ("no phase" is a category of its own), and per phase precision
  (|a = k and b = k| / |b = k|), recall (/ |a = k|) and Jaccard (/ |a = k or b = k|), averaged over the phases either
  annotator used (a phase one of them never used scores 0 there: scikit-learn's macro average, zero_division=0);
- relaxed boundaries (Cholec80 / M2CAI16 challenge evaluation, 10 s): accuracy and mean precision/recall/Jaccard over
  the phases a shows; the exact rule and where it differs from the published script are in metrics_segments.py;
- segmental: edit score and F1@{10, 25, 50} (MS-TCN's definitions, as fractions);
- boundaries: mean nearest-boundary distance, both ways, in frames and in seconds;
- tags: F1 of (track, frame) presence.

Frame rate (for the 10 s window and seconds): from the (frame, ms) pairs the payloads carry (the frame index's
timestamps), else the item's probed frame rate, else 25 fps (Cholec80's)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from annotators.surgical import metrics_segments as seg
from annotators.surgical.schema import PHASES

DEFAULT_FPS = 25.0
PER_PHASE_KEYS = ("precision", "recall", "jaccard", "relaxed_precision", "relaxed_recall", "relaxed_jaccard")


def frame_labels(payload: dict, length: int) -> np.ndarray:
    """Per frame its phase code (None: no phase there). Object array, for the review screen's diff."""
    out = np.zeros(length, dtype=object)
    out[:] = None
    for s in payload.get("phases", []):
        out[max(0, s["start_frame"]):min(length, s["end_frame"])] = s.get("phase")
    return out


def _length(*payloads: dict) -> int:
    ends = [s["end_frame"] for p in payloads for s in p.get("phases", []) + p.get("tags", [])]
    return max(ends, default=0)


def phase_names(phases: Sequence[str] | None, *payloads: dict) -> list[str]:
    """Code order: the project's phases (their order is what 'adjacent phase' means), then any other name found."""
    names = list(phases or PHASES)
    known = set(names)
    extra = sorted({s["phase"] for p in payloads for s in p.get("phases", [])
                    if s.get("phase") is not None and s["phase"] not in known})
    return names + extra


def encode(payload: dict, length: int, codes: dict[str, int]) -> np.ndarray:
    """Per frame its phase code: 0 = no phase, else 1 + the phase's position in `codes`' order."""
    out = np.zeros(length, dtype=np.int16 if len(codes) < 32_000 else np.int32)
    for s in payload.get("phases", []):
        if s.get("phase") is not None:
            out[max(0, s["start_frame"]):min(length, s["end_frame"])] = codes[s["phase"]]
    return out


def estimate_fps(*payloads: dict, fallback: float | None = None) -> float:
    """Frames per second from the (frame, ms) pairs the payloads record, the two farthest apart (the timestamps come
    from the frame index, so a variable frame rate averages out); else `fallback` (the item's probe), else 25."""
    pairs = [(s[f"{end}_frame"], s[f"{end}_ms"]) for p in payloads for s in p.get("phases", []) + p.get("tags", [])
             for end in ("start", "end") if f"{end}_ms" in s]
    if len(pairs) >= 2:
        lo, hi = min(pairs), max(pairs)
        if hi[0] > lo[0] and hi[1] > lo[1]:
            fps = (hi[0] - lo[0]) * 1000.0 / (hi[1] - lo[1])
            if 1.0 <= fps <= 1000.0:
                return fps
    if fallback and 1.0 <= fallback <= 1000.0:
        return float(fallback)
    return DEFAULT_FPS


def evaluate(a: dict, b: dict, phases: Sequence[str] | None = None,
             fps: float | None = None) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """(metrics, per phase name its precision/recall/Jaccard, strict and relaxed). `fps`: the item's probed rate,
    used only when the payloads carry no times."""
    length = _length(a, b)
    if length == 0:
        return {"agreement": 1.0}, {}
    names = phase_names(phases, a, b)
    codes = {name: i + 1 for i, name in enumerate(names)}
    ra, rb = encode(a, length, codes), encode(b, length, codes)
    k1 = len(names) + 1
    # confusion matrix (rows a, columns b), code 0 = no phase: every frame-wise measure below reads from it
    confusion = np.bincount(ra.astype(np.int32) * k1 + rb, minlength=k1 * k1).reshape(k1, k1)
    diagonal, in_a, in_b = np.diag(confusion), confusion.sum(axis=1), confusion.sum(axis=0)
    accuracy = float(diagonal.sum()) / length
    out = {"agreement": round(accuracy, 6), "phase_accuracy": round(accuracy, 6)}
    per_phase: dict[str, dict[str, float]] = {}
    for code in np.flatnonzero((in_a + in_b)[1:]) + 1:
        tp = int(diagonal[code])
        per_phase[names[code - 1]] = {"precision": tp / in_b[code] if in_b[code] else 0.0,
                                      "recall": tp / in_a[code] if in_a[code] else 0.0,
                                      "jaccard": tp / (in_a[code] + in_b[code] - tp)}
    for key in ("precision", "recall", "jaccard"):
        values = [v[key] for v in per_phase.values()]
        out[f"phase_{key}"] = round(float(np.mean(values)), 6) if values else 1.0  # neither labelled a phase
    if np.count_nonzero(in_a + in_b) > 1:  # one category only: kappa is undefined (chance agreement is 1)
        expected = float(in_a.astype(np.float64) @ in_b) / float(length) ** 2
        out["phase_kappa"] = round((accuracy - expected) / (1.0 - expected), 6)
    rate = estimate_fps(a, b, fallback=fps)
    relaxed_accuracy, relaxed = seg.relaxed(ra, rb, names, rate)
    out["relaxed_accuracy"] = round(relaxed_accuracy, 6)
    for code, values in relaxed.items():
        per_phase[names[code - 1]].update({f"relaxed_{key}": value for key, value in values.items()})
    for key in ("precision", "recall", "jaccard"):
        if relaxed:  # a showed no phase at all: the relaxed per-phase scores are undefined (the script's NaN)
            out[f"relaxed_{key}"] = round(float(np.mean([v[key] for v in relaxed.values()])), 6)
    segments_a, segments_b = seg.segments(ra), seg.segments(rb)
    out["edit_score"] = round(seg.edit_score(segments_a[2], segments_b[2]), 6)
    for tau, value in seg.f1_at(segments_a, segments_b).items():
        out[f"f1_{int(round(tau * 100))}"] = round(value, 6)
    distance = seg.boundary_distance(ra, rb)
    if distance is not None:
        out["boundary_frames"] = round(distance, 3)
        out["boundary_seconds"] = round(distance / rate, 3)
    tag_f1 = tags_f1(a, b, length)
    if tag_f1 is not None:
        out["tag_f1"] = round(tag_f1, 6)
    return out, {name: {key: round(float(v), 6) for key, v in values.items()} for name, values in per_phase.items()}


def agree(a: dict, b: dict, phases: Sequence[str] | None = None, fps: float | None = None) -> dict[str, float]:
    return evaluate(a, b, phases, fps)[0]


def mean_per_phase(results: Sequence[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Per phase, the mean of each per-phase measure over the item pairs where it is defined (`pairs`: how many)."""
    pooled: dict[str, dict[str, list[float]]] = {}
    for result in results:
        for name, values in result.items():
            for key, value in values.items():
                pooled.setdefault(name, {}).setdefault(key, []).append(value)
    return {name: {"pairs": max(len(v) for v in values.values()),
                   **{key: round(sum(values[key]) / len(values[key]), 4) for key in PER_PHASE_KEYS if key in values}}
            for name, values in sorted(pooled.items())}


def tags_f1(a: dict, b: dict, length: int) -> float | None:
    """F1 of (track, frame) presence, treating `a` as reference (symmetric: F1 is)."""
    tracks = {t["track"] for p in (a, b) for t in p.get("tags", [])}
    if not tracks:
        return None
    tp = fp = fn = 0
    for track in tracks:
        ma, mb = np.zeros(length, bool), np.zeros(length, bool)
        for t in a.get("tags", []):
            if t["track"] == track:
                ma[t["start_frame"]:t["end_frame"]] = True
        for t in b.get("tags", []):
            if t["track"] == track:
                mb[t["start_frame"]:t["end_frame"]] = True
        tp += int((ma & mb).sum())
        fp += int((~ma & mb).sum())
        fn += int((ma & ~mb).sum())
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
