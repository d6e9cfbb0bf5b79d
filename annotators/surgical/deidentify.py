"""De-identification of surgical video: faces blurred, fixed regions masked, container metadata dropped.

Operating-room and out-of-body camera footage shows faces (staff, the patient before draping). `blur_video`
decodes a video, finds faces with OpenCV's shipped Haar cascades (frontal, and profile looking either way: the
profile cascade only knows one side, so it also runs on the mirrored picture) and re-encodes it to H.264 with every
face box destroyed. It runs in the server's sandboxed child (the export job's per-item step, the ingest proxy),
never in the web process: the input is untrusted media.

Speed: detection runs on a picture scaled to DETECT_WIDTH, every `detect_every` frames. Frames between two
detections are held back until the second one and masked with the boxes of both, grown by MARGIN: a face that
appears (or moves) between detections is covered from the first frame that was held, not from the next detection.
Boxes are also kept for HOLD detections after the cascade last saw them (a turned head is missed for a moment).

What survives: every frame, with its own presentation timestamp (the frame index built from the original stays
valid: same frame count, same pts), upright pixels (a phone's display matrix is applied, as the proxy does).
What does not: audio (spoken names are PHI; dropped), every container and stream tag of the source (creation time,
GPS `location`/©xyz, make/model, titles, handler names), data tracks (GPS, timecode), the source's H.264 SEI
messages. FFmpeg writes its own `encoder` tag ("Lavf..."), which says nothing about the recording.
"""
from __future__ import annotations

import os
from fractions import Fraction

import numpy as np

DETECT_WIDTH = 320  # faces in OR footage are large; 320 px finds a face ~25 px wide in a 640-px frame
DETECT_EVERY = 5  # frames between detections (0.2 s at 25 fps)
MARGIN = 0.35  # each box grows by this share of its size on every side: hair, ears, movement between detections
HOLD = 3  # detections a box lives after the cascade last saw it (a profile is looked for every other one)
BLOCKS = 6  # a masked box keeps at most 6 x 6 colour averages: nothing of a face's identity survives
MIN_FACE = 20  # smallest face searched, in pixels of the detection picture
DEFAULTS = {"detect_every": DETECT_EVERY, "method": "blur", "extra_regions": [], "crf": 21, "preset": "veryfast",
            "max_height": None, "gop_s": None}

_CASCADES = ("haarcascade_frontalface_default.xml", "haarcascade_profileface.xml")


class FaceFinder:
    """Face boxes (x, y, w, h in full-size pixels) in a BGR picture, remembered across detections (HOLD)."""

    def __init__(self, width: int, height: int):
        import cv2

        cv2.setNumThreads(1)  # the sandbox caps address space; one encode per child is the parallelism we want
        folder = cv2.data.haarcascades
        self.frontal, self.profile = (cv2.CascadeClassifier(os.path.join(folder, n)) for n in _CASCADES)
        if self.frontal.empty() or self.profile.empty():
            raise RuntimeError("OpenCV's Haar cascades are missing from the installed opencv package")
        self.scale = min(1.0, DETECT_WIDTH / max(1, width))
        self.size = (max(1, round(width * self.scale)), max(1, round(height * self.scale)))
        self.held: list[tuple[np.ndarray, int]] = []  # (box, detections left)
        self.found = 0  # detections that saw at least one face (for the report)
        self.turn = 0

    def _detect(self, gray: np.ndarray) -> list[np.ndarray]:
        # scaleFactor 1.2 halves the time of 1.1 and still found the test face at every size tried; minNeighbors 4:
        # 3 found false faces in textured tissue
        args = dict(scaleFactor=1.2, minNeighbors=4, minSize=(MIN_FACE, MIN_FACE))
        boxes = list(self.frontal.detectMultiScale(gray, **args))
        # The profile cascade costs twice the frontal one and knows one side only: each detection looks for one
        # side, in turn (the mirrored picture for the other), and HOLD keeps a profile box until its side's next turn.
        self.turn += 1
        if self.turn % 2:
            boxes += list(self.profile.detectMultiScale(gray, **args))
        else:
            width = gray.shape[1]
            for x, y, w, h in self.profile.detectMultiScale(np.ascontiguousarray(gray[:, ::-1]), **args):
                boxes.append(np.array([width - x - w, y, w, h]))
        return [np.asarray(b, dtype=np.float64) / self.scale for b in boxes]

    def boxes(self, bgr: np.ndarray) -> list[np.ndarray]:
        import cv2

        small = cv2.resize(bgr, self.size, interpolation=cv2.INTER_AREA) if self.scale < 1 else bgr
        found = self._detect(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY))
        if found:
            self.found += 1
        self.held = [(b, HOLD) for b in found] + [(b, n - 1) for b, n in self.held if n > 1]
        return [b for b, _ in self.held]


def _grow(box, margin: float, width: int, height: int) -> tuple[int, int, int, int] | None:
    x, y, w, h = (float(v) for v in box)
    x0, y0 = max(0, int(x - w * margin)), max(0, int(y - h * margin))
    x1, y1 = min(width, int(np.ceil(x + w * (1 + margin)))), min(height, int(np.ceil(y + h * (1 + margin))))
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _regions(extra: list, width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Fixed regions given as fractions of the picture [x, y, w, h] (a monitor showing the patient's name)."""
    out = []
    for x, y, w, h in extra or []:
        box = _grow((x * width, y * height, w * width, h * height), 0.0, width, height)
        if box:
            out.append(box)
    return out


def mask(bgr: np.ndarray, boxes, method: str = "blur") -> None:
    """Destroys each box (x0, y0, x1, y1) in place: averaged down to BLOCKS x BLOCKS, then smoothed back up
    ("blur") or kept blocky ("pixelate"), or filled black. A Gaussian blur alone can be partly undone; an average
    over a sixth of the face cannot."""
    import cv2

    for x0, y0, x1, y1 in boxes:
        patch = bgr[y0:y1, x0:x1]
        if method == "black":
            patch[:] = 0
            continue
        small = cv2.resize(patch, (min(BLOCKS, patch.shape[1]), min(BLOCKS, patch.shape[0])),
                           interpolation=cv2.INTER_AREA)
        how = cv2.INTER_NEAREST if method == "pixelate" else cv2.INTER_LINEAR
        patch[:] = cv2.resize(small, (patch.shape[1], patch.shape[0]), interpolation=how)


def output_size(width: int, height: int, max_height: int | None) -> tuple[int, int]:
    scale = min(1.0, max_height / max(1, height)) if max_height else 1.0
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def blur_video(source: str, target: str, rotation: int = 0, options: dict | None = None) -> dict:
    """Writes `target` (H.264 MP4, no audio, no source metadata) with faces and `extra_regions` masked.
    Returns counts for the report (no picture content, no names)."""
    import av

    from annotators.surgical.video import clean_metadata, upright

    opts = {**DEFAULTS, **{k: v for k, v in (options or {}).items() if k in DEFAULTS and v is not None}}
    every = max(1, int(opts["detect_every"]))
    clockwise = int(rotation or 0) % 360
    turned = clockwise % 180 == 90
    with av.open(source) as src, av.open(target, "w", format="mp4", options={"movflags": "faststart"}) as out:
        if not src.streams.video:
            raise ValueError("the file has no video stream")
        video = src.streams.video[0]
        video.thread_type = "AUTO"
        rate = video.average_rate or video.guessed_rate or Fraction(25)
        coded_w, coded_h = video.codec_context.width, video.codec_context.height
        width, height = output_size(coded_h, coded_w, opts["max_height"]) if turned else \
            output_size(coded_w, coded_h, opts["max_height"])
        gop = str(max(1, round(float(rate) * float(opts["gop_s"])))) if opts["gop_s"] else "250"
        # bf=0: packets leave in presentation order and no edit list shifts the first pts (the frame index holds)
        stream = out.add_stream("libx264", rate=rate, options={"preset": str(opts["preset"]), "crf": str(opts["crf"]),
                                                                "bf": "0", "g": gop})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = video.time_base  # the source's timestamps, unchanged
        clean_metadata(out)
        finder = FaceFinder(width, height)
        fixed = _regions(opts["extra_regions"], width, height)
        stats = {"frames": 0, "masked_frames": 0, "detections": 0, "detections_with_faces": 0}
        held: list[tuple[np.ndarray, int]] = []  # (bgr, pts) decoded since the last detection
        previous: list[np.ndarray] = []

        def flush(current: list[np.ndarray]) -> None:
            boxes = [b for b in (_grow(b, MARGIN, width, height) for b in previous + current) if b] + fixed
            for bgr, pts in held:
                if boxes:
                    mask(bgr, boxes, opts["method"])
                    stats["masked_frames"] += 1
                picture = av.VideoFrame.from_ndarray(bgr, format="bgr24").reformat(format="yuv420p")
                picture.pts, picture.time_base = pts, video.time_base
                for packet in stream.encode(picture):
                    out.mux(packet)
            held.clear()

        for frame in src.decode(video):
            if frame.pts is None:
                continue  # not presented; the frame index skips it too
            if clockwise:
                rgb = frame.reformat(width=height if turned else width, height=width if turned else height,
                                     format="rgb24").to_ndarray()
                bgr = np.ascontiguousarray(upright(rgb, clockwise)[:, :, ::-1])
            else:
                bgr = frame.reformat(width=width, height=height, format="bgr24").to_ndarray()
            if stats["frames"] % every == 0:
                current = finder.boxes(bgr)
                stats["detections"] += 1
                flush(current)  # the frames before this one see the boxes of both detections around them
                previous = current
            held.append((bgr, frame.pts))
            stats["frames"] += 1
        flush([])
        for packet in stream.encode(None):
            out.mux(packet)
    stats["detections_with_faces"] = finder.found
    if not stats["frames"]:
        raise ValueError("no frame of the video could be decoded")
    return stats


def blur_for_export(view, out_dir: str, label_config: dict) -> dict:
    """The `blurred_video` export's per-item step (run in the sandbox by the export job): the source at its own
    size, faces masked. The export names the file; this names it by item id."""
    settings = (label_config or {}).get("deidentify") or {}
    path = os.path.join(out_dir, f"{int(view.id)}.mp4")
    rotation = int(getattr(view.media, "rotation", 0) or 0) if view.media else 0
    stats = blur_video(view.media_path, path, rotation, _options(settings))
    return {"file": os.path.basename(path), "media_type": "video/mp4", "meta": stats}


def make_blurred_proxy(view, out_dir: str, settings: dict | None = None) -> dict:
    """The browser proxy with faces masked (a project's `deidentify.blur_faces_at_ingest`): the proxy's own rules
    (<= 720p, a keyframe every second, the source's timestamps), so annotators never see a face."""
    from annotators.surgical.video import MAX_PROXY_HEIGHT

    rotation = int(getattr(view.media, "rotation", 0) or 0) if view.media else 0
    options = {**_options(settings or {}), "max_height": MAX_PROXY_HEIGHT, "gop_s": 1, "crf": 26,
               "preset": "veryfast"}
    stats = blur_video(view.media_path, os.path.join(out_dir, "proxy.mp4"), rotation, options)
    return {"file": "proxy.mp4", "media_type": "video/mp4", "meta": {"made_by": "h264+blur", **stats}}


def _options(settings: dict) -> dict:
    return {k: settings[k] for k in ("detect_every", "method", "extra_regions") if k in settings}


def write_blurred_video(pairs, label_config: dict, fh) -> None:
    """The `blurred_video` export: a zip of `<stem>.mp4` per item (made by `blur_for_export` in the sandbox, before
    the writer sees the item) and `manifest.json` (per file: frames, frames masked, detections with a face; items
    that failed, with the reason). MP4s are stored, not deflated: H.264 does not compress further."""
    import json
    import zipfile

    from annotators.surgical.formats import sidecar_stem

    manifest: dict = {"audio": "dropped", "metadata": "stripped", "files": [], "failed": []}
    used: set[str] = set()
    with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as archive:
        for view, _payload in pairs:
            path = view.assets.get("blurred_video")
            if not path:
                manifest["failed"].append({"item": view.id, "error": view.meta.get("prepare_error", "not prepared")})
                continue
            stem = sidecar_stem(view.name) or f"item-{view.id}"
            name = f"{stem}.mp4" if stem not in used else f"{stem}-{view.id}.mp4"  # two uploads of one name
            used.add(stem)
            archive.write(path, name)
            manifest["files"].append({"file": name, "item": view.id, **(view.meta.get("prepared") or {})})
        archive.writestr("manifest.json", json.dumps(manifest, indent=1), compress_type=zipfile.ZIP_DEFLATED)


def make_blurred_sprite(view, out_dir: str) -> dict:
    """The timeline's thumbnails taken from the blurred proxy (built just before it), not from the original."""
    import dataclasses

    from annotators.surgical.video import make_sprite

    proxy = (view.assets or {}).get("proxy")
    if not proxy:
        raise ValueError("the blurred proxy is missing")
    media = dataclasses.replace(view.media, rotation=0) if view.media else None  # the proxy's pixels are upright
    return make_sprite(dataclasses.replace(view, media_path=proxy, media=media), out_dir)
