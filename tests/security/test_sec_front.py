"""Campaign checklist — the production front: Debian's nginx with the shipped config (deploy/nginx) in front of a
live server. 150 slowloris connections do not stall normal requests (gunicorn's threads never see them), and the
production site file is valid for Debian's nginx."""
from __future__ import annotations

import datetime
import os
import socket
import subprocess
import time
import urllib.request

import pytest

from live import ROOT, LiveServer, free_port

pytestmark = pytest.mark.worker
NGINX = "/usr/sbin/nginx"
PROXY_SNIPPET = os.path.join(ROOT, "deploy", "nginx", "clinlabel-proxy.conf")
SITE = os.path.join(ROOT, "deploy", "nginx", "clinlabel.conf")


def _zones() -> str:
    """The rate-limit zones as the production site declares them."""
    with open(SITE) as fh:
        return "".join(line for line in fh if line.startswith(("limit_conn_zone", "limit_req_zone")))


def _main_conf(prefix, body: str) -> str:
    temp = "".join(f"{kind}_temp_path {prefix}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (f"{user}worker_processes 1;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log;\n"
            f"events {{ worker_connections 1024; }}\nhttp {{\naccess_log off;\n{temp}{body}\n}}\n")


@pytest.fixture(scope="module")
def front(tmp_path_factory, shipped_ontology_dir):
    if not os.path.exists(NGINX):
        pytest.fail("Debian's nginx is missing: `make test` installs it (scripts/ensure-nginx.sh)")
    prefix = tmp_path_factory.mktemp("nginx")
    with LiveServer(str(tmp_path_factory.mktemp("front-live")), extra_env={"CLINLABEL_PROXY_COUNT": "1"}) as live:
        port = free_port()
        body = (f"{_zones()}upstream clinlabel_app {{ server 127.0.0.1:{live.port}; keepalive 16; }}\n"
                f"server {{ listen 127.0.0.1:{port}; include {PROXY_SNIPPET}; }}")
        conf = prefix / "nginx.conf"
        conf.write_text(_main_conf(prefix, body))
        proc = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield live, f"http://127.0.0.1:{port}"
        proc.terminate()
        proc.wait(timeout=10)


def _slow_client(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: clinlabel\r\n")
    return sock


def test_slowloris_connections_do_not_stall_normal_requests(front):
    live, url = front
    port = int(url.rsplit(":", 1)[1])
    slow = [_slow_client(port) for _ in range(150)]
    try:
        for round_ in range(3):  # keep them trickling a header line at a time
            for sock in slow:
                try:
                    sock.sendall(f"X-Slow-{round_}: 1\r\n".encode())
                except OSError:
                    pass
            for _ in range(2):
                with urllib.request.urlopen(f"{url}/api/v1/health", timeout=20) as resp:
                    assert resp.status == 200
            time.sleep(1)
        token = live.token()
        req = urllib.request.Request(f"{url}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=20) as resp:
            assert resp.status == 200
        time.sleep(9)  # past client_header_timeout (10 s from the first byte): nginx has dropped the slow clients
        closed = 0
        for sock in slow:
            try:
                sock.settimeout(2)
                data = sock.recv(1024)
                closed += data == b"" or b"408" in data
            except OSError:
                closed += 1
        assert closed >= 140, closed
    finally:
        for sock in slow:
            sock.close()


def test_the_front_passes_client_addresses_and_refuses_oversized_headers(front):
    live, url = front
    req = urllib.request.Request(f"{url}/api/v1/health", headers={"X-Huge": "x" * 40_000})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=20)
    assert refused.value.code in (400, 431, 494)
    status, _ = live.request("GET", "/api/v1/health")  # the app itself still listens on loopback only
    assert status in (200, 503)


def test_the_production_site_file_is_valid_for_debians_nginx(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "clinlabel.test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    with open(SITE) as fh:
        site = (fh.read().replace("/etc/ssl/certs/clinlabel.pem", str(tmp_path / "cert.pem"))
                .replace("/etc/ssl/private/clinlabel.key", str(tmp_path / "key.pem"))
                .replace("/opt/clinlabel/deploy/nginx/clinlabel-proxy.conf", PROXY_SNIPPET))
    conf = tmp_path / "nginx.conf"
    conf.write_text(_main_conf(tmp_path, site))
    result = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
