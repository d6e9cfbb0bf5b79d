"""Probing an untrusted media file with PyAV (FFmpeg's libraries from the wheel; no ffmpeg binary assumed).

Runs inside the sandboxed child (annotators/sandbox_child.py, started by server/sandbox.py), never in the web or
worker process. Durations and frame counts are measured from demuxed packets, not taken from the header: a WAV
header may claim 10 hours over 2 seconds of data, and WebM headers carry no frame count at all.
Messages never quote the file path or metadata (file names and tags may hold PHI).
"""
from __future__ import annotations

import math
import os

from annotators.media import MediaInfo

MAX_PIXELS = 40_000_000  # 8K UHD is 33 MP; a 16k x 16k "decompression bomb" frame is 268 MP


def _ffmpeg_reason(exc: Exception) -> str:
    reason = getattr(exc, "strerror", None) or type(exc).__name__
    return str(reason)[:200]


def _first_frame(container, stream):
    try:
        for frame in container.decode(stream):
            return frame
    except Exception:  # noqa: BLE001 - undecodable first frame is reported by the caller
        return None
    return None


def probe(path: str, max_pixels: int = MAX_PIXELS) -> dict:
    """MediaInfo of the file as a dict. Raises ValueError with a message a person can act on."""
    import av

    size = os.path.getsize(path)
    if size == 0:
        raise ValueError("the file is empty (0 bytes)")
    try:
        container = av.open(path, metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise ValueError(f"not a readable audio or video file ({_ffmpeg_reason(exc)})") from None
    with container:
        info = MediaInfo(container=container.format.name or "")
        video = next((s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic),
                     None)
        audio = container.streams.audio[0] if container.streams.audio else None
        if video is None and audio is None:
            raise ValueError("the file has no audio or video stream")
        if container.duration:
            info.header_duration_ms = int(container.duration // 1000)
        info.bit_rate = int(container.bit_rate) if container.bit_rate else None
        if audio is not None:
            ctx = audio.codec_context
            info.has_audio, info.audio_codec = True, ctx.name
            info.sample_rate, info.channels = int(ctx.sample_rate or 0) or None, int(ctx.channels or 0) or None
        if video is not None:
            ctx = video.codec_context
            info.has_video, info.video_codec = True, ctx.name
            info.width, info.height = int(ctx.width or 0) or None, int(ctx.height or 0) or None
            if info.width and info.height and info.width * info.height > max_pixels:
                raise ValueError(f"frame size {info.width}x{info.height} is larger than the limit of "
                                 f"{max_pixels // 1_000_000} megapixels")
            rate = video.average_rate or video.guessed_rate or video.base_rate
            if rate:
                info.fps_num, info.fps_den = int(rate.numerator), int(rate.denominator)
        _measure(container, video, audio, info, size)
        if video is not None:
            container.seek(0)
            frame = _first_frame(container, video)
            if frame is None:
                raise ValueError(f"the video stream ({info.video_codec}) cannot be decoded")
            if frame.width * frame.height > max_pixels:  # headers that did not say (image streams)
                raise ValueError(f"frame size {frame.width}x{frame.height} is larger than the limit of "
                                 f"{max_pixels // 1_000_000} megapixels")
            info.width, info.height = info.width or frame.width, info.height or frame.height
            info.rotation = -int(getattr(frame, "rotation", 0) or 0) % 360  # PyAV: counterclockwise; ours: clockwise
    if info.duration_ms <= 0 and not info.frame_count:
        raise ValueError("the file holds no audio or video data (truncated or empty stream)")
    return info.to_dict()


def _measure(container, video, audio, info: MediaInfo, file_size: int) -> None:
    """Duration from the packets actually present; video frames counted from packets (B-frames reorder pts, so
    take min and max, never the first and last)."""
    streams = [s for s in (video, audio) if s is not None]
    start, end = math.inf, -math.inf
    frames = 0
    try:
        for packet in container.demux(streams):
            if packet.size == 0 or packet.pts is None:
                continue
            if packet.pos is not None and packet.pos >= 0 and packet.pos + packet.size > file_size:
                info.warnings.append(f"the file is cut short: data ends at {max(end, 0):.1f} s")
                break
            tb = packet.time_base
            t0 = float(packet.pts * tb)
            t1 = t0 + float((packet.duration or 0) * tb)
            start, end = min(start, t0), max(end, t1)
            if video is not None and packet.stream.index == video.index:
                frames += 1
    except Exception as exc:  # noqa: BLE001 - truncated data: keep what was readable, say where it stopped
        info.warnings.append(f"data is damaged or cut after {max(end, 0):.1f} s ({_ffmpeg_reason(exc)})")
    if start is math.inf:
        return
    info.start_ms = int(round(start * 1000))
    info.duration_ms = int(round((end - start) * 1000))
    if video is not None:
        info.frame_count = frames
    claimed = info.header_duration_ms
    if claimed and info.duration_ms and claimed > info.duration_ms * 1.05 + 1000:
        info.warnings.append(f"header claims {claimed / 1000:.0f} s, the data holds {info.duration_ms / 1000:.1f} s")
