"""The surgical phase model on CPU (issue 12's figures): `fit` on 10 annotated 5-minute synthetic laparoscopies
(7 Cholec80 phases in order, durations drawn per video; each phase a tissue colour with its own moving texture, some
phases alike in colour), then the trained pre-annotator on 2 held-out videos: training seconds, frame accuracy
against the known phases, and pre-annotation (1-fps features + GRU + proposals) x real time.
Targets: training <= 5 min on CPU; pre-annotation >= 20x real time.

Usage: python benchmarks/bench_surgical_model.py [--videos 12] [--seconds 300]
"""
from __future__ import annotations

import argparse
import fractions
import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

FPS = 25
SIZE = (160, 90)
PHASES = ["Preparation", "CalotTriangleDissection", "ClippingCutting", "GallbladderDissection",
          "GallbladderPackaging", "CleaningCoagulation", "GallbladderRetraction"]
# (colour, texture period px, drift px per frame): phases 1/3 and 2/5 share a colour and differ in texture.
LOOKS = [((190, 70, 80), 8, 1), ((200, 120, 90), 16, 2), ((190, 70, 80), 24, 0), ((200, 170, 60), 6, 3),
         ((200, 120, 90), 40, 1), ((150, 40, 50), 12, 2), ((120, 60, 160), 20, 1)]


def make_case(path: str, seconds: int, rng) -> list[int]:
    """A video whose phases follow Cholec80's order; returns the phase boundaries in frames."""
    import av
    import numpy as np

    shares = rng.dirichlet(np.full(len(PHASES), 4.0))
    lengths = np.maximum(5, np.round(shares * seconds)).astype(int)
    lengths[-1] = max(5, seconds - int(lengths[:-1].sum()))
    bounds = [0] + list(np.cumsum(lengths) * FPS)
    w, h = SIZE
    x = np.arange(w)[None, :]
    y = np.arange(h)[:, None]
    with av.open(path, "w") as out:
        stream = out.add_stream("libx264", rate=FPS, options={"g": str(FPS), "preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        n = 0
        for phase, length in enumerate(lengths):
            colour, period, drift = LOOKS[phase]
            for _ in range(length * FPS):
                wave = np.sin(2 * np.pi * (x + y * 0.5 + n * drift) / period)[..., None] * 35
                noise = rng.integers(-10, 10, (h, w, 1))
                picture = np.clip(np.array(colour)[None, None, :] + wave + noise, 0, 255).astype(np.uint8)
                frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
                frame.pts, frame.time_base = n, fractions.Fraction(1, FPS)
                n += 1
                for packet in stream.encode(frame):
                    out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return [int(b) for b in bounds]


def main() -> None:
    import numpy as np

    from annotators.base import ItemView
    from annotators.surgical import metrics, training, video
    from annotators.surgical.preannotate import PhasePreannotator

    parser = argparse.ArgumentParser()
    parser.add_argument("--videos", type=int, default=12)
    parser.add_argument("--seconds", type=int, default=300)
    args = parser.parse_args()
    config = {"phases": PHASES, "min_phase_s": 10, "tracks": [{"name": "camera_out_of_body", "kind": "event"}]}
    rng = np.random.default_rng(11)
    out = {"benchmark": "surgical_model", "videos": args.videos, "video": f"{args.seconds} s {SIZE[0]}x{SIZE[1]} "
           f"{FPS} fps H.264, 7 phases", "targets": {"fit_s": "<= 300 on CPU", "preannotate_x_realtime": ">= 20"}}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        cases = []
        for n in range(args.videos):
            path = os.path.join(tmp, f"case{n}.mp4")
            bounds = make_case(path, args.seconds, rng)
            folder = os.path.join(tmp, f"assets{n}")
            os.mkdir(folder)
            view = ItemView(id=n + 1, kind="video", media_path=path)
            video.make_frame_index(view, folder)
            view.assets["frames"] = os.path.join(folder, "frames.json")
            payload = {"phases": [{"id": f"p{i}", "phase": PHASES[i], "start_frame": a, "end_frame": b}
                                  for i, (a, b) in enumerate(zip(bounds, bounds[1:]))]}
            cases.append((view, payload))
        out["make_videos_s"] = round(time.perf_counter() - t0, 1)
        train, held = cases[:-2], cases[-2:]
        t0 = time.perf_counter()
        fitted = training.fit(train, config, None)
        out["fit_s"] = round(time.perf_counter() - t0, 1)
        out["fit_metrics"] = fitted["metrics"]
        model = PhasePreannotator()
        model.setup("cpu", config, fitted["params"])
        accuracies, took = [], 0.0
        for view, truth in held:
            t0 = time.perf_counter()
            predicted = model.predict([view])[0].payload
            took += time.perf_counter() - t0
            length = truth["phases"][-1]["end_frame"]
            a = metrics.frame_labels(truth, length)
            b = metrics.frame_labels(predicted, length)
            accuracies.append(float((a == b).mean()))
        out["held_out_frame_accuracy"] = [round(x, 4) for x in accuracies]
        out["preannotate_x_realtime"] = round(len(held) * args.seconds / took, 1)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
