"""Surgical annotations in the shapes other tools read: Cholec80's 1-fps variant with numeric phase ids, one CSV
of phases, tags and comments, and Label Studio's video JSON (TimelineLabels). Each writer has its reader, and a
round trip gives the same frames back (the 1-fps variant: when boundaries fall on sampled frames, as a 1-fps
annotation's do).

- 1 fps: `<video>-phase.txt` with a header `Frame<TAB>Phase`, a line every `step` frames (the video's nominal rate
  rounded, 25 for Cholec80) with the phase's index in the project's phase list (0-based, the order TeCNO-style
  training code uses); `phase-ids.txt` maps the ids to names. The tool file is Cholec80's (already 1 fps).
- CSV: `kind,item_id,video,label,start_frame,end_frame,start_ms,end_ms,text`; `kind` is phase, tag or comment
  (a comment's end is its frame + 1); times from the frame index; every cell goes through the formula-safe writer.
- Label Studio: a list of tasks `{"data": {"video": name}, "annotations": [{"result": [...]}]}`; phases are
  `timelinelabels` regions from `phases`, tags from `tags` (the label is the track). Label Studio counts video frames
  from 1 and a range's end is its last frame, so our [start, end) becomes {start + 1, end}.
"""
from __future__ import annotations

import csv
import io
import json
import zipfile
from typing import BinaryIO

from annotators.base import FormatError, ItemInput
from annotators.csv_cells import safe_writer
from annotators.surgical.schema import MAX_FRAME, MAX_SEGMENTS

CSV_COLUMNS = ["kind", "item_id", "video", "label", "start_frame", "end_frame", "start_ms", "end_ms", "text"]
LS_PHASES, LS_TAGS, LS_VIDEO = "phases", "tags", "video"


def sample_step(view) -> int:
    """Frames between two 1-fps samples: the nominal rate rounded (25 when the video does not say)."""
    fps = view.media.fps if view.media else None
    return max(1, round(fps)) if fps else 25


def frame_ms(view):
    """frame -> milliseconds from the frame index (as the player shows them: the end of the last frame for
    frame == count); from the nominal rate when the index is not at hand."""
    path = (getattr(view, "assets", None) or {}).get("frames")
    if not path:
        fps = (view.media.fps if view.media else None) or 25
        return lambda k: round(k * 1000 / fps)
    with open(path, encoding="utf-8") as fh:
        index = json.load(fh)
    num, den = index["time_base"]
    pts, n = index["pts"], len(index["pts"])
    last = (pts[-1] - pts[-2]) if n > 1 else round(den / num / 25)

    def ms(k: int) -> int:
        at = pts[k] if k < n else pts[-1] + last * (k - n + 1)
        return round(at * num * 1000 / den)
    return ms


def _stem(view) -> str:
    from annotators.surgical.formats import _stem as stem

    return stem(view)


# -------------------------------------------------------------------------------------------------------- writers
def write_cholec80_1fps(pairs, label_config: dict, fh: BinaryIO) -> None:
    from annotators.surgical.formats import tool_table

    names = list(label_config.get("phases") or [])
    ids = {name: n for n, name in enumerate(names)}
    with zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("phase-ids.txt", "Id\tPhase\n" + "".join(f"{n}\t{name}\n" for n, name in enumerate(names)))
        for view, payload in pairs:
            payload, step = payload or {}, sample_step(view)
            phases = sorted((p for p in payload.get("phases", []) if p.get("phase") in ids),
                            key=lambda p: p["start_frame"])
            text = io.StringIO()
            text.write("Frame\tPhase\n")
            at = 0
            for seg in phases:
                first = -(-seg["start_frame"] // step) * step  # the first sample inside the segment
                for frame in range(max(first, at), seg["end_frame"], step):
                    text.write(f"{frame}\t{ids[seg['phase']]}\n")
                    at = frame + step
            archive.writestr(f"{_stem(view)}-phase.txt", text.getvalue())
            archive.writestr(f"{_stem(view)}-tool.txt", tool_table(view, payload, label_config, step))


def write_csv(pairs, label_config: dict, fh: BinaryIO) -> None:
    text = io.TextIOWrapper(fh, encoding="utf-8", newline="")
    writer = safe_writer(text)
    writer.writerow(CSV_COLUMNS)
    for view, payload in pairs:
        payload, name, ms = payload or {}, view.name or "", frame_ms(view)
        for seg in sorted(payload.get("phases", []), key=lambda s: s["start_frame"]):
            writer.writerow(["phase", view.id, name, seg.get("phase") or "", seg["start_frame"], seg["end_frame"],
                             ms(seg["start_frame"]), ms(seg["end_frame"]), ""])
        for tag in sorted(payload.get("tags", []), key=lambda t: (t["start_frame"], t["track"])):
            writer.writerow(["tag", view.id, name, tag["track"], tag["start_frame"], tag["end_frame"],
                             ms(tag["start_frame"]), ms(tag["end_frame"]), ""])
        for comment in sorted(payload.get("comments", []), key=lambda c: c["frame"]):
            writer.writerow(["comment", view.id, name, "", comment["frame"], comment["frame"] + 1,
                             ms(comment["frame"]), ms(comment["frame"]), comment["text"]])
    text.flush()
    text.detach()


def label_studio_task(view, payload: dict) -> dict:
    result = []
    for kind, entries, label_of in ((LS_PHASES, payload.get("phases", []), lambda e: e.get("phase")),
                                    (LS_TAGS, payload.get("tags", []), lambda e: e["track"])):
        for entry in entries:
            if not label_of(entry):
                continue  # an unlabelled stretch is no region
            result.append({"id": entry["id"], "from_name": kind, "to_name": LS_VIDEO, "type": "timelinelabels",
                           "value": {"ranges": [{"start": entry["start_frame"] + 1, "end": entry["end_frame"]}],
                                     "timelinelabels": [label_of(entry)]}})
    fps = view.media.fps if view.media else None
    return {"data": {LS_VIDEO: view.name or f"item-{view.id}"},
            "meta": {"item_id": view.id, "frame_count": view.media.frame_count if view.media else None,
                     "fps": round(fps, 6) if fps else None},
            "annotations": [{"result": result}]}


def write_label_studio(pairs, label_config: dict, fh: BinaryIO) -> None:
    fh.write(b"[")
    for n, (view, payload) in enumerate(pairs):
        fh.write((("," if n else "") + "\n" + json.dumps(label_studio_task(view, payload or {}), ensure_ascii=False))
                 .encode("utf-8"))
    fh.write(b"\n]\n")


# -------------------------------------------------------------------------------------------------------- readers
def _int(value: str, where: str, what: str) -> int:
    value = (value or "").strip()
    if not value.isdigit() or int(value) > MAX_FRAME:
        raise FormatError(f"{where}: {what} {value[:20]!r} is not a frame number")
    return int(value)


def read_csv(item: ItemInput, text: str, label_config: dict) -> dict:
    """Phases, tags and comments from our CSV (only the frames count: times are filled from the frame index)."""
    rows = csv.reader(io.StringIO(text))
    header = [c.strip() for c in next(rows, [])]
    missing = [c for c in ("kind", "label", "start_frame", "end_frame") if c not in header]
    if missing:
        raise FormatError(f"{item.name}: line 1 must name the columns; missing {', '.join(missing)}")
    col = {name: header.index(name) for name in header}
    payload: dict = {"phases": [], "tags": [], "comments": []}
    for number, cells in enumerate(rows, 2):
        if not any(c.strip() for c in cells):
            continue
        where = f"{item.name} line {number}"
        cell = lambda name: cells[col[name]] if name in col and col[name] < len(cells) else ""  # noqa: E731
        kind = cell("kind").strip().lower()
        start, end = _int(cell("start_frame"), where, "start_frame"), _int(cell("end_frame"), where, "end_frame")
        if kind == "phase":
            entry = {"id": f"p{len(payload['phases']) + 1}", "phase": cell("label").strip() or None,
                     "start_frame": start, "end_frame": end}
            payload["phases"].append(entry)
        elif kind == "tag":
            payload["tags"].append({"id": f"g{len(payload['tags']) + 1}", "track": cell("label").strip(),
                                    "start_frame": start, "end_frame": end})
        elif kind == "comment":
            payload["comments"].append({"id": f"c{len(payload['comments']) + 1}", "frame": start,
                                        "text": cell("text")[:5000]})
        else:
            raise FormatError(f"{where}: kind {kind[:20]!r} is not phase, tag or comment")
        if sum(len(v) for v in payload.values()) > 2 * MAX_SEGMENTS:
            raise FormatError(f"{item.name}: more than {2 * MAX_SEGMENTS} rows")
    return payload


def is_label_studio(data) -> bool:
    tasks = data if isinstance(data, list) else [data]
    return bool(tasks) and all(isinstance(t, dict) and ("annotations" in t or "predictions" in t) and "data" in t
                               for t in tasks)


def _task_for(tasks: list, stem: str, name: str) -> dict:
    if len(tasks) == 1:
        return tasks[0]
    for task in tasks:
        video = str((task.get("data") or {}).get(LS_VIDEO) or "").rsplit("/", 1)[-1].split("?")[0]
        if video.casefold().rsplit(".", 1)[0] == stem:
            return task
    raise FormatError(f"{name}: none of its {len(tasks)} Label Studio tasks is for video {stem!r}")


def read_label_studio(data, stem: str, name: str, label_config: dict) -> dict:
    """The first annotation (else prediction) of the task for this video; frames 1-based with inclusive ends.
    A region is a tag when it comes from `tags` or its label is one of the project's tracks (not a phase)."""
    phase_names = set(label_config.get("phases") or [])
    track_names = {t["name"] for t in label_config.get("tracks") or []}
    task = _task_for(data if isinstance(data, list) else [data], stem, name)
    chosen = (task.get("annotations") or []) or (task.get("predictions") or [])
    results = (chosen[0].get("result") if chosen and isinstance(chosen[0], dict) else None) or []
    payload: dict = {"phases": [], "tags": [], "comments": []}
    for n, region in enumerate(results):
        if not isinstance(region, dict) or region.get("type") != "timelinelabels":
            continue
        value = region.get("value") or {}
        labels, ranges = value.get("timelinelabels") or [], value.get("ranges") or []
        if len(labels) != 1 or not isinstance(labels[0], str):
            raise FormatError(f"{name}: region {n + 1} must carry one label")
        for r in ranges:
            start, end = r.get("start") if isinstance(r, dict) else None, r.get("end") if isinstance(r, dict) else None
            if not (isinstance(start, int) and isinstance(end, int) and 1 <= start <= end <= MAX_FRAME):
                raise FormatError(f"{name}: region {n + 1} has a range that is not whole frames from 1 "
                                  f"({str(start)[:20]}..{str(end)[:20]})")
            if region.get("from_name") == LS_TAGS or (labels[0] in track_names and labels[0] not in phase_names):
                payload["tags"].append({"id": f"g{len(payload['tags']) + 1}", "track": labels[0],
                                        "start_frame": start - 1, "end_frame": end})
            else:
                payload["phases"].append({"id": f"p{len(payload['phases']) + 1}", "phase": labels[0],
                                          "start_frame": start - 1, "end_frame": end})
        if len(payload["phases"]) + len(payload["tags"]) > 2 * MAX_SEGMENTS:
            raise FormatError(f"{name}: more than {2 * MAX_SEGMENTS} regions")
    return payload
