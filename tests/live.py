"""A real Clinlabel instance for browser and worker tests: `flask setup`, then gunicorn + Celery worker."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADMIN_PASSWORD = "live-ward-lantern-42"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]


# Set by the test session (conftest's shipped_ontology_dir): live servers reuse the terminology indexes built once
# per session instead of building them in every `flask setup` (about 7 s each).
SHARED_ONTOLOGY_DIR: str | None = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, data_dir: str, database_url: str | None = None, broker_url: str | None = None,
                 demo: bool = False, extra_env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "CLINLABEL_DATA_DIR": data_dir, "CLINLABEL_PORT": str(self.port),
                    "CLINLABEL_ADMIN_PASSWORD": ADMIN_PASSWORD, "CLINLABEL_WORKER_CONCURRENCY": "1",
                    "CLINLABEL_WEB_WORKERS": "1", "FLASK_APP": "server:create_app",
                    # Only the offline guard: the server must find its own packages as `make run` starts it.
                    "PYTHONPATH": os.path.join(ROOT, "tests", "offline")}
        if SHARED_ONTOLOGY_DIR:
            self.env["CLINLABEL_ONTOLOGY_DIR"] = SHARED_ONTOLOGY_DIR
        if database_url:
            self.env["CLINLABEL_DATABASE_URL"] = database_url
        if broker_url:
            self.env["CLINLABEL_BROKER_URL"] = broker_url
        self.env.update(extra_env or {})
        self.demo = demo
        self.proc: subprocess.Popen | None = None
        self.log_path = os.path.join(data_dir, "serve.log")

    def __enter__(self) -> "LiveServer":
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        flask = os.path.join(os.path.dirname(sys.executable), "flask")
        subprocess.run([flask, "setup", "--demo" if self.demo else "--no-demo"], cwd=ROOT, env=self.env, check=True,
                       stdout=subprocess.DEVNULL)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "server.serve"], cwd=ROOT, env=self.env,
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                health = self.get("/api/v1/health")
                if health.get("workers_live"):
                    return self
            except OSError:
                pass
            time.sleep(0.3)
        self.__exit__(None, None, None)
        raise RuntimeError(f"live server did not become healthy; log: {self.read_log()[-3000:]}")

    def read_log(self) -> str:
        with open(self.log_path, "rb") as fh:
            return fh.read().decode(errors="replace")

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()

    def request(self, method: str, path: str, body=None, token: str | None = None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            raw = err.read()
            return err.code, json.loads(raw) if raw else None

    def get(self, path: str, token: str | None = None):
        return self.request("GET", path, token=token)[1]

    def upload(self, path: str, files: list[tuple[str, bytes]], token: str, fields: dict | None = None):
        """A multipart/form-data POST (files under 'files', plus form fields): (status, JSON body)."""
        boundary = "clinlabel-boundary-7f3a"
        parts = []
        for key, value in (fields or {}).items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode())
        for name, data in files:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
                         f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        req = urllib.request.Request(self.url + path, data=body, method="POST")
        req.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
        req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=600) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            raw = err.read()
            return err.code, json.loads(raw) if raw else None

    def token(self, username: str = "admin", password: str = ADMIN_PASSWORD) -> str:
        status, body = self.request("POST", "/api/v1/tokens", {"username": username, "password": password})
        assert status == 201, body
        return body["token"]


def api(live: "LiveServer", token: str, method: str, path: str, body=None, ok=(200, 201, 202)):
    """Call /api/v1 on a live server and assert the status; returns the JSON body."""
    status, data = live.request(method, f"/api/v1{path}", body, token)
    assert status in ok, (status, data)
    return data


def wait_job(live: "LiveServer", token: str, job_id: int, deadline_s: float = 60):
    """Poll a job until it ends; it must succeed."""
    end = time.time() + deadline_s
    job = None
    while time.time() < end:
        job = api(live, token, "GET", f"/jobs/{job_id}")
        if job["status"] in ("succeeded", "failed", "cancelled"):
            assert job["status"] == "succeeded", job
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def admin_page(playwright, live: "LiveServer", timeout_ms: int = 60_000):
    """Debian's Chromium, headless, logged in to `live` as the admin: (browser, page). For the browser benchmarks."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    context = browser.new_context(base_url=live.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(timeout_ms)
    page = context.new_page()
    page.goto("/login")
    page.fill("#username", "admin")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("#login-form button[type=submit]")
    page.locator(".who").wait_for()
    return browser, page


def upload_on_project_page(page, files, summary: str = "1 item(s) created, 0 failed.") -> None:
    """Upload small `files` (under the resumable-upload threshold) with the project page's file input and wait until
    the page has reloaded itself, as it does 1.2 s after such an upload with no failure (static/js/project.js): a
    navigation the test started meanwhile would be cut short by that reload (net::ERR_ABORTED)."""
    with page.expect_navigation():
        page.set_input_files("#file-input", files)
        page.get_by_text(summary).wait_for()
