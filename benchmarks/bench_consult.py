"""Consult modality: probe + multi-resolution peaks (per channel) + 16 kHz PCM for a 1-hour recording, each in the
sandboxed child as the derive job runs them; and transcription of a ~5-minute synthetic consultation (the demo
dialogue repeated, espeak-ng voices, known words), all three in the same run, runs interleaved, min of --runs:

- `default`: WhisperTranscriber as the worker runs it on a CPU worker (auto backend: faster-whisper int8, voiced
  windows decoded in batches, word timestamps, guards); speaker labelling is off here (it is not transcription);
- `faster_whisper_int8`: faster-whisper on its own, the way its README runs it: WhisperModel(int8).transcribe() on
  the whole clip, greedy (beam_size=1), no VAD, word timestamps on (the same output as ours), the same CPU threads;
- `openai_whisper`: WhisperTranscriber forced to the openai-whisper backend (fp32 on CPU).

RTF = seconds of compute per second of audio; WER/CER against the known text (metrics.wer_cer).
`ratio_default_vs_faster_whisper` is issue 11's figure (target: at most 0.8 with the same WER).
The clip is synthesized once into the temp folder (clinlabel-bench-consult/) and reused.

Usage: python benchmarks/bench_consult.py [--minutes 60] [--clip-seconds 300] [--runs 3] [--skip-hour]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import resource
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))


def hour_derivatives(minutes: int) -> dict:
    from bench_media import write_wav
    from server import sandbox
    from server.config import load_config

    seconds = minutes * 60
    config = load_config({"DATA_DIR": tempfile.mkdtemp(), "SECRET_KEY": "bench"})
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "hour.wav")
        write_wav(path, seconds)
        started = time.perf_counter()
        info = sandbox.probe(path, config)
        view = {"id": 1, "kind": "audio", "text": None, "meta": {}, "media_path": path, "media": info, "assets": {}}
        timings = {}
        for name in ("make_peaks", "make_pcm"):
            out_dir = os.path.join(tmp, name)
            os.makedirs(out_dir)
            t = time.perf_counter()
            sandbox.run("annotators.sandbox_child:call_derivative", [f"annotators.consult.audio:{name}", view, out_dir],
                        memory_mb=int(config["SANDBOX_MEMORY_MB"]), cpu_s=1800, wall_s=1800)
            timings[name] = time.perf_counter() - t
        total = time.perf_counter() - started
    return {"hour_media_seconds": seconds, "probe_peaks_pcm_s": round(total, 2),
            "probe_peaks_pcm_x_realtime": round(seconds / total), "peaks_s": round(timings["make_peaks"], 2),
            "pcm_s": round(timings["make_pcm"], 2), "target_x_realtime": 200}


def synthetic_clip(seconds: float):
    """(ItemView with its pcm16k asset, reference payload, duration in s) of the demo dialogue repeated to about
    `seconds`, cached in the temp folder."""
    from annotators.base import ItemView
    from annotators.consult.audio import make_pcm
    from annotators.consult import demo
    from annotators.consult.demo import DEMO_TURNS, synthesize
    from annotators.media import MediaInfo

    folder = os.path.join(tempfile.gettempdir(), "clinlabel-bench-consult")
    os.makedirs(folder, exist_ok=True)

    def cached(turns, name):
        recipe = [turns, demo.VOICES, list(getattr(demo, "SOX_REPEATABLE", ()))]  # a new voice: a new clip
        key = hashlib.sha1(json.dumps(recipe).encode()).hexdigest()[:12]
        wav, meta = os.path.join(folder, f"{name}-{key}.wav"), os.path.join(folder, f"{name}-{key}.json")
        if not (os.path.exists(wav) and os.path.exists(meta)):
            timeline = synthesize(turns, wav + ".tmp.wav")
            os.replace(wav + ".tmp.wav", wav)
            with open(meta, "w") as fh:
                json.dump(timeline, fh)
        with open(meta) as fh:
            return wav, json.load(fh)

    _, once = cached(DEMO_TURNS, "dialogue")
    repeats = max(1, math.ceil(seconds / (once[-1]["end_ms"] / 1000 + 0.6)))
    wav, timeline = cached(DEMO_TURNS * repeats, f"dialogue-x{repeats}")
    duration = timeline[-1]["end_ms"] / 1000 + 0.6
    info = MediaInfo(container="wav", duration_ms=int(duration * 1000), has_audio=True, channels=1,
                     sample_rate=16000, audio_codec="pcm_s16le")
    pcm_dir = wav[:-4] + "-pcm"
    if not os.path.exists(os.path.join(pcm_dir, "pcm16k.s16")):
        os.makedirs(pcm_dir, exist_ok=True)
        make_pcm(ItemView(id=1, kind="audio", media_path=wav, media=info), pcm_dir)
    item = ItemView(id=1, kind="audio", media_path=wav, media=info,
                    assets={"pcm16k": os.path.join(pcm_dir, "pcm16k.s16")})
    reference = {"segments": [{"id": str(i), "start_ms": t["start_ms"], "end_ms": t["end_ms"], "text": t["text"],
                               "speaker": t["role"]} for i, t in enumerate(timeline)]}
    return item, reference, duration


def transcription(clip_seconds: float, runs: int) -> dict:
    from faster_whisper import WhisperModel

    from annotators.consult import backends, metrics
    from annotators.consult.audio import read_pcm
    from annotators.consult.preannotate import WhisperTranscriber
    from annotators.consult.weights import source_dir

    item, reference, duration = synthetic_clip(clip_seconds)
    mono = read_pcm(item.assets["pcm16k"], 1)[0]

    def transcriber(backend: str):
        model = WhisperTranscriber("tiny.en")
        model.setup("cpu", {"language": "en", "whisper_backend": backend, "diarize": False})
        return model

    default, openai = transcriber("auto"), transcriber("openai-whisper")
    plain = WhisperModel(source_dir("tiny.en"), device="cpu", compute_type="int8", cpu_threads=backends.cpu_threads(),
                         local_files_only=True)

    def faster_whisper_alone() -> dict:
        segments, _ = plain.transcribe(mono, language="en", beam_size=1, vad_filter=False, word_timestamps=True)
        return {"segments": [{"id": str(i), "start_ms": int(s.start * 1000), "end_ms": int(s.end * 1000),
                              "text": s.text} for i, s in enumerate(segments)]}

    contenders = {"default": lambda: default.predict([item])[0].payload,
                  "faster_whisper_int8": faster_whisper_alone,
                  "openai_whisper": lambda: openai.predict([item])[0].payload}
    payloads = {name: run() for name, run in contenders.items()}  # warm-up (first-call allocations)
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(runs):  # interleaved: a busy moment on the machine slows every contender alike
        for name, run in contenders.items():
            started = time.perf_counter()
            payloads[name] = run()
            times[name].append(time.perf_counter() - started)
    out = {"clip_seconds": round(duration, 1), "clip_words": len(metrics.transcript(reference).split()),
           "cpu_threads": backends.cpu_threads(), "runs": runs, "default_model_version": f"whisper@{default.version}"}
    for name in contenders:
        wer, cer = metrics.wer_cer(reference, payloads[name])
        out.update({f"{name}_rtf": round(min(times[name]) / duration, 4), f"{name}_wer": round(wer, 3),
                    f"{name}_cer": round(cer, 3), f"{name}_seconds": [round(t, 2) for t in times[name]]})
    out["ratio_default_vs_faster_whisper"] = round(min(times["default"]) / min(times["faster_whisper_int8"]), 3)
    out["ratio_default_vs_openai_whisper"] = round(min(times["default"]) / min(times["openai_whisper"]), 3)
    out["target_ratio_default_vs_faster_whisper"] = 0.8
    out.update(speaker_labelling(mono, reference, duration, payloads["default"], runs))
    return out


def speaker_labelling(mono, reference: dict, duration: float, transcript: dict, runs: int) -> dict:
    """Speakers by voice on the default transcript (what the worker does after transcribing): RTF and DER."""
    from annotators.consult import metrics, speakers

    labelled, _ = speakers.label_speakers(mono, transcript)  # warm-up: loads the voice encoder
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        labelled, _ = speakers.label_speakers(mono, transcript)
        times.append(time.perf_counter() - started)
    der, jer = metrics.der_jer(reference, labelled)
    return {"speakers_rtf": round(min(times) / duration, 4), "speakers_target_rtf": 0.05,
            "speakers_found": len(labelled["speakers"]), "der": round(der, 3), "jer": round(jer, 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--clip-seconds", type=float, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-hour", action="store_true", help="only the transcription figures")
    args = parser.parse_args()
    out = {} if args.skip_hour else hour_derivatives(args.minutes)
    out.update(transcription(args.clip_seconds, args.runs))
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
