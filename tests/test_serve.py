"""`make run`'s launcher (server/serve.py): gunicorn's workers each listen with SO_REUSEPORT, so a port that is
already taken must be refused before gunicorn starts, or a second Clinlabel of the same user would share the port
with the first and answer half of its requests."""
from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from server.serve import port_in_use

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def listener(reuse_port: bool) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


@pytest.mark.parametrize("reuse_port", [False, True], ids=["plain listener", "gunicorn worker's listener"])
def test_a_taken_port_is_seen_as_taken(reuse_port):
    with listener(reuse_port) as taken:
        assert port_in_use("127.0.0.1", taken.getsockname()[1])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    assert not port_in_use("127.0.0.1", free)


def test_a_second_server_on_a_taken_port_stops_with_a_message_before_starting_anything(tmp_path):
    with listener(reuse_port=True) as taken:
        port = taken.getsockname()[1]
        env = {**os.environ, "CLINLABEL_DATA_DIR": str(tmp_path), "CLINLABEL_PORT": str(port),
               "PYTHONPATH": os.path.join(ROOT, "tests", "offline")}
        done = subprocess.run([sys.executable, "-m", "server.serve"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=60)
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"127.0.0.1:{port} is in use" in done.stderr and "CLINLABEL_PORT" in done.stderr
    assert "Clinlabel is running" not in done.stdout


def test_an_address_that_does_not_resolve_is_left_to_gunicorn_to_report():
    assert not port_in_use("no-such-host.invalid", 8000)
