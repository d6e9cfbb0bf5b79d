"""A time-based media modality defined only in tests ("clips"): it proves the media core (sandboxed probe,
derivatives stored as assets, progress in media seconds, checkpoints) works for a modality the server has never
heard of. Derivative functions are module-level so the sandboxed child can import them."""
from __future__ import annotations

import ctypes
import json
import os
import time

from annotators.base import IngestedItem, ItemRejected, Modality, Prediction
from annotators.media import Derivative, MediaInfo

CRASH_MARK = b"CRASH-THE-DECODER"
HANG_MARK = b"HANG-THE-DECODER"


def make_peaks(view, out_dir: str) -> dict:
    """Min/max per 10 ms of the first audio channel, decoded with PyAV (real decoding, in the sandbox)."""
    import av
    import numpy as np

    with open(view.media_path, "rb") as fh:
        head = fh.read(4096)
    if CRASH_MARK in head:
        ctypes.string_at(0)  # a NULL read in native code: the process dies with SIGSEGV, as a buggy decoder would
    if HANG_MARK in head:
        time.sleep(3600)
    peaks: list[list[float]] = []
    with av.open(view.media_path) as container:
        if not container.streams.audio:
            raise ValueError("no audio stream")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=8000)
        samples = []
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                samples.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            samples.append(out.to_ndarray().reshape(-1))
    data = np.concatenate(samples) if samples else np.zeros(0, dtype="float32")
    window = 80
    usable = len(data) // window * window
    blocks = data[:usable].reshape(-1, window)
    peaks = np.stack([blocks.min(axis=1), blocks.max(axis=1)], axis=1).round(4).tolist() if usable else []
    with open(os.path.join(out_dir, "peaks.json"), "w") as fh:
        json.dump({"samples_per_peak": window, "rate": 8000, "peaks": peaks}, fh)
    return {"file": "peaks.json", "media_type": "application/json", "meta": {"count": len(peaks)}}


def make_summary(view, out_dir: str) -> str:
    """A derivative that only reads the probe's facts (no decoding)."""
    with open(os.path.join(out_dir, "summary.txt"), "w") as fh:
        fh.write(f"{view.media.duration_ms} ms, {view.media.channels or 0} channels")
    return "summary.txt"


class SecondsCounter:
    """A pre-annotator over media: one segment per second, reported as media-second progress with a checkpoint
    every `checkpoint_every` seconds; `fail_after` checkpoints it raises once (a worker lost mid-file)."""

    name = "seconds"
    version = "1"
    wants_gpu = False
    batch_size = 1
    checkpoint_every = 2
    fail_after: int | None = None
    setups = 0
    resumed_from: list = []

    def setup(self, device, label_config, params=None, resources=None):
        type(self).setups += 1

    def predict(self, items, report):
        out = []
        for view in items:
            total = (view.media.duration_ms if view.media else 0) // 1000
            resumed = report.resume(view.id)
            segments, start = (resumed[0]["segments"], resumed[1]["next"]) if resumed else ([], 0)
            type(self).resumed_from.append(start)
            for second in range(start, total):
                segments.append({"start_ms": second * 1000, "end_ms": (second + 1) * 1000, "label": "tick"})
                report.progress(second + 1, total, unit="seconds")
                if (second + 1) % self.checkpoint_every == 0:
                    report.checkpoint(view.id, {"segments": segments}, {"next": second + 1})
                    if type(self).fail_after is not None:
                        type(self).fail_after -= 1
                        if type(self).fail_after <= 0:
                            type(self).fail_after = None
                            raise RuntimeError("worker lost (simulated)")
            out.append(Prediction(item_id=view.id, payload={"segments": segments}, score=0.5))
        return out


class Clips(Modality):
    name = "clips"
    title = "Clips (tests)"
    item_kinds = ("clip",)
    accepts = (".wav", ".mp3", ".mp4", ".bin", ".png", ".webm")
    probe_media = True
    label_config_schema = {"type": "object"}
    payload_schema = {"type": "object", "properties": {"segments": {"type": "array"}}, "required": ["segments"]}
    default_label_config = {}

    def ingest(self, item, label_config):
        if not item.size:
            raise ItemRejected(f"{item.name}: the file is empty (0 bytes)")
        return [IngestedItem(kind="clip", media_path=item.path, media_type="application/octet-stream")]

    def check_media(self, info: MediaInfo, label_config):
        if not info.has_audio and not info.has_video:
            raise ItemRejected("no audio or video")

    def derivatives(self):
        return [Derivative("peaks", make_peaks, media_type="application/json", when=lambda info: info.has_audio),
                Derivative("summary", make_summary, media_type="text/plain", sandboxed=False)]

    def preannotators(self, label_config):
        return [SecondsCounter()]

    def agree(self, a, b, item, label_config):
        return {"agreement": 1.0 if a == b else 0.0}

    def agree_many(self, annotations, label_config):
        from annotators.agreement import AgreementReport

        return AgreementReport(overall={"agreement": 1.0})

    def merge(self, payloads, item, label_config):
        return payloads[0]


def allocate(megabytes: int) -> int:
    """Sandbox limit checks: grab memory like a decoder handed a bomb."""
    block = bytearray(megabytes * 1024 * 1024)
    return len(block)


def spin() -> None:
    while True:
        pass
