"""Praat TextGrid transcripts of the consult modality: read sidecars, write a zip of one .TextGrid per item. Tiers
follow formats_peers (a tier per speaker, "<tier> - words" word timings, "<tier> (2)" for a speaker's overlapping
segments); phone and point tiers are skipped on reading. Parsed by praatio; a file it cannot parse gets a FormatError
naming the tier and line where it goes wrong."""
from __future__ import annotations

import re

from annotators.base import FormatError, ItemInput
from annotators.consult.formats_peers import (NO_SPEAKER_TIER, SPILL_TIER, WORDS_TIER, SpeakerIds,
                                              _duration_ms, _read_text, _seconds, _segments_from_words, _to_ms,
                                              attach_words, finish_payload, read_capped, speaker_tiers, tier_words,
                                              zip_per_item)

_PHONES_TIER = re.compile(r"^(?:.+?\s+-\s+)?(?:phones?|phonemes?|syllables?)$", re.IGNORECASE)


def _praat_string(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def write_textgrid_one(payload: dict, duration_ms: int = 0) -> str:
    """Praat's long text format: an interval tier per speaker (gaps filled with empty intervals, as Praat wants)
    and a "<tier> - words" tier after each tier that has word timings."""
    blocks = []
    for name, segments in speaker_tiers(payload):
        blocks.append((name, [(s["start_ms"], s["end_ms"], s["text"]) for s in segments]))
        words = tier_words(segments)
        if words:
            blocks.append((f"{name} - words", words))
    blocks = blocks or [(NO_SPEAKER_TIER, [])]
    end = max([duration_ms, 1] + [b for _, intervals in blocks for _, b, _ in intervals])
    lines = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "", "xmin = 0", f"xmax = {_seconds(end)}",
             "tiers? <exists>", f"size = {len(blocks)}", "item []:"]
    for number, (name, intervals) in enumerate(blocks, 1):
        filled, cursor = [], 0
        for start, stop, text in intervals:
            if start > cursor:
                filled.append((cursor, start, ""))
            filled.append((start, stop, text))
            cursor = stop
        if cursor < end:
            filled.append((cursor, end, ""))
        lines += [f"    item [{number}]:", '        class = "IntervalTier"', f"        name = {_praat_string(name)}",
                  "        xmin = 0", f"        xmax = {_seconds(end)}", f"        intervals: size = {len(filled)}"]
        for index, (start, stop, text) in enumerate(filled, 1):
            lines += [f"        intervals [{index}]:", f"            xmin = {_seconds(start)}",
                      f"            xmax = {_seconds(stop)}", f"            text = {_praat_string(text)}"]
    return "\n".join(lines) + "\n"


def _textgrid_problem_place(text: str) -> str:
    """Where a long-format TextGrid that praatio could not parse goes wrong: the first interval with a field
    missing or a time that is not a number, else the last one when the file stops inside it."""
    tier, block, fields = "?", None, set()
    for number, line in enumerate(text.splitlines() + ["intervals [end]:"], 1):
        stripped = line.strip()
        key, _, value = stripped.partition("=")
        key, value = key.strip(), value.strip()
        if stripped.startswith(("intervals [", "points [", "item [")):
            if block is not None and not ({"xmin", "xmax", "text"} <= fields or {"number", "mark"} <= fields):
                return f" (tier {tier!r}, {block}: a field is missing)"
            block, fields = None, set()
            if not stripped.startswith("item ["):
                block = f"{stripped.rstrip(':')} at line {number}"
        elif key == "name" and block is None:
            tier = value.strip('"')
        elif key in ("xmin", "xmax", "number") and block is not None:
            try:
                float(value)
            except ValueError:
                return f" (tier {tier!r}, line {number}: {value[:20]!r} is not a time)"
            fields.add(key)
        elif key:
            fields.add(key)
    if not text.rstrip().endswith('"'):
        return (f" (tier {tier!r}: the file stops inside its last interval; truncated?)" if tier != "?"
                else " (the file stops inside its header; truncated?)")
    return ""


def read_textgrid(item: ItemInput) -> dict:
    """Interval tiers: speakers, their "- words" tiers word timings (a bare "words" tier goes to whichever speaker
    segment holds each word; with no speaker tier, its words make the segments); phone and point tiers are skipped."""
    from praatio.utilities import textgrid_io

    data = read_capped(item)
    if data.startswith(b"ooBinaryFile"):
        raise FormatError(f"{item.name}: a binary TextGrid; save it from Praat as a text file")
    text = _read_text(item, data)
    head = text[:400]
    if "ooTextFile" not in head or "TextGrid" not in head:
        raise FormatError(f'{item.name}: not a Praat TextGrid (one starts File type = "ooTextFile", '
                          'Object class = "TextGrid")')
    try:
        grid = textgrid_io.parseTextgridStr(text, includeEmptyIntervals=True)
    except Exception as exc:  # noqa: BLE001 - praatio raises assorted errors (IndexError, ParsingError...) on bad input
        raise FormatError(f"{item.name}: not a readable TextGrid{_textgrid_problem_place(text)}: "
                          f"{str(exc)[:120] or type(exc).__name__}") from None
    if "item [" in text:  # the long format declares its counts: a file cut at a tier's or interval's end shows
        tier_count = re.search(r"^tiers\? <exists>\s*\nsize = (\d+)\s*$", text, re.MULTILINE)
        if tier_count and int(tier_count.group(1)) != len(grid["tiers"]):
            raise FormatError(f"{item.name}: declares {tier_count.group(1)} tiers but holds {len(grid['tiers'])} "
                              "(a truncated file?)")
        declared = [int(n) for n in re.findall(r"^\s*(?:intervals|points): size = (\d+)\s*$", text, re.MULTILINE)]
        for index, tier in enumerate(grid["tiers"]):
            if index >= len(declared):
                raise FormatError(f"{item.name}: tier {tier['name']!r} has no 'intervals: size' line")
            if declared[index] != len(tier["entries"]):
                raise FormatError(f"{item.name}: tier {tier['name']!r} declares {declared[index]} intervals but "
                                  f"holds {len(tier['entries'])} (a truncated file?)")
    tiers = [t for t in grid["tiers"] if t["class"] == "IntervalTier" and not _PHONES_TIER.match(t["name"].strip())]
    if not tiers:
        raise FormatError(f"{item.name}: no interval tier (point tiers hold no segments)")
    speakers, segments, by_tier, word_tiers = SpeakerIds(), [], {}, []
    names = {t["name"].strip() for t in tiers}
    for tier in tiers:
        name = tier["name"].strip()
        intervals = []
        for index, (start, end, label) in enumerate(tier["entries"], 1):
            where = f"{item.name}: tier {name!r} interval {index}"
            start_ms, end_ms = _to_ms(start, where), _to_ms(end, where)
            if end_ms < start_ms:
                raise FormatError(f"{where}: ends before it starts")
            if label.strip() and end_ms > start_ms:
                intervals.append((start_ms, end_ms, " ".join(label.split())))
        if WORDS_TIER.match(name):
            word_tiers.append((WORDS_TIER.match(name).group("owner"), intervals))
            continue
        spill = SPILL_TIER.match(name)
        base = spill.group("base") if spill and spill.group("base") in names else name
        speaker = None if base.lower() == NO_SPEAKER_TIER else speakers.id_for(base)
        by_tier[name] = [{"start_ms": a, "end_ms": b, "speaker": speaker, "text": t} for a, b, t in intervals]
        segments += by_tier[name]
    for owner, intervals in word_tiers:
        words = [{"text": t[:200], "start_ms": a, "end_ms": b} for a, b, t in intervals]
        if owner and owner in by_tier:
            attach_words(by_tier[owner], words)
        elif segments and not owner:
            attach_words(segments, words)
        else:
            speaker = None if not owner or owner.lower() == NO_SPEAKER_TIER else speakers.id_for(owner)
            segments += _segments_from_words(words, speaker)
    return finish_payload(item.name, segments, speakers)


write_textgrid = zip_per_item(".TextGrid", lambda view, payload: write_textgrid_one(payload, _duration_ms(view)))
