"""Label configuration and payload of the surgical video modality.

Every boundary is a frame number (0-based, from the frame index: sorted presentation timestamps) and the time of
that frame in ms from the first frame (`start_ms`, optional on imports that only know frames). Intervals are
half-open: `end_frame` is the first frame after the interval, so consecutive phases share a boundary
(phases[i].end_frame == phases[i + 1].start_frame) and cover the timeline without overlap.
"""
from __future__ import annotations

from ontologies.loaders.builtin import CHOLEC80_PHASES

PHASES = [code for code, _name, _synonyms in CHOLEC80_PHASES]
CHOLEC80_TOOLS = ["Grasper", "Bipolar", "Hook", "Scissors", "Clipper", "Irrigator", "SpecimenBag"]
EVENTS = ["bleeding", "smoke", "camera_out_of_body"]
NAME = {"type": "string", "minLength": 1, "maxLength": 80, "pattern": r"^[^<>&\"'`]+$"}
MAX_SEGMENTS = 50_000
MAX_FRAME = 10 * 3600 * 240  # ten hours at 240 fps

LABEL_CONFIG_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Surgical video configuration",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "phases": {"type": "array", "minItems": 1, "maxItems": 50, "uniqueItems": True, "items": NAME,
                   "title": "Phases (hotkeys 1-9 in this order)"},
        # phase -> its steps, step -> its actions (the vocabulary's hierarchy); a segment may name a step of its phase
        "steps": {"type": "object", "maxProperties": 50, "title": "Steps per phase",
                  "additionalProperties": {"type": "array", "maxItems": 50, "uniqueItems": True, "items": NAME}},
        "actions": {"type": "object", "maxProperties": 500, "title": "Actions per step",
                    "additionalProperties": {"type": "array", "maxItems": 50, "uniqueItems": True, "items": NAME}},
        "tracks": {"type": "array", "maxItems": 40, "title": "Tag tracks (instruments present, events)",
                   "items": {"type": "object", "additionalProperties": False, "required": ["name", "kind"],
                             "properties": {"name": NAME, "kind": {"enum": ["instrument", "event"]}}}},
        "min_phase_s": {"type": "number", "minimum": 0, "maximum": 600, "default": 10,
                        "title": "Shortest phase a model proposes (s)"},
        "checkpoint_path": {"type": ["string", "null"], "maxLength": 500, "default": None,
                            "title": "Pretrained backbone checkpoint (a path on the worker)"},
        "instructions": {"type": "string", "maxLength": 5000, "title": "Instructions for annotators"},
        "deidentify": {"type": "object", "additionalProperties": False, "title": "Face blurring (de-identification)",
                       "properties": {
                           "blur_faces_at_ingest": {"type": "boolean", "default": False,
                                                    "title": "Annotators see a proxy with faces masked"},
                           "detect_every": {"type": "integer", "minimum": 1, "maximum": 25, "default": 5,
                                            "title": "Frames between face detections"},
                           "method": {"enum": ["blur", "pixelate", "black"], "default": "blur"},
                           # fixed regions always masked, as fractions of the picture: [x, y, width, height]
                           "extra_regions": {"type": "array", "maxItems": 20, "items": {
                               "type": "array", "minItems": 4, "maxItems": 4,
                               "items": {"type": "number", "minimum": 0, "maximum": 1}}}}},
    },
}

_INTERVAL = {"start_frame": {"type": "integer", "minimum": 0, "maximum": MAX_FRAME},
             "end_frame": {"type": "integer", "minimum": 1, "maximum": MAX_FRAME},
             "start_ms": {"type": "integer", "minimum": 0}, "end_ms": {"type": "integer", "minimum": 0}}
_ID = {"type": "string", "minLength": 1, "maxLength": 40}

PAYLOAD_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["phases"],
    "properties": {
        "phases": {"type": "array", "maxItems": MAX_SEGMENTS, "items": {
            "type": "object", "additionalProperties": False, "required": ["id", "phase", "start_frame", "end_frame"],
            "properties": {"id": _ID, "phase": {"type": ["string", "null"], "maxLength": 80},
                           "step": {"type": ["string", "null"], "maxLength": 80},
                           "action": {"type": ["string", "null"], "maxLength": 80},
                           "score": {"type": "number", "minimum": 0, "maximum": 1}, **_INTERVAL}}},
        "tags": {"type": "array", "maxItems": MAX_SEGMENTS, "items": {
            "type": "object", "additionalProperties": False, "required": ["id", "track", "start_frame", "end_frame"],
            "properties": {"id": _ID, "track": {"type": "string", "maxLength": 80},
                           "score": {"type": "number", "minimum": 0, "maximum": 1}, **_INTERVAL}}},
        "comments": {"type": "array", "maxItems": 5000, "items": {
            "type": "object", "additionalProperties": False, "required": ["id", "frame", "text"],
            "properties": {"id": _ID, "frame": {"type": "integer", "minimum": 0, "maximum": MAX_FRAME},
                           "ms": {"type": "integer", "minimum": 0}, "text": {"type": "string", "maxLength": 5000}}}},
    },
}


def default_label_config() -> dict:
    return {"phases": list(PHASES),
            "tracks": [{"name": t, "kind": "instrument"} for t in CHOLEC80_TOOLS]
            + [{"name": e, "kind": "event"} for e in EVENTS],
            "min_phase_s": 10}


def check_semantics(payload: dict, label_config: dict) -> None:
    """Phases ordered and not overlapping, intervals forward, labels from the configuration. Raises ValueError
    naming the entry (never its comment text)."""
    phases = set(label_config.get("phases") or PHASES)
    steps = label_config.get("steps") or {}
    actions = label_config.get("actions") or {}
    tracks = {t["name"] for t in label_config.get("tracks") or default_label_config()["tracks"]}
    seen: set[str] = set()
    previous_end = 0
    for index, seg in enumerate(sorted(payload["phases"], key=lambda s: s["start_frame"])):
        where = f"phases[{index}]"
        _check_interval(seg, where, seen)
        if seg["start_frame"] < previous_end:
            raise ValueError(f"{where}: starts at frame {seg['start_frame']}, inside the phase before it "
                             f"(ends at {previous_end}); phases may not overlap")
        previous_end = seg["end_frame"]
        if seg["phase"] is not None and seg["phase"] not in phases:
            raise ValueError(f"{where}: phase {seg['phase']!r} is not in the project's phases")
        if seg.get("step") and seg["step"] not in steps.get(seg["phase"] or "", []):
            raise ValueError(f"{where}: step {seg['step']!r} is not a step of phase {seg['phase']!r}")
        if seg.get("action") and seg["action"] not in actions.get(seg.get("step") or "", []):
            raise ValueError(f"{where}: action {seg['action']!r} is not an action of step {seg.get('step')!r}")
    for index, tag in enumerate(payload.get("tags") or []):
        _check_interval(tag, f"tags[{index}]", seen)
        if tag["track"] not in tracks:
            raise ValueError(f"tags[{index}]: track {tag['track']!r} is not in the project's tracks")
    for index, comment in enumerate(payload.get("comments") or []):
        if comment["id"] in seen:
            raise ValueError(f"comments[{index}]: duplicate id")
        seen.add(comment["id"])


def _check_interval(entry: dict, where: str, seen: set) -> None:
    if entry["id"] in seen:
        raise ValueError(f"{where}: duplicate id")
    seen.add(entry["id"])
    if entry["end_frame"] <= entry["start_frame"]:
        raise ValueError(f"{where}: end_frame must be after start_frame")
    if "start_ms" in entry and "end_ms" in entry and entry["end_ms"] < entry["start_ms"]:
        raise ValueError(f"{where}: end_ms must not be before start_ms")
