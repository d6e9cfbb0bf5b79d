"""Surgical exports in other tools' shapes read back exactly: Cholec80's 1-fps variant with numeric ids, our CSV of
phases/tags/comments, and Label Studio's video JSON (TimelineLabels, frames from 1 with inclusive ends); each one
uploaded next to the same video gives the same frames back. Hostile files are refused by name and line."""
from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest

import media_files
from test_surgical_flow import project, upload

TIMELINE = {"phases": [{"id": "a", "phase": "Preparation", "start_frame": 0, "end_frame": 25},
                       {"id": "b", "phase": "CalotTriangleDissection", "start_frame": 25, "end_frame": 75},
                       {"id": "c", "phase": "ClippingCutting", "start_frame": 75, "end_frame": 100}],
            "tags": [{"id": "t1", "track": "Clipper", "start_frame": 25, "end_frame": 75},
                     {"id": "t2", "track": "smoke", "start_frame": 3, "end_frame": 4},
                     {"id": "t3", "track": "Grasper", "start_frame": 0, "end_frame": 1}],
            "comments": [{"id": "c1", "frame": 75, "text": "=clip applied, then cut"}]}


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return media_files.mp4(tmp_path_factory.mktemp("exchange") / "case07.mp4", frames=100, fps=25)


def exported(admin, video, fmt: str) -> bytes:
    pid = project(admin)
    _, body = upload(admin, pid, {"case07.mp4": video})
    status, ann = admin.post(f"/items/{body['created'][0]['id']}/annotations", {"payload": TIMELINE})
    assert status == 201, ann
    status, job = admin.post(f"/projects/{pid}/exports", {"format": fmt})
    assert status == 202, job
    _, done = admin.get(f"/jobs/{job['id']}")
    assert done["status"] == "succeeded", done
    return admin.client.get(f"/api/v1/exports/{job['id']}/file", headers=admin.headers()).data


def imported(admin, video, files: dict) -> dict:
    pid = project(admin)
    status, body = upload(admin, pid, {"case07.mp4": video, **files})
    assert status == 201 and not body["failed"], body
    _, anns = admin.get(f"/items/{body['created'][0]['id']}/annotations")
    return next(a["payload"] for a in anns["items"] if a["source"] == "import")


def frames(payload: dict, key: str) -> list:
    label = "phase" if key == "phases" else "track"
    return sorted((e[label], e["start_frame"], e["end_frame"]) for e in payload.get(key, []))


def test_cholec80_at_one_frame_a_second_with_numeric_ids_reads_back(admin, video):
    data = exported(admin, video, "cholec80_1fps")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        phase_text = archive.read("case07-phase.txt").decode()
        tool_text = archive.read("case07-tool.txt").decode()
        legend = archive.read("phase-ids.txt").decode()
    assert phase_text.splitlines() == ["Frame\tPhase", "0\t0", "25\t1", "50\t1", "75\t2"]
    assert legend.splitlines()[:3] == ["Id\tPhase", "0\tPreparation", "1\tCalotTriangleDissection"]
    back = imported(admin, video, {"case07-phase.txt": phase_text.encode(), "case07-tool.txt": tool_text.encode()})
    assert frames(back, "phases") == frames(TIMELINE, "phases")  # boundaries on sampled frames: exact
    assert frames(back, "tags") == [("Clipper", 25, 75), ("Grasper", 0, 25)]  # 1-fps tools: a sample per second


def test_the_csv_of_phases_tags_and_comments_reads_back_and_is_formula_safe(admin, video):
    data = exported(admin, video, "csv")
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert [r["kind"] for r in rows] == ["phase"] * 3 + ["tag"] * 3 + ["comment"]
    assert rows[0]["start_ms"] == "0" and rows[0]["end_ms"] == "1000"
    assert rows[-1]["text"] == "'=clip applied, then cut"  # a spreadsheet does not run it
    back = imported(admin, video, {"case07-tags.csv": data})
    assert frames(back, "phases") == frames(TIMELINE, "phases") and frames(back, "tags") == frames(TIMELINE, "tags")
    assert [(c["frame"], c["text"]) for c in back["comments"]] == [(75, "'=clip applied, then cut")]


def test_label_studio_timeline_labels_read_back(admin, video):
    tasks = json.loads(exported(admin, video, "label_studio"))
    assert len(tasks) == 1 and tasks[0]["data"] == {"video": "case07.mp4"}
    assert tasks[0]["meta"]["frame_count"] == 100 and tasks[0]["meta"]["fps"] == 25
    regions = tasks[0]["annotations"][0]["result"]
    first = next(r for r in regions if r["value"]["timelinelabels"] == ["Preparation"])
    assert first["value"]["ranges"] == [{"start": 1, "end": 25}] and first["type"] == "timelinelabels"
    back = imported(admin, video, {"case07.json": json.dumps(tasks).encode()})
    assert frames(back, "phases") == frames(TIMELINE, "phases") and frames(back, "tags") == frames(TIMELINE, "tags")


def test_a_label_studio_project_export_finds_this_videos_task_and_its_labels(admin, video):
    """A Label Studio export of several videos, with its own from_name: each video takes its task; labels that are
    the project's tracks become tags."""
    def task(name, result):
        return {"id": 1, "data": {"video": f"/data/upload/1/{name}"}, "annotations": [{"result": result}]}

    region = lambda label, s, e: {"type": "timelinelabels", "from_name": "videoLabels", "to_name": "video",  # noqa: E731
                                  "value": {"ranges": [{"start": s, "end": e}], "timelinelabels": [label]}}
    tasks = [task("other.mp4", [region("Preparation", 1, 100)]),
             task("case07.mp4", [region("Preparation", 1, 40), region("ClippingCutting", 41, 100),
                                 region("Hook", 10, 19)])]
    back = imported(admin, video, {"case07.json": json.dumps(tasks).encode()})
    assert frames(back, "phases") == [("ClippingCutting", 40, 100), ("Preparation", 0, 40)]
    assert frames(back, "tags") == [("Hook", 9, 19)]


@pytest.mark.parametrize("name, text, problem", [
    ("case07-phase.txt", "Frame\tPhase\n0\t0\n25\t9\n", "line 3: phase '9' is not one of the project's phases"),
    ("case07-phase.txt", "Frame\tPhase\n0\t0\n25\t1\n40\t1\n", "line 4: frame 40 where 50 was expected"),
    ("case07-tags.csv", "kind,label,start_frame,end_frame\nbox,Hook,1,2\n", "line 2: kind 'box' is not phase"),
    ("case07-tags.csv", "kind,label,start_frame,end_frame\ntag,Hook,-1,2\n", "line 2: start_frame '-1'"),
    ("case07-tags.csv", "label,start_frame\nHook,1\n", "missing kind, end_frame"),
    ("case07.json", json.dumps([{"data": {"video": "case07.mp4"}, "annotations": [{"result": [
        {"type": "timelinelabels", "value": {"ranges": [{"start": 0, "end": 3}], "timelinelabels": ["Hook"]}}]}]}]),
     "region 1 has a range that is not whole frames from 1"),
    ("case07.json", json.dumps([{"data": {"video": "a.mp4"}, "annotations": []},
                                {"data": {"video": "b.mp4"}, "annotations": []}]),
     "none of its 2 Label Studio tasks is for video 'case07'"),
])
def test_a_bad_exchange_file_is_refused_with_its_name_and_line(admin, video, name, text, problem):
    pid = project(admin)
    status, body = upload(admin, pid, {"case07.mp4": video, name: text.encode()})
    assert status == 422, body
    assert name in body["failed"][0]["error"] and problem in body["failed"][0]["error"], body


def test_an_audio_only_mp4_is_refused_by_name_and_the_next_video_still_imports(admin, video, tmp_path):
    import av
    import numpy as np

    voice = str(tmp_path / "dictation.mp4")
    with av.open(voice, "w") as out:
        stream = out.add_stream("aac", rate=16000, layout="mono")
        pcm = (0.2 * np.sin(np.arange(16000) / 5)).astype("float32").reshape(1, -1)
        for start in range(0, 16000, 1024):
            chunk = av.AudioFrame.from_ndarray(pcm[:, start:start + 1024], format="flt", layout="mono")
            chunk.sample_rate = 16000
            for packet in stream.encode(chunk):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    pid = project(admin)
    status, body = upload(admin, pid, {"dictation.mp4": voice, "case07.mp4": video})
    assert status == 201, body
    states = {}
    for created in body["created"]:
        _, item = admin.get(f"/items/{created['id']}")
        states[created["name"]] = (item["status"], item["status_reason"] or "")
    assert states["case07.mp4"][0] == "ready", states
    assert states["dictation.mp4"][0] == "invalid" and "no video stream (audio only)" in states["dictation.mp4"][1], states


def test_an_action_must_belong_to_its_step():
    from annotators.surgical.schema import check_semantics

    config = {"phases": ["Preparation"], "steps": {"Preparation": ["port placement"]},
              "actions": {"port placement": ["incise"]}, "tracks": []}
    seg = {"id": "p", "phase": "Preparation", "start_frame": 0, "end_frame": 5, "step": "port placement"}
    check_semantics({"phases": [{**seg, "action": "incise"}]}, config)
    with pytest.raises(ValueError, match="action 'suture' is not an action of step 'port placement'"):
        check_semantics({"phases": [{**seg, "action": "suture"}]}, config)
