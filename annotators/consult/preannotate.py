"""Transcription pre-annotation: Whisper (offline weights, annotators/consult/weights.py) over the voiced parts of
the audio, with word timestamps and guards against Whisper's hallucinations. The decoding backend (openai-whisper,
or faster-whisper's CTranslate2 int8 on CPU) is chosen in backends.py; everything below is the same for both.

- Voice activity (webrtcvad on 30 ms frames) decides what is transcribed: silence and music-free pauses produce no
  text, and long silences are skipped instead of decoded.
- Guards: segments whose no-speech probability is high and log-probability low, whose compression ratio shows a
  loop, or that repeat the previous text are dropped; a phrase repeated three times or more inside a segment is cut
  to one.
- Stereo calls (one party per channel, `speakers_per_channel`): the mix is transcribed and each segment's speaker
  is the channel carrying its energy (both loud: overlapping speech).
- Each voiced chunk that is done is checkpointed: the transcript appears progressively as a partial draft, and a
  worker lost an hour into a file resumes after the last chunk.
"""
from __future__ import annotations

import logging
import re
from typing import Any, Sequence

import numpy as np

from annotators.base import Prediction
from annotators.consult import backends
from annotators.consult.audio import MODEL_RATE, read_pcm

log = logging.getLogger("clinlabel.consult")
WHISPER_VERSION = "20250625"
CHUNK_S = 28.0  # voiced regions are packed into windows of at most this much audio (Whisper sees 30 s)
GAP_S = 1.5  # a silence longer than this between voiced regions is skipped
DECODE = {"temperature": (0.0, 0.2, 0.4), "compression_ratio_threshold": 2.4, "logprob_threshold": -1.0,
          "no_speech_threshold": 0.6, "condition_on_previous_text": False, "word_timestamps": True}
BATCH_WINDOWS = 8  # faster-whisper: voiced windows decoded together (backends.py)


def voiced_regions(mono: np.ndarray, aggressiveness: int = 2, pad_s: float = 0.2) -> list[tuple[float, float]]:
    """(start_s, end_s) of speech, from webrtcvad decisions on 30 ms frames, padded and merged."""
    import webrtcvad

    vad = webrtcvad.Vad(aggressiveness)
    frame = int(MODEL_RATE * 0.03)
    pcm = (np.clip(mono, -1, 1) * 32767).astype("<i2")
    regions: list[list[float]] = []
    for i in range(0, len(pcm) - frame + 1, frame):
        if vad.is_speech(pcm[i:i + frame].tobytes(), MODEL_RATE):
            start, end = i / MODEL_RATE - pad_s, (i + frame) / MODEL_RATE + pad_s
            if regions and start <= regions[-1][1]:
                regions[-1][1] = end
            else:
                regions.append([max(0.0, start), end])
    # Isolated clicks are not speech: keep regions holding at least 250 ms of voiced frames.
    total = len(mono) / MODEL_RATE
    return [(s, min(e, total)) for s, e in regions if e - s >= 0.25 + 2 * pad_s]


def chunks(regions: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Pack voiced regions into windows (≤ CHUNK_S, no window spanning a silence longer than GAP_S)."""
    out: list[list[float]] = []
    for start, end in regions:
        while end - start > CHUNK_S:  # a long monologue: cut it into full windows
            out.append([start, start + CHUNK_S])
            start += CHUNK_S
        if out and start - out[-1][1] <= GAP_S and end - out[-1][0] <= CHUNK_S:
            out[-1][1] = end
        else:
            out.append([start, end])
    return [(s, e) for s, e in out]


_REPEAT = re.compile(r"\b((?:\w+\W+){1,6}?)(?:\1){2,}", re.IGNORECASE)


def _collapse_loops(text: str) -> str:
    return _REPEAT.sub(lambda m: m.group(1), text + " ").strip()


def _keep(seg: dict, previous: list[str]) -> bool:
    text = seg.get("text", "").strip()
    if not text:
        return False
    if seg.get("no_speech_prob", 0) > DECODE["no_speech_threshold"] and seg.get("avg_logprob", 0) < -1.0:
        return False
    if seg.get("compression_ratio", 0) > DECODE["compression_ratio_threshold"]:
        return False
    return not (len(previous) >= 1 and text.lower() == previous[-1].lower())


def _loudest_channel(audio: np.ndarray, start_ms: int, end_ms: int) -> tuple[int, bool]:
    """(channel with most energy over the span, whether the other channel speaks too: overlapping speech)."""
    a, b = int(start_ms * MODEL_RATE / 1000), int(end_ms * MODEL_RATE / 1000)
    energy = [float(np.sqrt(np.mean(np.square(audio[c, a:b])))) if b > a else 0.0 for c in range(audio.shape[0])]
    loud = int(np.argmax(energy))
    quiet = min(energy)
    return loud, bool(energy[loud] > 0 and quiet / energy[loud] > 0.5)


class WhisperTranscriber:
    name = "whisper"
    wants_gpu = True
    batch_size = 1

    def __init__(self, model: str = "tiny.en"):
        self.model_name = model
        self.version = f"{model}@{WHISPER_VERSION}"
        self.model = None  # the decoding backend (backends.py), once set up
        self.device = "cpu"

    def available(self) -> tuple[bool, str]:
        from annotators.consult.weights import installed

        if not any(backends.importable(b) for b in backends.BACKENDS):
            return False, "openai-whisper is not installed"
        if self.model_name not in installed():
            return False, f"Whisper weights {self.model_name!r} are not installed"
        return True, ""

    def setup(self, device: str, label_config: dict, params: dict | None = None, resources: dict | None = None):
        import torch

        self.device = "cuda" if device == "cuda" and torch.cuda.is_available() else "cpu"
        self.language = (label_config or {}).get("language") or "en"
        self.per_channel = bool((label_config or {}).get("speakers_per_channel", True))
        self.prompt = (params or {}).get("initial_prompt")
        config = label_config or {}
        self.diarize = bool(config.get("diarize", True))
        self.num_speakers = config.get("num_speakers")
        self.roles = list(config.get("speaker_roles") or ["clinician", "patient"])
        self.phi = bool(config.get("phi", True))
        self.known_voices = dict((params or {}).get("known_voices") or {}) if config.get("known_voices", True) \
            else {}
        backend = backends.choose((label_config or {}).get("whisper_backend"), self.device)
        self.model = backends.make(backend, self.model_name, self.device, DECODE, self.language, self.prompt,
                                   batch_size=BATCH_WINDOWS)
        self.model.load()
        self.version = f"{self.model_name}@{self.model.version}"  # the drafts' model_version names the backend

    def predict(self, items: Sequence[Any], report=None) -> list[Prediction]:
        out = []
        for view in items:
            payload, fields = self._with_phi(self._transcribe_item(view, report))
            out.append(Prediction(view.id, payload, score=None, item_fields=fields))
        return out

    def _with_phi(self, payload: dict) -> tuple[dict, dict]:
        """PHI spans on the transcript (the notes detector); a failure leaves the transcript without them and the
        item marked so that nothing treats it as de-identified."""
        from annotators.consult import phi
        from annotators.notes.phi import PhiError

        if not self.phi or not payload["segments"]:
            return payload, {}
        try:
            return phi.detect(payload), {"deid_state": "done"}
        except PhiError:
            log.warning("PHI detection failed on a transcript; it is kept without PHI marks")
            return payload, {"deid_state": "failed"}

    def transcribe_first(self, view, seconds: float) -> dict:
        """The transcript of the recording's first `seconds` (fit scores prompts on held-out items with it)."""
        return self._transcribe_item(view, None, limit_s=seconds)

    def _transcribe_item(self, view, report, limit_s: float | None = None) -> dict:
        pcm_path = view.assets.get("pcm16k")
        if not pcm_path:
            raise ValueError("the item has no decoded audio (pcm16k asset); re-run its preparation")
        channels = max(1, int((view.media.channels if view.media else 1) or 1))
        audio = read_pcm(pcm_path, channels)
        if limit_s is not None:
            audio = audio[:, :int(limit_s * 16000)]
        mono = audio.mean(axis=0) if channels > 1 else audio[0]
        # One pass over the mix: each party's words keep the context of the other's (transcribing each channel
        # alone doubled the error rate on 8 kHz calls); the channel that carries a segment's energy names it.
        stereo = channels == 2 and self.per_channel
        plan = chunks(voiced_regions(mono))
        total_s = sum(e - s for s, e in plan) or 1.0
        done_chunks, segments = 0, []
        resumed = report.resume(view.id) if report is not None else None
        if resumed:
            payload, state = resumed
            segments, done_chunks = list(payload.get("segments", [])), int(state.get("chunks", 0))
        texts = [s["text"] for s in segments]
        decoded = self.model.transcribe(mono, plan[done_chunks:])  # per window: (its start in s, its segments)
        for index, (start, found) in enumerate(decoded, start=done_chunks):
            for seg in found:
                if not _keep(seg, texts):
                    continue
                text = _collapse_loops(seg["text"].strip())
                words = [{"text": w["word"].strip(), "start_ms": int(round((start + w["start"]) * 1000)),
                          "end_ms": int(round((start + w["end"]) * 1000)),
                          "score": round(float(min(1.0, max(0.0, w.get("probability", 0)))), 3)}
                         for w in seg.get("words", []) if w["word"].strip()]
                seg_start = int(round((start + seg["start"]) * 1000))
                seg_end = max(seg_start + 1, int(round((start + seg["end"]) * 1000)))
                if words:
                    seg_start, seg_end = min(seg_start, words[0]["start_ms"]), max(seg_end, words[-1]["end_ms"])
                segment = {"id": f"s{len(segments) + 1}", "start_ms": seg_start, "end_ms": seg_end, "speaker": "S1",
                           "overlap": False, "text": text, "words": words,
                           "score": round(float(np.exp(min(0.0, seg.get("avg_logprob", 0.0)))), 3)}
                if stereo:
                    channel, segment["overlap"] = _loudest_channel(audio, seg_start, seg_end)
                    segment.update(speaker=f"S{channel + 1}", channel=channel)
                segments.append(segment)
                texts.append(text)
            done_chunks = index + 1
            if report is not None:
                report.checkpoint(view.id, self._payload(segments, stereo), {"chunks": done_chunks})
                report.progress(sum(e - s for s, e in plan[:done_chunks]), total_s, unit="seconds")
        return self._with_speakers(mono, self._payload(segments, stereo), stereo)

    def _with_speakers(self, mono: np.ndarray, payload: dict, stereo: bool) -> dict:
        """Speakers by voice (unless each channel is one party), then the first guess of who is the clinician."""
        from annotators.consult import speakers

        if not stereo and self.diarize and payload["segments"]:
            payload, _voices = speakers.label_speakers(mono, payload, self.num_speakers, self.known_voices)
        return speakers.guess_roles(payload, self.roles)

    def _payload(self, segments: list[dict], stereo: bool) -> dict:
        segments = sorted(segments, key=lambda s: (s["start_ms"], s["id"]))
        ids = sorted({s["speaker"] for s in segments if s.get("speaker")})
        speakers = [{"id": sid, **({"channel": int(sid[1:]) - 1} if stereo else {})} for sid in ids]
        return {"speakers": speakers, "segments": segments}
