"""Agreement between two phase timelines, frame by frame (the measures surgical workflow papers report): accuracy,
macro Jaccard over phases, Cohen's kappa, boundary distance in frames, and tag F1 per frame. `agreement` is the
frame accuracy (in [0, 1], what the review workflow's thresholds compare)."""
from __future__ import annotations

import numpy as np

MAX_FRAMES = 2_000_000  # frame arrays beyond this are sampled evenly (a 4-hour 60 fps video has 864,000)


def frame_labels(payload: dict, length: int) -> np.ndarray:
    """Per frame its phase code (None: no phase there)."""
    out = np.zeros(length, dtype=object)
    out[:] = None
    for seg in payload.get("phases", []):
        out[max(0, seg["start_frame"]):min(length, seg["end_frame"])] = seg.get("phase")
    return out


def _length(*payloads: dict) -> int:
    ends = [s["end_frame"] for p in payloads for s in p.get("phases", []) + p.get("tags", [])]
    return max(ends, default=0)


def boundaries(payload: dict) -> list[int]:
    phases = sorted(payload.get("phases", []), key=lambda s: s["start_frame"])
    return [s["start_frame"] for s in phases[1:]]


def boundary_distance(a: dict, b: dict) -> float | None:
    """Mean distance (frames) from each boundary to the nearest one of the other timeline, both ways."""
    ba, bb = boundaries(a), boundaries(b)
    if not ba and not bb:
        return 0.0
    if not ba or not bb:
        return None
    xa, xb = np.asarray(ba), np.asarray(bb)
    ab = np.abs(xa[:, None] - xb[None, :]).min(axis=1)
    return float(np.concatenate([ab, np.abs(xb[:, None] - xa[None, :]).min(axis=1)]).mean())


def agree(a: dict, b: dict) -> dict[str, float]:
    from sklearn.metrics import cohen_kappa_score

    length = _length(a, b)
    if length == 0:
        return {"agreement": 1.0}
    step = max(1, length // MAX_FRAMES)
    la, lb = frame_labels(a, length)[::step], frame_labels(b, length)[::step]
    sa = np.array(["" if v is None else v for v in la])
    sb = np.array(["" if v is None else v for v in lb])
    accuracy = float((sa == sb).mean())
    jaccards = []
    for code in sorted(set(sa) | set(sb) - {""}):
        both, either = ((sa == code) & (sb == code)).sum(), ((sa == code) | (sb == code)).sum()
        jaccards.append(both / either)
    out = {"agreement": round(accuracy, 6), "phase_accuracy": round(accuracy, 6),
           "phase_jaccard": round(float(np.mean(jaccards)), 6) if jaccards else 1.0}
    if len(set(sa) | set(sb)) > 1:
        kappa = cohen_kappa_score(sa, sb)
        if np.isfinite(kappa):
            out["phase_kappa"] = round(float(kappa), 6)
    distance = boundary_distance(a, b)
    if distance is not None:
        out["boundary_frames"] = round(distance, 3)
    tag_f1 = tags_f1(a, b, length)
    if tag_f1 is not None:
        out["tag_f1"] = round(tag_f1, 6)
    return out


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
