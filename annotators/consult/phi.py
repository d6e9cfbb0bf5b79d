"""PHI in consultations: the notes modality's detector (Presidio + clinical recognizers, annotators/notes/phi.py)
runs over the transcript; each PHI span is kept on its segment with character offsets into the segment's text and
the time range of the words it covers. From those come a de-identified transcript and a redacted recording, where
PHI words (plus a margin) are replaced by a tone or silence.

Fail closed: an export re-detects PHI on the text as it is at export time and unions it with the spans people
kept, so a word typed after pre-annotation is not let through; a detector failure fails the export.
"""
from __future__ import annotations

import wave
from typing import BinaryIO

import numpy as np

from annotators.consult.audio import MODEL_RATE

DEFAULT_MARGIN_MS = 150
TONE_HZ = 1000
TONE_LEVEL = 0.1  # -20 dBFS: audible as a bleep, never louder than the speech around it
BLOCK_SAMPLES = MODEL_RATE * 30


def word_offsets(segment: dict) -> list[tuple[int, int, dict]] | None:
    """(start, end) character offsets of each timed word in the segment's text; None when the text was edited and
    the words no longer spell it."""
    text, cursor, out = segment.get("text", ""), 0, []
    for word in segment.get("words") or []:
        token = word["text"].strip()
        if not token:
            continue
        at = text.find(token, cursor)
        if at < 0:
            return None
        out.append((at, at + len(token), word))
        cursor = at + len(token)
    return out if out else None


def time_range(segment: dict, start: int, end: int) -> tuple[int, int]:
    """Milliseconds spoken by characters [start, end) of the segment's text: from its words' timestamps, else
    proportionally to the position in the text (a transcript typed by a person has no word times)."""
    words = word_offsets(segment)
    if words:
        covered = [w for a, b, w in words if a < end and b > start]
        if covered:
            return min(w["start_ms"] for w in covered), max(w["end_ms"] for w in covered)
    length = max(1, len(segment.get("text", "")))
    span = segment["end_ms"] - segment["start_ms"]
    return (segment["start_ms"] + span * start // length,
            max(segment["start_ms"] + span * end // length, segment["start_ms"] + span * start // length + 1))


def detect(payload: dict, detector=None) -> dict:
    """The payload with `phi` spans on its segments (replacing model spans; spans a person added are kept).
    Raises annotators.notes.phi.PhiError when detection fails."""
    from annotators.notes.phi import get_default_detector

    detector = detector or get_default_detector()
    segments = payload.get("segments", [])
    # One text for the detector, a line per segment: names and dates keep the context of the sentence they are in.
    starts, parts, cursor = [], [], 0
    for seg in segments:
        starts.append(cursor)
        parts.append(seg.get("text", ""))
        cursor += len(seg.get("text", "")) + 1
    found = detector.detect("\n".join(parts), id_prefix="phi") if parts else []
    out = []
    for index, seg in enumerate(segments):
        base, text = starts[index], seg.get("text", "")
        mine = [dict(p) for p in seg.get("phi") or [] if p.get("source") == "human"]
        for span in found:
            if base <= span["start"] and span["end"] <= base + len(text):
                start, end = span["start"] - base, span["end"] - base
                start_ms, end_ms = time_range(seg, start, end)
                mine.append({"start": start, "end": end, "label": span["label"], "start_ms": start_ms,
                             "end_ms": end_ms, "score": span.get("score", 1.0), "source": "model"})
        seg = {**seg}
        seg.pop("phi", None)
        if mine:
            seg["phi"] = sorted(mine, key=lambda p: p["start"])
        out.append(seg)
    return {**payload, "segments": out}


def _at_export(payload: dict) -> dict:
    """Spans people kept, plus what the detector finds in the text as it is now (fail closed)."""
    return detect(payload)


def deidentified_lines(payload: dict) -> list[str]:
    from annotators.consult.formats import format_time
    from annotators.notes.deid import deidentify

    names = {s["id"]: (s.get("role") or s["id"]) for s in payload.get("speakers", [])}  # roles, never names
    lines = []
    for seg in sorted(_at_export(payload)["segments"], key=lambda s: s["start_ms"]):
        spans = [{"start": p["start"], "end": p["end"], "label": p["label"], "layer": "phi"}
                 for p in seg.get("phi") or [] if 0 <= p["start"] < p["end"] <= len(seg.get("text", ""))]
        text = deidentify(seg.get("text", ""), spans, mode="mask")
        who = names.get(seg.get("speaker") or "", seg.get("speaker") or "?")
        text = " ".join(text.split())
        lines.append(f"[{format_time(seg['start_ms'])}] {who}: {text}")
    return lines


def redaction_ranges(payload: dict, margin_ms: int = DEFAULT_MARGIN_MS) -> list[tuple[int, int]]:
    """Merged (start_ms, end_ms) of every PHI span, widened by the margin on both sides."""
    ranges = sorted((max(0, p["start_ms"] - margin_ms), p["end_ms"] + margin_ms)
                    for seg in _at_export(payload)["segments"] for p in seg.get("phi") or [])
    merged: list[list[int]] = []
    for start, end in ranges:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged]


def write_redacted_wav(pcm_path: str, channels: int, ranges: list[tuple[int, int]], fh: BinaryIO,
                       fill: str = "tone") -> None:
    """The recording (the sandbox-decoded 16 kHz PCM, every channel) as WAV with `ranges` replaced. The PCM is
    memory-mapped and written in 30-second blocks: a 3-hour recording is never held in memory."""
    raw = np.memmap(pcm_path, dtype="<i2", mode="r")
    total = raw.shape[0] // channels
    with wave.open(fh, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(MODEL_RATE)
        for block_start in range(0, total, BLOCK_SAMPLES):
            stop = min(total, block_start + BLOCK_SAMPLES)
            block = np.array(raw[block_start * channels:stop * channels]).reshape(-1, channels)
            for start_ms, end_ms in ranges:
                a = max(block_start, start_ms * MODEL_RATE // 1000)
                b = min(stop, -(-end_ms * MODEL_RATE // 1000))
                if b <= a:
                    continue
                if fill == "silence":
                    block[a - block_start:b - block_start] = 0
                else:
                    t = np.arange(a, b) / MODEL_RATE
                    tone = np.round(TONE_LEVEL * 32767 * np.sin(2 * np.pi * TONE_HZ * t)).astype("<i2")
                    block[a - block_start:b - block_start] = tone[:, None]
            out.writeframes(block.astype("<i2").tobytes())


# ------------------------------------------------------------------------------------------------ exporters
def write_deidentified(pairs, label_config: dict, fh: BinaryIO) -> None:
    """A zip of one text transcript per item, PHI masked ([NAME], [DATE] ...), speakers by role only."""
    import zipfile

    with zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as archive:
        for view, payload in pairs:
            if payload:
                archive.writestr(f"item-{view.id}.txt", "\n".join(deidentified_lines(payload)) + "\n")


def write_redacted_audio(pairs, label_config: dict, fh: BinaryIO) -> None:
    """A zip of one WAV per item (16 kHz, every channel) with PHI words and the project's margin replaced by a tone
    or silence. Items whose decoded audio is missing are listed in MISSING.txt instead of failing the export."""
    import os
    import tempfile
    import zipfile

    options = (label_config or {}).get("redaction") or {}
    margin, fill = int(options.get("margin_ms", DEFAULT_MARGIN_MS)), options.get("fill", "tone")
    missing = []
    with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for view, payload in pairs:
            pcm = view.assets.get("pcm16k")
            if not payload:
                continue
            if not pcm or not os.path.exists(pcm):
                missing.append(f"item-{view.id}: no decoded audio (the item is not ready)")
                continue
            channels = max(1, int((view.media.channels if view.media else 1) or 1))
            ranges = redaction_ranges(payload, margin)
            fd, tmp = tempfile.mkstemp(suffix=".wav")
            try:
                with os.fdopen(fd, "wb") as out:
                    write_redacted_wav(pcm, channels, ranges, out, fill)
                archive.write(tmp, f"item-{view.id}.wav")
            finally:
                os.unlink(tmp)
        if missing:
            archive.writestr("MISSING.txt", "\n".join(missing) + "\n")
