"""Peer transcript formats of the consult modality: read RTTM sidecars (next to the audio, same base name: they
become imported drafts like our WebVTT, SRT and JSON); write a NeMo ASR manifest (JSONL) and Label Studio tasks
(JSON). Praat TextGrid is in formats_textgrid and ELAN in formats_elan, both on the tier helpers here.

Tiers are speakers in both Praat and ELAN: a tier per speaker, named for people (the speaker's name, else role, else
id), its word timings in a tier "<tier> - words" (the Montreal Forced Aligner's naming), segments without a speaker
in a tier "transcript". A tier cannot hold overlapping intervals, so a speaker's overlapping segments go on to a tier
"<tier> (2)", read back as the same speaker. Segment types, attributes and scores have no place in these formats.
Files are untrusted: each problem is a FormatError naming the file and the tier or line."""
from __future__ import annotations

import bisect
import codecs
import json
import math
import re
import zipfile
from collections import Counter
from typing import Any, BinaryIO, Callable

from annotators.base import FormatError, ItemInput
from annotators.consult.formats import MAX_TRANSCRIPT_BYTES, _speaker_names
from annotators.consult.schema import MAX_SEGMENTS

NO_SPEAKER_TIER = "transcript"
WORD_PAUSE_MS = 700  # a words-only tier (an aligner's output) is cut into segments at pauses this long
WORDS_TIER = re.compile(r"^(?:(?P<owner>.+?)\s+-\s+)?words?$", re.IGNORECASE)
SPILL_TIER = re.compile(r"^(?P<base>.+) \((?P<lane>\d+)\)$")
_CONTAINER_EXTENSIONS = {"wav": ".wav", "flac": ".flac", "mp3": ".mp3", "ogg": ".ogg", "mov": ".mp4",
                         "matroska": ".mkv", "aac": ".aac", "amr": ".amr", "asf": ".wma", "avi": ".avi"}


# ------------------------------------------------------------------------------------------------ shared
def read_capped(item: ItemInput) -> bytes:
    data = item.read(MAX_TRANSCRIPT_BYTES)
    if len(data) > MAX_TRANSCRIPT_BYTES:
        raise FormatError(f"{item.name}: {len(data)} bytes is too large for a transcript "
                          f"(limit {MAX_TRANSCRIPT_BYTES})")
    return data


def _read_text(item: ItemInput, data: bytes | None = None) -> str:
    data = read_capped(item) if data is None else data
    # Praat saves a TextGrid holding non-ASCII text as UTF-16 with a byte-order mark.
    encoding = "utf-16" if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        raise FormatError(f"{item.name}: not UTF-8 or UTF-16 text") from None
    if "\x00" in text:
        raise FormatError(f"{item.name}: binary data, not a text file")
    return text


def _to_ms(value: Any, where: str) -> int:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise FormatError(f"{where}: {str(value)[:20]!r} is not a time in seconds") from None
    if not math.isfinite(seconds) or seconds < 0 or seconds > 365 * 86_400:
        raise FormatError(f"{where}: {str(value)[:20]!r} is not a time in seconds")
    return round(seconds * 1000)


def _seconds(ms: int) -> str:
    """Seconds to the millisecond, written exactly (no float rounding on the way)."""
    return f"{ms // 1000}.{ms % 1000:03d}"


class SpeakerIds:
    """Speaker ids for tier or turn labels: the label itself, cut to the schema's 40 characters and kept unique;
    the full label (or the tier's participant) becomes the speaker's name."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}
        self.entries: list[dict] = []

    def id_for(self, label: str, name: str | None = None) -> str:
        if label in self.ids:
            return self.ids[label]
        ident, number = label[:40], 2
        while ident in self.ids.values():
            suffix = f"~{number}"
            ident, number = label[:40 - len(suffix)] + suffix, number + 1
        entry = {"id": ident}
        full_name = name if name and name != label else (label if len(label) > 40 else None)
        if full_name:
            entry["name"] = full_name[:120]
        self.ids[label] = ident
        self.entries.append(entry)
        return ident


def finish_payload(name: str, segments: list[dict], speakers: SpeakerIds) -> dict:
    if len(segments) > MAX_SEGMENTS:
        raise FormatError(f"{name}: {len(segments)} segments; at most {MAX_SEGMENTS} per recording")
    segments.sort(key=lambda s: (s["start_ms"], s["end_ms"]))
    for number, seg in enumerate(segments, 1):
        seg["id"] = f"s{number}"
    return {"speakers": speakers.entries, "segments": segments}


def attach_words(segments: list[dict], words: list[dict]) -> None:
    """Give each word to the segment holding its midpoint, clamped into it; a word no segment holds is dropped (its
    text is in the segment's own text, if anywhere)."""
    ordered = sorted(segments, key=lambda s: s["start_ms"])
    starts = [s["start_ms"] for s in ordered]
    for word in words:
        middle = (word["start_ms"] + word["end_ms"]) // 2
        last = bisect.bisect_right(starts, middle) - 1
        # Segments of one tier do not overlap: the last one starting before the midpoint is the one. A bare "words"
        # tier meets every speaker's segments, which may overlap: look a few further back.
        home = next((ordered[i] for i in range(last, max(-1, last - 8), -1) if middle <= ordered[i]["end_ms"]), None)
        if home is not None:
            home.setdefault("words", []).append({"text": word["text"],
                                                 "start_ms": max(word["start_ms"], home["start_ms"]),
                                                 "end_ms": min(word["end_ms"], home["end_ms"])})


def _segments_from_words(words: list[dict], speaker: str | None) -> list[dict]:
    """An aligner's words with no utterance tier: one segment per stretch of speech between pauses."""
    segments: list[dict] = []
    for word in sorted(words, key=lambda w: w["start_ms"]):
        if not segments or word["start_ms"] - segments[-1]["end_ms"] >= WORD_PAUSE_MS:
            segments.append({"start_ms": word["start_ms"], "end_ms": word["end_ms"], "speaker": speaker,
                             "text": "", "words": []})
        current = segments[-1]
        current["end_ms"] = max(current["end_ms"], word["end_ms"])
        current["words"].append(word)
        current["text"] = f"{current['text']} {word['text']}".strip()
    return segments


def speaker_tiers(payload: dict) -> list[tuple[str, list[dict]]]:
    """(tier name, segments) with no overlap inside a tier: see the module's docstring."""
    names = _speaker_names(payload)
    shared = Counter(names.values())
    labels = {sid: (name if shared[name] == 1 else f"{name} [{sid}]") for sid, name in names.items()}
    lanes: dict[str, list[list[dict]]] = {}
    for seg in sorted(payload["segments"], key=lambda s: (s["start_ms"], s["end_ms"])):
        speaker = seg.get("speaker")
        base = labels.get(speaker, speaker) if speaker else NO_SPEAKER_TIER
        tiers = lanes.setdefault(base, [])
        lane = next((t for t in tiers if t[-1]["end_ms"] <= seg["start_ms"]), None)
        if lane is None:
            tiers.append([seg])
        else:
            lane.append(seg)
    return [(base if number == 1 else f"{base} ({number})", lane)
            for base, tiers in lanes.items() for number, lane in enumerate(tiers, 1)]


def tier_words(segments: list[dict]) -> list[tuple[int, int, str]]:
    """The words of one tier as intervals that neither overlap nor leave their segment (Praat and ELAN refuse
    both); a word squeezed to nothing by its neighbour is left out."""
    out: list[tuple[int, int, str]] = []
    for seg in segments:
        for word in sorted(seg.get("words") or [], key=lambda w: w["start_ms"]):
            start = max(word["start_ms"], seg["start_ms"], out[-1][1] if out else 0)
            end = min(word["end_ms"], seg["end_ms"])
            if end > start:
                out.append((start, end, word["text"]))
    return out


def media_file_name(view) -> str:
    """The audio's name in exports: item-<id>, as the transcripts in our zips are named, with the extension of the
    container the probe found (the audio itself comes from /api/v1/items/<id>/media)."""
    container = ((view.media.container if view.media else "") or "").split(",")[0]
    return f"item-{view.id}{_CONTAINER_EXTENSIONS.get(container, '.wav')}"


def _duration_ms(view) -> int:
    return view.media.duration_ms if view.media and view.media.duration_ms else 0


def zip_per_item(extension: str, render: Callable[[Any, dict], str | bytes]):
    def write(pairs, label_config: dict, fh: BinaryIO) -> None:
        with zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as archive:
            for view, payload in pairs:
                if payload:
                    archive.writestr(f"item-{view.id}{extension}", render(view, payload))
    return write


# ------------------------------------------------------------------------------------------------ RTTM
def read_rttm(item: ItemInput) -> dict:
    """NIST RTTM speaker turns (SPEAKER lines; other line types are skipped): segments with a speaker and no text."""
    speakers, segments, recordings = SpeakerIds(), [], set()
    for number, line in enumerate(_read_text(item).splitlines(), 1):
        fields = line.split()
        if not fields or fields[0] != "SPEAKER":
            continue  # blank, comments, SPKR-INFO, LEXEME, NON-SPEECH...: no speaker turn
        where = f"{item.name}: line {number}"
        if len(fields) < 8:
            raise FormatError(f"{where}: a SPEAKER line has 10 fields (SPEAKER file channel onset duration "
                              "<NA> <NA> speaker <NA> <NA>)")
        if fields[4].startswith("-"):
            raise FormatError(f"{where}: negative duration {fields[4][:20]!r}")
        start, length = _to_ms(fields[3], f"{where} onset"), _to_ms(fields[4], f"{where} duration")
        if length == 0:
            continue  # a zero-length turn (some diarizers write them) covers no audio
        recordings.add(fields[1])
        segments.append({"start_ms": start, "end_ms": start + length, "speaker": speakers.id_for(fields[7]),
                         "text": ""})
    if len(recordings) > 1:
        raise FormatError(f"{item.name}: turns of {len(recordings)} recordings; a sidecar describes its own audio")
    if not segments:
        raise FormatError(f"{item.name}: no SPEAKER lines (RTTM: SPEAKER file 1 onset duration <NA> <NA> speaker "
                          "<NA> <NA>)")
    return finish_payload(item.name, segments, speakers)


# ------------------------------------------------------------------------------------------------ NeMo, Label Studio
def write_nemo_manifest(pairs, label_config: dict, fh: BinaryIO) -> None:
    """NeMo ASR manifest (JSONL), one line per transcribed segment, not per file: audio_filepath with offset and
    duration in seconds cuts the segment out of the recording (NeMo's AudioToCharDataset reads `offset`), text,
    speaker. Segments with no text (speaker turns only) have nothing to train on and are left out."""
    for view, payload in pairs:
        if not payload:
            continue
        audio, names = media_file_name(view), _speaker_names(payload)
        for seg in sorted(payload["segments"], key=lambda s: (s["start_ms"], s["end_ms"])):
            if not seg["text"].strip():
                continue
            line = {"audio_filepath": audio, "offset": seg["start_ms"] / 1000,
                    "duration": (seg["end_ms"] - seg["start_ms"]) / 1000, "text": seg["text"]}
            if seg.get("speaker"):
                line["speaker"] = names.get(seg["speaker"], seg["speaker"])
            fh.write((json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8"))


LABEL_STUDIO_SPEAKER, LABEL_STUDIO_TYPE, LABEL_STUDIO_TEXT = "speaker", "segment_type", "transcription"


def write_label_studio(pairs, label_config: dict, fh: BinaryIO) -> None:
    """Tasks for Label Studio's import: data.audio (our media URL; data.clinlabel_item_id names the item), one
    region per segment: a "labels" result (from_name speaker), a "textarea" result (from_name transcription) and,
    where the segment has one, a "labels" result from_name segment_type, sharing the region's id; seconds as floats.
    The labeling config they fit is Label Studio's "ASR using segments" template with these names: <View><Labels
    name="speaker" toName="audio">...</Labels><Labels name="segment_type" toName="audio">...</Labels><Audio
    name="audio" value="$audio"/><TextArea name="transcription" toName="audio" perRegion="true"/></View>.
    As in the notes export, a model draft nobody reviewed goes under predictions, everything else under annotations."""
    tasks = []
    for view, payload in pairs:
        provenance = getattr(view, "provenance", None) or {"origin": "model"}
        task = {"data": {"audio": f"/api/v1/items/{view.id}/media", "clinlabel_item_id": view.id},
                "annotations": [], "predictions": []}
        if payload:
            result, names, duration = [], _speaker_names(payload), _duration_ms(view)
            for seg in sorted(payload["segments"], key=lambda s: (s["start_ms"], s["end_ms"])):
                region = {"start": seg["start_ms"] / 1000, "end": seg["end_ms"] / 1000,
                          "channel": seg.get("channel") or 0}
                common = {"id": seg["id"], "to_name": "audio", **({"original_length": duration / 1000}
                                                                   if duration else {})}
                if seg.get("speaker"):
                    result.append({**common, "from_name": LABEL_STUDIO_SPEAKER, "type": "labels", "value": {
                        **region, "labels": [names.get(seg["speaker"], seg["speaker"])]}})
                if seg.get("type"):
                    result.append({**common, "from_name": LABEL_STUDIO_TYPE, "type": "labels",
                                   "value": {**region, "labels": [seg["type"]]}})
                result.append({**common, "from_name": LABEL_STUDIO_TEXT, "type": "textarea",
                               "value": {**region, "text": [seg["text"]]}})
            if provenance.get("origin") in ("model", "import"):
                task["predictions"].append({"model_version": provenance.get("model_version") or "import",
                                            "result": result})
            else:
                task["annotations"].append({"result": result, "ground_truth": bool(provenance.get("gold")),
                                            "meta": {"clinlabel_provenance": provenance}})
        tasks.append(task)
    fh.write(json.dumps(tasks, ensure_ascii=False).encode("utf-8"))

