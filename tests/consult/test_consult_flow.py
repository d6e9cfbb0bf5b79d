"""The consult modality end to end through the API, with real models and synthetic consultations (espeak-ng and
sox, known words and turns): upload with a transcript sidecar, sandboxed derivatives (peaks per channel, 16 kHz
PCM), Whisper transcription with word timestamps, a stereo call's speakers by channel, bad inputs, exports read by
webvtt-py and re-imported."""
from __future__ import annotations

import io
import json
import os
import zipfile

import pytest

import media_files
from annotators.consult import metrics
from annotators.consult.demo import DEMO_TURNS, synthesize, tools_available

TURNS = DEMO_TURNS[:6]


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    if not tools_available():
        pytest.fail("espeak-ng and sox are missing: `make test` installs them (scripts/ensure-speech-tools.sh)")
    folder = tmp_path_factory.mktemp("consult")
    out = {}
    out["mono"], out["mono_turns"] = str(folder / "visit.wav"), None
    out["mono_turns"] = synthesize(TURNS, out["mono"])
    out["call"] = str(folder / "call.wav")
    out["call_turns"] = synthesize(TURNS, out["call"], rate=8000, stereo=True)
    out["silence"] = media_files.wav(folder / "silence.wav", seconds=4.0, amplitude=0.0)
    out["video_only"] = media_files.mp4(folder / "scope.mp4", audio=False)
    (folder / "empty.wav").write_bytes(b"")
    (folder / "fake.wav").write_text("not audio at all\n" * 100)
    out["empty"], out["fake"] = str(folder / "empty.wav"), str(folder / "fake.wav")
    return out


def reference(turns) -> dict:
    return {"segments": [{"id": f"r{i}", "start_ms": t["start_ms"], "end_ms": t["end_ms"], "text": t["text"],
                          "speaker": t["role"]} for i, t in enumerate(turns)]}


def project(admin, **workflow):
    status, body = admin.post("/projects", {"name": "Consults", "modality": "consult", "workflow": workflow})
    assert status == 201, body
    return body["id"]


def upload(admin, pid, files: dict):
    parts = [(io.BytesIO(data if isinstance(data, bytes) else open(data, "rb").read()), name)
             for name, data in files.items()]
    resp = admin.client.post(f"/api/v1/projects/{pid}/items", headers=admin.headers(),
                             content_type="multipart/form-data", data={"files": parts})
    return resp.status_code, resp.get_json()


def test_upload_with_a_webvtt_sidecar_gives_an_item_its_assets_and_an_imported_draft(admin, recordings):
    pid = project(admin)
    vtt = ("WEBVTT\n\n1\n00:00:00.000 --> 00:00:02.500\n<v Doctor>Good morning. What brings you in today?\n\n"
           "2\n00:00:03.000 --> 00:00:06.000\n<v Patient>A cough and a fever.\n").encode()
    status, body = upload(admin, pid, {"visit.wav": recordings["mono"], "visit.vtt": vtt})
    assert status == 201 and len(body["created"]) == 1 and not body["failed"], body
    item_id = body["created"][0]["id"]
    _, item = admin.get(f"/items/{item_id}")
    assert item["status"] == "ready" and item["media"]["channels"] == 1
    assert {a["name"] for a in item["assets"]} == {"peaks", "pcm16k"}  # WAV plays as it is: no proxy
    peaks_url = next(a["url"] for a in item["assets"] if a["name"] == "peaks")
    peaks = json.loads(admin.client.get(peaks_url, headers=admin.headers()).data)
    assert peaks["channels"] == 1 and [lv["ms_per_peak"] for lv in peaks["levels"]] == [10, 40, 160, 640, 2560]
    assert abs(len(peaks["levels"][0]["channels"][0]) / 2 * 10 - item["media"]["duration_ms"]) < 50
    _, anns = admin.get(f"/items/{item_id}/annotations")
    imported = [a for a in anns["items"] if a["source"] == "import"]
    assert len(imported) == 1 and [s["speaker"] for s in imported[0]["payload"]["segments"]] == ["Doctor", "Patient"]
    status, body = upload(admin, pid, {"lonely.vtt": vtt})
    assert status == 422 and "no media file of the same name" in body["failed"][0]["error"]


def test_whisper_transcribes_with_word_timestamps(admin, recordings):
    pid = project(admin, auto_preannotate=True)
    status, body = upload(admin, pid, {"visit.wav": recordings["mono"]})
    assert status == 201, body
    item_id = body["created"][0]["id"]
    _, anns = admin.get(f"/items/{item_id}/annotations")
    drafts = [a for a in anns["items"] if a["source"] == "model" and a["status"] == "draft"]
    assert len(drafts) == 1 and drafts[0]["model_version"].startswith("whisper@tiny.en"), anns
    payload = drafts[0]["payload"]
    wer, _ = metrics.wer_cer(reference(recordings["mono_turns"]), payload)
    assert wer < 0.15, (wer, [s["text"] for s in payload["segments"]])
    words = [w for s in payload["segments"] for w in s["words"]]
    assert len(words) >= 40 and all(s["start_ms"] <= w["start_ms"] <= w["end_ms"] <= s["end_ms"] + 50
                                    for s in payload["segments"] for w in s["words"])
    first = recordings["mono_turns"][1]  # the patient's first turn starts where the reference says
    nearest = min(payload["segments"], key=lambda s: abs(s["start_ms"] - first["start_ms"]))
    assert abs(nearest["start_ms"] - first["start_ms"]) < 600
    # Speakers by voice (resemblyzer + clustering), and the clinician guessed.
    der, _ = metrics.der_jer(reference(recordings["mono_turns"]), payload)
    assert der < 0.15 and len(payload["speakers"]) == 2, (der, [(s["speaker"], s["text"]) for s in payload["segments"]])
    roles = {s["id"]: s.get("role") for s in payload["speakers"]}
    assert roles[payload["segments"][0]["speaker"]] == "clinician" and "patient" in roles.values()


def test_a_stereo_telephone_call_gets_its_speakers_from_the_channels(admin, recordings):
    pid = project(admin, auto_preannotate=True)
    status, body = upload(admin, pid, {"call.wav": recordings["call"]})
    assert status == 201, body
    _, anns = admin.get(f"/items/{body['created'][0]['id']}/annotations")
    payload = next(a for a in anns["items"] if a["source"] == "model")["payload"]
    assert {s["id"] for s in payload["speakers"]} == {"S1", "S2"}
    agreement = metrics.speaker_agreement(reference(recordings["call_turns"]), payload)
    assert agreement >= 0.8, (agreement, payload["segments"])
    wer, _ = metrics.wer_cer(reference(recordings["call_turns"]), payload)
    assert wer < 0.5, wer  # 8 kHz synthetic speech is hard for tiny.en; the mono 16 kHz clip is held to 15 %


def test_silence_gives_no_text_and_bad_files_are_refused_with_a_reason(admin, recordings):
    pid = project(admin, auto_preannotate=True)
    status, body = upload(admin, pid, {"silence.wav": recordings["silence"], "empty.wav": recordings["empty"],
                                       "fake.wav": recordings["fake"], "scope.mp4": recordings["video_only"],
                                       "notes.txt": b"hello"})
    assert status == 201, body
    failed = {f["name"]: f["error"] for f in body["failed"]}
    assert "empty" in failed["empty.wav"] and "not an audio or video file" in failed["notes.txt"]
    items = {c["name"]: c["id"] for c in body["created"]}
    _, fake = admin.get(f"/items/{items['fake.wav']}")
    _, scope = admin.get(f"/items/{items['scope.mp4']}")
    assert fake["status"] == "invalid" and scope["status"] == "invalid"
    assert "no audio track" in scope["status_reason"]
    _, anns = admin.get(f"/items/{items['silence.wav']}/annotations")
    model = [a for a in anns["items"] if a["source"] == "model"]
    assert model and model[0]["payload"]["segments"] == []  # silence: nothing hallucinated


def test_exports_load_in_webvtt_py_and_come_back_as_sidecars(admin, recordings, tmp_path):
    import webvtt

    pid = project(admin)
    payload = {"speakers": [{"id": "S1", "role": "clinician"}, {"id": "S2"}],
               "segments": [{"id": "a", "start_ms": 0, "end_ms": 2500, "speaker": "S1", "text": "Good morning."},
                            {"id": "b", "start_ms": 3000, "end_ms": 6000, "speaker": "S2", "text": "Hello, doctor."}]}
    status, body = upload(admin, pid, {"visit.wav": recordings["mono"]})
    item_id = body["created"][0]["id"]
    assert admin.post(f"/items/{item_id}/annotations", {"payload": payload})[0] == 201
    files = {}
    for fmt in ("webvtt", "srt", "rttm", "json"):
        _, job = admin.post(f"/projects/{pid}/exports", {"format": fmt, "options": {"stage": "all"}})
        resp = admin.client.get(f"/api/v1/exports/{job['id']}/file", headers=admin.headers())
        assert resp.status_code == 200, (fmt, resp.get_json(silent=True))
        files[fmt] = resp.data
    vtt = zipfile.ZipFile(io.BytesIO(files["webvtt"])).read(f"item-{item_id}.vtt")
    path = tmp_path / "x.vtt"
    path.write_bytes(vtt)
    cues = webvtt.read(str(path))
    assert [c.text for c in cues] == ["Good morning.", "Hello, doctor."] and [c.voice for c in cues] == ["clinician", "S2"]
    assert cues[1].start == "00:00:03.000" and cues[1].end == "00:00:06.000"
    rttm = zipfile.ZipFile(io.BytesIO(files["rttm"])).read(f"item-{item_id}.rttm").decode().splitlines()
    assert rttm[1].split()[3:5] == ["3.000", "3.000"] and rttm[1].split()[7] == "S2"
    record = json.loads(files["json"].decode().splitlines()[0])
    pid2 = project(admin)
    status, body = upload(admin, pid2, {"again.wav": recordings["mono"], "again.json": json.dumps(record).encode(),
                                        })
    _, anns = admin.get(f"/items/{body['created'][0]['id']}/annotations")
    back = next(a for a in anns["items"] if a["source"] == "import")["payload"]
    assert [(s["start_ms"], s["end_ms"], s["text"], s["speaker"]) for s in back["segments"]] == \
        [(s["start_ms"], s["end_ms"], s["text"], s["speaker"]) for s in payload["segments"]]


def test_transcript_agreement_matches_jiwer_and_the_workflow_sees_it():
    import jiwer

    a = {"segments": [{"id": "1", "start_ms": 0, "end_ms": 1000, "text": "Take two tablets daily.", "speaker": "A"}]}
    b = {"segments": [{"id": "1", "start_ms": 0, "end_ms": 1000, "text": "take 2 tablets daily", "speaker": "X"}]}
    out = metrics.agree(a, b)
    assert out["wer"] == pytest.approx(jiwer.wer("take two tablets daily", "take 2 tablets daily"))
    assert out["agreement"] == pytest.approx(0.75) and out["speaker_agreement"] == 1.0  # names mapped, as DER does
