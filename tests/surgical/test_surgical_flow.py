"""The surgical modality through the API: a video uploaded with its Cholec80 phase and tool files gets its frame
index, proxy and sprite and an imported draft; hostile annotation files and media are refused by name; exports in
Cholec80's own layout read back to the same timeline; agreement cross-checked with scikit-learn."""
from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

import media_files
from annotators.surgical import metrics

PHASE_FILE = ("Frame\tPhase\n" + "".join(f"{f}\tPreparation\n" for f in range(0, 20))
              + "".join(f"{f}\tCalotTriangleDissection\n" for f in range(20, 50)))
TOOL_FILE = "Frame\tGrasper\tBipolar\tHook\tScissors\tClipper\tIrrigator\tSpecimenBag\n0\t1\t0\t0\t0\t0\t0\t0\n25\t1\t0\t1\t0\t0\t0\t0\n"


def project(admin, **workflow):
    status, body = admin.post("/projects", {"name": "Cholecystectomies", "modality": "surgical",
                                            "workflow": workflow})
    assert status == 201, body
    return body["id"]


def upload(admin, pid, files: dict):
    parts = [(io.BytesIO(data if isinstance(data, bytes) else open(data, "rb").read()), name)
             for name, data in files.items()]
    resp = admin.client.post(f"/api/v1/projects/{pid}/items", headers=admin.headers(),
                             content_type="multipart/form-data", data={"files": parts})
    return resp.status_code, resp.get_json()


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    return media_files.mp4(tmp_path_factory.mktemp("surgical") / "video01.mp4", frames=50, fps=25)


def test_a_video_with_its_cholec80_files_gets_assets_and_an_imported_draft(admin, case):
    pid = project(admin)
    status, body = upload(admin, pid, {"video01.mp4": case, "video01-phase.txt": PHASE_FILE.encode(),
                                       "video01-tool.txt": TOOL_FILE.encode()})
    assert status == 201 and len(body["created"]) == 1 and not body["failed"], body
    item_id = body["created"][0]["id"]
    _, item = admin.get(f"/items/{item_id}")
    assert item["status"] == "ready" and item["media"]["frame_count"] == 50
    assets = {a["name"]: a for a in item["assets"]}
    assert set(assets) == {"frames", "proxy", "sprite"} and assets["proxy"]["meta"]["made_by"] == "remux"
    index = json.loads(admin.client.get(assets["frames"]["url"], headers=admin.headers()).data)
    assert index["frames"] == 50 and len(index["pts"]) == 50
    _, anns = admin.get(f"/items/{item_id}/annotations")
    draft = next(a["payload"] for a in anns["items"] if a["source"] == "import")
    assert [(p["phase"], p["start_frame"], p["end_frame"]) for p in draft["phases"]] == [
        ("Preparation", 0, 20), ("CalotTriangleDissection", 20, 50)]
    assert [(t["track"], t["start_frame"], t["end_frame"]) for t in draft["tags"]] == [("Grasper", 0, 50),
                                                                                        ("Hook", 25, 50)]


@pytest.mark.parametrize("name, text, problem", [
    ("video01-phase.txt", "Frame\tPhase\n0\tPreparation\n2\tPreparation\n", "line 3: frame 2 where 1 was expected"),
    ("video01-phase.txt", "Frame\tPhase\n0\tLunch\n", "line 2: phase 'Lunch' is not one of the project's phases"),
    ("video01-phase.txt", "0\tPreparation\n", "line 1 must be the header"),
    ("video01-tool.txt", "Frame\tGrasper\tLaser\n0\t1\t0\n", "tool column 'Laser' is not one of the project's"),
    ("video01-tool.txt", "Frame\tGrasper\n0\t2\n", "line 2: tool presence must be 0 or 1"),
    ("video01-phase.txt", "\udcff", "not a text file"),
])
def test_a_bad_annotation_file_is_refused_with_its_name_and_line(admin, case, name, text, problem):
    pid = project(admin)
    data = b"\xff\xfe\x00\xd8" if text == "\udcff" else text.encode()
    status, body = upload(admin, pid, {"video01.mp4": case, name: data})
    assert status == 422, body
    assert name in body["failed"][0]["error"] and problem in body["failed"][0]["error"], body


def test_bad_media_is_refused_per_file(admin, tmp_path):
    pid = project(admin)
    wav = media_files.wav(tmp_path / "voice.wav", seconds=1.0)
    (tmp_path / "fake.mp4").write_text("not a video\n" * 50)
    status, body = upload(admin, pid, {"voice.wav": wav, "fake.mp4": (tmp_path / "fake.mp4").read_bytes(),
                                       "empty.mp4": b"", "lonely-phase.txt": PHASE_FILE.encode()})
    errors = {f["name"]: f["error"] for f in body["failed"]}
    assert "not a video file" in errors["voice.wav"] and "empty" in errors["empty.mp4"]
    assert "no media file of the same name" in errors["lonely-phase.txt"]
    _, items = admin.get(f"/projects/{pid}/items")
    fake = [i for i in items["items"] if i.get("name") == "fake.mp4"]
    assert not fake or fake[0]["status"] == "invalid"  # the sandboxed probe marks it; nothing crashed
    _, health = admin.get("/health")
    assert health["database"] == "ok"


def test_the_cholec80_export_reads_back_to_the_same_timeline(admin, case):
    pid = project(admin)
    _, body = upload(admin, pid, {"video01.mp4": case})
    item_id = body["created"][0]["id"]
    payload = {"phases": [{"id": "a", "phase": "Preparation", "start_frame": 0, "end_frame": 13, "start_ms": 0,
                           "end_ms": 520},
                          {"id": "b", "phase": "ClippingCutting", "start_frame": 13, "end_frame": 50,
                           "start_ms": 520, "end_ms": 2000}],
               "tags": [{"id": "t", "track": "Clipper", "start_frame": 25, "end_frame": 50},
                        {"id": "s", "track": "smoke", "start_frame": 3, "end_frame": 4}],
               "comments": [{"id": "c", "frame": 13, "ms": 520, "text": "clip applied"}]}
    status, ann = admin.post(f"/items/{item_id}/annotations", {"payload": payload})
    assert status == 201, ann
    status, job = admin.post(f"/projects/{pid}/exports", {"format": "cholec80"})
    assert status == 202, job
    data = admin.client.get(f"/api/v1/exports/{job['id']}/file", headers=admin.headers()).data
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        phase_text = archive.read("video01-phase.txt").decode()
        tool_text = archive.read("video01-tool.txt").decode()
    lines = phase_text.splitlines()
    assert lines[0] == "Frame\tPhase" and len(lines) == 51 and lines[14] == "13\tClippingCutting"
    assert tool_text.splitlines()[2].split("\t")[5] == "1"  # Clipper present at frame 25
    pid2 = project(admin)
    status, body = upload(admin, pid2, {"video01.mp4": case, "video01-phase.txt": phase_text.encode(),
                                        "video01-tool.txt": tool_text.encode()})
    assert status == 201, body
    _, anns = admin.get(f"/items/{body['created'][0]['id']}/annotations")
    back = next(a["payload"] for a in anns["items"] if a["source"] == "import")
    assert [(p["phase"], p["start_frame"], p["end_frame"]) for p in back["phases"]] == [
        ("Preparation", 0, 13), ("ClippingCutting", 13, 50)]
    assert [(t["track"], t["start_frame"]) for t in back["tags"]] == [("Clipper", 25)]  # events are not Cholec80's


def test_agreement_matches_scikit_learn_frame_by_frame():
    from sklearn.metrics import accuracy_score, cohen_kappa_score, jaccard_score

    a = {"phases": [{"id": "1", "phase": "Preparation", "start_frame": 0, "end_frame": 100},
                    {"id": "2", "phase": "CalotTriangleDissection", "start_frame": 100, "end_frame": 400},
                    {"id": "3", "phase": "ClippingCutting", "start_frame": 400, "end_frame": 500}]}
    b = {"phases": [{"id": "1", "phase": "Preparation", "start_frame": 0, "end_frame": 130},
                    {"id": "2", "phase": "CalotTriangleDissection", "start_frame": 130, "end_frame": 380},
                    {"id": "3", "phase": "ClippingCutting", "start_frame": 380, "end_frame": 500}]}
    ours = metrics.agree(a, b)
    la, lb = metrics.frame_labels(a, 500).astype(str), metrics.frame_labels(b, 500).astype(str)
    assert ours["phase_accuracy"] == pytest.approx(accuracy_score(la, lb))
    assert ours["phase_kappa"] == pytest.approx(cohen_kappa_score(la, lb), abs=1e-6)
    assert ours["phase_jaccard"] == pytest.approx(jaccard_score(la, lb, average="macro"), abs=1e-6)
    assert ours["boundary_frames"] == pytest.approx(np.mean([30, 20, 30, 20]))
    assert ours["agreement"] == ours["phase_accuracy"] == pytest.approx(450 / 500)
    assert metrics.agree(a, a)["agreement"] == 1.0


def test_auto_pre_annotation_drafts_an_unlabelled_timeline(admin, case):
    pid = project(admin, auto_preannotate=True)
    status, body = upload(admin, pid, {"video01.mp4": case})
    assert status == 201, body
    _, anns = admin.get(f"/items/{body['created'][0]['id']}/annotations")
    draft = next(a for a in anns["items"] if a["source"] == "model")
    assert draft["model_version"].startswith("phases@"), draft
    phases = draft["payload"]["phases"]
    assert phases[0]["start_frame"] == 0 and phases[-1]["end_frame"] == 50 and phases[0]["phase"] is None


def test_fit_job_trains_on_submitted_timelines_and_drafts_labelled_phases(admin, tmp_path):
    from test_surgical_fit import FAT, PHASES, TISSUE
    from test_surgical_preannotate import FPS, colour_video

    status, body = admin.post("/projects", {"name": "Trained phases", "modality": "surgical",
                                            "label_config": {"phases": PHASES, "min_phase_s": 3}})
    assert status == 201, body
    pid = body["id"]
    for n, (a, b) in enumerate([(8, 9), (6, 10), (9, 7)]):
        path = colour_video(tmp_path / f"case{n}.mp4", [(a, TISSUE), (b, FAT)])
        status, created = upload(admin, pid, {f"case{n}.mp4": path})
        assert status == 201, created
        item_id = created["created"][0]["id"]
        payload = {"phases": [{"id": "a", "phase": PHASES[0], "start_frame": 0, "end_frame": a * FPS},
                              {"id": "b", "phase": PHASES[1], "start_frame": a * FPS, "end_frame": (a + b) * FPS}]}
        assert admin.post(f"/items/{item_id}/annotations", {"payload": payload})[0] == 201
    status, job = admin.post(f"/projects/{pid}/jobs", {"kind": "fit"})
    assert status == 202, job
    _, done = admin.get(f"/jobs/{job['id']}")
    assert done["status"] == "succeeded" and done["result"]["active"], done
    assert done["result"]["metrics"]["held_out_frame_accuracy"] >= 0.9
    status, created = upload(admin, pid, {"new.mp4": colour_video(tmp_path / "new.mp4", [(5, TISSUE), (9, FAT)])})
    item_id = created["created"][0]["id"]
    status, job = admin.post(f"/projects/{pid}/jobs", {"kind": "preannotate"})
    assert status == 202, job
    _, anns = admin.get(f"/items/{item_id}/annotations")
    draft = next(a for a in anns["items"] if a["source"] == "model")
    assert [(p["phase"], p["start_frame"]) for p in draft["payload"]["phases"]] == [(PHASES[0], 0), (PHASES[1], 5 * FPS)]
