"""S3-compatible media storage (moto's S3 server on 127.0.0.1): the web process and two Celery workers with
separate data folders share nothing but PostgreSQL, the broker and the bucket. Media, derived assets and exports
live in the bucket; workers decode from their own cache; the web streams Range reads from the bucket or redirects
to presigned URLs. The media modality reaches the workers as a third-party plugin would: an installed
distribution's `clinlabel.annotators` entry point."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import time

import pytest

import media_files
from annotators.base import registry
from live import free_port
from media_modality import CRASH_MARK, Clips
from support import HERE, ROOT, build_app, create_user, login, redis_url
from test_worker import Worker, wait_for

pytestmark = pytest.mark.worker
BUCKET = "clinlabel-media"
KEYS = {"CLINLABEL_S3_ACCESS_KEY_ID": "testing", "CLINLABEL_S3_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true"}


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")
    server = os.path.join(os.path.dirname(sys.executable), "moto_server")
    proc = subprocess.Popen([server, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    import boto3

    client = boto3.client("s3", endpoint_url=url, aws_access_key_id="testing", aws_secret_access_key="testing",
                          region_name="us-east-1")
    deadline = time.time() + 30
    while True:
        try:
            client.create_bucket(Bucket=BUCKET)
            break
        except Exception:  # noqa: BLE001 - not listening yet
            if time.time() > deadline or proc.poll() is not None:
                raise
            time.sleep(0.2)
    yield url, client
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


@pytest.fixture
def plugin_path(tmp_path):
    """A folder on the workers' path holding an installed distribution whose entry point is the clips modality."""
    dist = tmp_path / "plugins" / "clinlabel_clips-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: clinlabel-clips\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[clinlabel.annotators]\nclips = media_modality:Clips\n")
    return str(tmp_path / "plugins")


def test_two_workers_with_separate_data_dirs_share_only_the_bucket(tmp_path, s3_endpoint, plugin_path,
                                                                    postgres_database):
    from support import fresh_schema

    endpoint, client = s3_endpoint
    fresh_schema(postgres_database)
    broker = redis_url() or f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
    prefix = f"s3t{os.getpid()}-{time.time_ns()}-"
    media_url = f"s3://{BUCKET}/run-{time.time_ns()}"
    settings = {"MEDIA_URL": media_url, "S3_ENDPOINT_URL": endpoint, "S3_ACCESS_KEY_ID": "testing",
                "S3_SECRET_ACCESS_KEY": "testing"}
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    app = build_app(tmp_path / "web", postgres_database, BROKER_URL=broker, QUEUE_PREFIX=prefix, JOB_LEASE_S=5,
                    **settings)
    registry.register(Clips())
    workers = []
    try:
        def worker(name):
            env = {**os.environ, **KEYS, "CLINLABEL_DATA_DIR": str(tmp_path / name), "CLINLABEL_DATABASE_URL":
                   postgres_database, "CLINLABEL_BROKER_URL": broker, "CLINLABEL_SECRET_KEY": app.config["SECRET_KEY"],
                   "CLINLABEL_AUDIT_KEY": app.config["AUDIT_KEY"],
                   "CLINLABEL_QUEUE_PREFIX": prefix, "CLINLABEL_MEDIA_URL": media_url, "CLINLABEL_JOB_LEASE_S": "5",
                   "CLINLABEL_S3_ENDPOINT_URL": endpoint,
                   "PYTHONPATH": os.pathsep.join([os.path.join(HERE, "offline"), ROOT, HERE, plugin_path])}
            w = Worker(env, str(tmp_path / f"{name}.log")).start()
            workers.append(w)
            return w

        create_user(app, "boss", is_admin=True)
        api = login(app.test_client(), "boss")
        _, project = api.post("/projects", {"name": "Calls", "modality": "clips",
                                            "workflow": {"auto_preannotate": False}})
        pid = project["id"]
        sound = media_files.wav(tmp_path / "call.wav", seconds=4.0)
        crash = media_files.with_mark(sound, tmp_path / "crash.wav", CRASH_MARK)  # segfaults the decoder
        first = worker("worker-a")
        resp = api.client.post(f"/api/v1/projects/{pid}/items", headers=api.headers(),
                               content_type="multipart/form-data",
                               data={"files": [(io.BytesIO(open(sound, "rb").read()), "call.wav"),
                                               (io.BytesIO(open(crash, "rb").read()), "crash.wav")]})
        body = resp.get_json()
        assert resp.status_code == 201, body
        item_id, crashed_id = (c["id"] for c in body["created"])
        derive = wait_for(api, body["derive_job_id"], timeout=120)
        assert derive["status"] == "succeeded" and derive["result"]["ready"] == 1, (derive, first.output()[-3000:])
        _, crashed = api.get(f"/items/{crashed_id}")
        assert crashed["status"] == "invalid" and "crashed" in crashed["status_reason"]
        assert first.proc.poll() is None  # the real worker survived its decoder's segfault
        first.stop()

        _, item = api.get(f"/items/{item_id}")
        prefix_key = media_url.split("/", 3)[3]
        keys = {o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix=prefix_key).get("Contents", [])}
        assert f"{prefix_key}/{item['content_hash'][:2]}/{item['content_hash'][2:4]}/{item['content_hash']}" in keys
        assert len(keys) == 4  # both recordings (stored before probing) and the good one's two derived assets
        assert not os.path.exists(os.path.join(app.config["DATA_DIR"], "media", item["content_hash"][:2]))
        assert os.path.isdir(tmp_path / "worker-a" / "s3-cache")  # worker A decoded from its own cache

        second = worker("worker-b")  # an empty cache: it must fetch from the bucket
        _, job = api.post(f"/projects/{pid}/jobs", {"kind": "preannotate"})
        done = wait_for(api, job["id"], timeout=120)
        assert done["status"] == "succeeded" and done["result"]["annotations_written"] == 1, second.output()[-3000:]
        assert os.path.isdir(tmp_path / "worker-b" / "s3-cache")  # worker B fetched the recording itself

        headers = api.headers()
        full = api.client.get(f"/api/v1/items/{item_id}/media", headers=headers)
        assert full.status_code == 200 and full.data == open(sound, "rb").read()
        part = api.client.get(f"/api/v1/items/{item_id}/media", headers={**headers, "Range": "bytes=0-3"})
        assert part.status_code == 206 and part.data == b"RIFF"
        assert part.headers["Content-Range"] == f"bytes 0-3/{os.path.getsize(sound)}"
        peaks = api.client.get(f"/api/v1/items/{item_id}/media?variant=peaks", headers=headers)
        assert peaks.status_code == 200 and peaks.get_json()["rate"] == 8000
        app.extensions["media"].presign = True
        moved = api.client.get(f"/api/v1/items/{item_id}/media", headers=headers)
        assert moved.status_code == 302 and moved.headers["Location"].startswith(endpoint)
        import urllib.request

        with urllib.request.urlopen(moved.headers["Location"]) as fh:  # the bucket on loopback
            assert fh.read() == open(sound, "rb").read()
    finally:
        for w in workers:
            w.stop()
        registry.unregister("clips")
        from server.extensions import db

        db.dispose()


def test_exports_are_written_to_the_bucket(tmp_path, s3_endpoint, sqlite_url):
    """Exports through the same store: a notes-free labels project exported by an eager job, read back by the API."""
    endpoint, client = s3_endpoint
    media_url = f"s3://{BUCKET}/exports-{time.time_ns()}"
    app = build_app(tmp_path, sqlite_url, JOBS_EAGER=True, MEDIA_URL=media_url, S3_ENDPOINT_URL=endpoint,
                    S3_ACCESS_KEY_ID="testing", S3_SECRET_ACCESS_KEY="testing")
    create_user(app, "boss", is_admin=True)
    api = login(app.test_client(), "boss")
    _, project = api.post("/projects", {"name": "Triage", "modality": "labels"})
    api.post(f"/projects/{project['id']}/items", [{"text": "chest pain"}, {"text": "renew prescription"}])
    status, job = api.post(f"/projects/{project['id']}/exports", {"format": "jsonl", "options": {"stage": "all"}})
    assert status in (200, 202), job
    _, job = api.get(f"/jobs/{job['id']}")
    assert job["status"] == "succeeded", job
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix=media_url.split("/", 3)[3])["Contents"]]
    assert keys == [f"{media_url.split('/', 3)[3]}/exports/{job['result']['file']}"]
    assert not os.listdir(app.config["EXPORT_DIR"])  # only staged locally, then moved to the bucket
    resp = api.client.get(f"/api/v1/exports/{job['id']}/file", headers=api.headers())
    assert resp.status_code == 200 and resp.headers["Content-Disposition"].startswith("attachment")
    from server.extensions import db

    db.dispose()
