"""The media core through a modality defined only in tests: sandboxed probe, derivatives as assets (?variant=),
items processing -> ready | invalid, progress in media seconds, checkpoints, per-process model cache, and the
hostile files users send (empty, truncated, no moov, lying extension, a header claiming 10 hours, a pixel bomb,
a file that crashes or hangs the decoder)."""
from __future__ import annotations

import io
import json
import os

import pytest

import media_files
from annotators.base import registry
from media_modality import CRASH_MARK, HANG_MARK, Clips, SecondsCounter
from server import sandbox


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("media")
    files = {
        "wav": media_files.wav(folder / "tone.wav", seconds=5.0),
        "mp4": media_files.mp4(folder / "clip.mp4"),
        "mp4_fast": media_files.mp4(folder / "fast.mp4", faststart=True),
        "long_header": media_files.wav_claiming_hours(folder / "claims.wav"),
        "bomb": media_files.png_bomb(folder / "bomb.png"),
    }
    files["no_moov"] = media_files.truncated(files["mp4"], folder / "no_moov.mp4")
    files["cut_fast"] = media_files.truncated(files["mp4_fast"], folder / "cut_fast.mp4")
    files["crash"] = media_files.with_mark(files["wav"], folder / "crash.wav", CRASH_MARK)
    files["hang"] = media_files.with_mark(files["wav"], folder / "hang.wav", HANG_MARK)
    (folder / "empty.wav").write_bytes(b"")
    (folder / "lies.mp4").write_text("this is a text file with a video extension\n" * 50)
    files["empty"], files["lies"] = str(folder / "empty.wav"), str(folder / "lies.mp4")
    return files


# ------------------------------------------------------------------ the probe, in its child process

def test_probe_measures_audio_and_video(media):
    audio = sandbox.probe(media["wav"])
    assert audio["has_audio"] and not audio["has_video"] and audio["sample_rate"] == 16000 and audio["channels"] == 1
    assert abs(audio["duration_ms"] - 5000) <= 20 and audio["audio_codec"].startswith("pcm_s16")
    video = sandbox.probe(media["mp4"])
    assert video["has_video"] and video["has_audio"] and (video["fps_num"], video["fps_den"]) == (25, 1)
    assert video["frame_count"] == 50 and (video["width"], video["height"]) == (160, 120)
    assert abs(video["duration_ms"] - 2000) <= 80 and video["video_codec"] == "h264" and video["rotation"] == 0


def test_probe_trusts_data_not_headers(media):
    claims = sandbox.probe(media["long_header"])
    assert abs(claims["duration_ms"] - 2000) <= 20, claims
    assert claims["header_duration_ms"] is None or claims["header_duration_ms"] <= 2100 or claims["warnings"]
    cut = sandbox.probe(media["cut_fast"])  # faststart cut in half: the header promises 50 frames
    assert cut["frame_count"] < 50 and any(w.startswith(("the file is cut short", "data is damaged", "header claims")) for w in cut["warnings"]), cut


@pytest.mark.parametrize("name, reason", [
    ("empty", "empty (0 bytes)"), ("no_moov", "not a readable audio or video file"),
    ("lies", "not a readable audio or video file"), ("bomb", ("megapixels", "cannot be decoded")),
])
def test_probe_refuses_hostile_files_with_a_reason(media, name, reason):
    with pytest.raises(sandbox.SandboxError) as info:
        sandbox.probe(media[name])
    reasons = reason if isinstance(reason, tuple) else (reason,)
    assert any(r in str(info.value) for r in reasons), str(info.value)
    assert media[name] not in str(info.value)  # no paths in messages


def test_sandbox_limits_memory_cpu_and_wall_clock():
    with pytest.raises(sandbox.SandboxError, match="more memory"):
        sandbox.run("media_modality:allocate", [3000], memory_mb=512)
    with pytest.raises(sandbox.SandboxError, match="CPU"):
        sandbox.run("media_modality:spin", [], cpu_s=1, wall_s=30)
    with pytest.raises(sandbox.SandboxError, match="longer than 2 s"):
        sandbox.run("time:sleep", [60], wall_s=2)
    assert sandbox.run("media_modality:allocate", [10], memory_mb=512) == 10 * 1024 * 1024


# ------------------------------------------------------------------ the whole flow, through the API

@pytest.fixture
def clips(admin, app):
    app.config["SANDBOX_DERIVE_MIN_WALL_S"] = 5
    registry.register(Clips())
    SecondsCounter.setups, SecondsCounter.fail_after, SecondsCounter.resumed_from = 0, None, []
    from server.jobs.preannotate import clear_model_cache

    clear_model_cache()
    _, project = admin.post("/projects", {"name": "Clips", "modality": "clips"})
    yield project["id"]
    registry.unregister("clips")


def upload(admin, pid, paths: dict):
    files = [(io.BytesIO(open(p, "rb").read()), name) for name, p in paths.items()]
    resp = admin.client.post(f"/api/v1/projects/{pid}/items", headers=admin.headers(),
                             content_type="multipart/form-data", data={"files": files})
    return resp.status_code, resp.get_json()


def test_media_items_are_probed_derived_and_served_as_variants(admin, app, clips, media, make_member):
    status, body = upload(admin, clips, {"tone.wav": media["wav"], "clip.mp4": media["mp4"],
                                         "empty.wav": media["empty"]})
    assert status == 201 and [f["name"] for f in body["failed"]] == ["empty.wav"], body
    assert "empty" in body["failed"][0]["error"]
    assert all(c["status"] == "processing" for c in body["created"]) and body["derive_job_id"]
    _, job = admin.get(f"/jobs/{body['derive_job_id']}")
    assert job["status"] == "succeeded" and job["result"]["ready"] == 2, job
    assert job["progress_detail"]["unit"] == "media seconds" and job["progress_detail"]["done"] >= 6.9
    wav_id, mp4_id = (c["id"] for c in body["created"])
    _, item = admin.get(f"/items/{wav_id}")
    assert item["status"] == "ready" and item["media"]["duration_ms"] in range(4980, 5021)
    assert {a["name"] for a in item["assets"]} == {"peaks", "summary"}
    peaks_url = next(a["url"] for a in item["assets"] if a["name"] == "peaks")
    resp = admin.client.get(peaks_url, headers=admin.headers())
    peaks = json.loads(resp.data)
    assert resp.status_code == 200 and resp.mimetype == "application/json" and len(peaks["peaks"]) == 500
    part = admin.client.get(peaks_url, headers={**admin.headers(), "Range": "bytes=0-9"})
    assert part.status_code == 206 and len(part.data) == 10
    missing = admin.client.get(f"/api/v1/items/{wav_id}/media?variant=proxy", headers=admin.headers())
    assert missing.status_code == 404 and "peaks, summary" in missing.get_json()["error"]["message"]
    outsider = make_member(clips, "viewer", "annotator")
    assert admin.delete(f"/projects/{clips}/members", {"username": "viewer"})[0] in (200, 204)
    denied = outsider.client.get(peaks_url, headers=outsider.headers())
    assert denied.status_code == 404  # non-members learn nothing, same as the media itself
    _, video = admin.get(f"/items/{mp4_id}")
    assert video["media"]["frame_count"] == 50 and {a["name"] for a in video["assets"]} == {"peaks", "summary"}


def test_hostile_files_become_invalid_items_and_serving_goes_on(admin, clips, media):
    status, body = upload(admin, clips, {"crash.wav": media["crash"], "bomb.png": media["bomb"],
                                         "lies.mp4": media["lies"], "no_moov.mp4": media["no_moov"],
                                         "claims.wav": media["long_header"], "hang.wav": media["hang"]})
    assert status == 201, body
    states = {}
    for created in body["created"]:
        _, item = admin.get(f"/items/{created['id']}")
        states[created["name"]] = (item["status"], item["status_reason"] or "")
    assert states["crash.wav"][0] == "invalid" and "crashed" in states["crash.wav"][1]
    assert states["bomb.png"][0] == "invalid" and ("megapixels" in states["bomb.png"][1]
                                                   or "cannot be decoded" in states["bomb.png"][1])
    assert states["lies.mp4"][0] == "invalid" and "not a readable" in states["lies.mp4"][1]
    assert states["no_moov.mp4"][0] == "invalid"
    assert states["hang.wav"][0] == "invalid" and "longer than" in states["hang.wav"][1]
    assert states["claims.wav"][0] == "ready"
    # the process that ran the decoders keeps serving
    status, again = upload(admin, clips, {"tone.wav": media["wav"]})
    assert status == 201 and again["created"][0]["status"] == "processing"
    _, item = admin.get(f"/items/{again['created'][0]['id']}")
    assert item["status"] == "ready"
    assert admin.get("/health")[0] == 200


def test_predict_reports_media_seconds_checkpoints_and_resumes(admin, app, clips, media):
    _, body = upload(admin, clips, {"tone.wav": media["wav"]})
    item_id = body["created"][0]["id"]
    SecondsCounter.fail_after = 2  # lost after its second checkpoint (4 of 5 seconds)
    _, job = admin.post(f"/projects/{clips}/jobs", {"kind": "preannotate"})
    _, job = admin.get(f"/jobs/{job['id']}")
    assert job["status"] == "failed"
    _, anns = admin.get(f"/items/{item_id}/annotations")
    partial = [a for a in anns["items"] if a["status"] == "partial"]
    assert len(partial) == 1 and len(partial[0]["payload"]["segments"]) == 4  # visible while unfinished
    _, job = admin.post(f"/projects/{clips}/jobs", {"kind": "preannotate"})
    _, job = admin.get(f"/jobs/{job['id']}")
    assert job["status"] == "succeeded", job
    assert SecondsCounter.resumed_from == [0, 4]  # the second run started at its checkpoint, not at zero
    _, anns = admin.get(f"/items/{item_id}/annotations")
    model = [a for a in anns["items"] if a["source"] == "model"]
    assert len(model) == 1 and model[0]["status"] == "draft" and len(model[0]["payload"]["segments"]) == 5
    assert job["result"]["models_reused"] == 1 and SecondsCounter.setups == 1  # loaded once per process
    _, again = admin.post(f"/projects/{clips}/jobs", {"kind": "preannotate"})
    _, again = admin.get(f"/jobs/{again['id']}")
    assert again["result"]["annotations_written"] == 0  # idempotent: a re-run writes nothing twice


def test_server_import_in_place_keeps_files_where_they_are(admin, app, clips, media, tmp_path):
    root = tmp_path / "nas"
    root.mkdir()
    target = root / "visit.wav"
    target.write_bytes(open(media["wav"], "rb").read())
    os.symlink(media["mp4"], root / "outside.mp4")
    app.config["IMPORT_ROOTS"] = f"nas={root}"
    status, body = admin.post(f"/projects/{clips}/items", {"import": {"root": "nas", "glob": "*", "mode": "reference"}})
    assert status == 202, body
    _, job = admin.get(f"/jobs/{body['job']['id']}")
    assert job["result"]["imported"] == 1 and job["result"]["mode"] == "reference", job
    assert "outside the import root" in job["result"]["failed"][0]["error"]
    _, items = admin.get(f"/projects/{clips}/items")
    item = items["items"][0]
    assert item["status"] == "ready" and item["media"]["sample_rate"] == 16000
    media_dir = app.config["MEDIA_DIR"]
    stored = [f for _, _, fs in os.walk(media_dir) for f in fs if f == item["content_hash"]]
    assert stored == []  # not copied
    resp = admin.client.get(f"/api/v1/items/{item['id']}/media", headers={**admin.headers(), "Range": "bytes=0-3"})
    assert resp.status_code == 206 and resp.data == b"RIFF"
