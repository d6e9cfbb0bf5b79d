"""Peer transcript formats of the consult modality: what we write is read by the peers' own libraries (praatio for
Praat TextGrid, pympi-ling for ELAN, pyannote.database for RTTM; NeMo and Label Studio are JSON checked against their
documented shape) and comes back through our sidecar readers without loss; hostile files are FormatErrors naming the
file; one upload with a .TextGrid sidecar and one export go through the API. No transcription runs here."""
from __future__ import annotations

import copy
import io
import json
import zipfile

import pytest

import media_files
from annotators.base import FormatError, ItemInput, ItemView
from annotators.consult import formats, formats_elan, formats_peers, formats_textgrid
from annotators.consult.plugin import ConsultModality
from annotators.media import MediaInfo

MODALITY = ConsultModality()
CONFIG = MODALITY.default_label_config

# Three speakers (one known by role, one by name, one by id only), words, unicode, apostrophes and quotes, a segment
# type, a speaker talking over herself (two overlapping segments of S1) and a segment nobody is assigned to.
PAYLOAD = {
    "speakers": [{"id": "S1", "role": "clinician"}, {"id": "S2", "role": "patient", "name": "Zoë O'Brien"},
                 {"id": "S3"}],
    "segments": [
        {"id": "a", "start_ms": 0, "end_ms": 2500, "speaker": "S1", "text": 'Good morning, what\'s "wrong"?',
         "type": "greeting", "words": [{"text": "Good", "start_ms": 0, "end_ms": 400, "score": 0.9},
                                       {"text": "morning,", "start_ms": 400, "end_ms": 900},
                                       {"text": "what's", "start_ms": 1000, "end_ms": 1400},
                                       {"text": '"wrong"?', "start_ms": 1400, "end_ms": 2100}]},
        {"id": "b", "start_ms": 2000, "end_ms": 4001, "speaker": "S2", "text": "Ça fait mal ici — 头痛 since Tuesday",
         "words": [{"text": "Ça", "start_ms": 2000, "end_ms": 2300},
                   {"text": "fait", "start_ms": 2300, "end_ms": 2600}]},
        {"id": "c", "start_ms": 2200, "end_ms": 3000, "speaker": "S1", "text": "Mm-hmm.", "channel": 1},
        {"id": "d", "start_ms": 5000, "end_ms": 6000, "speaker": None, "text": "[door closes]"},
        {"id": "e", "start_ms": 6000, "end_ms": 7123, "speaker": "S3", "text": "I'm her daughter.",
         "type": "history_taking"},
    ],
}
DISPLAY = {"S1": "clinician", "S2": "Zoë O'Brien", "S3": "S3"}
MODALITY.validate_payload(PAYLOAD, CONFIG)  # the fixture is a payload the modality accepts


def view(item_id: int = 7, origin: str = "human") -> ItemView:
    return ItemView(id=item_id, kind="audio", media=MediaInfo(container="wav", duration_ms=8000, has_audio=True),
                    provenance={"origin": origin, "gold": False})


def export(writer, payload=PAYLOAD, item=None) -> bytes:
    out = io.BytesIO()
    writer([(item or view(), copy.deepcopy(payload))], CONFIG, out)
    return out.getvalue()


def rows(payload: dict, names: dict | None = None) -> list[tuple]:
    """(start, end, text, speaker as people see it) per segment: ids differ after a trip through tier names."""
    names = names or {}
    return sorted((s["start_ms"], s["end_ms"], s["text"], names.get(s.get("speaker"), s.get("speaker")))
                  for s in payload["segments"])


def words(payload: dict) -> list[tuple]:
    return sorted((s["start_ms"], w["text"], w["start_ms"], w["end_ms"]) for s in payload["segments"]
                  for w in s.get("words") or [])


def reimport(name: str, data: bytes) -> dict:
    """Through the sidecar path an upload takes: the reader, then the modality's own validation."""
    payload = MODALITY._normalise_import(formats.read_sidecar(ItemInput(name=name, data=data)))
    MODALITY.validate_payload(payload, CONFIG)
    return payload


# ------------------------------------------------------------------------------------------------ Praat TextGrid
def test_textgrid_loads_in_praatio_and_comes_back_without_loss(tmp_path):
    from praatio import textgrid

    data = zipfile.ZipFile(io.BytesIO(export(formats_textgrid.write_textgrid))).read("item-7.TextGrid")
    path = tmp_path / "visit.TextGrid"
    path.write_bytes(data)
    grid = textgrid.openTextgrid(str(path), includeEmptyIntervals=False)
    assert grid.tierNames == ("clinician", "clinician - words", "clinician (2)", "Zoë O'Brien",
                              "Zoë O'Brien - words", "transcript", "S3")
    assert grid.maxTimestamp == 8.0  # the tiers span the whole recording
    assert [tuple(e) for e in grid.getTier("clinician").entries] == [(0.0, 2.5, 'Good morning, what\'s "wrong"?')]
    assert [tuple(e) for e in grid.getTier("clinician (2)").entries] == [(2.2, 3.0, "Mm-hmm.")]
    assert [tuple(e) for e in grid.getTier("Zoë O'Brien").entries] == \
        [(2.0, 4.001, "Ça fait mal ici — 头痛 since Tuesday")]
    assert [e.label for e in grid.getTier("clinician - words").entries] == ["Good", "morning,", "what's", '"wrong"?']
    assert [tuple(e) for e in grid.getTier("S3").entries] == [(6.0, 7.123, "I'm her daughter.")]
    back = reimport("visit.TextGrid", data)
    assert rows(back) == rows(PAYLOAD, DISPLAY)
    assert words(back) == words(PAYLOAD)  # word scores have no place in a TextGrid
    assert {s["id"] for s in back["speakers"]} == set(DISPLAY.values())
    assert reimport("VISIT.textgrid", data) == back  # the extension in any case


def test_textgrid_from_an_aligner_and_in_utf16_as_praat_saves_it():
    """Praat's short text format, UTF-16 with a byte-order mark; Montreal Forced Aligner tiers ("spk - words",
    "spk - phones"), no utterance tier: the words make the segments, cut at pauses."""
    intervals = [(0, 0.5, ""), (0.5, 0.9, "hello"), (0.9, 1.4, "doctor"), (1.4, 3.0, ""), (3.0, 3.5, "it's"),
                 (3.5, 4.0, "here")]
    lines = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "", "0", "4", "<exists>", "2",
             '"IntervalTier"', '"Ngozi - words"', "0", "4", str(len(intervals))]
    for start, end, label in intervals:
        lines += [str(start), str(end), f'"{label}"']
    lines += ['"IntervalTier"', '"Ngozi - phones"', "0", "4", "1", "0", "4", '"HH"', ""]
    back = reimport("mfa.TextGrid", "\n".join(lines).encode("utf-16"))
    assert back["speakers"] == [{"id": "Ngozi"}]
    assert rows(back) == [(500, 1400, "hello doctor", "Ngozi"), (3000, 4000, "it's here", "Ngozi")]
    assert [w["text"] for w in back["segments"][1]["words"]] == ["it's", "here"]


# ------------------------------------------------------------------------------------------------ ELAN
def test_elan_loads_in_pympi_and_comes_back_without_loss(tmp_path):
    import pympi

    data = zipfile.ZipFile(io.BytesIO(export(formats_elan.write_eaf))).read("item-7.eaf")
    path = tmp_path / "visit.eaf"
    path.write_bytes(data)
    eaf = pympi.Elan.Eaf(str(path))
    assert eaf.media_descriptors == [{"MEDIA_URL": "item-7.wav", "RELATIVE_MEDIA_URL": "./item-7.wav",
                                      "MIME_TYPE": "audio/x-wav"}]
    assert set(eaf.get_tier_names()) == {"clinician", "clinician - words", "clinician (2)", "Zoë O'Brien",
                                         "Zoë O'Brien - words", "transcript", "S3"}
    assert eaf.get_parameters_for_tier("Zoë O'Brien")["PARTICIPANT"] == "Zoë O'Brien"
    assert eaf.get_parameters_for_tier("clinician - words")["PARENT_REF"] == "clinician"
    assert eaf.get_annotation_data_for_tier("clinician") == [(0, 2500, 'Good morning, what\'s "wrong"?')]
    assert eaf.get_annotation_data_for_tier("S3") == [(6000, 7123, "I'm her daughter.")]
    assert [w[2] for w in eaf.get_annotation_data_for_tier("Zoë O'Brien - words")] == ["Ça", "fait"]
    back = reimport("visit.eaf", data)
    assert rows(back) == rows(PAYLOAD, DISPLAY) and words(back) == words(PAYLOAD)


def test_an_elan_file_from_elan_gives_participants_as_speaker_names():
    eaf = """<?xml version="1.0" encoding="UTF-8"?>
<ANNOTATION_DOCUMENT AUTHOR="" DATE="2024-05-01T10:00:00+01:00" FORMAT="3.0" VERSION="3.0">
 <HEADER MEDIA_FILE="" TIME_UNITS="milliseconds">
  <MEDIA_DESCRIPTOR MEDIA_URL="file:///C:/v.wav" MIME_TYPE="audio/x-wav"/></HEADER>
 <TIME_ORDER><TIME_SLOT TIME_SLOT_ID="ts1" TIME_VALUE="120"/><TIME_SLOT TIME_SLOT_ID="ts2" TIME_VALUE="1870"/>
  <TIME_SLOT TIME_SLOT_ID="ts3" TIME_VALUE="2000"/><TIME_SLOT TIME_SLOT_ID="ts4"/>
  <TIME_SLOT TIME_SLOT_ID="ts5" TIME_VALUE="3300"/></TIME_ORDER>
 <TIER LINGUISTIC_TYPE_REF="default-lt" PARTICIPANT="Dr Adeyemi" TIER_ID="Doctor">
  <ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="a1" TIME_SLOT_REF1="ts1" TIME_SLOT_REF2="ts2">
   <ANNOTATION_VALUE>Any   allergies?</ANNOTATION_VALUE></ALIGNABLE_ANNOTATION></ANNOTATION></TIER>
 <TIER LINGUISTIC_TYPE_REF="default-lt" TIER_ID="Patient">
  <ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="a2" TIME_SLOT_REF1="ts3" TIME_SLOT_REF2="ts5">
   <ANNOTATION_VALUE>Penicillin, I'm told.</ANNOTATION_VALUE></ALIGNABLE_ANNOTATION></ANNOTATION>
  <ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="a3" TIME_SLOT_REF1="ts3" TIME_SLOT_REF2="ts4">
   <ANNOTATION_VALUE>unaligned</ANNOTATION_VALUE></ALIGNABLE_ANNOTATION></ANNOTATION></TIER>
 <TIER LINGUISTIC_TYPE_REF="translation" PARENT_REF="Patient" TIER_ID="Patient translation">
  <ANNOTATION><REF_ANNOTATION ANNOTATION_ID="a4" ANNOTATION_REF="a2">
   <ANNOTATION_VALUE>Pénicilline</ANNOTATION_VALUE></REF_ANNOTATION></ANNOTATION></TIER>
 <LINGUISTIC_TYPE GRAPHIC_REFERENCES="false" LINGUISTIC_TYPE_ID="default-lt" TIME_ALIGNABLE="true"/>
</ANNOTATION_DOCUMENT>""".encode()
    back = reimport("visit.eaf", eaf)
    assert back["speakers"] == [{"id": "Doctor", "name": "Dr Adeyemi"}, {"id": "Patient"}]
    assert rows(back) == [(120, 1870, "Any allergies?", "Doctor"), (2000, 3300, "Penicillin, I'm told.", "Patient")]


# ------------------------------------------------------------------------------------------------ RTTM
def test_rttm_loads_in_pyannote_and_its_turns_come_back(tmp_path):
    from pyannote.database.util import load_rttm

    data = zipfile.ZipFile(io.BytesIO(export(formats.write_rttm))).read("item-7.rttm")
    path = tmp_path / "visit.rttm"
    path.write_bytes(data)
    annotation = load_rttm(str(path))["item-7"]
    turns = sorted((round(seg.start * 1000), round(seg.end * 1000), label)
                   for seg, _, label in annotation.itertracks(yield_label=True))
    assert turns == sorted((s["start_ms"], s["end_ms"], s["speaker"] or "unknown") for s in PAYLOAD["segments"])
    back = reimport("visit.rttm", data)  # turns only: RTTM carries no text
    assert [(s["start_ms"], s["end_ms"], s["speaker"], s["text"]) for s in back["segments"]] == \
        [(s, e, who, "") for s, e, who in turns]
    assert {s["id"] for s in back["speakers"]} == {"S1", "S2", "S3", "unknown"}


# ------------------------------------------------------------------------------------------------ NeMo, Label Studio
def test_nemo_manifest_has_one_line_per_segment_with_offset_and_duration():
    lines = [json.loads(line) for line in export(formats_peers.write_nemo_manifest).decode().splitlines()]
    assert len(lines) == len(PAYLOAD["segments"])
    assert all(set(line) >= {"audio_filepath", "offset", "duration", "text"} for line in lines)
    assert {line["audio_filepath"] for line in lines} == {"item-7.wav"}
    assert [(round(line["offset"] * 1000), round((line["offset"] + line["duration"]) * 1000), line["text"],
             line.get("speaker")) for line in lines] == rows(PAYLOAD, DISPLAY)
    turns_only = {"segments": [{"id": "x", "start_ms": 0, "end_ms": 900, "speaker": "S1", "text": ""}]}
    assert export(formats_peers.write_nemo_manifest, turns_only) == b""  # nothing to train on


def test_label_studio_tasks_follow_its_import_format():
    tasks = json.loads(export(formats_peers.write_label_studio))
    assert isinstance(tasks, list) and len(tasks) == 1
    task = tasks[0]
    assert isinstance(task["data"]["audio"], str) and task["data"]["clinlabel_item_id"] == 7
    result = task["annotations"][0]["result"]
    for region in result:
        assert set(region) >= {"id", "from_name", "to_name", "type", "value"} and region["to_name"] == "audio"
        # the control tags of the config the writer documents (Label Studio's "ASR using segments" template)
        assert (region["from_name"], region["type"]) in {("speaker", "labels"), ("segment_type", "labels"),
                                                         ("transcription", "textarea")}
        value = region["value"]
        assert isinstance(value["start"], float) and value["start"] < value["end"] and value["channel"] in (0, 1)
        key = {"labels": "labels", "textarea": "text"}[region["type"]]
        assert isinstance(value[key], list) and len(value[key]) == 1
    by_region: dict = {}
    for region in result:
        by_region.setdefault(region["id"], {})[region["from_name"]] = region
    assert set(by_region) == {s["id"] for s in PAYLOAD["segments"]}  # one id per region, shared by its results
    for seg in PAYLOAD["segments"]:
        region = by_region[seg["id"]]
        assert region["transcription"]["value"]["text"] == [seg["text"]]
        assert (region["transcription"]["value"]["start"], region["transcription"]["value"]["end"]) == \
            (seg["start_ms"] / 1000, seg["end_ms"] / 1000)
        assert region.get("speaker", {}).get("value", {}).get("labels") == \
            ([DISPLAY[seg["speaker"]]] if seg["speaker"] else None)
        assert region.get("segment_type", {}).get("value", {}).get("labels") == \
            ([seg["type"]] if "type" in seg else None)
    draft = json.loads(export(formats_peers.write_label_studio, item=view(origin="model")))[0]
    assert not draft["annotations"] and draft["predictions"][0]["result"]  # unreviewed model output: a prediction


# ------------------------------------------------------------------------------------------------ hostile files
def _textgrid() -> bytes:
    return formats_textgrid.write_textgrid_one(PAYLOAD, 8000).encode()


HOSTILE = {
    "truncated mid-interval": ("cut.TextGrid", lambda: _textgrid()[:900], "cut.TextGrid: not a readable TextGrid"),
    "truncated between tiers": ("cut.TextGrid", lambda: _textgrid()[:_textgrid().index(b"    item [3]")],
                                "cut.TextGrid: declares 7 tiers but holds 2"),
    "TextGrid time not a number": ("bad.TextGrid", lambda: _textgrid().replace(b"xmax = 2.500", b"xmax = 2,5", 1),
                                   "bad.TextGrid: not a readable TextGrid (tier 'clinician', line"),
    "binary TextGrid": ("bin.TextGrid", lambda: b"ooBinaryFile\x08TextGrid" + bytes(range(256)),
                        "bin.TextGrid: a binary TextGrid"),
    "EAF entity expansion": ("bomb.eaf", lambda: b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
                             b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
                             b'<ANNOTATION_DOCUMENT><TIER TIER_ID="&c;"/></ANNOTATION_DOCUMENT>',
                             "bomb.eaf: a DOCTYPE or entity declaration"),
    "EAF external entity": ("xxe.eaf", lambda: b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM '
                            b'"file:///etc/passwd">]><ANNOTATION_DOCUMENT><TIER TIER_ID="&x;"/></ANNOTATION_DOCUMENT>',
                            "xxe.eaf: a DOCTYPE or entity declaration"),
    "EAF truncated": ("cut.eaf", lambda: formats_elan.write_eaf_one(PAYLOAD, "a.wav")[:700],
                      "cut.eaf: not well-formed XML"),
    "RTTM negative duration": ("neg.rttm", lambda: b"SPEAKER f 1 0.50 1.00 <NA> <NA> A <NA> <NA>\n"
                               b"SPEAKER f 1 2.00 -1.00 <NA> <NA> B <NA> <NA>\n",
                               "neg.rttm: line 2: negative duration"),
    "RTTM onset not a number": ("nan.rttm", lambda: b"SPEAKER f 1 nan 1.0 <NA> <NA> A <NA> <NA>\n",
                                "nan.rttm: line 1 onset"),
}
GARBAGE = bytes(range(256)) * 8


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_files_are_format_errors_naming_the_file_and_place(case):
    name, make, message = HOSTILE[case]
    with pytest.raises(FormatError) as caught:
        formats.read_sidecar(ItemInput(name=name, data=make()))
    assert str(caught.value).startswith(message), str(caught.value)


@pytest.mark.parametrize("name", ["junk.TextGrid", "junk.eaf", "junk.rttm"])
def test_binary_garbage_is_a_format_error_naming_the_file(name):
    with pytest.raises(FormatError, match=rf"^{name}: "):
        formats.read_sidecar(ItemInput(name=name, data=GARBAGE))


def test_a_file_over_the_size_cap_is_refused_before_parsing(monkeypatch):
    monkeypatch.setattr(formats_peers, "MAX_TRANSCRIPT_BYTES", 1000)
    with pytest.raises(FormatError, match="^big.TextGrid: 2000 bytes is too large"):
        formats.read_sidecar(ItemInput(name="big.TextGrid", data=b" " * 2000))


# ------------------------------------------------------------------------------------------------ through the API
def upload(admin, pid: int, files: dict):
    parts = [(io.BytesIO(data), name) for name, data in files.items()]
    resp = admin.client.post(f"/api/v1/projects/{pid}/items", headers=admin.headers(),
                             content_type="multipart/form-data", data={"files": parts})
    return resp.status_code, resp.get_json()


def test_upload_with_a_textgrid_sidecar_and_export_to_textgrid(admin, tmp_path):
    from praatio import textgrid

    status, body = admin.post("/projects", {"name": "Praat", "modality": "consult", "workflow": {}})
    assert status == 201, body
    pid = body["id"]
    wav = open(media_files.wav(tmp_path / "tone.wav", seconds=8.0), "rb").read()
    status, body = upload(admin, pid, {"visit.wav": wav, "visit.TextGrid": _textgrid(),
                                       "other.wav": wav, "other.eaf": HOSTILE["EAF entity expansion"][1]()})
    assert status == 201 and len(body["created"]) == 1, body
    assert "other.eaf: a DOCTYPE or entity declaration" in body["failed"][0]["error"]  # named, and no 500
    item_id = body["created"][0]["id"]
    _, anns = admin.get(f"/items/{item_id}/annotations")
    imported = [a for a in anns["items"] if a["source"] == "import"]
    assert len(imported) == 1 and rows(imported[0]["payload"]) == rows(PAYLOAD, DISPLAY)
    _, job = admin.post(f"/projects/{pid}/exports", {"format": "textgrid", "options": {"stage": "all"}})
    resp = admin.client.get(f"/api/v1/exports/{job['id']}/file", headers=admin.headers())
    assert resp.status_code == 200, resp.get_json(silent=True)
    path = tmp_path / "out.TextGrid"
    path.write_bytes(zipfile.ZipFile(io.BytesIO(resp.data)).read(f"item-{item_id}.TextGrid"))
    grid = textgrid.openTextgrid(str(path), includeEmptyIntervals=False)
    assert [tuple(e) for e in grid.getTier("S3").entries] == [(6.0, 7.123, "I'm her daughter.")]
    assert abs(grid.maxTimestamp - 8.0) < 0.05  # the probed duration of the tone
