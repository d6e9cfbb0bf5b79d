"""`fit` for consultations: accepted speaker names enrol known voices (a clinician named in several accepted
recordings is recognised by name next time); those names and the drug names said in accepted transcripts become
Whisper's initial prompt (tiny.en hears "empire cliff london" for empagliflozin until the prompt names it).

Every third accepted item is held out: its voices are not enrolled and its words do not enter the prompt while it
is scored. A new version is made active only when it is better there: a lower word error rate with the new prompt
than with the previous one (speaker naming no worse), or better speaker naming (word error rate no worse).
"""
from __future__ import annotations

import re
from collections import Counter

import numpy as np

from annotators.consult import speakers
from annotators.consult.audio import read_pcm

MIN_RECORDINGS = 2  # a voice is enrolled once it is named in at least this many accepted recordings
MAX_SPEECH_MS = 30_000  # per speaker and recording: enough for a steady embedding
MAX_PROMPT_CHARS = 300  # the prompt precedes every 30-s window: a long one slows decoding and can be echoed
MAX_VOCABULARY = 25
SCORED_ITEMS = 5  # held-out items transcribed twice (previous and new prompt) to compare word error rates
SCORED_SECONDS = 180
WER_MARGIN = 0.005  # differences smaller than this are noise


def _voices_of(view, payload: dict) -> dict[str, np.ndarray]:
    """name -> embedding of that speaker's speech in one recording (from the decoded PCM asset)."""
    pcm = view.assets.get("pcm16k")
    named = {s["id"]: s["name"] for s in payload.get("speakers", []) if s.get("name")}
    if not pcm or not named:
        return {}
    channels = max(1, int((view.media.channels if view.media else 1) or 1))
    audio = read_pcm(pcm, channels)
    mono = audio.mean(axis=0) if channels > 1 else audio[0]
    out = {}
    for sid, name in named.items():
        pieces, total = [], 0
        for seg in sorted(payload.get("segments", []), key=lambda s: s["start_ms"]):
            if seg.get("speaker") == sid and total < MAX_SPEECH_MS:
                pieces.append(mono[seg["start_ms"] * 16:seg["end_ms"] * 16])
                total += seg["end_ms"] - seg["start_ms"]
        if pieces and total >= speakers.MIN_EMBED_MS:
            vector = speakers._embed_all(np.concatenate(pieces), [(0, total)])[0]
            if vector is not None:
                out[name] = vector
    return out


def enrol(per_item: list[dict[str, np.ndarray]]) -> dict[str, list[float]]:
    by_name: dict[str, list[np.ndarray]] = {}
    for voices in per_item:
        for name, vector in voices.items():
            by_name.setdefault(name, []).append(vector)
    out = {}
    for name, vectors in by_name.items():
        if len(vectors) >= MIN_RECORDINGS:
            mean = np.mean(vectors, axis=0)
            out[name] = (mean / (np.linalg.norm(mean) + 1e-9)).round(5).tolist()
    return out


def naming_accuracy(known: dict, held_out: list[tuple[dict[str, np.ndarray], dict]]) -> float | None:
    """Share of named speakers in held-out items that the known voices name correctly (None: nothing to score)."""
    right = total = 0
    for voices, _payload in held_out:
        centroids = {f"S{i + 1}": vector for i, vector in enumerate(voices.values())}
        listed = [{"id": sid} for sid in centroids]
        speakers._name_known_voices(listed, centroids, known)
        for entry, truth in zip(listed, voices):
            total += 1
            right += entry.get("name") == truth
    return right / total if total else None


def drug_vocabulary(payloads: list[dict]) -> list[str]:
    """Drug names said in the transcripts (the shipped drug dictionary, names and brands), most frequent first."""
    from spacy.lang.en.stop_words import STOP_WORDS

    from ontologies.loaders.drugs import variant_names

    names, counts = variant_names(), Counter()
    for payload in payloads:
        for seg in payload.get("segments", []):
            tokens = re.findall(r"[a-z][a-z0-9-]*", str(seg.get("text", "")).lower())
            for size in (3, 2, 1):
                for i in range(len(tokens) - size + 1):
                    phrase = " ".join(tokens[i:i + size])
                    if len(phrase) >= 4 and phrase not in STOP_WORDS and phrase in names:
                        counts[phrase] += 1
    ranked = [name for name, _ in counts.most_common()]
    return [n for n in ranked if not any(n != m and f" {n} " in f" {m} " for m in ranked)][:MAX_VOCABULARY]


def build_prompt(payloads: list[dict]) -> str | None:
    names = sorted({s["name"] for p in payloads for s in p.get("speakers", []) if s.get("name")})
    parts = [f"Speakers: {', '.join(names)}." if names else "", *drug_vocabulary(payloads)]
    prompt = ""
    for part in filter(None, parts):  # whole words only
        joined = f"{prompt} {part}" if prompt.endswith(".") else (f"{prompt}, {part}" if prompt else part)
        if len(joined) > MAX_PROMPT_CHARS:
            break
        prompt = joined
    if prompt and not prompt.endswith("."):
        prompt += "."
    return prompt or None


def held_out_wer(held: list[tuple], prompt: str | None, label_config: dict) -> float | None:
    """Mean word error rate of Whisper with `prompt` on held-out recordings (their first SCORED_SECONDS)."""
    import torch

    from annotators.consult import metrics
    from annotators.consult.preannotate import WhisperTranscriber

    scored = [(view, payload) for view, payload in held if view.assets.get("pcm16k") and payload.get("segments")]
    if not scored:
        return None
    transcriber = WhisperTranscriber((label_config or {}).get("whisper_model") or "tiny.en")
    if not transcriber.available()[0]:
        return None
    config = {**(label_config or {}), "diarize": False, "phi": False}
    transcriber.setup("cuda" if torch.cuda.is_available() else "cpu", config, {"initial_prompt": prompt})
    rates = []
    for view, payload in scored[:SCORED_ITEMS]:
        limit = SCORED_SECONDS * 1000
        reference = {"segments": [s for s in payload["segments"] if s["end_ms"] <= limit]}
        if not reference["segments"]:
            continue
        hypothesis = transcriber.transcribe_first(view, SCORED_SECONDS)
        rates.append(metrics.wer_cer(reference, hypothesis)[0])
    return round(float(np.mean(rates)), 4) if rates else None


def fit(accepted, label_config: dict, previous: dict | None) -> dict:
    previous = previous or {}
    items = [(view, payload, _voices_of(view, payload)) for view, payload in accepted]
    train = [(voices, payload) for i, (_v, payload, voices) in enumerate(items) if i % 3 != 2]
    held = [(voices, payload) for i, (_v, payload, voices) in enumerate(items) if i % 3 == 2 and voices]
    candidate = enrol([voices for voices, _p in train])
    before = naming_accuracy(previous.get("known_voices") or {}, held)
    after = naming_accuracy(candidate, held)
    held_views = [(view, payload) for i, (view, payload, _) in enumerate(items) if i % 3 == 2]
    trial_prompt = build_prompt([payload for _v, payload in train])
    wer_before = wer_after = None
    if trial_prompt != previous.get("initial_prompt"):
        wer_before = held_out_wer(held_views, previous.get("initial_prompt"), label_config)
        wer_after = held_out_wer(held_views, trial_prompt, label_config) if wer_before is not None else None
    naming_better = after is not None and (before is None or after > before)
    naming_not_worse = after is None or before is None or after >= before
    wer_better = wer_after is not None and wer_after < wer_before - WER_MARGIN
    wer_not_worse = wer_after is None or wer_after <= wer_before + WER_MARGIN
    prompt = build_prompt([payload for _v, payload, _ in items])
    return {"params": {"known_voices": enrol([voices for _v, _p, voices in items]), "initial_prompt": prompt},
            "metrics": {"held_out_items": len(held_views), "naming_accuracy": after, "previous_naming_accuracy": before,
                        "enrolled": len(candidate), "held_out_wer": wer_after, "previous_held_out_wer": wer_before,
                        "vocabulary": len(drug_vocabulary([payload for _v, payload, _ in items]))},
            "better": (naming_better and wer_not_worse) or (wer_better and naming_not_worse)}
