"""Resumable uploads: a generated file sent with tus in 8 MB chunks to a real server (gunicorn), MB/s and the
growth of the web processes' resident memory (streamed to disk, so it must not grow with the file).
Targets: >= 200 MB/s on loopback, RSS growth <= 50 MB.

Usage: python benchmarks/bench_uploads.py [--gb 2]
"""
from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
CHUNK = 8 * 1024 * 1024


def web_rss_mb(root_pid: int) -> float:
    """Resident memory of the gunicorn processes under the server (the web side only)."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read()
            if b"gunicorn" not in cmd:
                continue
            for line in open(f"/proc/{pid}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def main() -> None:
    from live import LiveServer, api

    parser = argparse.ArgumentParser()
    parser.add_argument("--gb", type=float, default=2.0)
    args = parser.parse_args()
    size = int(args.gb * 1024 ** 3)
    with tempfile.TemporaryDirectory() as tmp:
        if shutil.disk_usage(tmp).free < size * 2.5:
            print(json.dumps({"benchmark": "uploads", "skipped": "not enough free disk"}))
            return
        env = {"CLINLABEL_MAX_UPLOAD_MB": "16", "CLINLABEL_MAX_MEDIA_GB": str(args.gb + 1)}
        with LiveServer(os.path.join(tmp, "live"), extra_env=env) as live:
            token = live.token()
            pid = api(live, token, "POST", "/projects", {"name": "bench", "modality": "labels"})["id"]
            meta = f"filename {base64.b64encode(b'big.bin').decode()},project {base64.b64encode(str(pid).encode()).decode()}"
            conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=120)
            auth = {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}
            conn.request("POST", "/api/v1/uploads", headers={**auth, "Upload-Length": str(size), "Upload-Metadata": meta})
            resp = conn.getresponse()
            resp.read()
            location = resp.getheader("Location")
            block = os.urandom(CHUNK)
            rss_before = web_rss_mb(live.proc.pid)
            rss_peak = rss_before
            started = time.perf_counter()
            offset = 0
            while offset < size:
                body = block[: min(CHUNK, size - offset)]
                conn.request("PATCH", location, body=body, headers={
                    **auth, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"})
                resp = conn.getresponse()
                resp.read()
                assert resp.status == 204, resp.status
                offset = int(resp.getheader("Upload-Offset"))
                rss_peak = max(rss_peak, web_rss_mb(live.proc.pid))
            elapsed = time.perf_counter() - started
            print(json.dumps({
                "benchmark": "uploads", "targets": {"tus_mb_per_s": ">= 200", "web_rss_growth_mb": "<= 50"},
                "bytes": size, "chunk_mb": CHUNK // (1024 * 1024), "seconds": round(elapsed, 2),
                "tus_mb_per_s": round(size / 1024 ** 2 / elapsed, 1),
                "web_rss_before_mb": round(rss_before, 1), "web_rss_peak_mb": round(rss_peak, 1),
                "web_rss_growth_mb": round(rss_peak - rss_before, 1)}, indent=2))


if __name__ == "__main__":
    main()
