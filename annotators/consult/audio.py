"""The consult modality's derived assets, built in the server's sandboxed child (module-level functions):
waveform peaks per channel at several resolutions (the browser never decodes the whole file), 16 kHz PCM per
channel for the models (decoding untrusted files stays in the sandbox), and an Opus proxy only when the source is
not playable in a browser. Everything streams: a 3-hour file is never held in memory as samples."""
from __future__ import annotations

import json
import os

import numpy as np

PEAK_RATE = 8000
BASE_WINDOW = 80  # samples at 8 kHz: one min/max pair per 10 ms
LEVEL_FACTORS = (1, 4, 16, 64, 256)  # 10 ms, 40 ms, 160 ms, 640 ms, 2.56 s per pair
MODEL_RATE = 16000

# (container, codec) pairs Chromium plays as they are; anything else gets a proxy.
_PLAYABLE_CODECS = {"pcm_s16le", "pcm_u8", "pcm_f32le", "pcm_s24le", "pcm_s32le", "mp3", "aac", "opus", "vorbis",
                    "flac"}
_PLAYABLE_CONTAINERS = ("wav", "mp3", "ogg", "flac", "matroska,webm", "mov,mp4,m4a,3gp,3g2,mj2")


def browser_playable(info) -> bool:
    return bool(info and info.audio_codec in _PLAYABLE_CODECS and info.container in _PLAYABLE_CONTAINERS
                and (info.channels or 1) <= 2)


def needs_proxy(info) -> bool:
    return info is not None and info.has_audio and not browser_playable(info)


def _frames(path: str, rate: int, fmt: str):
    """Decoded audio of the first audio stream, resampled to `rate`, as (channels, samples) arrays."""
    import av

    with av.open(path) as container:
        if not container.streams.audio:
            raise ValueError("the file has no audio stream")
        stream = container.streams.audio[0]
        layout = stream.layout.name if stream.layout and stream.codec_context.channels else "mono"
        resampler = av.AudioResampler(format=fmt, layout=layout, rate=rate)
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                yield out.to_ndarray()
        for out in resampler.resample(None):
            yield out.to_ndarray()


def make_peaks(view, out_dir: str) -> dict:
    channels: list[list[np.ndarray]] | None = None
    rest: np.ndarray | None = None
    samples = 0
    for block in _frames(view.media_path, PEAK_RATE, "fltp"):
        block = block.reshape(block.shape[0], -1)
        samples += block.shape[1]
        data = block if rest is None else np.concatenate([rest, block], axis=1)
        usable = data.shape[1] // BASE_WINDOW * BASE_WINDOW
        if channels is None:
            channels = [[] for _ in range(data.shape[0])]
        if usable:
            windows = data[:, :usable].reshape(data.shape[0], -1, BASE_WINDOW)
            pairs = np.stack([windows.min(axis=2), windows.max(axis=2)], axis=2)  # (channels, n, 2)
            for c in range(data.shape[0]):
                channels[c].append(pairs[c])
        rest = data[:, usable:]
    if channels is None:
        raise ValueError("no audio could be decoded")
    if rest is not None and rest.shape[1]:
        tail = np.stack([rest.min(axis=1), rest.max(axis=1)], axis=1)[:, None, :]
        for c in range(rest.shape[0]):
            channels[c].append(tail[c])
    base = [np.concatenate(parts) if parts else np.zeros((0, 2), "float32") for parts in channels]
    levels = []
    for factor in LEVEL_FACTORS:
        per_channel = []
        for pairs in base:
            n = len(pairs) // factor * factor
            if factor > 1 and n:
                grouped = pairs[:n].reshape(-1, factor, 2)
                pairs = np.stack([grouped[:, :, 0].min(axis=1), grouped[:, :, 1].max(axis=1)], axis=1)
            # int8 min/max interleaved: compact JSON that wavesurfer-style renderers take as peaks.
            per_channel.append(np.clip(np.round(pairs * 127), -127, 127).astype(int).reshape(-1).tolist())
        levels.append({"ms_per_peak": 10 * factor, "channels": per_channel})
    out = {"rate": PEAK_RATE, "channels": len(base), "duration_ms": int(samples * 1000 / PEAK_RATE),
           "scale": 127, "levels": levels}
    with open(os.path.join(out_dir, "peaks.json"), "w") as fh:
        json.dump(out, fh, separators=(",", ":"))
    return {"file": "peaks.json", "media_type": "application/json",
            "meta": {"channels": len(base), "duration_ms": out["duration_ms"],
                     "levels": [lv["ms_per_peak"] for lv in levels]}}


def make_pcm(view, out_dir: str) -> dict:
    """16 kHz signed 16-bit samples, channels interleaved, for transcription, speaker embeddings and redaction."""
    path = os.path.join(out_dir, "pcm16k.s16")
    count = 0
    with open(path, "wb") as fh:
        for block in _frames(view.media_path, MODEL_RATE, "s16"):
            block = block.reshape(-1)
            fh.write(block.astype("<i2").tobytes())
            count += block.shape[0]
    channels = max(1, int((view.media.channels if view.media else 1) or 1))
    return {"file": "pcm16k.s16", "media_type": "application/octet-stream",
            "meta": {"rate": MODEL_RATE, "channels": channels, "format": "s16le interleaved",
                     "samples": count // channels}}


def make_proxy(view, out_dir: str) -> dict:
    """Opus in WebM (stereo at most), for sources a browser cannot play (AMR, WMA, 6-channel PCM ...)."""
    import av

    path = os.path.join(out_dir, "proxy.webm")
    with av.open(path, "w", format="webm") as out:
        stream = out.add_stream("libopus", rate=48000)
        stream.layout = "stereo" if (view.media.channels or 1) >= 2 else "mono"
        for block in _frames(view.media_path, 48000, "fltp"):
            block = block.reshape(block.shape[0], -1)
            if block.shape[0] > 2:
                block = np.stack([block[0::2].mean(axis=0), block[1::2].mean(axis=0)])
            if stream.layout.name == "mono" and block.shape[0] > 1:
                block = block.mean(axis=0, keepdims=True)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block, dtype="float32"), format="fltp",
                                               layout=stream.layout.name)
            frame.sample_rate = 48000
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return {"file": "proxy.webm", "media_type": "audio/webm", "meta": {"codec": "opus"}}


def read_pcm(path: str, channels: int) -> np.ndarray:
    """The pcm16k asset as float32 in [-1, 1], shape (channels, samples)."""
    raw = np.memmap(path, dtype="<i2", mode="r")
    usable = raw.shape[0] // channels * channels
    return (np.asarray(raw[:usable]).reshape(-1, channels).T.astype("float32") / 32768.0)
