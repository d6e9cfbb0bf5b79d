"""Face blurring of surgical video (annotators/surgical/deidentify.py) on a 60 s 640x360 25 fps H.264 recording:
an out-of-body camera with a face (a crop of scikit-image's public-domain `astronaut`, moving) for the first 30 s
and textured tissue only for the last 30 s. Prints x real time for the export's settings (source size, crf 21) and
the ingest proxy's (<= 720p, keyframe every second, crf 26), and the share of frames masked. 2 shared cores:
read `load_1m` beside the numbers."""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def make_video(path: str, seconds: int) -> None:
    import av
    import cv2
    import numpy as np

    face = cv2.imread(os.path.join(ROOT, "tests", "surgical", "data", "face.jpg"))
    yy, xx = np.mgrid[0:360, 0:640]
    with av.open(path, "w") as out:
        stream = out.add_stream("libx264", rate=25, options={"preset": "ultrafast", "g": "50"})
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        for i in range(seconds * 25):
            bgr = np.empty((360, 640, 3), np.uint8)
            bgr[..., 0] = 40
            bgr[..., 1] = (60 + 30 * np.sin(yy / 17.0)).astype(np.uint8)
            bgr[..., 2] = (120 + 60 * np.sin((xx + 2 * i) / 40.0) * np.cos(yy / 30.0)).astype(np.uint8)
            if i < seconds * 25 // 2:
                x = 100 + (i * 2) % 300
                bgr[80:80 + face.shape[0], x:x + face.shape[1]] = face
            for packet in stream.encode(av.VideoFrame.from_ndarray(bgr, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def main() -> None:
    from annotators.surgical import deidentify

    seconds = 60
    out: dict = {"video": f"{seconds} s 640x360 25 fps H.264, face in the first half", "load_1m": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "or.mp4")
        make_video(source, seconds)
        for key, options in (("blur", None),
                             ("blur_proxy", {"max_height": 720, "gop_s": 1, "crf": 26, "preset": "veryfast"})):
            start = time.perf_counter()
            stats = deidentify.blur_video(source, os.path.join(tmp, f"{key}.mp4"), 0, options)
            elapsed = time.perf_counter() - start
            out[f"{key}_x_realtime"] = round(seconds / elapsed, 2)
            out[f"{key}_s"] = round(elapsed, 2)
            out[f"{key}_masked_share"] = round(stats["masked_frames"] / stats["frames"], 3)
        out["detect_every"] = deidentify.DETECT_EVERY
        out["detect_width"] = deidentify.DETECT_WIDTH
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
