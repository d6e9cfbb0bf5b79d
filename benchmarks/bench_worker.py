"""Workers that start warm (issue 15, item 5): `make run`'s worker with two pool processes, models loaded before the
pool forks (CLINLABEL_WORKER_WARM=1, the default) against loading them in the pool process on the first job (=0).

Per mode: seconds from uploading 50 notes (auto pre-annotation on) to their pre-annotation job finished, and the
worker's memory (celery processes: RSS summed, and PSS, which counts pages shared copy-on-write once) idle and
after the job. Targets: first pre-annotation <= 5 s after upload; worker <= 1.2 GB with two pool processes.

Usage: python benchmarks/bench_worker.py
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

NOTE = ("Mr. Brown is a 67 year old man seen by Dr. Adams on 3/4/2021 with chest pain and shortness of breath. "
        "He denies fever. History of type 2 diabetes mellitus and hypertension. Started aspirin 81 mg PO daily and "
        "metformin 500 mg BID. Echocardiogram ordered; rule out pneumonia. Call 555-201-3344 with results. ") * 3


def _celery_pids() -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    cmd = fh.read()
            except OSError:
                continue
            if b"celery" in cmd and b"server.jobs.worker" in cmd:
                pids.append(int(entry))
    return pids


def worker_memory_mb() -> dict:
    rss = pss = 0
    pids = _celery_pids()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            continue
    return {"processes": len(pids), "rss_mb": round(rss / 1024), "pss_mb": round(pss / 1024)}


def run(warm: bool) -> dict:
    from live import LiveServer, api, wait_job

    env = {"CLINLABEL_WORKER_WARM": "1" if warm else "0", "CLINLABEL_WORKER_CONCURRENCY": "2"}
    with tempfile.TemporaryDirectory() as tmp, LiveServer(os.path.join(tmp, "live"), extra_env=env) as live:
        token = live.token()
        started = time.perf_counter()
        time.sleep(3)  # the pool settles
        idle = worker_memory_mb()
        pid = api(live, token, "POST", "/projects", {"name": "warm", "modality": "notes",
                                                      "workflow": {"auto_preannotate": True}})["id"]
        t0 = time.perf_counter()
        body = api(live, token, "POST", f"/projects/{pid}/items", [{"text": NOTE + f" Visit {i}."} for i in range(50)])
        job = wait_job(live, token, body["job_id"], deadline_s=300)
        seconds = time.perf_counter() - t0
        return {"warm": warm, "upload_to_preannotated_s": round(seconds, 2), "job_status": job["status"],
                "server_start_s": round(t0 - started - 3, 2), "worker_idle": idle, "worker_after": worker_memory_mb()}


def main() -> None:
    out = {"benchmark": "worker", "notes": 50, "pool_processes": 2, "target_first_preannotation_s": 5,
           "target_worker_mb": 1200, "cold": run(False), "warm": run(True)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
