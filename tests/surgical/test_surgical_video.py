"""The surgical modality's derived assets on the videos that break naive frame numbering: B-frames (packets in
decode order), variable frame rate, a start offset, a codec the browser may not play. Frame numbers come from the
sorted presentation timestamps and match what decoding shows (each frame's grey level is its number x 5)."""
from __future__ import annotations

import json

import av
import numpy as np
import pytest

import media_files
from annotators.base import ItemView
from annotators.media import MediaInfo
from annotators.probe import probe
from annotators.surgical import video


def view_of(path) -> ItemView:
    return ItemView(id=1, kind="video", media_path=str(path), media=MediaInfo.from_dict(probe(str(path))))


def index_of(path, tmp_path) -> dict:
    meta = video.make_frame_index(view_of(path), str(tmp_path))
    data = json.loads((tmp_path / "frames.json").read_text())
    assert data["frames"] == meta["meta"]["frames"]
    return data


def decoded_greys(path) -> list[tuple[float, int]]:
    with av.open(str(path)) as container:
        return [(frame.time, int(round(float(frame.to_ndarray(format="gray").mean()))))
                for frame in container.decode(video=0)]


def test_b_frames_come_in_decode_order_and_the_index_sorts_them(tmp_path):
    path = media_files.video_at(tmp_path / "b.mp4", [i / 25 for i in range(60)])
    with av.open(str(path)) as container:
        demuxed = [p.pts for p in container.demux(video=0) if p.size]
    assert demuxed != sorted(demuxed)  # libx264's B-frames: a naive index would be wrong
    index = index_of(path, tmp_path)
    tb = index["time_base"][1]
    assert index["frames"] == 60 and index["pts"] == sorted(index["pts"])
    for number, (time_s, grey) in enumerate(decoded_greys(path)):
        assert abs(index["offset_s"] + index["pts"][number] / tb - time_s) < 1e-6
        assert abs(grey - number * 5 % 255) <= 2  # frame `number` of the index is the picture numbered so
    assert index["keyframes"][0] == 0 and index["fps_measured"] == pytest.approx(25, abs=0.01)


def test_variable_frame_rate_and_a_start_offset(tmp_path):
    steps = [0.02, 0.033, 0.04, 0.08] * 12
    times = [float(t) for t in 10.0 + np.cumsum([0.0] + steps)]
    path = media_files.video_at(tmp_path / "vfr.mp4", times, options={"bf": "0"})
    index = index_of(path, tmp_path)
    tb = index["time_base"][1]
    assert index["frames"] == len(times) and index["variable_frame_rate"]
    assert index["offset_s"] == pytest.approx(10.0, abs=1e-3)  # the player reports 10.0 s for frame 0
    assert [round(p / tb, 3) for p in index["pts"]] == [round(t - 10.0, 3) for t in times]
    for number, (time_s, grey) in enumerate(decoded_greys(path)):
        assert abs(grey - number * 5 % 255) <= 2 and abs(time_s - times[number]) < 1e-3


def test_an_h264_mp4_is_remuxed_and_anything_else_encoded_with_its_timestamps(tmp_path):
    mp4 = media_files.mp4(tmp_path / "case.mp4", frames=40, fps=25, size=(160, 120))
    out = tmp_path / "remux"
    out.mkdir()
    assert video.make_proxy(view_of(mp4), str(out))["meta"]["made_by"] == "remux"
    with av.open(str(out / "proxy.mp4")) as proxy, av.open(mp4) as source:
        assert [p.pts for p in proxy.demux(video=0) if p.size] == [p.pts for p in source.demux(video=0) if p.size]
    with open(out / "proxy.mp4", "rb") as fh:
        head = fh.read(4096)
    assert head.find(b"moov") < head.find(b"mdat") or b"mdat" not in head  # faststart: moov first

    webm = media_files.video_at(tmp_path / "case.webm", [i / 25 for i in range(30)], codec="libvpx-vp9",
                                container="webm", size=(1920, 1080), options={"deadline": "realtime", "cpu-used": "8"})
    out = tmp_path / "encode"
    out.mkdir()
    assert video.make_proxy(view_of(webm), str(out))["meta"]["made_by"] == "h264"
    with av.open(str(out / "proxy.mp4")) as proxy:
        stream = proxy.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.height == 720  # <= 720p
        times = sorted(float(p.pts * stream.time_base) for p in proxy.demux(stream) if p.size)
    source = index_of(webm, tmp_path)
    assert len(times) == 30
    assert [round(t, 3) for t in times] == [round(source["offset_s"] + p / source["time_base"][1], 3)
                                            for p in source["pts"]]


def test_the_sprite_is_a_jpeg_grid_of_thumbnails(tmp_path):
    mp4 = media_files.mp4(tmp_path / "case.mp4", frames=100, fps=25, size=(320, 240), audio=False)
    meta = video.make_sprite(view_of(mp4), str(tmp_path))["meta"]
    assert meta["count"] == 4 and meta["thumb_width"] == 160 and meta["thumb_height"] == 120
    with av.open(str(tmp_path / "sprite.jpg")) as image:
        picture = next(image.decode(video=0)).to_ndarray(format="gray")
    assert picture.shape == (120, 1600)
    greys = [float(picture[:, n * 160:(n + 1) * 160].mean()) for n in range(4)]
    # thumbnail n shows the frame at n seconds: frame 25 n, grey (25 n x 5) mod 255
    assert all(abs(grey - (n * 25 * 5) % 255) < 12 for n, grey in enumerate(greys)), greys


def test_a_video_without_frames_is_refused_by_the_index(tmp_path):
    wav = media_files.wav(tmp_path / "sound.wav", seconds=1.0)
    with pytest.raises(ValueError, match="no video stream"):
        video.make_frame_index(ItemView(id=1, kind="video", media_path=wav), str(tmp_path))


@pytest.mark.parametrize("clockwise", [90, 180, 270])
def test_a_phone_video_turned_by_its_matrix_is_probed_clockwise_and_encoded_upright(tmp_path, clockwise):
    """Phones film landscape and write how to turn it (the track matrix). The probe reports the clockwise turn the
    player must make (PyAV's angle is counterclockwise); a remux keeps the matrix; an encode (H.265 source) turns
    the pixels, since its new stream has no matrix: the white top of the sensor ends up where the viewer sees it."""
    h264 = media_files.phone_video(tmp_path / "h264.mp4", clockwise=clockwise)
    hevc = media_files.phone_video(tmp_path / "hevc.mp4", clockwise=clockwise, codec="libx265")
    assert probe(h264)["rotation"] == probe(hevc)["rotation"] == clockwise
    (tmp_path / "remux").mkdir()
    assert video.make_proxy(view_of(h264), str(tmp_path / "remux"))["meta"]["made_by"] == "remux"
    assert probe(str(tmp_path / "remux" / "proxy.mp4"))["rotation"] == clockwise
    (tmp_path / "encode").mkdir()
    assert video.make_proxy(view_of(hevc), str(tmp_path / "encode"))["meta"]["made_by"] == "h264"
    encoded = str(tmp_path / "encode" / "proxy.mp4")
    assert probe(encoded)["rotation"] == 0
    with av.open(encoded) as container:
        picture = next(container.decode(video=0)).to_ndarray(format="gray").astype(int)
    height, width = picture.shape
    assert (width, height) == ((48, 64) if clockwise != 180 else (64, 48))
    edges = {"top": picture[2, width // 2], "bottom": picture[-3, width // 2], "left": picture[height // 2, 2],
             "right": picture[height // 2, -3]}
    white = {90: "right", 180: "bottom", 270: "left"}[clockwise]
    assert edges[white] > 225 and min(edges.values()) < 30, edges
    sprite = video.make_sprite(view_of(hevc), str(tmp_path / "encode"))["meta"]
    assert (sprite["thumb_height"] > sprite["thumb_width"]) == (clockwise != 180)


def test_a_one_pixel_video_is_indexed_proxied_and_thumbnailed(tmp_path):
    """1x1 (lossless FFV1 in Matroska): H.264 needs even sizes, so the proxy is 2x2; nothing divides by zero."""
    path = str(tmp_path / "tiny.mkv")
    with av.open(path, "w") as out:
        stream = out.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 1, 1, "yuv444p"
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((1, 1, 3), i * 20, np.uint8), format="rgb24")
            frame = frame.reformat(format="yuv444p")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    assert index_of(path, tmp_path)["frames"] == 10
    assert video.make_proxy(view_of(path), str(tmp_path))["meta"]["made_by"] == "h264"
    proxy = probe(str(tmp_path / "proxy.mp4"))
    assert (proxy["width"], proxy["height"], proxy["frame_count"]) == (2, 2, 10)
    assert video.make_sprite(view_of(path), str(tmp_path))["meta"]["count"] == 1
