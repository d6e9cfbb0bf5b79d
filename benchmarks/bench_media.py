"""Media core: the sandboxed probe and a decoding derivative (min/max peaks at 8 kHz, the test modality's) on a
generated 1-hour recording, each in its own limited child process as the derive job runs them.

Usage: python benchmarks/bench_media.py [--minutes 60]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import wave

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))


def write_wav(path: str, seconds: int, rate: int = 16000) -> None:
    """Speech-band noise with pauses, written a minute at a time (never the whole hour in memory)."""
    rng = np.random.default_rng(7)
    with wave.open(path, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        for minute in range(0, seconds, 60):
            n = min(60, seconds - minute) * rate
            t = np.arange(n) / rate
            envelope = (np.sin(2 * np.pi * 0.3 * t) > -0.2).astype(np.float32)
            signal = 0.3 * envelope * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(n)
            out.writeframes((signal * 32767).clip(-32768, 32767).astype("<i2").tobytes())


def main() -> None:
    from server import sandbox
    from server.config import load_config

    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=int, default=60)
    args = parser.parse_args()
    seconds = args.minutes * 60
    config = load_config({"DATA_DIR": tempfile.mkdtemp(), "SECRET_KEY": "bench"})
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "hour.wav")
        started = time.perf_counter()
        write_wav(path, seconds)
        generate_s = time.perf_counter() - started
        started = time.perf_counter()
        info = sandbox.probe(path, config)
        probe_s = time.perf_counter() - started
        started = time.perf_counter()
        out_dir = os.path.join(tmp, "out")
        os.makedirs(out_dir)
        view = {"id": 1, "kind": "clip", "text": None, "meta": {}, "media_path": path, "media": info, "assets": {}}
        result = sandbox.run("annotators.sandbox_child:call_derivative", ["media_modality:make_peaks", view, out_dir],
                             memory_mb=int(config["SANDBOX_MEMORY_MB"]), cpu_s=1800, wall_s=1800)
        derive_s = time.perf_counter() - started
    print(json.dumps({
        "media_seconds": seconds, "file_mb": round(seconds * 16000 * 2 / 1e6, 1), "generate_s": round(generate_s, 2),
        "probe_s": round(probe_s, 3), "probe_x_realtime": round(seconds / probe_s),
        "peaks_derivative_s": round(derive_s, 2), "peaks_x_realtime": round(seconds / derive_s),
        "probe_plus_derivative_s": round(probe_s + derive_s, 2),
        "measured_duration_ms": info["duration_ms"], "peaks": result.get("meta", {}).get("count"),
    }, indent=2))


if __name__ == "__main__":
    main()
