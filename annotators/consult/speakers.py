"""Speaker labels for a transcript: one voice embedding (resemblyzer; its encoder's weights ship inside the wheel)
per stretch of speech, clustered into speakers, and a first guess at which speaker is the clinician.

- Whisper often keeps two turns in one segment when the pause between them is short. Segments are therefore cut at
  pauses between words into pieces of at least MIN_PIECE_MS, and a segment whose pieces land on different speakers
  is split. Cutting finer does not work: sub-second embeddings cluster by length, not by voice.
- Only pieces of MIN_CLUSTER_MS or more form the clusters; shorter ones join the cluster nearest in voice.
- The number of speakers is the project's (`num_speakers`) when given; otherwise clusters merge while their
  voices are alike (MERGE_DISTANCE), at most MAX_SPEAKERS.
- Known voices (`known`: name -> mean embedding, from accepted annotations via `fit`) name a cluster when its centroid
  is close enough to one.
"""
from __future__ import annotations

import re
import threading

import numpy as np

RATE = 16000
PAUSE_MS = 250  # a gap between words at least this long is a place to cut
MIN_PIECE_MS = 1500
MIN_EMBED_MS = 400
MIN_CLUSTER_MS = 1200
MAX_SPEAKERS = 6
# Same voice: cosine similarity 0.75-0.90 between 2-4 s turns; different voices: 0.45-0.70 (measured on the
# espeak-ng consultations of demo.py); 0.20 split one synthetic voice in two, 0.33 merged two. Overridden by the project's `num_speakers` when known.
MERGE_DISTANCE = 0.30
KNOWN_VOICE_SIMILARITY = 0.80
VERSION = "resemblyzer-0.1.4+agglo-1"

_encoder = None
_encoder_lock = threading.Lock()


def encoder():
    """The voice encoder, loaded once per process (CPU: it is small and fast, RTF about 0.01 on 2 cores)."""
    global _encoder
    with _encoder_lock:
        if _encoder is None:
            import torch
            from resemblyzer import VoiceEncoder

            # The LSTM's state decays into subnormal floats on quiet audio; computing with them made each
            # embedding about 4x slower on x86. Flushing them to zero changes no embedding measurably.
            torch.set_flush_denormal(True)
            _encoder = VoiceEncoder("cpu", verbose=False)
    return _encoder


def silences(mono: np.ndarray) -> list[tuple[int, int]]:
    """(start_ms, end_ms) of pauses of PAUSE_MS or more, from voice activity on the audio itself: Whisper's word
    times often stretch over the pause between two turns, so a gap between words is no sign of one."""
    from annotators.consult.preannotate import voiced_regions

    regions = voiced_regions(mono, pad_s=0.0)
    out = []
    for (_, end), (start, _) in zip(regions, regions[1:]):
        if (start - end) * 1000 >= PAUSE_MS:
            out.append((int(end * 1000), int(start * 1000)))
    return out


def pieces_of(segment: dict, pauses: list[tuple[int, int]] = ()) -> list[tuple[int, int, list[dict]]]:
    """(start_ms, end_ms, words) stretches of one segment, cut at pauses (between words, or heard in the audio)
    into pieces of MIN_PIECE_MS or more."""
    words = segment.get("words") or []
    if len(words) < 2:
        return [(segment["start_ms"], segment["end_ms"], list(words))]
    inside = [(a, b) for a, b in pauses if segment["start_ms"] < a and b < segment["end_ms"]]
    cuts: list[tuple[int, int, int]] = [(0, segment["start_ms"], segment["start_ms"])]  # (word index, end, start)
    for i in range(1, len(words)):
        left_end, right_start = words[i - 1]["end_ms"], words[i]["start_ms"]
        heard = [(a, b) for a, b in inside if left_end - 300 <= (a + b) // 2 <= right_start + 300]
        if heard:
            left_end, right_start = min(left_end, heard[0][0]), max(right_start, heard[0][1])
        elif right_start - left_end < PAUSE_MS:
            continue
        if left_end - cuts[-1][2] >= MIN_PIECE_MS and segment["end_ms"] - right_start >= MIN_PIECE_MS:
            cuts.append((i, left_end, right_start))
    out = []
    for (a, _end, start), nxt in zip(cuts, cuts[1:] + [(len(words), segment["end_ms"], segment["end_ms"])]):
        b, end = nxt[0], nxt[1]
        out.append((start, max(end, start + 1), words[a:b]))
    return out


def embed(mono: np.ndarray, start_ms: int, end_ms: int) -> np.ndarray | None:
    if end_ms - start_ms < MIN_EMBED_MS:
        return None
    clip = mono[int(start_ms * RATE / 1000):int(end_ms * RATE / 1000)]
    if clip.size < MIN_EMBED_MS * RATE // 1000 or not np.any(clip):
        return None
    return encoder().embed_utterance(np.ascontiguousarray(clip, dtype="float32"))


def _embed_all(mono: np.ndarray, spans: list[tuple[int, int]]) -> list[np.ndarray | None]:
    import torch

    # One thread: the encoder's small LSTM steps gain nothing from a second one, and OpenMP's spinning threads
    # made it 10x slower whenever the other core was busy (a worker next to a web server).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            return [embed(mono, start, end) for start, end in spans]
    finally:
        torch.set_num_threads(threads)


def cluster(embeddings: np.ndarray, num_speakers: int | None = None) -> np.ndarray:
    """Cluster labels 0..k-1 for L2-normalised embeddings (agglomerative, average linkage on cosine distance).
    Without a number of speakers, clusters stop merging when their average similarity falls below
    1 - MERGE_DISTANCE (a silhouette choice was tried first: it prefers 2 clusters whenever one voice is far from
    the other two, merging clinician and patient in three-party visits)."""
    from sklearn.cluster import AgglomerativeClustering

    n = len(embeddings)
    if n < 2:
        return np.zeros(n, int)
    if num_speakers:
        k = min(num_speakers, n)
        if k <= 1:
            return np.zeros(n, int)
        return AgglomerativeClustering(n_clusters=k, metric="cosine", linkage="average").fit_predict(embeddings)
    labels = AgglomerativeClustering(n_clusters=None, distance_threshold=MERGE_DISTANCE, metric="cosine",
                                     linkage="average").fit_predict(embeddings)
    if labels.max() + 1 > MAX_SPEAKERS:
        return AgglomerativeClustering(n_clusters=MAX_SPEAKERS, metric="cosine",
                                       linkage="average").fit_predict(embeddings)
    return labels


def _text_of(words: list[dict]) -> str:
    return re.sub(r"\s+([,.;:!?])", r"\1", " ".join(w["text"] for w in words)).strip()


def label_speakers(mono: np.ndarray, payload: dict, num_speakers: int | None = None,
                   known: dict[str, list[float]] | None = None) -> tuple[dict, dict[str, list[float]]]:
    """The payload with speakers from voice clustering (segments split where their pieces differ), and each
    speaker's mean embedding (what `fit` enrols as a known voice once a person confirms the name)."""
    segments = sorted(payload.get("segments", []), key=lambda s: (s["start_ms"], s["id"]))
    pauses = silences(mono)
    pieces = [(index, *piece) for index, seg in enumerate(segments) for piece in pieces_of(seg, pauses)]
    vectors = _embed_all(mono, [(start, end) for _index, start, end, _words in pieces])
    # Short utterances ("Thank you, doctor.") give unsteady embeddings: only pieces of MIN_CLUSTER_MS or more form
    # the clusters; the others join the nearest cluster by voice, or the nearest piece in time when too short.
    solid = [i for i, v in enumerate(vectors) if v is not None and pieces[i][2] - pieces[i][1] >= MIN_CLUSTER_MS]
    if not solid:
        solid = [i for i, v in enumerate(vectors) if v is not None]
    if not solid:
        return payload, {}
    matrix = np.stack([vectors[i] for i in solid])
    labels = cluster(matrix, num_speakers)
    order = {}  # clusters named S1, S2 ... in order of first speech
    for label in labels:
        order.setdefault(int(label), f"S{len(order) + 1}")
    centroids = {order[int(c)]: matrix[labels == c].mean(axis=0) for c in set(labels.tolist())}
    names = {i: order[int(label)] for i, label in zip(solid, labels)}
    for i, vector in enumerate(vectors):
        if i not in names and vector is not None:
            names[i] = max(centroids, key=lambda sid: float(np.dot(centroids[sid], vector)))
    for i in range(len(pieces)):
        if i not in names:
            nearest = min(names, key=lambda j: abs(pieces[j][1] - pieces[i][1]))
            names[i] = names[nearest]
    out_segments = []
    for index, seg in enumerate(segments):
        mine = [(i, p) for i, p in enumerate(pieces) if p[0] == index]
        runs: list[list] = []
        for i, (_index, start, end, words) in mine:
            if runs and runs[-1][0] == names[i]:
                runs[-1][2], runs[-1][3] = end, runs[-1][3] + words
            else:
                runs.append([names[i], start, end, list(words)])
        for number, (speaker, start, end, words) in enumerate(runs):
            if len(runs) == 1:
                out_segments.append({**seg, "speaker": speaker})
                continue
            part = {**seg, "id": seg["id"] if number == 0 else f"{seg['id']}.{number + 1}", "speaker": speaker,
                    "start_ms": start, "end_ms": end, "words": words, "text": _text_of(words)}
            out_segments.append(part)
    _flag_overlaps(out_segments)
    speakers = [{"id": sid} for sid in sorted(centroids, key=lambda s: int(s[1:]))]
    _name_known_voices(speakers, centroids, known or {})
    return ({**payload, "speakers": speakers, "segments": out_segments},
            {sid: c.tolist() for sid, c in centroids.items()})


def _flag_overlaps(segments: list[dict]) -> None:
    """Segments of different speakers that intersect in time are overlapping speech."""
    ordered = sorted(segments, key=lambda s: s["start_ms"])
    for a, b in zip(ordered, ordered[1:]):
        if b["start_ms"] < a["end_ms"] and a.get("speaker") != b.get("speaker"):
            a["overlap"] = b["overlap"] = True


def _name_known_voices(speakers: list[dict], centroids: dict, known: dict) -> None:
    used = set()
    for speaker in speakers:
        centroid = centroids[speaker["id"]]
        best, best_sim = None, KNOWN_VOICE_SIMILARITY
        for name, voice in known.items():
            voice = np.asarray(voice, dtype="float32")
            sim = float(np.dot(centroid, voice) / (np.linalg.norm(centroid) * np.linalg.norm(voice) + 1e-9))
            if sim > best_sim and name not in used:
                best, best_sim = name, sim
        if best:
            speaker["name"] = best
            used.add(best)


# -- roles ------------------------------------------------------------------------------------------------------
# What clinicians say and patients rarely do; patients address the clinician ("doctor") and describe themselves.
_CLINICIAN_CUES = re.compile(
    r"\b(what brings you|how long|any (?:pain|fever|allerg\w*|shortness|history)|let me|i will (?:listen|examine|"
    r"check|prescribe|refer)|examin\w*|prescri\w*|your (?:lungs|chest|blood|heart|results?|test|scan|dose)|"
    r"take (?:one|two|this|the)|milligrams?|mg|twice a day|once a day|diagnos\w*|come back|follow[- ]up|"
    r"side effects?|i think this is)\b", re.IGNORECASE)
_PATIENT_CUES = re.compile(r"\b(doctor|i have had|i feel|it hurts|my (?:pain|chest|head|back|stomach)|thank you)\b",
                           re.IGNORECASE)


def guess_roles(payload: dict, roles: list[str] | None = None) -> dict:
    """Mark the speaker most likely to be the clinician (questions, clinical phrasing, speaking first); with two
    speakers the other is the patient. Roles already set (by a person or a channel convention) are kept."""
    roles = roles or ["clinician", "patient"]
    speakers = payload.get("speakers") or []
    if not speakers or any(s.get("role") for s in speakers) or "clinician" not in roles:
        return payload
    score = {s["id"]: 0.0 for s in speakers}
    words = {s["id"]: 0 for s in speakers}
    ordered = sorted(payload.get("segments", []), key=lambda s: s["start_ms"])
    for seg in ordered:
        who = seg.get("speaker")
        if who not in score:
            continue
        text = seg.get("text", "")
        words[who] += len(text.split())
        score[who] += 2 * text.count("?") + 1.5 * len(_CLINICIAN_CUES.findall(text)) \
            - 1.5 * len(_PATIENT_CUES.findall(text))
    if ordered and ordered[0].get("speaker") in score:
        score[ordered[0]["speaker"]] += 1  # the clinician usually opens the consultation
    talking = [sid for sid in score if words[sid]]
    if not talking:
        return payload
    clinician = max(talking, key=lambda sid: (score[sid], words[sid]))
    others = [s for s in speakers if s["id"] != clinician]
    for speaker in speakers:
        if speaker["id"] == clinician:
            speaker["role"] = "clinician"
        elif len(others) == 1 and "patient" in roles:
            speaker["role"] = "patient"
    return payload
