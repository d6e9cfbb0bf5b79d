"""The demo surgical video for `make run`: 24 s of synthetic "laparoscopy" (tissue, the camera out of the body,
fat), made with PyAV on the spot, so the demo needs no downloaded footage."""
from __future__ import annotations

import fractions
import os
import tempfile

from annotators.base import ItemInput

FPS = 10
PARTS = [(8, (190, 70, 80)), (4, (70, 110, 150)), (12, (200, 170, 60))]


def make_video(path: str) -> str:
    import av
    import numpy as np

    rng = np.random.default_rng(5)
    with av.open(path, "w") as out:
        stream = out.add_stream("libx264", rate=FPS, options={"g": str(FPS), "preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        n = 0
        for seconds, rgb in PARTS:
            for _ in range(seconds * FPS):
                noise = rng.integers(-14, 14, (180, 320, 3))
                picture = np.clip(np.array(rgb)[None, None, :] + noise, 0, 255).astype(np.uint8)
                frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
                frame.pts, frame.time_base = n, fractions.Fraction(1, FPS)
                n += 1
                for packet in stream.encode(frame):
                    out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def demo_inputs() -> list[ItemInput]:
    path = make_video(os.path.join(tempfile.mkdtemp(prefix="surgical-demo-"), "cholecystectomy-demo.mp4"))
    return [ItemInput(name="cholecystectomy-demo.mp4", path=path, size=os.path.getsize(path))]
