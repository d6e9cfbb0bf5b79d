"""Agreement between two transcripts: WER and CER (jiwer) after a documented normalisation; how much of the time
both give the same speaker (under the best one-to-one mapping of their speaker names, as DER does); DER and JER
(pyannote.metrics, collar COLLAR_S, overlap scored, the mean of both directions since neither annotator is the
reference); Cohen's κ of segment types over time (100 ms frames where either side has a type); and the mean
distance between segment boundaries (each boundary to the nearest one on the other side, both ways).

Normalisation (both sides): Unicode NFKC, lower case, apostrophes kept inside words, every other punctuation mark
removed, whitespace collapsed. "Dr. Smith's" and "dr smith's" are the same words.
"""
from __future__ import annotations

import re
import unicodedata

import numpy as np

COLLAR_S = 0.25  # pyannote's collar: 125 ms each side of a reference boundary is not scored
FRAME_MS = 100
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


def annotation(payload: dict, uri: str = "item"):
    """The payload's speaker turns as a pyannote.core Annotation (segments without a speaker left out)."""
    from pyannote.core import Annotation, Segment

    out = Annotation(uri=uri)
    for seg in payload.get("segments", []):
        if seg.get("speaker") and seg["end_ms"] > seg["start_ms"]:
            out[Segment(seg["start_ms"] / 1000, seg["end_ms"] / 1000), seg["id"]] = seg["speaker"]
    return out


def der_jer(reference: dict, hypothesis: dict, collar: float = COLLAR_S) -> tuple[float, float] | None:
    """(DER, JER) of `hypothesis` against `reference`; None when the reference names no speaker."""
    from pyannote.core import Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate, JaccardErrorRate

    ref, hyp = annotation(reference), annotation(hypothesis)
    if not ref.labels():
        return None
    # Scored from the start of the recording to the last speech on either side (given, so pyannote need not guess).
    end = max(ref.get_timeline().extent().end, hyp.get_timeline().extent().end if hyp else 0.0)
    uem = Timeline([Segment(0.0, end)])
    der = DiarizationErrorRate(collar=collar, skip_overlap=False)(ref, hyp, uem=uem)
    jer = JaccardErrorRate(collar=collar, skip_overlap=False)(ref, hyp, uem=uem)
    return float(der), float(jer)


def symmetric_der_jer(a: dict, b: dict) -> tuple[float, float] | None:
    forward, backward = der_jer(a, b), der_jer(b, a)
    if forward is None or backward is None:
        return None if forward is None and backward is None else (1.0, 1.0)
    return (forward[0] + backward[0]) / 2, (forward[1] + backward[1]) / 2


def _type_frames(payload: dict, length: int) -> list[str | None]:
    frames: list[str | None] = [None] * length
    for seg in payload.get("segments", []):
        if seg.get("type"):
            for i in range(seg["start_ms"] // FRAME_MS, min(length, -(-seg["end_ms"] // FRAME_MS))):
                frames[i] = seg["type"]
    return frames


def segment_type_kappa(a: dict, b: dict) -> float | None:
    """Cohen's κ of segment types over 100 ms frames that either side labels (unlabelled counts as a category)."""
    from sklearn.metrics import cohen_kappa_score

    end = max([s["end_ms"] for p in (a, b) for s in p.get("segments", [])] or [0])
    length = end // FRAME_MS + 1
    fa, fb = _type_frames(a, length), _type_frames(b, length)
    pairs = [(x or "-", y or "-") for x, y in zip(fa, fb) if x or y]
    if not pairs:
        return None
    xs, ys = zip(*pairs)
    if len(set(xs) | set(ys)) == 1:
        return 1.0
    kappa = float(cohen_kappa_score(xs, ys))
    return kappa if np.isfinite(kappa) else 0.0


def boundary_distance_ms(a: dict, b: dict) -> float | None:
    """Mean distance (ms) from each segment boundary to the nearest boundary of the other transcript, both ways."""
    def edges(payload):
        return np.array(sorted({t for s in payload.get("segments", []) for t in (s["start_ms"], s["end_ms"])}),
                        dtype=float)

    ea, eb = edges(a), edges(b)
    if not len(ea) or not len(eb):
        return None

    def nearest(x, y):
        index = np.clip(np.searchsorted(y, x), 1, len(y) - 1) if len(y) > 1 else np.zeros(len(x), int)
        left, right = y[index - 1] if len(y) > 1 else y[index], y[index]
        return np.minimum(np.abs(x - left), np.abs(x - right))

    return float((nearest(ea, eb).sum() + nearest(eb, ea).sum()) / (len(ea) + len(eb)))


def agree(a: dict, b: dict) -> dict[str, float]:
    wer, cer = wer_cer(a, b)
    out = {"agreement": round(max(0.0, 1.0 - min(1.0, wer)), 4), "wer": round(wer, 4), "cer": round(cer, 4)}
    speakers = speaker_agreement(a, b)
    if speakers is not None:
        out["speaker_agreement"] = round(speakers, 4)
    errors = symmetric_der_jer(a, b)
    if errors is not None:
        out["der"], out["jer"] = round(errors[0], 4), round(errors[1], 4)
    kappa = segment_type_kappa(a, b)
    if kappa is not None:
        out["segment_type_kappa"] = round(kappa, 4)
    distance = boundary_distance_ms(a, b)
    if distance is not None:
        out["boundary_ms"] = round(distance, 1)
    return out
