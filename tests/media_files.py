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
