"""`make run`: the production WSGI server (gunicorn) and a Celery worker on the configured broker, together.

Ctrl-C (SIGINT) or SIGTERM stops both cleanly; data stays in CLINLABEL_DATA_DIR for the next start.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from server.config import load_config


def main() -> int:
    cfg = load_config()
    port = cfg["PORT"]
    bind = os.environ.get("CLINLABEL_BIND", "127.0.0.1")
    venv_bin = os.path.dirname(sys.executable)
    workers = os.environ.get("CLINLABEL_WEB_WORKERS", "2")
    threads = os.environ.get("CLINLABEL_WEB_THREADS", "8")
    # 0: each connection serves one request. With keep-alive, a worker that won the accept race keeps its clients
    # for as long as they stay connected: measured with 20 keep-alive clients on 2 cores, one of two workers often
    # served 90 % of the requests (one core busy, GIL-bound, the other idle) and each round's throughput depended on
    # how the connections happened to fall. Per-request connections (a loopback or LAN handshake, or nginx's) are
    # spread over the workers request by request: both processes did half the work in every round.
    keepalive = os.environ.get("CLINLABEL_WEB_KEEPALIVE_S", "0")
    prefix = cfg["QUEUE_PREFIX"]
    queues = os.environ.get("CLINLABEL_WORKER_QUEUES") or f"{prefix}cpu,{prefix}gpu"
    concurrency = os.environ.get("CLINLABEL_WORKER_CONCURRENCY", "2")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    web = subprocess.Popen([
        os.path.join(venv_bin, "gunicorn"), "--bind", f"{bind}:{port}", "--workers", workers,
        "--worker-class", "gthread", "--threads", threads, "--keep-alive", keepalive, "--timeout", "120",
        "--graceful-timeout", "20",
        "--access-logfile", "-", "--access-logformat", '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms',
        "server.wsgi:app",
    ], env=env, cwd=root)
    worker = subprocess.Popen([
        os.path.join(venv_bin, "celery"), "-A", "server.jobs.worker", "worker", "-Q", queues,
        "--concurrency", concurrency, "--loglevel", "INFO", "-n", f"clinlabel-{os.getpid()}@%h",
    ], env=env, cwd=root)
    children = [web, worker]
    print(f"\nClinlabel is running at http://{bind}:{port}/  (Ctrl-C stops web server and worker)\n", flush=True)

    def stop(signum, _frame):
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while all(c.poll() is None for c in children):
        time.sleep(0.5)
    stop(signal.SIGTERM, None)
    deadline = time.time() + 30
    for child in children:
        try:
            child.wait(timeout=max(1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            child.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
