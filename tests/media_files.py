"""Small media files made on the spot (PyAV, the wave module, zlib): good ones and the hostile ones users send."""
from __future__ import annotations

import fractions
import math
import struct
import wave
import zlib


def wav(path, seconds: float = 3.0, rate: int = 16000, channels: int = 1, amplitude: float = 8000) -> str:
    frames = int(seconds * rate)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        samples = bytearray()
        for n in range(frames):
            value = int(amplitude * math.sin(2 * math.pi * 440 * n / rate))
            samples += struct.pack("<h", value) * channels
        out.writeframes(bytes(samples))
    return str(path)


def wav_claiming_hours(path, hours: float = 10) -> str:
    """A 2-second WAV whose RIFF and data chunk sizes claim `hours` of audio."""
    wav(path, seconds=2.0)
    with open(path, "r+b") as fh:
        data = bytearray(fh.read())
        claimed = int(hours * 3600 * 16000 * 2)
        at = data.index(b"data")
        data[at + 4:at + 8] = struct.pack("<I", min(claimed, 0xFFFFFFF0))
        data[4:8] = struct.pack("<I", min(claimed + 36, 0xFFFFFFFF))
        fh.seek(0)
        fh.write(data)
    return str(path)


def mp4(path, frames: int = 50, fps: int = 25, size=(160, 120), faststart: bool = False, audio: bool = True) -> str:
    import av
    import numpy as np

    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as out:
        video = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "g": "10"})
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        sound = out.add_stream("aac", rate=16000, layout="mono") if audio else None
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((size[1], size[0], 3), (i * 5) % 255, np.uint8), format="rgb24")
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if sound is not None:
            total = int(frames / fps * 16000)
            t = np.arange(total) / 16000
            pcm = (0.3 * np.sin(2 * np.pi * 330 * t)).astype("float32").reshape(1, -1)
            for start in range(0, total, 1024):
                chunk = av.AudioFrame.from_ndarray(pcm[:, start:start + 1024], format="flt", layout="mono")
                chunk.sample_rate = 16000
                for packet in sound.encode(chunk):
                    out.mux(packet)
            for packet in sound.encode():
                out.mux(packet)
    return str(path)


def truncated(source, path, fraction: float = 0.5) -> str:
    with open(source, "rb") as fh:
        data = fh.read()
    with open(path, "wb") as fh:
        fh.write(data[: int(len(data) * fraction)])
    return str(path)


def png_bomb(path, side: int = 16384) -> str:
    """A tiny PNG (1-bit grey, all black) that decodes to side x side pixels: a decompression bomb."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    row = b"\x00" + b"\x00" * (side // 8)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    with open(path, "wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return str(path)


def with_mark(source, path, mark: bytes) -> str:
    """A valid WAV with a marker in an extra RIFF chunk (the test modality's decoder crashes or hangs on it)."""
    with open(source, "rb") as fh:
        data = bytearray(fh.read())
    extra = b"LIST" + struct.pack("<I", len(mark) + (len(mark) % 2)) + mark + (b"\x00" if len(mark) % 2 else b"")
    at = data.index(b"data")
    data[at:at] = extra
    data[4:8] = struct.pack("<I", len(data) - 8)
    with open(path, "wb") as fh:
        fh.write(bytes(data))
    return str(path)


def long_consultation(path, seconds: int = 3600, rate: int = 8000) -> str:
    """A long telephone-quality recording, small on disk (Opus at 6 kbit/s: ~2 MB an hour, ~4 s to make): turns of
    noisy "speech" and pauses, so the waveform has shape at every zoom."""
    import av
    import numpy as np

    block = rate * 10
    t = np.arange(block) / rate
    rng = np.random.default_rng(7)
    voice = rng.standard_normal(block).astype(np.float32) * 0.2 * np.sin(2 * np.pi * 180 * t).astype(np.float32)
    with av.open(str(path), "w", format="ogg") as out:
        stream = out.add_stream("libopus", rate=rate, layout="mono",
                                options={"compression_level": "0", "application": "lowdelay"})
        stream.bit_rate = 6000
        for n in range(seconds // 10):
            turns = (np.sin(2 * np.pi * 0.4 * t + n) > 0).astype(np.float32) * 0.6 + 0.05
            frame = av.AudioFrame.from_ndarray((voice * turns * 32767).astype(np.int16)[None, :], format="s16",
                                               layout="mono")
            frame.rate, frame.pts = rate, n * block
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return str(path)


def video_at(path, times_s, codec: str = "libx264", container: str | None = None, size=(64, 48),
             options: dict | None = None) -> str:
    """A video whose frame i is shown at times_s[i] (variable frame rate, a start offset...) and is a flat grey of
    (i * 5) % 255. Timestamps in 1/1000 s; libx264 keeps its default B-frames unless options say otherwise."""
    import av
    import numpy as np

    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=25, options=options or {})
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.time_base = stream.codec_context.time_base = fractions.Fraction(1, 1000)
        for i, t in enumerate(times_s):
            frame = av.VideoFrame.from_ndarray(np.full((size[1], size[0], 3), (i * 5) % 255, np.uint8), format="rgb24")
            frame.pts, frame.time_base = int(round(t * 1000)), fractions.Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return str(path)


def long_video(path, seconds: int = 7200, fps: int = 25, size=(64, 48), chunk: int = 50) -> str:
    """A long H.264 MP4 made in seconds: one closed GOP of `chunk` frames (frame j a flat grey of 5 * j, no
    B-frames) encoded once, then its packets muxed again and again with shifted timestamps. Frame k shows grey
    5 * (k % chunk) (in a centre block on a still background when larger than 64 px), so a frame deep in a two-hour video is still checked exactly on its pixels."""
    import io

    import av
    import numpy as np

    gop = io.BytesIO()
    with av.open(gop, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "g": str(chunk), "bf": "0",
                                                              "keyint_min": str(chunk), "sc_threshold": "0"})
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        width, height = size
        for j in range(chunk):
            # A still background with the grey in a centre block: the file stays small at any size.
            picture = np.full((height, width, 3), 40 if width > 64 else 0, np.uint8)
            cy, cx, half = height // 2, width // 2, 16
            picture[max(0, cy - half):cy + half, max(0, cx - half):cx + half] = j * 5 % 255
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = j
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    gop.seek(0)
    with av.open(gop, "r", format="mp4") as src, av.open(str(path), "w", options={"movflags": "faststart"}) as out:
        source = src.streams.video[0]
        packets = [(bytes(p), p.pts, p.dts, p.is_keyframe) for p in src.demux(source) if p.dts is not None]
        target = out.add_stream_from_template(source)
        period = packets[1][1] - packets[0][1] if len(packets) > 1 else 1  # one frame in the stream's time base
        for n in range(seconds * fps // chunk):
            shift = n * chunk * period
            for data, pts, dts, key in packets:
                packet = av.Packet(data)
                packet.pts, packet.dts, packet.time_base = pts + shift, dts + shift, source.time_base
                packet.is_keyframe, packet.stream = key, target
                out.mux(packet)
    return str(path)


def phone_video(path, frames: int = 30, fps: int = 25, size=(64, 48), clockwise: int = 90,
                codec: str = "libx264") -> str:
    """An H.264 MP4 filmed "sideways", as phones write them: coded landscape, with a track matrix telling the player
    to turn it `clockwise` degrees. The top half of every frame is white and the bottom black, so a player that
    honours the matrix shows white on the right (90) or left (270). FFmpeg 8 no longer writes the old `rotate` tag,
    so the matrix is patched into the `tkhd` box the way a phone's muxer writes it."""
    import av
    import numpy as np

    with av.open(str(path), "w", options={"movflags": "faststart"}) as out:
        options = {"preset": "ultrafast", "g": "10", "bf": "0"} if codec == "libx264" else \
            {"preset": "ultrafast", "x265-params": "log-level=error:keyint=10:bframes=0"}
        stream = out.add_stream(codec, rate=fps, options=options)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for _ in range(frames):
            picture = np.zeros((size[1], size[0], 3), np.uint8)
            picture[: size[1] // 2] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    one, w, h = 0x10000, size[0] << 16, size[1] << 16
    a, b, c, d, tx, ty = {90: (0, one, -one, 0, h, 0), 180: (-one, 0, 0, -one, w, h),
                          270: (0, -one, one, 0, 0, w)}[clockwise]
    matrix = struct.pack(">9i", a, b, 0, c, d, 0, tx, ty, 0x40000000)
    with open(path, "r+b") as fh:
        data = fh.read()
        at = data.index(b"tkhd")
        version = data[at + 4]
        offset = at + 4 + 4 + (32 if version == 1 else 20) + 8 + 8  # past the times, ids, reserved, layer...volume
        fh.seek(offset)
        fh.write(matrix)
    return str(path)
