"""The surgical modality's derived assets, built in the server's sandboxed child (module-level functions).

- `frames`: the frame index. Frame numbers come from the demuxed packets' presentation timestamps, sorted (B-frames
  arrive in decode order), never from time x fps: variable frame rates, start offsets and edit lists stay right.
- `proxy`: what the browser plays. An H.264 MP4/MOV is remuxed (no re-encode: same frames, same timestamps,
  `moov` moved to the front); anything else is encoded to H.264 <= 720p with a keyframe every second (frame-accurate
  seeking) and the source's timestamps kept, so the frame index maps the player's `mediaTime` to frame numbers.
  Rotation (phones): a remux keeps the display matrix, which the browser honours; an encode turns the pixels.
  Neither carries the source's tags (creation time, GPS, make/model, handler names: `clean_metadata`), data tracks
  or, in a remux, its H.264 SEI messages (cameras write serial numbers and settings there; x264 its options).
- `sprite`: thumbnails for the timeline, one JPEG grid (at most 200 thumbnails).
"""
from __future__ import annotations

import json
import math
import os
from fractions import Fraction

import numpy as np

MAX_PROXY_HEIGHT = 720
SPRITE_COLUMNS = 10
SPRITE_MAX = 200
THUMB_WIDTH = 160
_REMUXABLE = ("mov,mp4,m4a,3gp,3g2,mj2",)


def _video_stream(container):
    if not container.streams.video:
        raise ValueError("the file has no video stream")
    return container.streams.video[0]


def make_frame_index(view, out_dir: str) -> dict:
    import av

    with av.open(view.media_path) as container:
        stream = _video_stream(container)
        time_base = stream.time_base
        pts, keys = [], []
        for packet in container.demux(stream):
            if packet.size == 0 or packet.pts is None:
                continue  # the flush packet; a packet without pts is not presented
            pts.append(packet.pts)
            keys.append(bool(packet.is_keyframe))
        rate = stream.average_rate or stream.guessed_rate
        rotation = int(getattr(view.media, "rotation", 0) or 0) if view.media else 0
        width, height = stream.codec_context.width, stream.codec_context.height
    if not pts:
        raise ValueError("the video stream holds no frames")
    order = np.argsort(np.asarray(pts, dtype=np.int64), kind="stable")
    ordered = np.asarray(pts, dtype=np.int64)[order]
    keyframes = [int(i) for i, k in enumerate(np.asarray(keys)[order]) if k]
    first = int(ordered[0])
    relative = (ordered - first).tolist()
    seconds = float((ordered[-1] - first) * time_base) if len(ordered) > 1 else 0.0
    steps = np.diff(ordered) * float(time_base)
    measured = (len(ordered) - 1) / seconds if seconds > 0 else None
    index = {"version": 1, "frames": len(relative), "time_base": [time_base.numerator, time_base.denominator],
             "offset_s": round(float(first * time_base), 6),  # the player's mediaTime of frame 0
             "pts": relative, "keyframes": keyframes,
             "fps_nominal": [rate.numerator, rate.denominator] if rate else None,
             "fps_measured": round(measured, 4) if measured else None,
             "variable_frame_rate": bool(len(steps) > 1 and float(steps.max() - steps.min()) > float(time_base) * 2),
             "width": width, "height": height, "rotation": rotation}
    with open(os.path.join(out_dir, "frames.json"), "w", encoding="utf-8") as fh:
        json.dump(index, fh, separators=(",", ":"))
    meta = {k: index[k] for k in ("frames", "offset_s", "fps_nominal", "fps_measured", "variable_frame_rate",
                                  "width", "height", "rotation")}
    return {"file": "frames.json", "media_type": "application/json", "meta": meta}


def _rotation(view) -> int:
    return int(getattr(view.media, "rotation", 0) or 0) % 360 if view.media else 0


def remuxable(info) -> bool:
    return bool(info and info.video_codec == "h264" and info.container in _REMUXABLE)


def make_proxy(view, out_dir: str) -> dict:
    path = os.path.join(out_dir, "proxy.mp4")
    if remuxable(view.media):
        _remux(view.media_path, path)
        how = "remux"
    else:
        _encode(view.media_path, path, _rotation(view))
        how = "h264"
    return {"file": "proxy.mp4", "media_type": "video/mp4", "meta": {"made_by": how}}


def clean_metadata(container) -> None:
    """No tag of the source reaches a file we write: the output container's and every stream's metadata emptied
    (PyAV does not copy them today; this keeps it so if it ever does). The MP4 muxer then writes only its own
    `encoder` tag ("Lavf...": says nothing about the recording), generic handler names and zero creation times in
    mvhd/tkhd/mdhd, as it does when no `creation_time` is given."""
    container.metadata.clear()
    for stream in container.streams:
        stream.metadata.clear()


def _remux(source: str, target: str) -> None:
    import av
    from av.bitstream import BitStreamFilterContext

    with av.open(source) as src, av.open(target, "w", format="mp4", options={"movflags": "faststart"}) as out:
        video = _video_stream(src)
        streams = {video.index: out.add_stream_from_template(video)}
        if src.streams.audio and src.streams.audio[0].codec_context.name == "aac":
            audio = src.streams.audio[0]
            streams[audio.index] = out.add_stream_from_template(audio)
        clean_metadata(out)
        # SEI NAL units (type 6) dropped: user-data SEI carries camera serials and settings. Decoding needs none
        # of them here (every proxy that is remuxed starts with an IDR frame, as H.264 MP4s from cameras do).
        sei = BitStreamFilterContext("filter_units=remove_types=6", video, streams[video.index])
        for packet in src.demux(*[s for s in src.streams if s.index in streams]):
            if packet.stream.index == video.index:
                packets = sei.filter(packet if packet.size else None)  # the empty packet flushes the filter
            else:
                packets = [packet]
            for out_packet in packets:
                if out_packet.dts is None:
                    continue
                out_packet.stream = streams[packet.stream.index]
                out.mux(out_packet)


def _proxy_size(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, MAX_PROXY_HEIGHT / max(1, height))
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def upright(rgb: np.ndarray, clockwise: int) -> np.ndarray:
    """A decoded picture as the viewer must see it (the container's display matrix applied)."""
    turns = {90: -1, 180: 2, 270: 1}.get(clockwise % 360, 0)  # np.rot90 turns counterclockwise
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def _encode(source: str, target: str, clockwise: int = 0) -> None:
    """Encode to H.264; a rotated source (a phone held upright) is turned upright in the pixels, since the new
    stream carries no display matrix."""
    import av

    with av.open(source) as src, av.open(target, "w", format="mp4", options={"movflags": "faststart"}) as out:
        video = _video_stream(src)
        rate = video.average_rate or video.guessed_rate or Fraction(25)
        coded_w, coded_h = video.codec_context.width, video.codec_context.height
        turned = clockwise % 180 == 90
        width, height = _proxy_size(coded_h, coded_w) if turned else _proxy_size(coded_w, coded_h)
        stream = out.add_stream("libx264", rate=rate,
                                options={"preset": "ultrafast", "g": str(max(1, round(float(rate)))),
                                         "bf": "0", "crf": "26"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = video.time_base  # the source's timestamps, so the frame index stays valid
        clean_metadata(out)
        for frame in src.decode(video):
            if frame.pts is None:
                continue
            if clockwise % 360:
                rgb = upright(frame.reformat(width=height if turned else width, height=width if turned else height,
                                             format="rgb24").to_ndarray(), clockwise)
                picture = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            else:
                picture = frame.reformat(width=width, height=height, format="yuv420p")
            picture.pts, picture.time_base = frame.pts, video.time_base
            for packet in stream.encode(picture):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def make_sprite(view, out_dir: str) -> dict:
    """Thumbnails at even intervals (seeking to the keyframe before each time and decoding up to it)."""
    import av

    duration_s = max(0.001, (view.media.duration_ms if view.media else 0) / 1000)
    count = max(1, min(SPRITE_MAX, math.ceil(duration_s)))
    interval = duration_s / count
    thumbs = []
    with av.open(view.media_path) as container:
        stream = _video_stream(container)
        clockwise = _rotation(view)  # thumbnails upright, like the player shows the video
        width, height = stream.codec_context.width, stream.codec_context.height
        if clockwise % 180 == 90:
            width, height = height, width
        thumb_w = THUMB_WIDTH
        thumb_h = max(2, int(round(height * thumb_w / max(1, width))) // 2 * 2)
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        for n in range(count):
            wanted = start + n * interval
            container.seek(int(wanted / stream.time_base), stream=stream, backward=True, any_frame=False)
            picture = None
            for frame in container.decode(stream):
                picture = frame
                if frame.time is not None and frame.time >= wanted - 1e-6:
                    break
            if picture is None:
                break
            turned = clockwise % 180 == 90
            thumbs.append(upright(picture.reformat(width=thumb_h if turned else thumb_w,
                                                   height=thumb_w if turned else thumb_h,
                                                   format="rgb24").to_ndarray(), clockwise))
    if not thumbs:
        raise ValueError("no frame could be decoded for the thumbnails")
    rows = math.ceil(len(thumbs) / SPRITE_COLUMNS)
    grid = np.zeros((rows * thumb_h, SPRITE_COLUMNS * thumb_w, 3), dtype=np.uint8)
    for n, thumb in enumerate(thumbs):
        r, c = divmod(n, SPRITE_COLUMNS)
        grid[r * thumb_h:(r + 1) * thumb_h, c * thumb_w:(c + 1) * thumb_w] = thumb
    with open(os.path.join(out_dir, "sprite.jpg"), "wb") as fh:
        fh.write(_jpeg(grid))
    return {"file": "sprite.jpg", "media_type": "image/jpeg",
            "meta": {"count": len(thumbs), "interval_s": round(interval, 4), "columns": SPRITE_COLUMNS,
                     "thumb_width": thumb_w, "thumb_height": thumb_h}}


def _jpeg(rgb: np.ndarray) -> bytes:
    import av

    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height, codec.pix_fmt = rgb.shape[1], rgb.shape[0], "yuvj420p"
    codec.time_base = Fraction(1, 25)
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuvj420p")
    data = b"".join(bytes(p) for p in codec.encode(frame)) + b"".join(bytes(p) for p in codec.encode(None))
    return data
