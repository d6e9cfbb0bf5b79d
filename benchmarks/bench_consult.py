"""Consult modality: probe + multi-resolution peaks (per channel) + 16 kHz PCM for a 1-hour recording, each in the
sandboxed child as the derive job runs them, and Whisper transcription (the default backend, openai-whisper
tiny.en on this machine's device) of a synthetic consultation: real-time factor, WER, peak memory.

faster-whisper is not installed yet (the issue's faster CPU backend is a later slice), so its side-by-side figure
is reported as missing rather than invented.

Usage: python benchmarks/bench_consult.py [--minutes 60] [--turns 10]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))


def main() -> None:
    from annotators.base import ItemView
    from annotators.consult import metrics
    from annotators.consult.demo import DEMO_TURNS, synthesize
    from annotators.consult.preannotate import WhisperTranscriber
    from annotators.media import MediaInfo
    from bench_media import write_wav
    from server import sandbox
    from server.config import load_config

    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--turns", type=int, default=10)
    args = parser.parse_args()
    seconds = args.minutes * 60
    config = load_config({"DATA_DIR": tempfile.mkdtemp(), "SECRET_KEY": "bench"})
    out = {}
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
        out.update({"hour_media_seconds": seconds, "probe_peaks_pcm_s": round(total, 2),
                    "probe_peaks_pcm_x_realtime": round(seconds / total), "peaks_s": round(timings["make_peaks"], 2),
                    "pcm_s": round(timings["make_pcm"], 2), "target_x_realtime": 200})

        clip = os.path.join(tmp, "consultation.wav")
        turns = synthesize(DEMO_TURNS[:args.turns], clip)
        duration = turns[-1]["end_ms"] / 1000 + 0.6
        pcm_dir = os.path.join(tmp, "clip")
        os.makedirs(pcm_dir)
        clip_info = MediaInfo(container="wav", duration_ms=int(duration * 1000), has_audio=True, channels=1,
                              sample_rate=16000, audio_codec="pcm_s16le")
        from annotators.consult.audio import make_pcm

        make_pcm(ItemView(id=1, kind="audio", media_path=clip, media=clip_info), pcm_dir)
        item = ItemView(id=1, kind="audio", media_path=clip, media=clip_info,
                        assets={"pcm16k": os.path.join(pcm_dir, "pcm16k.s16")})
        model = WhisperTranscriber("tiny.en")
        model.setup("cpu", {"language": "en"})
        model.predict([item])  # warm-up (first-call allocations)
        runs = []
        for _ in range(2):
            t = time.perf_counter()
            payload = model.predict([item])[0].payload
            runs.append(time.perf_counter() - t)
        ref = {"segments": [{"id": str(i), "start_ms": x["start_ms"], "end_ms": x["end_ms"], "text": x["text"]}
                            for i, x in enumerate(turns)]}
        wer, cer = metrics.wer_cer(ref, payload)
        out.update({"clip_seconds": round(duration, 1), "openai_whisper_tiny_en_rtf": round(min(runs) / duration, 3),
                    "openai_whisper_tiny_en_wer": round(wer, 3), "openai_whisper_tiny_en_cer": round(cer, 3),
                    "faster_whisper_int8_rtf": None, "faster_whisper_note": "not installed yet (later slice)",
                    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)})
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
