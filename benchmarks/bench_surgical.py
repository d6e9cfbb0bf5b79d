"""Surgical video preparation on a 10-minute 640x360 25 fps H.264 recording (keyframe every 2 s): frame index,
proxy (remux), thumbnail sprite and the keyframe proposals, each as x real time; and the proxy encode of the same
video as VP9 source (the path for files the browser cannot play). 2 shared cores."""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def make_video(path: str, seconds: int, codec: str = "libx264", options: dict | None = None) -> None:
    import av
    import numpy as np

    rng = np.random.default_rng(1)
    base = rng.integers(0, 255, (360, 640, 3), dtype=np.uint8)
    with av.open(path, "w") as out:
        stream = out.add_stream(codec, rate=25, options=options or {"preset": "ultrafast", "g": "50"})
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        for i in range(seconds * 25):
            picture = np.roll(base, i * 3, axis=1)
            picture[:, :, 0] = (i // 750) * 40 % 255  # a new "phase" colour every 30 s
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def main() -> None:
    from annotators.base import ItemView
    from annotators.media import MediaInfo
    from annotators.probe import probe
    from annotators.surgical import preannotate, video

    seconds = 600
    out = {"benchmark": "surgical", "video": f"{seconds} s 640x360 25 fps H.264",
           "targets": {"note": "none set by the issue for preparation; smoothness is measured in the browser"}}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "case.mp4")
        t0 = time.perf_counter()
        make_video(path, seconds)
        out["make_test_video_s"] = round(time.perf_counter() - t0, 1)
        view = ItemView(id=1, kind="video", media_path=path, media=MediaInfo.from_dict(probe(path)))
        for name, make in (("frame_index", video.make_frame_index), ("proxy_remux", video.make_proxy),
                           ("sprite", video.make_sprite)):
            t0 = time.perf_counter()
            make(view, tmp)
            took = time.perf_counter() - t0
            out[f"{name}_s"], out[f"{name}_x_realtime"] = round(took, 3), round(seconds / took, 1)
        t0 = time.perf_counter()
        samples = preannotate.keyframe_features(path)
        took = time.perf_counter() - t0
        out["proposals_keyframes"], out["proposals_x_realtime"] = len(samples), round(seconds / took, 1)
        vp9 = os.path.join(tmp, "case.webm")
        make_video(vp9, 60, "libvpx-vp9", {"deadline": "realtime", "cpu-used": "8"})
        view = ItemView(id=2, kind="video", media_path=vp9, media=MediaInfo.from_dict(probe(vp9)))
        t0 = time.perf_counter()
        video.make_proxy(view, tmp)
        took = time.perf_counter() - t0
        out["proxy_encode_from_vp9_x_realtime"] = round(60 / took, 1)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
