"""Agreement between two transcripts: WER and CER (jiwer) after a documented normalisation, and how much of the
time both give the same speaker (under the best one-to-one mapping of their speaker names, as DER does).

Normalisation (both sides): Unicode NFKC, lower case, apostrophes kept inside words, every other punctuation mark
removed, whitespace collapsed. "Dr. Smith's" and "dr smith's" are the same words.
"""
from __future__ import annotations

import re
import unicodedata

import numpy as np

_PUNCT = re.compile(r"[^\w\s']|(?<!\w)'|'(?!\w)")


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").lower()
    return " ".join(_PUNCT.sub(" ", text).split())


def transcript(payload: dict) -> str:
    return normalise(" ".join(s.get("text", "") for s in sorted(payload.get("segments", []),
                                                                  key=lambda s: (s["start_ms"], s["id"]))))


def wer_cer(reference: dict, hypothesis: dict) -> tuple[float, float]:
    import jiwer

    ref, hyp = transcript(reference), transcript(hypothesis)
    if not ref:
        return (0.0, 0.0) if not hyp else (1.0, 1.0)
    return float(jiwer.wer(ref, hyp)), float(jiwer.cer(ref, hyp))


def _speaker_frames(payload: dict, step_ms: int, length: int) -> list[str | None]:
    frames: list[str | None] = [None] * length
    for seg in payload.get("segments", []):
        if not seg.get("speaker"):
            continue
        for i in range(seg["start_ms"] // step_ms, min(length, -(-seg["end_ms"] // step_ms))):
            frames[i] = seg["speaker"]
    return frames


def speaker_agreement(a: dict, b: dict, step_ms: int = 100) -> float | None:
    """Share of the time where at least one side has speech on which both name the same speaker (after mapping)."""
    from scipy.optimize import linear_sum_assignment

    end = max([s["end_ms"] for p in (a, b) for s in p.get("segments", [])] or [0])
    if end == 0:
        return None
    length = end // step_ms + 1
    fa, fb = _speaker_frames(a, step_ms, length), _speaker_frames(b, step_ms, length)
    names_a = sorted({x for x in fa if x})
    names_b = sorted({x for x in fb if x})
    counted = sum(1 for x, y in zip(fa, fb) if x or y)
    if not counted:
        return None
    if not names_a or not names_b:
        return 0.0
    overlap = np.zeros((len(names_a), len(names_b)))
    ia, ib = {n: i for i, n in enumerate(names_a)}, {n: i for i, n in enumerate(names_b)}
    for x, y in zip(fa, fb):
        if x and y:
            overlap[ia[x], ib[y]] += 1
    rows, cols = linear_sum_assignment(-overlap)
    return float(overlap[rows, cols].sum() / counted)


def agree(a: dict, b: dict) -> dict[str, float]:
    wer, cer = wer_cer(a, b)
    out = {"agreement": round(max(0.0, 1.0 - min(1.0, wer)), 4), "wer": round(wer, 4), "cer": round(cer, 4)}
    speakers = speaker_agreement(a, b)
    if speakers is not None:
        out["speaker_agreement"] = round(speakers, 4)
    return out
