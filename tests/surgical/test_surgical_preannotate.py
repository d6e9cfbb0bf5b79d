"""Phase proposals before any training: the camera leaving the body and a change of scene become boundaries of an
unlabelled timeline, the time outside becomes a camera_out_of_body tag; frame numbers come from the frame index."""
from __future__ import annotations

import fractions
import json

import av
import numpy as np

from annotators.base import ItemView
from annotators.surgical import video
from annotators.surgical.preannotate import PhasePreannotator

FPS = 5


def colour_video(path, parts) -> str:
    """parts: [(seconds, rgb)]: flat colours with a little noise, a keyframe every second."""
    rng = np.random.default_rng(3)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS, options={"g": str(FPS), "preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        n = 0
        for seconds, rgb in parts:
            for _ in range(seconds * FPS):
                noise = rng.integers(-12, 12, (48, 64, 3))
                picture = np.clip(np.array(rgb)[None, None, :] + noise, 0, 255).astype(np.uint8)
                frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
                frame.pts, frame.time_base = n, fractions.Fraction(1, FPS)
                n += 1
                for packet in stream.encode(frame):
                    out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return str(path)


def test_out_of_body_and_scene_changes_become_an_unlabelled_timeline(tmp_path):
    tissue, drapes, fat = (190, 70, 80), (70, 110, 150), (200, 170, 60)
    path = colour_video(tmp_path / "case.mp4", [(15, tissue), (7, drapes), (18, fat)])
    view = ItemView(id=7, kind="video", media_path=path)
    video.make_frame_index(view, str(tmp_path))
    view.assets["frames"] = str(tmp_path / "frames.json")
    proposer = PhasePreannotator()
    proposer.setup("cpu", {"min_phase_s": 5, "tracks": [{"name": "camera_out_of_body", "kind": "event"}]})
    payload = proposer.predict([view])[0].payload
    frames = json.loads((tmp_path / "frames.json").read_text())["frames"]
    starts = [p["start_frame"] for p in payload["phases"]]
    assert starts == [0, 15 * FPS, 22 * FPS] and payload["phases"][-1]["end_frame"] == frames == 40 * FPS
    assert all(p["phase"] is None and 0 < p["score"] <= 1 for p in payload["phases"])
    assert payload["phases"][1]["start_ms"] == 15_000
    assert [(t["track"], t["start_frame"], t["end_frame"]) for t in payload["tags"]] == [
        ("camera_out_of_body", 15 * FPS, 22 * FPS)]


def test_a_steady_video_is_one_segment(tmp_path):
    path = colour_video(tmp_path / "steady.mp4", [(12, (190, 70, 80))])
    view = ItemView(id=1, kind="video", media_path=path)
    video.make_frame_index(view, str(tmp_path))
    view.assets["frames"] = str(tmp_path / "frames.json")
    proposer = PhasePreannotator()
    proposer.setup("cpu", {"min_phase_s": 5})
    payload = proposer.predict([view])[0].payload
    assert [(p["start_frame"], p["end_frame"]) for p in payload["phases"]] == [(0, 12 * FPS)] and not payload["tags"]
