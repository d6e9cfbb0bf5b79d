"""`make run`: the production WSGI server (gunicorn) and a Celery worker on the configured broker, together.

Ctrl-C (SIGINT) or SIGTERM stops both cleanly; data stays in CLINLABEL_DATA_DIR for the next start.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from server.config import load_config


def port_in_use(bind: str, port: int) -> bool:
    """Whether something listens on bind:port already. Checked before gunicorn starts: its workers bind with
    SO_REUSEPORT, so a second Clinlabel on the same port (same user) would otherwise share it with the first and
    get half of its requests; this probe binds without that flag and fails on any listener."""
    try:
        addresses = socket.getaddrinfo(bind, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return False  # an address that does not resolve: gunicorn says so
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed connection's TIME_WAIT is no user
            try:
                probe.bind(address)
            except OSError:
                return True
    return False


def main() -> int:
    cfg = load_config()
    port = cfg["PORT"]
    bind = os.environ.get("CLINLABEL_BIND", "127.0.0.1")
    if port_in_use(bind, int(port)):
        print(f"error: {bind}:{port} is in use (another Clinlabel or another program); stop it or set "
              "CLINLABEL_PORT", file=sys.stderr)
        return 2
    venv_bin = os.path.dirname(sys.executable)
    workers = os.environ.get("CLINLABEL_WEB_WORKERS", "2")
    threads = os.environ.get("CLINLABEL_WEB_THREADS", "8")
    # Each worker process listens on its own socket (SO_REUSEPORT) and the kernel spreads new connections over
    # them. On one shared socket, the worker that won the accept race kept its clients for as long as they stayed
    # connected (keep-alive): measured with 20 clients on 2 cores, one of two workers often served 90 % of the
    # requests (one core busy, GIL-bound, the other idle). Closing every connection after one request (keep-alive
    # 0) spread them too, but cost a single client 1.5-3 ms per request.
    keepalive = os.environ.get("CLINLABEL_WEB_KEEPALIVE_S", "2")
    prefix = cfg["QUEUE_PREFIX"]
    queues = os.environ.get("CLINLABEL_WORKER_QUEUES") or f"{prefix}cpu,{prefix}gpu"
    concurrency = os.environ.get("CLINLABEL_WORKER_CONCURRENCY", "2")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    web = subprocess.Popen([
        os.path.join(venv_bin, "gunicorn"), "--bind", f"{bind}:{port}", "--workers", workers,
        "--worker-class", "gthread", "--threads", threads, "--keep-alive", keepalive, "--reuse-port",
        "--timeout", "120", "--graceful-timeout", "20",
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
