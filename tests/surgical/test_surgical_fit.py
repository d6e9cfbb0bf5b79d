"""`fit` trains a phase model from the project's accepted timelines (per-second CNN features + a GRU), activates a
version only when it beats the active one on held-out videos, and the pre-annotator then labels a new video's
phases with a score per segment."""
from __future__ import annotations

from annotators.base import ItemView
from annotators.surgical import training, video
from annotators.surgical.preannotate import PhasePreannotator
from test_surgical_preannotate import FPS, colour_video

TISSUE, FAT, CLIPS = (190, 70, 80), (200, 170, 60), (120, 60, 160)
PHASES = ["Preparation", "CalotTriangleDissection", "ClippingCutting"]
CONFIG = {"phases": PHASES, "min_phase_s": 3, "tracks": [{"name": "camera_out_of_body", "kind": "event"}]}


def case(folder, n, seconds):
    path = colour_video(folder / f"case{n}.mp4", list(zip(seconds, (TISSUE, FAT, CLIPS))))
    out = folder / f"index{n}"
    out.mkdir()
    view = ItemView(id=n, kind="video", media_path=path)
    video.make_frame_index(view, str(out))
    view.assets["frames"] = str(out / "frames.json")
    bounds = [0, seconds[0] * FPS, (seconds[0] + seconds[1]) * FPS, sum(seconds) * FPS]
    payload = {"phases": [{"id": f"p{i}", "phase": PHASES[i], "start_frame": bounds[i], "end_frame": bounds[i + 1]}
                          for i in range(3)]}
    return view, payload


def test_a_model_trained_on_accepted_timelines_labels_a_new_video(tmp_path):
    accepted = [case(tmp_path, n, seconds) for n, seconds in enumerate([(8, 9, 7), (6, 10, 8), (9, 7, 8),
                                                                        (7, 8, 9)])]
    first = training.fit(accepted, CONFIG, None)
    assert first["better"] and first["metrics"]["held_out_frame_accuracy"] >= 0.9, first["metrics"]
    assert first["metrics"]["previous_held_out_frame_accuracy"] is None and first["params"]["phases"] == PHASES
    again = training.fit(accepted, CONFIG, first["params"])
    assert not again["better"]  # no better than the active version on the same held-out videos

    new, _truth = case(tmp_path, 9, (10, 6, 9))
    model = PhasePreannotator()
    model.setup("cpu", CONFIG, first["params"])
    prediction = model.predict([new])[0]
    phases = prediction.payload["phases"]
    assert prediction.score == min(p["score"] for p in phases)  # the least certain segment ranks the item
    assert [p["phase"] for p in phases] == PHASES, phases
    assert abs(phases[1]["start_frame"] - 10 * FPS) <= FPS and abs(phases[2]["start_frame"] - 16 * FPS) <= FPS
    assert phases[-1]["end_frame"] == 25 * FPS and all(0 < p["score"] <= 1 for p in phases)


def test_smoothing_folds_short_flickers_into_their_neighbours():
    import numpy as np

    probabilities = np.array([[0.9, 0.1]] * 6 + [[0.4, 0.6]] + [[0.8, 0.2]] * 3 + [[0.1, 0.9]] * 8)
    assert [(a, b, p) for a, b, p, _ in training.smooth(probabilities, 3)] == [(0, 10, 0), (10, 18, 1)]
