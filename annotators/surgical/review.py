"""Differences between two phase timelines for the review screen: stretches of frames where the phases differ
(the disagreement regions the review timeline highlights) and boundaries one annotator put elsewhere."""
from __future__ import annotations

from annotators.surgical.metrics import _length, frame_labels

MAX_DIFFS = 200


def diff(payloads: list[dict]) -> list[dict]:
    if len(payloads) < 2:
        return []
    a, b = payloads[0], payloads[1]
    length = _length(a, b)
    la, lb = frame_labels(a, length), frame_labels(b, length)
    out, start = [], None
    for frame in range(length + 1):
        differs = frame < length and la[frame] != lb[frame]
        if differs and start is None:
            start = frame
        elif not differs and start is not None:
            out.append({"kind": "phase_differs", "start_frame": start, "end_frame": frame,
                        "values": [la[start], lb[start]], "a": 0, "b": 1})
            start = None
            if len(out) >= MAX_DIFFS:
                break
    starts_b = {s["start_frame"]: s.get("phase") for s in b.get("phases", [])}
    for seg in sorted(a.get("phases", []), key=lambda s: s["start_frame"])[1:]:
        if seg["start_frame"] in starts_b:
            continue
        same = [f for f, phase in starts_b.items() if phase == seg.get("phase")]
        if same:
            nearest = min(same, key=lambda f: abs(f - seg["start_frame"]))
            out.append({"kind": "boundary_moved", "frame_a": seg["start_frame"], "frame_b": nearest,
                        "values": [seg.get("phase")], "a": 0, "b": 1})
    return out[:MAX_DIFFS]
