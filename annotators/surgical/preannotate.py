"""Phase proposals before any training: where the picture changes (colour histograms of the keyframes) and where
the camera leaves the body (a laparoscope inside shows red-pink tissue; outside, drapes, lights and the dark port
do not). The result is an unlabelled timeline: segments with `phase: null` covering the video, boundaries at the
strongest changes (no segment shorter than `min_phase_s`), each segment scored by how clear its boundaries are,
plus `camera_out_of_body` tags. Once `fit` has trained a phase model (training.py), its segments replace the
proposals.

Only keyframes are decoded (the decoder skips the rest): a 4-hour 1080p recording costs seconds, not the half hour a
full decode takes. Histograms and colour statistics are numpy on 64x36 thumbnails; no OpenCV needed for this."""
from __future__ import annotations

import bisect
import json

import numpy as np

from annotators.base import Prediction

THUMB = (64, 36)
HUE_BINS = 12
OUT_OF_BODY_RED = 0.25  # below this share of red-dominant pixels the camera is taken to be outside
CHANGE_THRESHOLD = 0.35  # histogram intersection distance counted as a scene change


def _features(rgb: np.ndarray) -> tuple[np.ndarray, float]:
    pixels = rgb.reshape(-1, 3).astype(np.float32) / 255.0
    r, g, b = pixels[:, 0], pixels[:, 1], pixels[:, 2]
    peak, low = pixels.max(axis=1), pixels.min(axis=1)
    chroma = peak - low
    hue = np.where(chroma < 1e-6, 0.0,
                   np.where(peak == r, ((g - b) / (chroma + 1e-9)) % 6,
                            np.where(peak == g, (b - r) / (chroma + 1e-9) + 2, (r - g) / (chroma + 1e-9) + 4))) / 6
    coloured = chroma > 0.08
    histogram = np.concatenate([np.histogram(hue[coloured], bins=HUE_BINS, range=(0, 1))[0],
                                np.histogram(peak, bins=4, range=(0, 1))[0]]).astype(np.float32)
    histogram /= max(1.0, histogram.sum())
    red = float(((r > 1.15 * g) & (r > 1.15 * b) & (peak > 0.15)).mean())
    return histogram, red


def keyframe_features(path: str) -> list[tuple[float, np.ndarray, float]]:
    """(time in s from the first frame, histogram, red share) per keyframe."""
    import av

    out = []
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = "NONKEY"
        start = None
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            start = frame.time if start is None else start
            rgb = frame.reformat(width=THUMB[0], height=THUMB[1], format="rgb24").to_ndarray()
            histogram, red = _features(rgb)
            out.append((frame.time - start, histogram, red))
    return out


def propose(samples, frame_times: list[float], min_phase_s: float) -> dict:
    """Unlabelled phase segments and out-of-body tags from keyframe samples; frames from the frame index."""
    total = len(frame_times)

    def frame_at(t: float) -> int:
        return min(total - 1, max(0, bisect.bisect_left(frame_times, t - 1e-6)))

    def ms(frame: int) -> int:
        return int(round(frame_times[frame] * 1000)) if frame < total else int(round(
            (frame_times[-1] + (frame_times[-1] - frame_times[-2] if total > 1 else 0.04)) * 1000))

    outside = [red < OUT_OF_BODY_RED for _t, _h, red in samples]
    changes = []  # (strength, time)
    for i in range(1, len(samples)):
        distance = 1.0 - float(np.minimum(samples[i][1], samples[i - 1][1]).sum())
        if outside[i] != outside[i - 1]:
            distance = max(distance, 1.0)  # the camera went in or out: always a boundary candidate
        if distance >= CHANGE_THRESHOLD:
            changes.append((distance, samples[i][0]))
    chosen: list[tuple[float, float]] = []
    for strength, t in sorted(changes, reverse=True):  # strongest first; keep those far enough from the others
        if t >= min_phase_s and all(abs(t - c) >= min_phase_s for _s, c in chosen) \
                and frame_times[-1] - t >= min_phase_s:
            chosen.append((strength, t))
    cuts = sorted((frame_at(t), min(1.0, s)) for s, t in chosen)
    edges = [(0, 1.0)] + cuts + [(total, 1.0)]
    phases = [{"id": f"m{n + 1}", "phase": None, "start_frame": a, "end_frame": b, "start_ms": ms(a),
               "end_ms": ms(b), "score": round(min(sa, sb), 3)}
              for n, ((a, sa), (b, sb)) in enumerate(zip(edges, edges[1:])) if b > a]
    tags, begin = [], None
    for i, (t, _h, _r) in enumerate(samples + [(frame_times[-1] + 1, None, None)]):
        out = i < len(samples) and outside[i]
        if out and begin is None:
            begin = frame_at(t)
        elif not out and begin is not None:
            end = frame_at(t) if i < len(samples) else total
            if end > begin:
                tags.append({"id": f"o{len(tags) + 1}", "track": "camera_out_of_body", "start_frame": begin,
                             "end_frame": end, "start_ms": ms(begin), "end_ms": ms(end)})
            begin = None
    return {"phases": phases, "tags": tags, "comments": []}


class PhasePreannotator:
    """Before `fit` has an active version: the unlabelled proposals above. After: the trained phase model's
    segments (training.py), with the same out-of-body track."""

    name = "phases"
    version = "scenes-1"
    wants_gpu = True  # the trained model runs on a GPU worker when one is live (the proposals need none)
    batch_size = 4

    def available(self) -> tuple[bool, str]:
        return True, ""

    def setup(self, device: str, label_config: dict, params: dict | None = None, resources: dict | None = None):
        from annotators.surgical import training

        config = label_config or {}
        self.min_phase_s = float(config.get("min_phase_s", 10))
        self.has_tag_track = any(t["name"] == "camera_out_of_body" for t in config.get("tracks") or [])
        self.phases = list((params or {}).get("phases") or config.get("phases") or [])
        self.model = None
        if params and params.get("weights"):
            self.model = training.PhaseModel(params, len(self.phases), "cuda" if device == "cuda" else "cpu")
            self.version = "trained"

    def predict(self, items, report=None) -> list[Prediction]:
        out = []
        for view in items:
            index_path = view.assets.get("frames")
            if not index_path or not view.media_path:
                raise ValueError("the video has no frame index yet; re-run its preparation")
            with open(index_path, encoding="utf-8") as fh:
                index = json.load(fh)
            num, den = index["time_base"]
            times = [p * num / den for p in index["pts"]]
            payload = propose(keyframe_features(view.media_path), times, self.min_phase_s)
            if self.model is not None:
                payload["phases"] = self._trained_phases(view, times)
            if not self.has_tag_track:
                payload["tags"] = []
            # The item's score is its least certain segment: the review queue takes the riskiest items first.
            scores = [p["score"] for p in payload["phases"] if p.get("score") is not None]
            out.append(Prediction(view.id, payload, score=min(scores) if scores else None))
            if report is not None:
                report.progress(len(out), len(items))
        return out

    def _trained_phases(self, view, times: list[float]) -> list[dict]:
        from annotators.surgical import training

        pictures, _ = training.seconds_of(view)
        segments = training.smooth(self.model.probabilities(pictures), max(1, int(round(self.min_phase_s))))
        total = len(times)

        def frame_at(second: int) -> int:
            return total if second >= len(pictures) else min(total, bisect.bisect_left(times, second - 1e-6))

        def ms(frame: int) -> int:
            return int(round((times[frame] if frame < total else times[-1] + (times[-1] - times[-2] if total > 1
                                                                               else 0.04)) * 1000))

        phases = []
        for n, (a, b, phase, score) in enumerate(segments):
            start, end = frame_at(a), frame_at(b)
            if end > start:
                phases.append({"id": f"m{n + 1}", "phase": self.phases[phase], "start_frame": start, "end_frame": end,
                               "start_ms": ms(start), "end_ms": ms(end), "score": score})
        return phases
