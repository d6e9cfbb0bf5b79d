"""ELAN .eaf transcripts of the consult modality: read sidecars, write a zip of one .eaf per item. Tiers follow
formats_peers (a tier per speaker, "<tier> - words" children, "<tier> (2)" for a speaker's overlapping segments).
ELAN XML is untrusted: parsed with defusedxml, no DOCTYPE allowed (pympi-ling parses with the plain ElementTree, so it
only reads what we write, in the tests)."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from xml.etree import ElementTree

from annotators.base import FormatError, ItemInput
from annotators.consult.formats import _speaker_names
from annotators.consult.formats_peers import (NO_SPEAKER_TIER, SPILL_TIER, WORDS_TIER, SpeakerIds, attach_words,
                                              finish_payload, media_file_name, read_capped, speaker_tiers,
                                              tier_words, zip_per_item)

# Characters XML 1.0 cannot carry at all (not even escaped): ElementTree would write them and ELAN refuse the file.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ELAN_MIME_TYPES = {".wav": "audio/x-wav", ".mp3": "audio/mpeg", ".mp4": "video/mp4", ".ogg": "audio/ogg",
                    ".flac": "audio/flac"}


def write_eaf_one(payload: dict, media_file: str) -> bytes:
    """EAF 3.0: a time-aligned tier per speaker (PARTICIPANT: the speaker's name, role or id), word timings in an
    Included_In child tier "<tier> - words", the media descriptor naming the item's audio beside the .eaf."""
    xsi = "http://www.w3.org/2001/XMLSchema-instance"
    root = ElementTree.Element("ANNOTATION_DOCUMENT", {
        "AUTHOR": "Clinlabel", "DATE": datetime.now(timezone.utc).isoformat(timespec="seconds"), "FORMAT": "3.0",
        "VERSION": "3.0", "xmlns:xsi": xsi,
        "xsi:noNamespaceSchemaLocation": "http://www.mpi.nl/tools/elan/EAFv3.0.xsd"})
    header = ElementTree.SubElement(root, "HEADER", {"MEDIA_FILE": "", "TIME_UNITS": "milliseconds"})
    extension = "." + media_file.rsplit(".", 1)[-1]
    ElementTree.SubElement(header, "MEDIA_DESCRIPTOR", {
        "MEDIA_URL": media_file, "RELATIVE_MEDIA_URL": f"./{media_file}",
        "MIME_TYPE": _ELAN_MIME_TYPES.get(extension, "unknown")})
    order = ElementTree.SubElement(root, "TIME_ORDER")
    counter = {"slot": 0, "annotation": 0}

    def annotate(tier, start: int, end: int, text: str) -> None:
        refs = []
        for ms in (start, end):
            counter["slot"] += 1
            refs.append(f"ts{counter['slot']}")
            ElementTree.SubElement(order, "TIME_SLOT", {"TIME_SLOT_ID": refs[-1], "TIME_VALUE": str(ms)})
        counter["annotation"] += 1
        aligned = ElementTree.SubElement(ElementTree.SubElement(tier, "ANNOTATION"), "ALIGNABLE_ANNOTATION", {
            "ANNOTATION_ID": f"a{counter['annotation']}", "TIME_SLOT_REF1": refs[0], "TIME_SLOT_REF2": refs[1]})
        ElementTree.SubElement(aligned, "ANNOTATION_VALUE").text = _NOT_XML.sub("", text)

    names = _speaker_names(payload)
    for name, segments in speaker_tiers(payload):
        speaker, name = segments[0].get("speaker"), _NOT_XML.sub("", name)
        attributes = {"LINGUISTIC_TYPE_REF": "utterance", "TIER_ID": name}
        if speaker:
            attributes["PARTICIPANT"] = _NOT_XML.sub("", names.get(speaker, speaker))
        tier = ElementTree.SubElement(root, "TIER", attributes)
        for seg in segments:
            annotate(tier, seg["start_ms"], seg["end_ms"], seg["text"])
        words = tier_words(segments)
        if words:
            child = ElementTree.SubElement(root, "TIER", {**attributes, "LINGUISTIC_TYPE_REF": "words",
                                                          "PARENT_REF": name, "TIER_ID": f"{name} - words"})
            for start, end, text in words:
                annotate(child, start, end, text)
    ElementTree.SubElement(header, "PROPERTY", {"NAME": "lastUsedAnnotationId"}).text = str(counter["annotation"])
    ElementTree.SubElement(root, "LINGUISTIC_TYPE", {"GRAPHIC_REFERENCES": "false", "LINGUISTIC_TYPE_ID": "utterance",
                                                     "TIME_ALIGNABLE": "true"})
    ElementTree.SubElement(root, "LINGUISTIC_TYPE", {"CONSTRAINTS": "Included_In", "GRAPHIC_REFERENCES": "false",
                                                     "LINGUISTIC_TYPE_ID": "words", "TIME_ALIGNABLE": "true"})
    ElementTree.SubElement(root, "CONSTRAINT", {"STEREOTYPE": "Included_In", "DESCRIPTION": (
        "Time alignable annotations within the parent annotation's time interval, gaps are allowed")})
    return ElementTree.tostring(root, encoding="UTF-8", xml_declaration=True)


def read_eaf(item: ItemInput) -> dict:
    """Top-level time-aligned tiers are speakers (the tier id; PARTICIPANT, when set, the speaker's name); a child
    tier named "... words" gives their word timings; other child tiers (translations, glosses) are skipped."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, fromstring

    try:  # bytes, so that expat honours the file's own encoding declaration; no DOCTYPE at all, so no entity
        # expansion (billion laughs) and no external entities (XXE)
        root = fromstring(read_capped(item), forbid_dtd=True)
    except DefusedXmlException:
        raise FormatError(f"{item.name}: a DOCTYPE or entity declaration; ELAN files have none") from None
    except ParseError as exc:
        raise FormatError(f"{item.name}: not well-formed XML ({exc})") from None
    if root.tag != "ANNOTATION_DOCUMENT":
        raise FormatError(f"{item.name}: not an ELAN annotation document (root element <{root.tag[:40]}>)")
    header = root.find("HEADER")
    if header is not None and header.get("TIME_UNITS", "milliseconds") != "milliseconds":
        raise FormatError(f"{item.name}: TIME_UNITS {header.get('TIME_UNITS')[:20]!r}; ELAN writes milliseconds")
    slots: dict[str, int] = {}
    for slot in root.iterfind("TIME_ORDER/TIME_SLOT"):
        if slot.get("TIME_VALUE") is not None:
            value = slot.get("TIME_VALUE")
            if not re.fullmatch(r"[0-9]{1,12}", value):
                raise FormatError(f"{item.name}: time slot {slot.get('TIME_SLOT_ID', '?')[:40]!r}: "
                                  f"{value[:20]!r} is not milliseconds")
            slots[slot.get("TIME_SLOT_ID", "")] = int(value)
    speakers, segments, by_tier = SpeakerIds(), [], {}
    tiers = root.findall("TIER")
    if not tiers:
        raise FormatError(f"{item.name}: no TIER elements")
    tier_ids = {t.get("TIER_ID", "") for t in tiers if not t.get("PARENT_REF")}

    def annotations(tier, tier_id: str):
        for aligned in tier.iterfind("ANNOTATION/ALIGNABLE_ANNOTATION"):
            start, end = slots.get(aligned.get("TIME_SLOT_REF1", "")), slots.get(aligned.get("TIME_SLOT_REF2", ""))
            if start is None or end is None:
                continue  # an unaligned slot: ELAN interpolates it for display, it has no time of its own
            if end < start:
                annotation_id = aligned.get("ANNOTATION_ID", "?")[:40]
                raise FormatError(f"{item.name}: tier {tier_id!r} annotation {annotation_id!r} ends before it starts")
            if end > start:
                yield start, end, " ".join((aligned.findtext("ANNOTATION_VALUE") or "").split())

    for tier in tiers:
        tier_id = tier.get("TIER_ID") or ""
        if not tier_id.strip():
            raise FormatError(f"{item.name}: a TIER without a TIER_ID")
        if tier.get("PARENT_REF"):
            continue
        participant = (tier.get("PARTICIPANT") or "").strip()
        spill = SPILL_TIER.match(tier_id)
        base = spill.group("base") if spill and spill.group("base") in tier_ids else tier_id
        speaker = None if base.lower() == NO_SPEAKER_TIER and not participant else speakers.id_for(base, participant)
        by_tier[tier_id] = [{"start_ms": a, "end_ms": b, "speaker": speaker, "text": t}
                            for a, b, t in annotations(tier, tier_id)]
        segments += by_tier[tier_id]
    for tier in tiers:
        tier_id, parent = tier.get("TIER_ID", ""), tier.get("PARENT_REF")
        is_words = WORDS_TIER.match(tier_id) or "word" in tier.get("LINGUISTIC_TYPE_REF", "").lower()
        if parent in by_tier and is_words:
            attach_words(by_tier[parent], [{"text": t[:200], "start_ms": a, "end_ms": b}
                                            for a, b, t in annotations(tier, tier_id) if t])
    return finish_payload(item.name, segments, speakers)


write_eaf = zip_per_item(".eaf", lambda view, payload: write_eaf_one(payload, media_file_name(view)))
