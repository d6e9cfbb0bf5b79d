"""De-identification of surgical video: faces masked by OpenCV's Haar cascades with the frame index intact, no
source metadata in any video we write, the `blurred_video` export and the blurred proxy at ingest.

The face is a crop of scikit-image's `astronaut` (Eileen Collins, NASA, public domain; tests/surgical/data/README):
a real photograph, since a drawn face does not fool the cascade reliably. It moves across a textured background."""
from __future__ import annotations

import io
import json
import os
import struct
import zipfile

import av
import cv2
import numpy as np
import pytest

from annotators.base import ItemView
from annotators.media import MediaInfo
from annotators.probe import probe
from annotators.surgical import deidentify, video

FACE = cv2.imread(os.path.join(os.path.dirname(__file__), "data", "face.jpg"))
W, H = 640, 360
TAGS = {"creation_time": "2024-03-01T10:00:00.000000Z", "location": "+48.8566+002.3522/", "make": "AcmeScope",
        "model": "OR-Cam 9", "title": "Doe Jane MRN 4455", "comment": "MRN 4455", "encoder": "AcmeScope fw 7.1"}
STREAM_TAGS = {"handler_name": "AcmeScope Theatre 3", "creation_time": "2024-03-01T10:00:00.000000Z"}


def background(i: int) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W]
    bgr = np.empty((H, W, 3), np.uint8)
    bgr[..., 0] = 40
    bgr[..., 1] = (60 + 30 * np.sin(yy / 17.0)).astype(np.uint8)
    bgr[..., 2] = (120 + 60 * np.sin((xx + 2 * i) / 40.0) * np.cos(yy / 30.0)).astype(np.uint8)
    return bgr


def face_at(i: int) -> tuple[int, int]:
    return 300 + i, 80  # x, y of the face picture's corner: it moves 1 px a frame


def make_video(path, frames: int = 24, face: bool = True, fmt: str = "mp4", tags: bool = False) -> str:
    with av.open(str(path), "w", format=fmt) as out:
        if tags:
            out.metadata.update(TAGS)
        stream = out.add_stream("libx264", rate=25, options={"preset": "ultrafast", "crf": "16"})
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        if tags:
            stream.metadata.update(STREAM_TAGS)
        for i in range(frames):
            bgr = background(i)
            if face:
                x, y = face_at(i)
                bgr[y:y + FACE.shape[0], x:x + FACE.shape[1]] = FACE
            frame = av.VideoFrame.from_ndarray(bgr, format="bgr24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return str(path)


def decoded(path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]


def index_of(path, tmp_path) -> dict:
    out = tmp_path / f"index-{os.path.basename(str(path))}"
    out.mkdir()
    view = ItemView(id=1, kind="video", media_path=str(path), media=MediaInfo.from_dict(probe(str(path))))
    video.make_frame_index(view, str(out))
    return json.loads((out / "frames.json").read_text())


def sharpness(bgr: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255 ** 2 / mse)


@pytest.fixture(scope="module")
def face_video(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("deid") / "or-camera.mp4")


def test_faces_are_masked_in_every_frame_and_the_frame_index_holds(face_video, tmp_path):
    out = str(tmp_path / "blurred.mp4")
    stats = deidentify.blur_video(face_video, out)
    assert stats["frames"] == 24 and stats["masked_frames"] == 24 and stats["detections_with_faces"] >= 4
    before, after = index_of(face_video, tmp_path), index_of(out, tmp_path)
    assert after["frames"] == before["frames"] == 24
    assert after["pts"] == before["pts"] and after["offset_s"] == before["offset_s"]  # same frames, same times
    assert after["time_base"] == before["time_base"]
    source, blurred = decoded(face_video), decoded(out)
    for i in range(24):
        x, y = face_at(i)
        inner = (slice(y + 45, y + 150), slice(x + 45, x + 135))  # eyes, nose, mouth
        assert sharpness(blurred[i][inner]) < 0.1 * sharpness(source[i][inner]), i
        assert np.abs(blurred[i][inner].astype(int) - source[i][inner].astype(int)).mean() > 8, i
        rest = np.ones((H, W), bool)
        rest[max(0, y - 90):y + FACE.shape[0] + 90, max(0, x - 90):x + FACE.shape[1] + 90] = False
        assert psnr(blurred[i][rest], source[i][rest]) > 35, i  # the rest: only the re-encode's loss


def test_a_video_without_faces_comes_back_unmasked(tmp_path):
    source = make_video(tmp_path / "laparoscope.mp4", frames=20, face=False)
    out = str(tmp_path / "out.mp4")
    stats = deidentify.blur_video(source, out)
    assert stats["masked_frames"] == 0 and stats["detections_with_faces"] == 0
    for a, b in zip(decoded(source), decoded(out), strict=True):
        assert psnr(a, b) > 38


def test_extra_regions_are_always_masked(tmp_path):
    source = make_video(tmp_path / "monitor.mp4", frames=6, face=False)
    out = str(tmp_path / "out.mp4")
    stats = deidentify.blur_video(source, out, options={"extra_regions": [[0, 0, 0.25, 0.25]], "method": "black"})
    assert stats["masked_frames"] == 6
    frame = decoded(out)[3]
    assert frame[:85, :155].max() < 20 and frame[200:, 300:].mean() > 40  # the corner is black, the rest is not


def _atoms(data: bytes, start: int = 0, end: int | None = None):
    end = len(data) if end is None else end
    while start + 8 <= end:
        size, kind = struct.unpack(">I4s", data[start:start + 8])
        size = size or end - start
        yield kind.decode("latin-1"), start, size
        start += size


def creation_times(path) -> list[int]:
    """mvhd, tkhd and mdhd creation times (version 0 boxes: 32-bit seconds since 1904)."""
    data = open(path, "rb").read()
    times = []

    def walk(start, end):
        for kind, at, size in _atoms(data, start, end):
            if kind in ("moov", "trak", "mdia"):
                walk(at + 8, at + size)
            elif kind in ("mvhd", "tkhd", "mdhd"):
                version = data[at + 8]
                fmt = ">Q" if version == 1 else ">I"
                times.append(struct.unpack(fmt, data[at + 12:at + 12 + struct.calcsize(fmt)])[0])
    walk(0, len(data))
    return times


@pytest.mark.parametrize("fmt", ["mov", "mp4"])
def test_no_video_we_write_keeps_the_sources_metadata(tmp_path, fmt):
    source = make_video(tmp_path / f"tagged.{fmt}", frames=8, face=False, fmt=fmt, tags=True)
    with av.open(source) as container:  # the source does carry them
        assert container.metadata["title"] == TAGS["title"] and "location" in container.metadata
        assert fmt == "mp4" or container.metadata["make"] == "AcmeScope"  # the MP4 muxer has no make/model atom
    assert any(creation_times(source))
    outputs = {"blurred": tmp_path / "blurred.mp4", "remux": tmp_path / "remux.mp4", "encode": tmp_path / "enc.mp4"}
    deidentify.blur_video(source, str(outputs["blurred"]))
    video._remux(source, str(outputs["remux"]))
    video._encode(source, str(outputs["encode"]))
    for how, path in outputs.items():
        with av.open(str(path)) as container:
            tags = dict(container.metadata)
            assert set(tags) <= {"major_brand", "minor_version", "compatible_brands", "encoder"}, (how, tags)
            assert tags.get("encoder", "").startswith("Lavf")  # FFmpeg's own tag, not the camera's
            for stream in container.streams:
                assert "creation_time" not in stream.metadata and "Acme" not in str(dict(stream.metadata)), how
            assert sum(1 for _ in container.decode(video=0)) == 8
        raw = path.read_bytes()
        for secret in (b"Acme", b"OR-Cam", b"MRN", b"+48.85", b"Doe"):
            assert secret not in raw, (how, secret)
        assert creation_times(str(path)) and not any(creation_times(str(path))), how
    assert b"x264 - core" in open(source, "rb").read()  # the encoder's SEI, which a remux drops
    assert b"x264 - core" not in outputs["remux"].read_bytes()


def test_a_rotated_phone_video_is_turned_upright_and_masked(tmp_path):
    """A phone held upright stores its pictures turned (display matrix 90 degrees clockwise): the face is sideways
    in the coded pixels, upright in the output."""
    upright = np.full((W, H, 3), 90, np.uint8)  # portrait 360 x 640
    upright[200:200 + FACE.shape[0], 90:90 + FACE.shape[1]] = FACE
    coded = np.ascontiguousarray(np.rot90(upright, 1))  # what the sensor wrote: turned counterclockwise
    source = str(tmp_path / "phone.mp4")
    with av.open(source, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=25, options={"preset": "ultrafast", "crf": "16"})
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        for i in range(6):
            frame = av.VideoFrame.from_ndarray(coded, format="bgr24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    stats = deidentify.blur_video(source, str(tmp_path / "out.mp4"), rotation=90)
    frames = decoded(tmp_path / "out.mp4")
    assert frames[0].shape == (W, H, 3) and stats["frames"] == 6 and stats["masked_frames"] == 6
    inner = (slice(245, 350), slice(135, 225))
    assert sharpness(frames[3][inner]) < 0.1 * sharpness(upright[inner])


# -- through the API -------------------------------------------------------------------------------------------

def _project(admin, label_config=None):
    body = {"name": "Theatre 3", "modality": "surgical"}
    if label_config is not None:
        body["label_config"] = label_config
    status, project = admin.post("/projects", body)
    assert status == 201, project
    return project["id"]


def _upload(admin, pid, name, path):
    resp = admin.client.post(f"/api/v1/projects/{pid}/items", headers=admin.headers(),
                             content_type="multipart/form-data",
                             data={"files": [(io.BytesIO(open(path, "rb").read()), name)]})
    body = resp.get_json()
    assert resp.status_code == 201 and not body["failed"], body
    return body["created"][0]["id"]


def test_the_blurred_video_export_is_a_zip_of_masked_videos(admin, face_video, tmp_path):
    from annotators.base import registry

    assert "blurred_video" in registry.get("surgical").describe()["export_formats"]
    pid = _project(admin)
    item_id = _upload(admin, pid, "video07.mp4", face_video)
    status, ann = admin.post(f"/items/{item_id}/annotations", {"payload": {"phases": [
        {"id": "a", "phase": "Preparation", "start_frame": 0, "end_frame": 24}]}})
    assert status == 201, ann
    status, job = admin.post(f"/projects/{pid}/exports", {"format": "blurred_video"})
    assert status == 202, job
    _, job = admin.get(f"/jobs/{job['id']}")
    assert job["status"] == "succeeded", job
    data = admin.client.get(f"/api/v1/exports/{job['id']}/file", headers=admin.headers()).data
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == ["manifest.json", "video07.mp4"]
        manifest = json.loads(archive.read("manifest.json"))
        (tmp_path / "exported.mp4").write_bytes(archive.read("video07.mp4"))
    assert manifest["audio"] == "dropped" and not manifest["failed"]
    assert manifest["files"][0]["frames"] == 24 and manifest["files"][0]["masked_frames"] == 24
    assert index_of(tmp_path / "exported.mp4", tmp_path)["pts"] == index_of(face_video, tmp_path)["pts"]
    x, y = face_at(10)
    inner = (slice(y + 45, y + 150), slice(x + 45, x + 135))
    assert sharpness(decoded(tmp_path / "exported.mp4")[10][inner]) < 0.1 * sharpness(decoded(face_video)[10][inner])


def test_blur_at_ingest_gives_annotators_a_masked_proxy_and_not_the_original(admin, make_member, face_video):
    pid = _project(admin, {"phases": ["Preparation", "Other"], "deidentify": {"blur_faces_at_ingest": True}})
    item_id = _upload(admin, pid, "video08.mp4", face_video)
    _, item = admin.get(f"/items/{item_id}")
    assert item["status"] == "ready", item
    assets = {a["name"]: a for a in item["assets"]}
    assert assets["proxy"]["meta"]["made_by"] == "h264+blur" and assets["proxy"]["producer"].endswith("@blur-1")
    assert assets["sprite"]["producer"].endswith("@blur-1")
    proxy = admin.client.get(assets["proxy"]["url"], headers=admin.headers()).data
    with av.open(io.BytesIO(proxy)) as container:
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    assert len(frames) == 24
    x, y = face_at(5)
    inner = (slice(y + 45, y + 150), slice(x + 45, x + 135))
    assert sharpness(frames[5][inner]) < 0.1 * sharpness(decoded(face_video)[5][inner])
    annotator = make_member(pid, "ann", "annotator")
    assert annotator.client.get(assets["proxy"]["url"], headers=annotator.headers()).status_code == 200
    refused = annotator.client.get(f"/api/v1/items/{item_id}/media", headers=annotator.headers())
    assert refused.status_code == 403 and "faces masked" in refused.get_json()["error"]["message"]
    assert admin.client.get(f"/api/v1/items/{item_id}/media", headers=admin.headers()).status_code == 200
