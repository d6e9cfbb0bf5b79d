"""The `consult` modality: doctor-patient consultation audio, transcribed (Whisper) and labelled by speech teams."""
from __future__ import annotations

import os

from annotators.agreement import pairwise_report
from annotators.base import (Derivative, Exporter, Importer, IngestedItem, ItemInput, ItemRejected,
                             MetricSpec, Modality)
from annotators.consult import audio, formats, formats_elan, formats_peers, formats_textgrid, metrics, phi, schema

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".opus", ".oga", ".webm", ".mp4", ".mov",
                    ".mkv", ".avi", ".wma", ".amr")
# Transcripts uploaded next to their audio (same base name); matched case-insensitively (Praat writes .TextGrid).
SIDECARS = (".vtt", ".srt", ".json", ".textgrid", ".rttm", ".eaf")
MEDIA_TYPES = {".wav": "audio/wav", ".flac": "audio/flac", ".mp3": "audio/mpeg", ".m4a": "audio/mp4",
               ".aac": "audio/aac", ".ogg": "audio/ogg", ".opus": "audio/ogg", ".oga": "audio/ogg",
               ".webm": "audio/webm", ".mp4": "video/mp4", ".mov": "video/quicktime", ".mkv": "video/x-matroska",
               ".avi": "video/x-msvideo", ".wma": "audio/x-ms-wma", ".amr": "audio/amr"}
MAX_HOURS = 6


class ConsultModality(Modality):
    name = "consult"
    title = "Consultation audio"
    description = ("Doctor-patient consultations: Whisper transcripts with word timestamps, speakers (one per "
                   "channel on stereo calls), segment labels; WER/CER and speaker agreement.")
    item_kinds = ("audio",)
    accepts = AUDIO_EXTENSIONS + SIDECARS
    sidecar_extensions = SIDECARS
    probe_media = True
    label_config_schema = schema.LABEL_CONFIG_SCHEMA
    payload_schema = schema.PAYLOAD_SCHEMA
    default_label_config = schema.default_label_config()
    metric_specs = (MetricSpec("agreement", description="1 - WER, capped at 0"),
                    MetricSpec("wer", higher_is_better=False, range=(0.0, None), description="word error rate"),
                    MetricSpec("cer", higher_is_better=False, range=(0.0, None), description="character error rate"),
                    MetricSpec("speaker_agreement", description="share of speech time with the same speaker"),
                    MetricSpec("der", higher_is_better=False, range=(0.0, None),
                               description="diarization error rate (pyannote.metrics, 0.25 s collar, both ways)"),
                    MetricSpec("jer", higher_is_better=False, range=(0.0, 1.0),
                               description="Jaccard error rate of speaker turns (pyannote.metrics)"),
                    MetricSpec("segment_type_kappa", range=(-1.0, 1.0),
                               description="Cohen's kappa of segment types over 100 ms frames"),
                    MetricSpec("boundary_ms", higher_is_better=False, range=(0.0, None),
                               description="mean distance between segment boundaries (ms)"))
    ui_module = "js/modalities/consult.js"
    ui_template = ""

    def available(self) -> tuple[bool, str]:
        from annotators.consult.preannotate import WhisperTranscriber

        ok, why = WhisperTranscriber().available()
        return (True, "") if ok else (True, f"transcription unavailable: {why}")

    # -- items ---------------------------------------------------------------------------------------------------
    def ingest(self, item: ItemInput, label_config: dict) -> list[IngestedItem]:
        ext = os.path.splitext(item.name or "")[1].lower()
        if ext not in AUDIO_EXTENSIONS:
            raise ItemRejected(f"{item.name}: not an audio or video file (accepted: {', '.join(AUDIO_EXTENSIONS)}; "
                               f"transcripts {', '.join(SIDECARS)} go next to their audio, same base name)")
        if item.path is None and item.data is None:
            raise ItemRejected(f"{item.name}: upload the audio file itself")
        size = item.size if item.size is not None else len(item.data or b"")
        if not size:
            raise ItemRejected(f"{item.name}: the file is empty (0 bytes)")
        annotations = []
        for sidecar in item.sidecars:
            try:
                payload = self._normalise_import(formats.read_sidecar(sidecar))
                # Checked here so that the message names this file; the server's own check of imported drafts
                # would fail the whole upload with no file named.
                self.validate_payload(payload, label_config)
            except ValueError as exc:  # the reader's FormatError, or the payload schema's message
                raise ItemRejected(f"{sidecar.name}: {exc}") from None
            annotations.append(payload)
        ingested = IngestedItem(kind="audio", media_type=MEDIA_TYPES.get(ext, "application/octet-stream"),
                                name=item.name, annotations=annotations)
        if item.path is not None:
            ingested.media_path = item.path
        else:
            ingested.media = item.data
        return [ingested]

    @staticmethod
    def _normalise_import(payload: dict) -> dict:
        speakers = list(payload.get("speakers") or [])
        known = {s.get("id") for s in speakers}
        for seg in payload.get("segments", []):
            if seg.get("speaker") and seg["speaker"] not in known:
                speakers.append({"id": seg["speaker"]})
                known.add(seg["speaker"])
        return {**payload, "speakers": speakers}

    def check_media(self, info, label_config: dict) -> None:
        if not info.has_audio:
            raise ItemRejected("the file has no audio track" if info.has_video else "no audio stream found")
        if info.duration_ms <= 0:
            raise ItemRejected("the audio holds no samples (0 s)")
        if info.duration_ms > MAX_HOURS * 3_600_000:
            raise ItemRejected(f"longer than {MAX_HOURS} hours; split the recording")

    def derivatives(self) -> list[Derivative]:
        return [Derivative("peaks", audio.make_peaks, "application/json", version="1"),
                Derivative("pcm16k", audio.make_pcm, "application/octet-stream", version="1"),
                Derivative("proxy", audio.make_proxy, "audio/webm", version="1", when=audio.needs_proxy)]

    # -- payloads ------------------------------------------------------------------------------------------------
    def check_payload_semantics(self, payload: dict, label_config: dict) -> None:
        schema.check_semantics(payload, label_config)

    def importers(self) -> dict[str, Importer]:
        return {}

    def exporters(self) -> dict[str, Exporter]:
        return {"json": Exporter("json", "jsonl", "application/x-ndjson", formats.write_json),
                "webvtt": Exporter("webvtt", "zip", "application/zip", formats.write_vtt),
                "srt": Exporter("srt", "zip", "application/zip", formats.write_srt),
                "rttm": Exporter("rttm", "zip", "application/zip", formats.write_rttm),
                "textgrid": Exporter("textgrid", "zip", "application/zip", formats_textgrid.write_textgrid),
                "elan": Exporter("elan", "zip", "application/zip", formats_elan.write_eaf),
                "nemo": Exporter("nemo", "jsonl", "application/x-ndjson", formats_peers.write_nemo_manifest),
                "label_studio": Exporter("label_studio", "json", "application/json",
                                         formats_peers.write_label_studio),
                "deidentified": Exporter("deidentified", "zip", "application/zip", phi.write_deidentified),
                "redacted_audio": Exporter("redacted_audio", "zip", "application/zip", phi.write_redacted_audio,
                                           assets=("pcm16k",))}

    def preannotators(self, label_config: dict):
        from annotators.consult.preannotate import WhisperTranscriber

        return [WhisperTranscriber((label_config or {}).get("whisper_model") or "tiny.en")]

    fit_assets = ("pcm16k",)

    def fit(self, accepted, label_config: dict, previous: dict | None) -> dict:
        from annotators.consult.training import fit

        return fit(accepted, label_config, previous)

    # -- agreement -----------------------------------------------------------------------------------------------
    def agree(self, a: dict, b: dict, item, label_config: dict) -> dict[str, float]:
        return metrics.agree(a, b)

    def agree_many(self, annotations, label_config: dict) -> dict:
        return pairwise_report(annotations, metrics.agree, [spec.name for spec in self.metric_specs])

    def merge(self, payloads, item, label_config: dict) -> dict:
        return payloads[0]

    def diff(self, payloads, item, label_config: dict) -> list[dict]:
        from annotators.consult.review import diff

        return diff(payloads)

    def demo(self) -> dict | None:
        from annotators.consult.demo import demo_inputs

        inputs = demo_inputs()
        if not inputs:
            return None
        return {"name": "Demo: consultation audio",
                "description": "A synthetic doctor-patient consultation (espeak-ng voices), transcribed by Whisper.",
                "label_config": self.default_label_config, "inputs": inputs,
                "workflow": {"auto_preannotate": True}}  # derive (peaks, PCM), then transcription
