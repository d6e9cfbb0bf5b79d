"""Surgical video preparation (issue 12's figures), 2 shared cores:
- a one-hour 1280x720 25 fps H.264 MP4 (keyframe every 2 s, ~0.4 Mbit/s of moving blocks; made by muxing one
  encoded GOP again and again with shifted timestamps, so making it takes seconds): frame index, proxy (remux),
  thumbnail sprite and the keyframe proposals, each and together as x real time. Target: >= 50x together.
- the transcode path: a 60 s 1280x720 H.265 MKV (and a VP9 WebM) encoded to the H.264 proxy. Target: >= 4x.
"""
from __future__ import annotations

import fractions
import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

SIZE = (1280, 720)
FPS = 25


def _pictures(count: int):
    """Frames of a smooth texture drifting sideways, with a phase colour that changes every 30 s."""
    import numpy as np

    rng = np.random.default_rng(1)
    small = rng.integers(0, 255, (SIZE[1] // 16, SIZE[0] // 16 + count, 3), dtype=np.uint8)
    base = np.repeat(np.repeat(small, 16, axis=0), 16, axis=1)  # blocks: texture an encoder can follow
    for i in range(count):
        picture = np.ascontiguousarray(base[:, i * 4:i * 4 + SIZE[0]])
        picture[:, :, 0] = picture[:, :, 0] // 2 + (i // 750) * 40 % 128
        yield picture


def encode(path: str, seconds: int, codec: str, options: dict, container: str | None = None) -> None:
    import av

    with av.open(path, "w", format=container) as out:
        stream = out.add_stream(codec, rate=FPS, options=options)
        stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        for n, picture in enumerate(_pictures(seconds * FPS)):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts, frame.time_base = n, fractions.Fraction(1, FPS)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def one_hour(path: str, scratch: str, seconds: int = 3600) -> None:
    """One 2-second GOP encoded once (H.264, no B-frames), muxed again and again with shifted timestamps."""
    import av

    gop = os.path.join(scratch, "gop.mp4")
    encode(gop, 2, "libx264", {"preset": "ultrafast", "g": str(2 * FPS), "bf": "0", "crf": "30"})
    with av.open(gop) as src, av.open(path, "w", options={"movflags": "faststart"}) as out:
        source = src.streams.video[0]
        packets = [(bytes(p), p.pts, p.dts, p.is_keyframe) for p in src.demux(source) if p.dts is not None]
        target = out.add_stream_from_template(source)
        period = packets[1][1] - packets[0][1]
        for n in range(seconds // 2):
            shift = n * len(packets) * period
            for data, pts, dts, key in packets:
                packet = av.Packet(data)
                packet.pts, packet.dts, packet.time_base = pts + shift, dts + shift, source.time_base
                packet.is_keyframe, packet.stream = key, target
                out.mux(packet)


def main() -> None:
    from annotators.base import ItemView
    from annotators.media import MediaInfo
    from annotators.probe import probe
    from annotators.surgical import preannotate, video

    seconds = 3600
    out = {"benchmark": "surgical", "video": f"{seconds} s {SIZE[0]}x{SIZE[1]} {FPS} fps H.264 MP4",
           "targets": {"derivatives_x_realtime": ">= 50 (frame index + remux + sprite)",
                       "transcode_x_realtime": ">= 4 (H.265/MKV -> H.264 proxy)"}}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "case.mp4")
        t0 = time.perf_counter()
        one_hour(path, tmp, seconds)
        out["make_test_video_s"] = round(time.perf_counter() - t0, 1)
        out["file_mb"] = round(os.path.getsize(path) / 1e6, 1)
        view = ItemView(id=1, kind="video", media_path=path, media=MediaInfo.from_dict(probe(path)))
        total = 0.0
        for name, make in (("frame_index", video.make_frame_index), ("proxy_remux", video.make_proxy),
                           ("sprite", video.make_sprite)):
            t0 = time.perf_counter()
            make(view, tmp)
            took = time.perf_counter() - t0
            total += took
            out[f"{name}_s"], out[f"{name}_x_realtime"] = round(took, 2), round(seconds / took, 1)
        out["derivatives_s"], out["derivatives_x_realtime"] = round(total, 2), round(seconds / total, 1)
        t0 = time.perf_counter()
        samples = preannotate.keyframe_features(path)
        took = time.perf_counter() - t0
        out["proposals_keyframes"], out["proposals_x_realtime"] = len(samples), round(seconds / took, 1)

        for name, codec, options, container, ext in (
                ("hevc_mkv", "libx265", {"preset": "ultrafast", "x265-params": "log-level=error:keyint=50"},
                 "matroska", "mkv"),
                ("vp9_webm", "libvpx-vp9", {"deadline": "realtime", "cpu-used": "8"}, "webm", "webm")):
            source = os.path.join(tmp, f"source.{ext}")
            encode(source, 60, codec, options, container)
            view = ItemView(id=2, kind="video", media_path=source, media=MediaInfo.from_dict(probe(source)))
            folder = os.path.join(tmp, name)
            os.mkdir(folder)
            t0 = time.perf_counter()
            made = video.make_proxy(view, folder)
            took = time.perf_counter() - t0
            out[f"transcode_{name}_x_realtime"] = round(60 / took, 2)
            out[f"transcode_{name}_made_by"] = made["meta"]["made_by"]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
