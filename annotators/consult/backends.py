"""Whisper decoding backends behind one interface, so the transcriber (preannotate.py) keeps its voice activity,
guards, checkpoints and speakers whichever one decodes:

- `openai-whisper` (the required package; PyTorch): fp16 on a CUDA worker, fp32 on CPU. Weights converted once from
  the installed CTranslate2 files (weights.py, whisper_convert.py).
- `faster-whisper` (CTranslate2, optional): int8 on CPU, float16 on CUDA. It reads the installed CTranslate2 files
  as they are (a local directory: the Hugging Face hub is never asked). The voiced windows are decoded in batches:
  one encoder call and one greedy decoding for up to `batch_size` windows (the decoder's per-token cost is shared),
  then one alignment call for their word timestamps. A window whose batched result fails a threshold (compression
  ratio, average log-probability) or stops mid-sentence is decoded again alone by faster-whisper's sequential
  transcribe(), which falls back to higher temperatures and resumes from the last timestamp as openai-whisper does.

`choose()` is the selection rule ("auto"): a CUDA worker uses openai-whisper (fp16); a CPU worker uses faster-whisper
when it is installed, else openai-whisper. Measured on 2 shared cores (benchmarks/bench_consult.py, 5-minute
synthetic consultation): this backend takes about a quarter of openai-whisper's time and about three quarters of
plain faster-whisper's (sequential, whole file), at the same word error rate within tiny.en's noise. A project's
`whisper_backend` setting forces one.

Each backend's `transcribe(mono, windows)` yields, per window and in order, (offset_s, segments): the window's
start in seconds and openai-whisper-style segment dicts (start, end, text, avg_logprob, no_speech_prob,
compression_ratio, words: [{word, start, end, probability}]) with times relative to that start.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import threading
from typing import Iterator, Sequence

import numpy as np

from annotators.consult.audio import MODEL_RATE

BACKENDS = ("openai-whisper", "faster-whisper")
CHOICES = ("auto", *BACKENDS)
_MODULES = {"openai-whisper": "whisper", "faster-whisper": "faster_whisper"}
WINDOW_SAMPLES = 30 * MODEL_RATE  # Whisper's encoder always sees 30 s
FRAMES_PER_S = 100  # log-mel frames (hop of 10 ms)
# The temperature fallback samples: seeded per window, so the same audio gives the same draft every time (and the
# draft's recorded decoding parameters reproduce it).
SAMPLING_SEED = 1234
_load_lock = threading.Lock()


def importable(backend: str) -> bool:
    return importlib.util.find_spec(_MODULES[backend]) is not None


def package_version(backend: str) -> str:
    try:
        return importlib.metadata.version(backend)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def cpu_threads() -> int:
    """Threads for one decoding: CLINLABEL_WHISPER_THREADS, else the cores this process may use."""
    configured = int(os.environ.get("CLINLABEL_WHISPER_THREADS") or 0)
    if configured:
        return configured
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def choose(requested: str | None, device: str) -> str:
    """The backend to use: `requested` when it names one (it must be installed), else by device (module doc)."""
    requested = requested or "auto"
    if requested not in CHOICES:
        raise ValueError(f"unknown Whisper backend {requested!r} (choices: {', '.join(CHOICES)})")
    if requested != "auto":
        if not importable(requested):
            raise RuntimeError(f"the project asks for the {requested} backend, which is not installed")
        return requested
    if device != "cuda" and importable("faster-whisper"):
        return "faster-whisper"
    return "openai-whisper"


def _temperatures(decode: dict) -> str:
    return ",".join(f"{t:g}" for t in decode["temperature"])


class OpenAIWhisper:
    """openai-whisper's transcribe() on each window (its own temperature fallback and seeking)."""
    name = "openai-whisper"

    def __init__(self, model_name: str, device: str, decode: dict, language: str, prompt: str | None):
        self.model_name, self.device, self.decode = model_name, device, decode
        self.language, self.prompt = language, prompt
        self.model = None

    @property
    def version(self) -> str:
        precision = "fp16" if self.device == "cuda" else "fp32"
        return f"{self.name}-{package_version(self.name)}:{precision}:greedy:t{_temperatures(self.decode)}"

    def load(self) -> None:
        import torch

        from annotators.consult.weights import checkpoint_path
        from annotators.consult.whisper_convert import load_checkpoint

        with _load_lock:
            ckpt = torch.load(checkpoint_path(self.model_name), map_location="cpu", weights_only=False)
            self.model = load_checkpoint(ckpt, self.device)
            self.model.eval()

    def options(self) -> dict:
        """openai-whisper's transcribe() arguments (voice activity is decided before, by webrtcvad)."""
        return {**self.decode, "temperature": list(self.decode["temperature"]), "language": self.language,
                "fp16": self.device == "cuda", "initial_prompt": self.prompt}

    def transcribe(self, mono: np.ndarray, windows: Sequence[tuple[float, float]]) -> Iterator[tuple[float, list]]:
        for start, end in windows:
            a, b = int(start * MODEL_RATE), int(end * MODEL_RATE)
            piece = np.ascontiguousarray(mono[a:b], dtype="float32")
            import torch

            with torch.random.fork_rng(devices=[]):  # the caller's random state is left as it was
                torch.manual_seed(SAMPLING_SEED)
                segments = self.model.transcribe(piece, verbose=None, **self.options()).get("segments", [])
            yield a / MODEL_RATE, segments


class FasterWhisper:
    """CTranslate2 through faster-whisper: windows batched through the encoder, the greedy decoder and the aligner."""
    name = "faster-whisper"
    encode_batch = 1  # windows per encoder call on CPU (_encode)

    def __init__(self, model_name: str, device: str, decode: dict, language: str, prompt: str | None,
                 batch_size: int = 8):
        self.model_name, self.decode, self.language, self.prompt = model_name, decode, language, prompt
        self.device = "cuda" if device == "cuda" else "cpu"
        self.compute_type = "float16" if self.device == "cuda" else "int8"
        self.batch_size = max(1, int(batch_size))
        self.model = None

    @property
    def version(self) -> str:
        ct2 = importlib.metadata.version("ctranslate2")
        return (f"{self.name}-{package_version(self.name)}/ct2-{ct2}:{self.compute_type}:greedy"
                f":t{_temperatures(self.decode)}:b{self.batch_size}")

    def load(self) -> None:
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        from annotators.consult.weights import SOURCES, source_dir

        path = source_dir(self.model_name)
        if path is None:
            raise RuntimeError(f"Whisper model {self.model_name!r} is not installed "
                               f"(package {SOURCES.get(self.model_name, ('?',))[0]})")
        with _load_lock:  # a directory path: faster-whisper never asks the Hugging Face hub
            self.model = WhisperModel(path, device=self.device, compute_type=self.compute_type,
                                      cpu_threads=cpu_threads(), num_workers=1, local_files_only=True)
        multilingual = self.model.model.is_multilingual
        self.language = self.language if multilingual else "en"
        self.tokenizer = Tokenizer(self.model.hf_tokenizer, multilingual, task="transcribe", language=self.language)
        self.suppress = list(get_suppressed_tokens(self.tokenizer, [-1]))
        previous = self.tokenizer.encode(" " + self.prompt.strip()) if self.prompt else []
        self.prompt_tokens = self.model.get_prompt(self.tokenizer, previous, without_timestamps=False)

    def _features(self, piece: np.ndarray) -> np.ndarray:
        """Log-mel of the window padded with silence to 30 s (as openai-whisper pads its audio): (n_mels, 3000)."""
        audio = np.zeros(WINDOW_SAMPLES, dtype="float32")
        audio[:len(piece)] = piece[:WINDOW_SAMPLES]
        return self.model.feature_extractor(audio, padding=0)[:, :WINDOW_SAMPLES // 160]

    def transcribe(self, mono: np.ndarray, windows: Sequence[tuple[float, float]]) -> Iterator[tuple[float, list]]:
        last_speech = 0.0
        for first in range(0, len(windows), self.batch_size):
            spans = []
            for start, end in windows[first:first + self.batch_size]:
                a = int(round(start * FRAMES_PER_S)) * (MODEL_RATE // FRAMES_PER_S)  # on a 10 ms frame boundary
                spans.append((a, max(a + 1, min(int(end * MODEL_RATE), a + WINDOW_SAMPLES))))
            pieces = [np.ascontiguousarray(mono[a:b], dtype="float32") for a, b in spans]
            results, last_speech = self._batch(pieces, [a / MODEL_RATE for a, _ in spans], last_speech)
            for (a, _), piece, (segments, rest) in zip(spans, pieces, results):
                if rest is not None:  # decode the rest of this window (or all of it) alone, as sequential decoding
                    for seg in self._sequential(piece[int(rest * MODEL_RATE):]):
                        seg["start"], seg["end"] = seg["start"] + rest, seg["end"] + rest
                        seg["words"] = [{**w, "start": w["start"] + rest, "end": w["end"] + rest} for w in seg["words"]]
                        segments.append(seg)
                yield a / MODEL_RATE, segments

    def _encode(self, pieces: list[np.ndarray]):
        """The encoder's output for the windows. On CPU, one window at a time (its self-attention needs ~55 MB per
        window, and batching the encoder gains nothing on CPU); the outputs (2 MB per window) are joined for the
        decoder, whose per-token cost is what batching shares."""
        import ctranslate2

        features = [self._features(p) for p in pieces]
        if self.device != "cpu":
            return self.model.encode(np.stack(features))
        parts = [np.array(self.model.encode(np.stack(features[i:i + self.encode_batch])))
                 for i in range(0, len(features), self.encode_batch)]
        return ctranslate2.StorageView.from_array(np.ascontiguousarray(np.concatenate(parts)))

    def _batch(self, pieces: list[np.ndarray], offsets: list[float], last_speech: float):
        """One batched pass. Per window: (its segments, times relative to the window; None, or the time from which
        the window must be decoded again alone: 0 when the batched result failed a threshold, the last timestamp
        when the decoder stopped before the end of the window)."""
        from faster_whisper.transcribe import get_compression_ratio

        model, tok, decode = self.model, self.tokenizer, self.decode
        encoded = self._encode(pieces)
        results = model.model.generate(
            encoded, [list(self.prompt_tokens) for _ in pieces], beam_size=1, max_length=model.max_length,
            return_scores=True, return_no_speech_prob=True, suppress_blank=True, suppress_tokens=self.suppress,
            max_initial_timestamp_index=50)
        out: list[list] = []
        rests: list[float | None] = []
        aligned: list[list[dict]] = []  # per window, the sub-segments to align (a dummy where there is nothing)
        frames = []
        for piece, offset, result in zip(pieces, offsets, results):
            tokens = result.sequences_ids[0]
            avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
            text = tok.decode(tokens).strip()
            ratio = get_compression_ratio(text)
            seek = int(round(offset * FRAMES_PER_S))
            size = min(WINDOW_SAMPLES // 160, max(1, len(piece) // 160))
            frames.append(size)
            dummy = [{"seek": seek, "start": offset, "end": offset, "tokens": []}]
            silent = result.no_speech_prob > decode["no_speech_threshold"] and avg_logprob < decode["logprob_threshold"]
            if silent or not text or ratio > decode["compression_ratio_threshold"] \
                    or avg_logprob < decode["logprob_threshold"]:
                out.append([])
                rests.append(None if silent or not text else 0.0)
                aligned.append(dummy)
                continue
            subs, next_seek, single_ending = model._split_segments_by_timestamps(
                tokenizer=tok, tokens=tokens, time_offset=offset, segment_size=size,
                segment_duration=len(piece) / MODEL_RATE, seek=seek)
            unfinished = not single_ending and any(
                a >= tok.timestamp_begin and b >= tok.timestamp_begin for a, b in zip(tokens, tokens[1:]))
            # Unfinished: sequential decoding goes on from the last timestamp (past the end of the window: done).
            rest = (next_seek - seek) / FRAMES_PER_S if unfinished else None
            rests.append(rest if rest is not None and rest < len(piece) / MODEL_RATE - 0.1 else None)
            common = {"avg_logprob": avg_logprob, "no_speech_prob": result.no_speech_prob, "compression_ratio": ratio}
            out.append([{**s, **common, "text": tok.decode(s["tokens"])} for s in subs])
            aligned.append(out[-1] or dummy)
        if any(out):
            last_speech = model.add_word_timestamps(aligned, tok, encoded, frames, '"\'“¿([{-',
                                                    '"\'.。,，!！?？:：”)]}、', last_speech)
        for offset, segments in zip(offsets, out):
            for seg in segments:
                seg["start"], seg["end"] = seg["start"] - offset, seg["end"] - offset
                seg["words"] = [{**w, "start": w["start"] - offset, "end": w["end"] - offset}
                                for w in seg.get("words", [])]
        return list(zip(out, rests)), last_speech

    def _sequential(self, piece: np.ndarray) -> list[dict]:
        import ctranslate2

        decode = self.decode
        ctranslate2.set_random_seed(SAMPLING_SEED)
        segments, _ = self.model.transcribe(
            piece, language=self.language, beam_size=1, best_of=5, temperature=list(decode["temperature"]),
            compression_ratio_threshold=decode["compression_ratio_threshold"],
            log_prob_threshold=decode["logprob_threshold"], no_speech_threshold=decode["no_speech_threshold"],
            condition_on_previous_text=decode["condition_on_previous_text"], initial_prompt=self.prompt,
            word_timestamps=True, vad_filter=False)
        return [{"start": s.start, "end": s.end, "text": s.text, "avg_logprob": s.avg_logprob,
                 "no_speech_prob": s.no_speech_prob, "compression_ratio": s.compression_ratio,
                 "words": [{"word": w.word, "start": w.start, "end": w.end, "probability": w.probability}
                           for w in s.words or ()]} for s in segments]


def make(backend: str, model_name: str, device: str, decode: dict, language: str, prompt: str | None,
         batch_size: int = 8):
    if backend == "faster-whisper":
        return FasterWhisper(model_name, device, decode, language, prompt, batch_size)
    return OpenAIWhisper(model_name, device, decode, language, prompt)
