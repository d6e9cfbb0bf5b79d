"""Transcript formats of the consult modality: read WebVTT, SRT and our JSON (sidecars next to the audio, and
re-imports of our exports); write WebVTT (with <v Speaker> voice spans), SRT, RTTM (speaker turns) and JSON.
Praat TextGrid, RTTM reading, ELAN, NeMo and Label Studio are in formats_textgrid, formats_peers and formats_elan.
Peers' own libraries read what we write in the tests (webvtt-py, praatio, pympi-ling, pyannote.database)."""
from __future__ import annotations

import json
import re
from typing import Any, BinaryIO, Iterable

from annotators.base import FormatError, ItemInput

MAX_TRANSCRIPT_BYTES = 20 * 1024 * 1024
_TIME = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})$")
_CUE_TIMES = re.compile(r"^\s*(\S+)\s+-->\s+(\S+)")
_VOICE = re.compile(r"^<v(?:\.[^ >]*)?\s+([^>]+)>(.*?)(?:</v>)?$", re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")


def parse_time(text: str, where: str) -> int:
    match = _TIME.match(text.strip())
    if not match:
        raise FormatError(f"{where}: {text[:20]!r} is not a time (HH:MM:SS.mmm)")
    hours, minutes, seconds, fraction = match.groups()
    ms = int(fraction.ljust(3, "0"))
    return ((int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + ms


def format_time(ms: int, sep: str = ".") -> str:
    ms = max(0, int(ms))
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}{sep}{ms % 1000:03d}"


def _cues(text: str, name: str) -> list[tuple[int, int, str]]:
    cues, block = [], []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n") + [""]:
        if line.strip():
            block.append(line)
            continue
        if block:
            timing = next((i for i, b in enumerate(block) if "-->" in b), None)
            if timing is not None:
                match = _CUE_TIMES.match(block[timing])
                if not match:
                    raise FormatError(f"{name}: cue {len(cues) + 1}: bad timing line")
                start = parse_time(match.group(1), f"{name} cue {len(cues) + 1}")
                end = parse_time(match.group(2), f"{name} cue {len(cues) + 1}")
                cues.append((start, end, "\n".join(block[timing + 1:]).strip()))
            block = []
    return cues


def _segments_from_cues(cues, name: str) -> dict:
    segments, speakers = [], []
    for number, (start, end, body) in enumerate(cues, 1):
        if end <= start:
            raise FormatError(f"{name}: cue {number} ends before it starts")
        speaker = None
        voice = _VOICE.match(body)
        if voice:
            speaker, body = voice.group(1).strip()[:40], voice.group(2)
        else:
            label = re.match(r"^([A-Z][\w .-]{0,30}):\s+(.*)$", body, re.DOTALL)  # "DOCTOR: text" convention
            if label:
                speaker, body = label.group(1).strip(), label.group(2)
        text = " ".join(_TAGS.sub("", body).split())
        if speaker and speaker not in speakers:
            speakers.append(speaker)
        segments.append({"id": f"s{number}", "start_ms": start, "end_ms": end, "speaker": speaker, "text": text})
    return {"speakers": [{"id": s} for s in speakers], "segments": segments}


def read_vtt(item: ItemInput) -> dict:
    text = item.read(MAX_TRANSCRIPT_BYTES).decode("utf-8-sig", errors="strict")
    if not text.lstrip().startswith("WEBVTT"):
        raise FormatError(f"{item.name}: a WebVTT file starts with 'WEBVTT'")
    return _segments_from_cues(_cues(text, item.name), item.name)


def read_srt(item: ItemInput) -> dict:
    text = item.read(MAX_TRANSCRIPT_BYTES).decode("utf-8-sig", errors="strict")
    return _segments_from_cues(_cues(text, item.name), item.name)


def read_json(item: ItemInput) -> dict:
    try:
        data = json.loads(item.read(MAX_TRANSCRIPT_BYTES))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FormatError(f"{item.name}: not valid JSON ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("annotation"), dict):
        data = data["annotation"]  # one record of our JSON export
    if isinstance(data, list):
        data = {"segments": data}
    if not isinstance(data, dict) or not isinstance(data.get("segments"), list):
        raise FormatError(f"{item.name}: expected {{\"segments\": [...]}}")
    return data


SIDECAR_READERS = {".vtt": read_vtt, ".srt": read_srt, ".json": read_json}


def sidecar_readers() -> dict:
    """By lower-case extension. The peers' readers are imported here, not at the top: their modules import this one."""
    from annotators.consult.formats_elan import read_eaf
    from annotators.consult.formats_peers import read_rttm
    from annotators.consult.formats_textgrid import read_textgrid

    return {**SIDECAR_READERS, ".textgrid": read_textgrid, ".rttm": read_rttm, ".eaf": read_eaf}


def read_sidecar(item: ItemInput) -> dict:
    ext = "." + item.name.rsplit(".", 1)[-1].lower()
    readers = sidecar_readers()
    if ext not in readers:
        raise FormatError(f"{item.name}: not a transcript format ({', '.join(sorted(readers))})")
    try:
        return readers[ext](item)
    except UnicodeDecodeError:
        raise FormatError(f"{item.name}: not UTF-8 text") from None


# ------------------------------------------------------------------------------------------------ writers
def _speaker_names(payload: dict) -> dict[str, str]:
    return {s["id"]: (s.get("name") or s.get("role") or s["id"]) for s in payload.get("speakers", [])}


def _text(pairs: Iterable[tuple[Any, dict | None]]):
    for view, payload in pairs:
        if payload:
            yield view, payload


def _cue_lines(payload: dict, separator: str, voiced) -> list[str]:
    """Numbered cues (WebVTT and SRT differ only in the decimal separator and how a speaker is written)."""
    names = _speaker_names(payload)
    lines = []
    for number, seg in enumerate(sorted(payload["segments"], key=lambda s: s["start_ms"]), 1):
        speaker = names.get(seg.get("speaker") or "", seg.get("speaker") or "")
        text = seg["text"].replace("-->", "->")
        lines += [str(number),
                  f"{format_time(seg['start_ms'], separator)} --> {format_time(seg['end_ms'], separator)}",
                  voiced(speaker, text) if speaker else text, ""]
    return lines


def write_vtt_one(payload: dict) -> str:
    return "\n".join(["WEBVTT", "", *_cue_lines(payload, ".", lambda who, text: f"<v {who}>{text}")])


def write_srt_one(payload: dict) -> str:
    return "\n".join(_cue_lines(payload, ",", lambda who, text: f"{who}: {text}"))


def write_rttm_one(payload: dict, uri: str) -> str:
    uri = re.sub(r"\s+", "_", uri) or "recording"
    rows = []
    for seg in sorted(payload["segments"], key=lambda s: s["start_ms"]):
        speaker = re.sub(r"\s+", "_", seg.get("speaker") or "unknown")
        rows.append(f"SPEAKER {uri} 1 {seg['start_ms'] / 1000:.3f} {(seg['end_ms'] - seg['start_ms']) / 1000:.3f} "
                    f"<NA> <NA> {speaker} <NA> <NA>")
    return "\n".join(rows) + ("\n" if rows else "")


def _zip_writer(extension: str, render):
    def write(pairs, label_config: dict, fh: BinaryIO) -> None:
        import zipfile

        with zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as archive:
            for view, payload in _text(pairs):
                archive.writestr(f"item-{view.id}{extension}", render(payload, f"item-{view.id}"))
    return write


def write_json(pairs, label_config: dict, fh: BinaryIO) -> None:
    for view, payload in _text(pairs):
        record = {"id": view.id, "duration_ms": view.media.duration_ms if view.media else None,
                  "annotation": payload, "provenance": view.provenance}
        fh.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))


write_vtt = _zip_writer(".vtt", lambda p, _uri: write_vtt_one(p))
write_srt = _zip_writer(".srt", lambda p, _uri: write_srt_one(p))
write_rttm = _zip_writer(".rttm", write_rttm_one)
