"""Label configuration and payload of the consult modality. Times are integer milliseconds from the start of the
audio (the probe's start offset already removed)."""
from __future__ import annotations

from annotators.notes import schema as notes_schema
from ontologies.loaders.builtin import CONSULT_SEGMENTS

# The default vocabulary: the shipped consult_segments terminology (ontologies/loaders/builtin.py), by code.
SEGMENT_TYPES = [code for code, _name, _synonyms in CONSULT_SEGMENTS]
SPEAKER_ROLES = ["clinician", "patient", "companion", "interpreter"]
SEGMENT_ATTRIBUTES = [{"name": "emotion", "values": ["neutral", "worried", "distressed", "relieved", "angry"]},
                      {"name": "interruption", "values": ["yes", "no"]},
                      {"name": "overlap", "values": ["yes", "no"]}]

NAME = {"type": "string", "minLength": 1, "maxLength": 80, "pattern": r"^[^<>&\"'`]+$"}
MAX_SEGMENTS = 20_000  # a 3-hour consultation has a few thousand
MAX_WORDS = 400_000

LABEL_CONFIG_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Consultation configuration",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "segment_types": {"type": "array", "maxItems": 100, "uniqueItems": True, "items": NAME,
                          "title": "Segment types"},
        "speaker_roles": {"type": "array", "maxItems": 20, "uniqueItems": True, "items": NAME,
                          "title": "Speaker roles"},
        "segment_attributes": {
            "type": "array", "maxItems": 20, "title": "Segment attributes",
            "items": {"type": "object", "additionalProperties": False, "required": ["name", "values"],
                      "properties": {"name": NAME, "values": {"type": "array", "minItems": 1, "maxItems": 50,
                                                              "uniqueItems": True, "items": NAME}}},
        },
        "whisper_model": {"type": "string", "enum": ["tiny.en"], "default": "tiny.en",
                          "title": "Transcription model (installed sizes)"},
        "whisper_backend": {"type": "string", "enum": ["auto", "openai-whisper", "faster-whisper"], "default": "auto",
                            "title": "Transcription backend (auto: faster-whisper int8 on CPU workers when installed, "
                                     "openai-whisper fp16 on GPU workers)"},
        "language": {"type": "string", "pattern": "^[a-z]{2}$", "default": "en", "title": "Language"},
        "speakers_per_channel": {"type": "boolean", "default": True,
                                 "title": "Stereo calls: one speaker per channel"},
        "diarize": {"type": "boolean", "default": True,
                    "title": "Label speakers by voice (mono recordings, or stereo without one speaker per channel)"},
        "num_speakers": {"type": ["integer", "null"], "minimum": 1, "maximum": 10, "default": None,
                         "title": "Speakers per recording (empty: estimated)"},
        "phi": {"type": "boolean", "default": True,
                "title": "Mark PHI in the transcript (names, dates, places, numbers) for de-identified exports"},
        "redaction": {"type": "object", "additionalProperties": False, "title": "Redacted audio export",
                      "properties": {"margin_ms": {"type": "integer", "minimum": 0, "maximum": 2000, "default": 150},
                                     "fill": {"type": "string", "enum": ["tone", "silence"], "default": "tone"}}},
        # Clinical entities in the transcript text, annotated with the notes modality's span tools and concept picker.
        "entities": {"type": "object", "additionalProperties": False, "title": "Clinical entities in the transcript",
                     "properties": {key: notes_schema.LABEL_CONFIG_SCHEMA["properties"][key]
                                    for key in ("entity_labels", "relation_types", "assertions")}},
        "known_voices": {"type": "boolean", "default": True,
                         "title": "Name speakers whose voice was confirmed in accepted annotations"},
        "instructions": {"type": "string", "maxLength": 5000, "title": "Instructions for transcribers"},
    },
}

WORD = {"type": "object", "additionalProperties": False, "required": ["text", "start_ms", "end_ms"],
        "properties": {"text": {"type": "string", "maxLength": 200},
                       "start_ms": {"type": "integer", "minimum": 0}, "end_ms": {"type": "integer", "minimum": 0},
                       "score": {"type": "number", "minimum": 0, "maximum": 1}}}

# PHI inside a segment: character offsets into its text, and the time its words are spoken (for redaction).
PHI_SPAN = {"type": "object", "additionalProperties": False, "required": ["start", "end", "label", "start_ms", "end_ms"],
            "properties": {"start": {"type": "integer", "minimum": 0}, "end": {"type": "integer", "minimum": 1},
                           "label": {"type": "string", "minLength": 1, "maxLength": 40},
                           "start_ms": {"type": "integer", "minimum": 0}, "end_ms": {"type": "integer", "minimum": 0},
                           "score": {"type": "number", "minimum": 0, "maximum": 1},
                           "source": {"type": "string", "enum": ["model", "human"]}}}

# Clinical entities in one segment's text: the notes payload (spans with assertion and concept, relations), offsets
# into the segment's text.
ENTITIES = {"type": "object", "additionalProperties": False, "required": ["spans"],
            "properties": {"spans": {**notes_schema.PAYLOAD_SCHEMA["properties"]["spans"], "maxItems": 2000},
                           "relations": {**notes_schema.PAYLOAD_SCHEMA["properties"]["relations"], "maxItems": 2000}}}

PAYLOAD_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["segments"],
    "properties": {
        "speakers": {"type": "array", "maxItems": 50, "items": {
            "type": "object", "additionalProperties": False, "required": ["id"],
            "properties": {"id": {"type": "string", "minLength": 1, "maxLength": 40},
                           "role": {"type": "string", "maxLength": 80}, "name": {"type": "string", "maxLength": 120},
                           "channel": {"type": "integer", "minimum": 0, "maximum": 63}}}},
        "segments": {"type": "array", "maxItems": MAX_SEGMENTS, "items": {
            "type": "object", "additionalProperties": False, "required": ["id", "start_ms", "end_ms", "text"],
            "properties": {
                "id": {"type": "string", "minLength": 1, "maxLength": 40},
                "start_ms": {"type": "integer", "minimum": 0}, "end_ms": {"type": "integer", "minimum": 0},
                "speaker": {"type": ["string", "null"], "maxLength": 40},
                "channel": {"type": ["integer", "null"], "minimum": 0, "maximum": 63},
                "text": {"type": "string", "maxLength": 20_000},
                "words": {"type": "array", "maxItems": 5000, "items": WORD},
                "type": {"type": ["string", "null"], "maxLength": 80},
                "attrs": {"type": "object", "maxProperties": 20,
                          "additionalProperties": {"type": "string", "maxLength": 80}},
                "overlap": {"type": "boolean"},
                "phi": {"type": "array", "maxItems": 500, "items": PHI_SPAN},
                "entities": ENTITIES,
                "score": {"type": "number", "minimum": 0, "maximum": 1},
            }}},
    },
}


def default_entities() -> dict:
    notes = notes_schema.default_label_config()
    return {key: notes[key] for key in ("entity_labels", "relation_types", "assertions")}


def default_label_config() -> dict:
    return {"segment_types": list(SEGMENT_TYPES), "speaker_roles": list(SPEAKER_ROLES),
            "segment_attributes": [dict(a) for a in SEGMENT_ATTRIBUTES],
            "whisper_model": "tiny.en", "language": "en", "speakers_per_channel": True,
            "entities": default_entities()}


def check_semantics(payload: dict, label_config: dict) -> None:
    """Times ordered, words inside their segment, ids unique, labels from the configuration. Raises ValueError."""
    speakers = {s["id"] for s in payload.get("speakers", [])}
    types = set(label_config.get("segment_types") or [])
    attributes = {a["name"]: set(a["values"]) for a in label_config.get("segment_attributes") or []}
    seen: set[str] = set()
    words = 0
    for index, seg in enumerate(payload["segments"]):
        where = f"segments[{index}]"
        if seg["id"] in seen:
            raise ValueError(f"{where}: duplicate segment id")
        seen.add(seg["id"])
        if seg["end_ms"] <= seg["start_ms"]:
            raise ValueError(f"{where}: end_ms must be after start_ms")
        if seg.get("speaker") and speakers and seg["speaker"] not in speakers:
            raise ValueError(f"{where}: speaker {seg['speaker']!r} is not in speakers")
        if seg.get("type") and types and seg["type"] not in types:
            raise ValueError(f"{where}: segment type {seg['type']!r} is not in the project's segment types")
        for name, value in (seg.get("attrs") or {}).items():
            if name not in attributes or value not in attributes[name]:
                raise ValueError(f"{where}: attribute {name}={value!r} is not in the project's segment attributes")
        for w, word in enumerate(seg.get("words") or []):
            if word["end_ms"] < word["start_ms"] or word["start_ms"] < seg["start_ms"] - 50 \
                    or word["end_ms"] > seg["end_ms"] + 50:
                raise ValueError(f"{where}.words[{w}]: times must lie inside the segment")
        words += len(seg.get("words") or [])
        for p, span in enumerate(seg.get("phi") or []):
            if not span["start"] < span["end"] <= len(seg["text"]) or span["end_ms"] < span["start_ms"]:
                raise ValueError(f"{where}.phi[{p}]: offsets must lie inside the segment's text, times in order")
        if seg.get("entities"):
            entities = {**(label_config.get("entities") or default_entities()), "phi_labels": []}
            problems = notes_schema.semantic_errors(seg["entities"], entities, seg["text"], max_errors=1)
            if problems:
                raise ValueError(f"{where}.entities: {problems[0]}")
    if words > MAX_WORDS:
        raise ValueError(f"more than {MAX_WORDS} words")
