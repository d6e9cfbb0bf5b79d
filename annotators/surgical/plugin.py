"""The `surgical` modality: surgical video (laparoscopic cholecystectomy by default), annotated with a phase
timeline, instrument and event tag tracks and comments, all at frame accuracy (frame numbers from the frame index)."""
from __future__ import annotations

import os

from annotators.agreement import pairwise_report
from annotators.base import (Derivative, Exporter, IngestedItem, ItemInput, ItemRejected, MetricSpec, Modality)
from annotators.surgical import deidentify, formats, metrics, schema, video
from annotators.surgical import formats_exchange as exchange

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm")
SIDECARS = (".txt", ".json", ".csv")
MEDIA_TYPES = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".mkv": "video/x-matroska",
               ".avi": "video/x-msvideo", ".webm": "video/webm"}
MAX_HOURS = 8


class SurgicalModality(Modality):
    name = "surgical"
    title = "Surgical video"
    description = ("Surgical recordings: a frame-accurate phase timeline (Cholec80 phases by default), instrument "
                   "and event tag tracks, comments; frame accuracy, kappa, per-phase precision/recall/Jaccard (also "
                   "with Cholec80's relaxed boundaries), segmental edit score and F1, boundary distance.")
    item_kinds = ("video",)
    accepts = VIDEO_EXTENSIONS + SIDECARS
    sidecar_extensions = SIDECARS
    probe_media = True
    label_config_schema = schema.LABEL_CONFIG_SCHEMA
    payload_schema = schema.PAYLOAD_SCHEMA
    default_label_config = schema.default_label_config()
    # a = the first version, the reference of every asymmetric measure; see metrics.py and metrics_segments.py
    metric_specs = (MetricSpec("agreement", description="share of frames with the same phase (frame accuracy)"),
                    MetricSpec("phase_accuracy", description="share of frames with the same phase"),
                    MetricSpec("phase_kappa", range=(-1.0, 1.0), description="Cohen's kappa over frames"),
                    MetricSpec("phase_precision", description="mean over phases of frames b gave phase k that a "
                               "also did / frames b gave phase k"),
                    MetricSpec("phase_recall", description="mean over phases of frames a gave phase k that b "
                               "also did / frames a gave phase k"),
                    MetricSpec("phase_jaccard", description="mean over phases of frames in both / in either"),
                    MetricSpec("relaxed_accuracy", description="frame accuracy with the Cholec80/M2CAI16 10 s "
                               "relaxed boundaries (an adjacent phase near a transition of a counts)"),
                    MetricSpec("relaxed_precision", description="mean precision per phase of a, relaxed boundaries"),
                    MetricSpec("relaxed_recall", description="mean recall per phase of a, relaxed boundaries"),
                    MetricSpec("relaxed_jaccard", description="mean Jaccard per phase of a, relaxed boundaries"),
                    MetricSpec("edit_score", description="segmental edit score: 1 - Levenshtein distance of the "
                               "segment label sequences / the longer one"),
                    MetricSpec("f1_10", description="segmental F1 at IoU 0.10 (MS-TCN)"),
                    MetricSpec("f1_25", description="segmental F1 at IoU 0.25 (MS-TCN)"),
                    MetricSpec("f1_50", description="segmental F1 at IoU 0.50 (MS-TCN)"),
                    MetricSpec("boundary_frames", higher_is_better=False, range=(0.0, None),
                               description="mean distance between phase boundaries (frames, both ways)"),
                    MetricSpec("boundary_seconds", higher_is_better=False, range=(0.0, None),
                               description="mean distance between phase boundaries (seconds, both ways)"),
                    MetricSpec("tag_f1", description="F1 of tag presence per track and frame"))
    ui_module = "js/modalities/surgical.js"
    ui_template = ""

    @staticmethod
    def sidecar_stem(name: str) -> str:
        return formats.sidecar_stem(name)

    # -- items ---------------------------------------------------------------------------------------------------
    def ingest(self, item: ItemInput, label_config: dict) -> list[IngestedItem]:
        ext = os.path.splitext(item.name or "")[1].lower()
        if ext not in VIDEO_EXTENSIONS:
            raise ItemRejected(f"{item.name}: not a video file (accepted: {', '.join(VIDEO_EXTENSIONS)}; Cholec80 "
                               "-phase.txt / -tool.txt, our -tags.csv and .json or a Label Studio .json go next to their "
                               "video, same base name)")
        if item.path is None and item.data is None:
            raise ItemRejected(f"{item.name}: upload the video file itself")
        size = item.size if item.size is not None else len(item.data or b"")
        if not size:
            raise ItemRejected(f"{item.name}: the file is empty (0 bytes)")
        annotations = []
        if item.sidecars:
            try:
                payload = formats.read_sidecars(item.sidecars, label_config)
                if payload is not None:
                    self.validate_payload(payload, label_config)
                    annotations.append(payload)
            except ValueError as exc:
                names = ", ".join(s.name for s in item.sidecars)
                raise ItemRejected(f"{names}: {exc}") from None
        ingested = IngestedItem(kind="video", media_type=MEDIA_TYPES.get(ext, "application/octet-stream"),
                                name=item.name, annotations=annotations)
        if item.path is not None:
            ingested.media_path = item.path
        else:
            ingested.media = item.data
        return [ingested]

    def check_media(self, info, label_config: dict) -> None:
        if not info.has_video:
            raise ItemRejected("the file has no video stream" + (" (audio only)" if info.has_audio else ""))
        if not info.frame_count:
            raise ItemRejected("the video stream holds no frames")
        if info.duration_ms > MAX_HOURS * 3_600_000:
            raise ItemRejected(f"longer than {MAX_HOURS} hours; split the recording")

    def derivatives(self) -> list[Derivative]:
        return [Derivative("frames", video.make_frame_index, "application/json", version="1"),
                # 2: no source SEI or tags in a remux (stripped); items derived again get the new proxy
                Derivative("proxy", video.make_proxy, "video/mp4", version="2"),
                Derivative("sprite", video.make_sprite, "image/jpeg", version="1")]

    def project_derivatives(self, label_config: dict) -> list[Derivative]:
        """`deidentify.blur_faces_at_ingest`: the proxy the annotators play, and the sprite, are made with faces
        masked (the original stays stored; the frame index is built from it and holds for the proxy: same pts)."""
        settings = (label_config or {}).get("deidentify") or {}
        if not settings.get("blur_faces_at_ingest"):
            return self.derivatives()
        options = {k: settings[k] for k in ("detect_every", "method", "extra_regions") if k in settings}
        version = "blur-1"  # its own producer version: turning the setting on or off rebuilds the proxy
        return [Derivative("frames", video.make_frame_index, "application/json", version="1"),
                Derivative("proxy", deidentify.make_blurred_proxy, "video/mp4", version=version, options=options),
                Derivative("sprite", deidentify.make_blurred_sprite, "image/jpeg", version=version)]

    def original_hidden(self, label_config: dict) -> bool:
        return bool(((label_config or {}).get("deidentify") or {}).get("blur_faces_at_ingest"))

    def preannotators(self, label_config: dict):
        from annotators.surgical.preannotate import PhasePreannotator

        return [PhasePreannotator()]

    fit_assets = ("frames",)
    fit_wants_gpu = True

    def fit(self, accepted, label_config: dict, previous: dict | None) -> dict | None:
        from annotators.surgical.training import fit

        return fit(accepted, label_config, previous)

    # -- payloads ------------------------------------------------------------------------------------------------
    def check_payload_semantics(self, payload: dict, label_config: dict) -> None:
        schema.check_semantics(payload, label_config)

    def exporters(self) -> dict[str, Exporter]:
        return {"json": Exporter("json", "jsonl", "application/x-ndjson", formats.write_json),
                "cholec80": Exporter("cholec80", "zip", "application/zip", formats.write_cholec80),
                "cholec80_1fps": Exporter("cholec80_1fps", "zip", "application/zip", exchange.write_cholec80_1fps),
                "csv": Exporter("csv", "csv", "text/csv", exchange.write_csv, assets=("frames",)),
                "label_studio": Exporter("label_studio", "json", "application/json", exchange.write_label_studio),
                # each video re-encoded in the media sandbox with faces masked and no source metadata
                "blurred_video": Exporter("blurred_video", "zip", "application/zip", deidentify.write_blurred_video,
                                          prepare=deidentify.blur_for_export)}

    # -- agreement -----------------------------------------------------------------------------------------------
    def agree(self, a: dict, b: dict, item, label_config: dict) -> dict[str, float]:
        media = getattr(item, "media", None)
        return metrics.agree(a, b, label_config.get("phases"), media.fps if media is not None else None)

    def agree_many(self, annotations, label_config: dict) -> dict:
        per_phase = []

        def measure(a: dict, b: dict) -> dict[str, float]:
            values, phases = metrics.evaluate(a, b, label_config.get("phases"))
            per_phase.append(phases)  # pairwise_report calls this once per pair and item: nothing is recomputed
            return values

        report = pairwise_report(annotations, measure, [spec.name for spec in self.metric_specs])
        report.per_label = metrics.mean_per_phase(per_phase)
        return report

    def merge(self, payloads, item, label_config: dict) -> dict:
        return payloads[0]

    def diff(self, payloads, item, label_config: dict) -> list[dict]:
        from annotators.surgical.review import diff

        return diff(payloads)

    def demo(self) -> dict | None:
        from annotators.surgical.demo import demo_inputs

        return {"name": "Demo: surgical video",
                "description": "A synthetic laparoscopy (tissue, camera out of the body, fat) with proposed phases.",
                "label_config": self.default_label_config, "inputs": demo_inputs(),
                "workflow": {"auto_preannotate": True}}
