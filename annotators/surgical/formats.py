"""Surgical annotation files: Cholec80's phase and tool annotations, and our JSON.

Cholec80 (Twinanda et al. 2016) writes, next to `videoNN.mp4`:
- `videoNN-phase.txt`: a header `Frame<TAB>Phase`, then one line per frame (25 fps) with the phase code;
- `videoNN-tool.txt`: a header `Frame<TAB>Grasper<TAB>...<TAB>SpecimenBag`, then a line every 25th frame (1 fps)
  with 0/1 per tool; a tool is present from a sampled frame until the next sample.
Both become an imported draft (frames only: times are filled from the frame index when the draft is opened).
Files are untrusted: each problem is a FormatError naming the file and the line.
"""
from __future__ import annotations

import codecs
import io
import json
import zipfile
from typing import BinaryIO

from annotators.base import FormatError, ItemInput
from annotators.surgical.formats_exchange import is_label_studio, read_csv, read_label_studio
from annotators.surgical.schema import MAX_FRAME, MAX_SEGMENTS

MAX_FILE_BYTES = 64 * 1024 * 1024  # a 4-hour video's per-frame phase file is ~9 MB
MIN_SAMPLE_STEP = 10  # a sampled phase file skips at least this many frames; a smaller gap is a damaged file
SIDECAR_SUFFIXES = ("-phase.txt", "-tool.txt", "_phase.txt", "_tool.txt", "-tags.csv", "_tags.csv", ".json")


def sidecar_stem(name: str) -> str:
    """`video01-phase.txt` and `video01-tool.txt` belong to `video01.mp4`."""
    lower = (name or "").rsplit("/", 1)[-1].casefold()
    for suffix in SIDECAR_SUFFIXES:
        if lower.endswith(suffix):
            return lower[:-len(suffix)]
    return lower.rsplit(".", 1)[0] if "." in lower else lower


def _text(item: ItemInput) -> str:
    if item.data is not None:
        data = item.data
    else:
        with open(item.path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise FormatError(f"{item.name}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    try:
        encoding = "utf-16" if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else "utf-8-sig"
        return data.decode(encoding)
    except UnicodeDecodeError:
        raise FormatError(f"{item.name}: not a text file (UTF-8 or UTF-16)") from None


def _rows(item: ItemInput, header_first: str):
    lines = _text(item).splitlines()
    if not lines or lines[0].split()[:1] != [header_first]:
        raise FormatError(f"{item.name}: line 1 must be the header ({header_first} ...), as Cholec80 writes it")
    header = lines[0].split()
    for number, line in enumerate(lines[1:], 2):
        if line.strip():
            yield number, header, line.split()


def _frame(value: str, where: str) -> int:
    if not value.isdigit() or int(value) > MAX_FRAME:
        raise FormatError(f"{where}: {value[:20]!r} is not a frame number")
    return int(value)


def read_phases(item: ItemInput, phases: list[str]) -> list[dict]:
    """Runs of equal phases, named or by their 0-based id in the project's list (the 1-fps variant). Frames start
    at 0 and go up by one, or by a constant step of at least MIN_SAMPLE_STEP (a sample then stands for the frames
    up to the next one); a gap or a repeat is an error: a truncated or concatenated file."""
    known = {p.casefold(): p for p in phases}
    out, expected, step = [], 0, None
    for number, _header, cells in _rows(item, "Frame"):
        where = f"{item.name} line {number}"
        if len(cells) != 2:
            raise FormatError(f"{where}: expected a frame number and a phase")
        frame = _frame(cells[0], where)
        if step is None and out:
            step = frame if frame >= MIN_SAMPLE_STEP else 1  # the second line sets the sampling
        if frame != expected and not (step and frame == expected - 1 + step):
            raise FormatError(f"{where}: frame {frame} where {expected if step is None else expected - 1 + step} "
                              f"was expected (frames go up by {step or 1})")
        phase = known.get(cells[1].casefold())
        if phase is None and cells[1].isdigit() and int(cells[1]) < len(phases):
            phase = phases[int(cells[1])]
        if phase is None:
            raise FormatError(f"{where}: phase {cells[1][:40]!r} is not one of the project's phases (a name or "
                              f"an id from 0 to {len(phases) - 1})")
        if out and out[-1]["phase"] == phase:
            out[-1]["end_frame"] = frame + 1
        else:
            if len(out) >= MAX_SEGMENTS:
                raise FormatError(f"{item.name}: more than {MAX_SEGMENTS} phase changes")
            if out:
                out[-1]["end_frame"] = frame
            out.append({"id": f"p{len(out) + 1}", "phase": phase, "start_frame": frame, "end_frame": frame + 1})
        expected = frame + 1
    if not out:
        raise FormatError(f"{item.name}: no frames")
    out[-1]["end_frame"] += (step or 1) - 1  # the last sample stands for its step too
    return out


def read_tools(item: ItemInput, tracks: list[str]) -> list[dict]:
    known = {t.casefold(): t for t in tracks}
    samples: list[tuple[int, list[str]]] = []
    columns: list[str] = []
    for number, header, cells in _rows(item, "Frame"):
        where = f"{item.name} line {number}"
        if not columns:
            columns = header[1:]
            unknown = [c for c in columns if c.casefold() not in known]
            if unknown:
                raise FormatError(f"{item.name}: tool column {unknown[0][:40]!r} is not one of the project's tracks")
        if len(cells) != len(header):
            raise FormatError(f"{where}: {len(cells)} columns where the header has {len(header)}")
        frame = _frame(cells[0], where)
        if samples and frame <= samples[-1][0]:
            raise FormatError(f"{where}: frame {frame} does not come after frame {samples[-1][0]}")
        if any(c not in ("0", "1") for c in cells[1:]):
            raise FormatError(f"{where}: tool presence must be 0 or 1")
        samples.append((frame, cells[1:]))
    if not samples:
        raise FormatError(f"{item.name}: no frames")
    step = samples[1][0] - samples[0][0] if len(samples) > 1 else 25
    tags, open_at = [], {}
    for index, (frame, cells) in enumerate(samples):
        for column, value in zip(columns, cells):
            if value == "1" and column not in open_at:
                open_at[column] = frame
            elif value == "0" and column in open_at:
                tags.append((column, open_at.pop(column), frame))
    end = samples[-1][0] + step
    tags += [(column, start, end) for column, start in open_at.items()]
    return [{"id": f"g{n + 1}", "track": known[column.casefold()], "start_frame": start, "end_frame": stop}
            for n, (column, start, stop) in enumerate(sorted(tags, key=lambda t: (t[1], t[0])))]


def read_json(item: ItemInput, label_config: dict) -> dict:
    try:
        data = json.loads(_text(item))
    except json.JSONDecodeError as exc:
        raise FormatError(f"{item.name}: not JSON (line {exc.lineno}: {exc.msg})") from None
    if isinstance(data, dict) and isinstance(data.get("payload"), dict):
        data = data["payload"]  # one line of our JSONL export
    if is_label_studio(data):
        return read_label_studio(data, sidecar_stem(item.name), item.name, label_config)
    if not isinstance(data, dict) or "phases" not in data:
        raise FormatError(f"{item.name}: expected an object with \"phases\" (our export's payload) or a Label "
                          "Studio export")
    return data


def read_sidecars(sidecars: list[ItemInput], label_config: dict) -> dict | None:
    """One imported draft from a video's annotation files (phase, tool and/or JSON)."""
    payload: dict = {}
    tracks = [t["name"] for t in label_config.get("tracks") or []]
    for sidecar in sidecars:
        lower = sidecar.name.casefold()
        if lower.endswith(".json"):
            payload = {**read_json(sidecar, label_config), **{k: v for k, v in payload.items() if v}}
        elif lower.endswith(("-tags.csv", "_tags.csv")):
            payload = {**payload, **{k: v for k, v in read_csv(sidecar, _text(sidecar), label_config).items() if v}}
        elif lower.endswith(("-phase.txt", "_phase.txt")):
            payload["phases"] = read_phases(sidecar, label_config.get("phases") or [])
        elif lower.endswith(("-tool.txt", "_tool.txt")):
            payload["tags"] = read_tools(sidecar, tracks)
    if not payload:
        return None
    payload.setdefault("phases", [])
    return payload


# -------------------------------------------------------------------------------------------------------- writers
def write_json(pairs, label_config: dict, fh: BinaryIO) -> None:
    for view, payload in pairs:
        line = {"item_id": view.id, "name": view.name, "frame_count": (view.media.frame_count if view.media else None),
                "payload": payload}
        fh.write((json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8"))


def _stem(view) -> str:
    name = (view.name or f"item-{view.id}").rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0] if "." in name else name


def tool_table(view, payload: dict, label_config: dict, step: int = 25) -> str:
    """Cholec80's tool file: instruments present (0/1) at every `step`-th frame."""
    instruments = [t["name"] for t in label_config.get("tracks") or [] if t.get("kind") == "instrument"]
    phases = payload.get("phases", [])
    total = max([p["end_frame"] for p in phases] + [(view.media.frame_count or 0) if view.media else 0])
    tags = [t for t in payload.get("tags", []) if t["track"] in instruments]
    tools = io.StringIO()
    tools.write("Frame\t" + "\t".join(instruments) + "\n")
    for frame in range(0, max(total, 1), step):
        present = ["1" if any(t["track"] == name and t["start_frame"] <= frame < t["end_frame"] for t in tags)
                   else "0" for name in instruments]
        tools.write(f"{frame}\t" + "\t".join(present) + "\n")
    return tools.getvalue()


def write_cholec80(pairs, label_config: dict, fh: BinaryIO) -> None:
    """A zip with `<video>-phase.txt` (every frame) and `<video>-tool.txt` (every 25th frame) per item."""
    with zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as archive:
        for view, payload in pairs:
            payload = payload or {}
            phases = sorted((p for p in payload.get("phases", []) if p.get("phase")), key=lambda p: p["start_frame"])
            text = io.StringIO()
            text.write("Frame\tPhase\n")
            for seg in phases:
                for frame in range(seg["start_frame"], seg["end_frame"]):
                    text.write(f"{frame}\t{seg['phase']}\n")
            archive.writestr(f"{_stem(view)}-phase.txt", text.getvalue())
            archive.writestr(f"{_stem(view)}-tool.txt", tool_table(view, payload, label_config))
