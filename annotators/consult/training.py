"""`fit` for consultations: accepted speaker names enrol known voices (a clinician named in several accepted
recordings is recognised by name next time), and the names people typed become Whisper's initial prompt.

A new version is made active only when it names speakers better than the previous one on held-out accepted items
(every third item is held out; its voices are not enrolled while it is scored).
"""
from __future__ import annotations

import numpy as np

from annotators.consult import speakers
from annotators.consult.audio import read_pcm

MIN_RECORDINGS = 2  # a voice is enrolled once it is named in at least this many accepted recordings
MAX_SPEECH_MS = 30_000  # per speaker and recording: enough for a steady embedding
MAX_PROMPT_CHARS = 200


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


def fit(accepted, label_config: dict, previous: dict | None) -> dict:
    items = [(view, payload, _voices_of(view, payload)) for view, payload in accepted]
    train = [voices for i, (_v, _p, voices) in enumerate(items) if i % 3 != 2]
    held = [(voices, payload) for i, (_v, payload, voices) in enumerate(items) if i % 3 == 2 and voices]
    candidate = enrol(train)
    before = naming_accuracy((previous or {}).get("known_voices") or {}, held)
    after = naming_accuracy(candidate, held)
    names = sorted({s["name"] for _v, p, _ in items for s in p.get("speakers", []) if s.get("name")})
    prompt = ("Speakers: " + ", ".join(names))[:MAX_PROMPT_CHARS] if names else None
    better = after is not None and (before is None or after > before)
    return {"params": {"known_voices": enrol([voices for _v, _p, voices in items]), "initial_prompt": prompt},
            "metrics": {"held_out_items": len(held), "naming_accuracy": after, "previous_naming_accuracy": before,
                        "enrolled": len(candidate)},
            "better": better}
