"""Streamed exports (issue 15, item 3): 10k and 100k annotated notes (~158 words, a few entity spans each) bulk-inserted
straight into a SQLite database, then exported by the real `export` job (server/jobs/runner.execute: claim, query,
writer, file) in JSONL, CoNLL and gzipped JSONL, each in a child process of its own. Printed: seconds (wall, and the
child's CPU time, which other work on the machine disturbs less), the peak RSS while the export ran and its growth
over the RSS the child had before (imports and spaCy's pipeline are loaded before the clock starts).
Targets at 100k: JSONL <= 5 s, CoNLL <= 10 s (2 cores), and growth flat from 10k to 100k.

Usage: python benchmarks/bench_exports.py [--sizes 10000,100000] [--formats jsonl,conll,jsonl.gz] [--repeat 3]
       [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

FILLER = ("patient", "denies", "reports", "history", "of", "with", "and", "the", "was", "started", "on", "for",
          "since", "today", "mild", "severe", "chronic", "acute", "left", "right", "pain", "noted", "at", "follow-up",
          "blood", "pressure", "stable", "no", "new", "complaints", "in", "clinic", "exam", "normal", "dose")
MENTIONS = (("asthma", "PROBLEM"), ("aspirin 81 mg", "MEDICATION"), ("colon cancer", "PROBLEM"),
            ("metformin", "MEDICATION"), ("hypertension", "PROBLEM"), ("chest x-ray", "TEST"),
            ("appendectomy", "PROCEDURE"), ("left knee", "ANATOMY"))
ASSERT = ("present", "negated", "historical", "present", "present")


def make_sentences(count: int = 4000, seed: int = 11) -> list[tuple[str, list[tuple[int, int, str]]]]:
    """Sentences of ~13 words, about one in three holding an entity mention (its offsets within the sentence)."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        words = [rng.choice(FILLER) for _ in range(rng.randint(9, 15))]
        spans = []
        text = " ".join(words).capitalize()
        if rng.random() < 0.35:
            surface, label = rng.choice(MENTIONS)
            head = text + " "
            spans.append((len(head), len(head) + len(surface), label))
            text = head + surface
        out.append((text + ".", spans))
    return out


def notes(n: int, seed: int = 5):
    """(text, spans) of ~158 words: twelve sentences, a line break now and then (CoNLL ends sentences there)."""
    rng = random.Random(seed)
    sentences = make_sentences()
    for _ in range(n):
        parts, spans, at = [], [], 0
        for k in range(12):
            text, local = sentences[rng.randrange(len(sentences))]
            spans += [(at + s, at + e, label) for s, e, label in local]
            sep = "\n" if k % 4 == 3 else " "
            parts += [text, sep]
            at += len(text) + 1
        yield "".join(parts[:-1]), spans


def _app(url: str, data_dir: str, **extra):
    from server import create_app

    return create_app({"DATA_DIR": data_dir, "DATABASE_URL": url, "SECRET_KEY": "bench-exports", "TESTING": True,
                       "JOBS_EAGER": True, "BROKER_URL": f"sqla+sqlite:///{data_dir}/broker.sqlite", **extra})


def build(url: str, data_dir: str, n: int) -> dict:
    """A notes project with n items: each has a model draft, 80 % a submitted human version and a quarter of those
    a consensus gold copy, so the export's choice per item (gold > human > model) does real work."""
    import hashlib

    from sqlalchemy import insert
    from sqlalchemy import text as sql_text

    from server.db import Base
    from server.extensions import db
    from server.models import Annotation, Item, Project, User

    t0 = time.perf_counter()
    app = _app(url, data_dir)
    rng = random.Random(3)
    with app.app_context():
        Base.metadata.create_all(db.engine)
        from annotators.base import registry

        user = User(username="ann", username_key="ann", password_hash="x")
        project = Project(name="bench", modality="notes", workflow={},
                          label_config=registry.get("notes").default_label_config)
        db.session.add_all([user, project])
        db.session.commit()
        pid, uid = project.id, user.id
        items, anns, spans_total = [], [], 0
        for i, (text, spans) in enumerate(notes(n), start=1):
            items.append({"id": i, "project_id": pid, "kind": "text", "name": f"note-{i}.txt", "text": text,
                          "content_hash": hashlib.sha256(text.encode()).hexdigest(), "meta": {"source": "bench"},
                          "stage": "done", "size": len(text)})
            payload = {"spans": [{"id": f"s{k}", "start": s, "end": e, "label": label, "layer": "entity",
                                  **({"assertion": ASSERT[k % 5]} if k % 2 == 0 else {}),
                                  **({"concept": {"terminology": "SNOMED", "code": str(100000 + k)}} if k % 3 == 0
                                     else {})}
                                 for k, (s, e, label) in enumerate(spans)], "relations": []}
            spans_total += len(spans)
            anns.append({"item_id": i, "project_id": pid, "source": "model", "stage": "annotate", "status": "draft",
                         "model_version": "ner@v1", "payload": payload})
            if rng.random() < 0.8:
                anns.append({"item_id": i, "project_id": pid, "source": "human", "stage": "annotate",
                             "status": "submitted", "author_id": uid, "payload": payload})
                if rng.random() < 0.25:
                    anns.append({"item_id": i, "project_id": pid, "source": "consensus", "stage": "gold",
                                 "status": "accepted", "payload": payload})
            if len(items) >= 5000:
                db.session.execute(insert(Item), items)
                items = []
        if items:
            db.session.execute(insert(Item), items)
        for start in range(0, len(anns), 5000):
            db.session.execute(insert(Annotation), anns[start:start + 5000])
        db.session.commit()
        if db.dialect == "postgresql":
            db.session.execute(sql_text("ANALYZE"))
            db.session.commit()
    db.dispose()
    return {"project_id": pid, "items": n, "annotations": len(anns), "spans": spans_total,
            "build_s": round(time.perf_counter() - t0, 1)}


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


class _PeakRss:
    """The peak RSS of this process while a block runs. Not ru_maxrss: a child keeps its parent's peak across
    fork and exec (the parent built the database). Linux resets the high-water mark on writing 5 to
    /proc/self/clear_refs; where that is refused, a thread samples VmRSS every 5 ms."""

    def __enter__(self):
        import threading

        self.peak, self.stop = 0.0, threading.Event()
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
            self.sampler = None
        except OSError:
            self.sampler = threading.Thread(target=self._sample, daemon=True)
            self.sampler.start()
        return self

    def _sample(self) -> None:
        while not self.stop.wait(0.005):
            self.peak = max(self.peak, _status_mb("VmRSS"))

    def __exit__(self, *exc):
        self.stop.set()
        if self.sampler is None:
            self.peak = _status_mb("VmHWM")
        else:
            self.sampler.join()
        self.peak = max(self.peak, _status_mb("VmRSS"))


def child(url: str, data_dir: str, pid: int, fmt: str) -> dict:
    """One export job, as a worker runs it; prints seconds and memory."""
    from server.extensions import db
    from server.jobs.runner import execute
    from server.models import Job

    gzip = fmt.endswith(".gz")
    app = _app(url, data_dir, WORKER_PROCESS=True)
    with app.app_context():
        options = {"stage": "all", **({"gzip": True} if gzip else {})}
        job = Job(project_id=pid, kind="export", params={"format": fmt.removesuffix(".gz"), "options": options},
                  status="queued", queue="cpu")
        db.session.add(job)
        db.session.commit()
        job_id = job.id
        # A worker's fixed costs (imports, spaCy's pipeline: ~3 s, paid once at its first export) are not an
        # export's: a one-note export into memory pays them before the clock starts.
        import io

        from annotators.base import ItemView, registry

        exporter = registry.get("notes").exporters()[fmt.removesuffix(".gz")]
        warm = [(ItemView(id=0, kind="text", text="Warm up."), {"spans": [], "relations": []})]
        exporter.write(warm, registry.get("notes").default_label_config, io.BytesIO())
        before = _status_mb("VmRSS")
        with _PeakRss() as peak:
            t0, cpu0 = time.perf_counter(), time.process_time()
            status = execute(job_id)
            seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        db.session.expire_all()
        job = db.session.get(Job, job_id)
        result = job.result or {}
        if result.get("file"):  # the next run writes its own
            os.unlink(os.path.join(app.config["EXPORT_DIR"], result["file"]))
        return {"status": status, "error": job.error, "seconds": round(seconds, 2), "cpu_s": round(cpu, 2),
                "items": result.get("items"),
                "file_mb": round((result.get("size") or 0) / 2**20, 1), "media_type": result.get("media_type"),
                "rss_before_mb": round(before), "peak_rss_mb": round(peak.peak),
                "growth_mb": round(peak.peak - before)}


def _postgres(admin_url: str, name: str, create: bool) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if create:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--formats", default="jsonl,conll,jsonl.gz")
    parser.add_argument("--repeat", type=int, default=1, help="runs per export; the fastest is printed")
    parser.add_argument("--postgres", metavar="ADMIN_URL",
                        help="build in PostgreSQL instead (a database per size, dropped at the end)")
    parser.add_argument("--keep", help="SQLite: build the databases in this folder and keep them (reused)")
    parser.add_argument("--child", nargs=4, metavar=("URL", "DATA_DIR", "PROJECT", "FORMAT"))
    args = parser.parse_args()
    if args.child:
        url, data_dir, pid, fmt = args.child
        print(json.dumps(child(url, data_dir, int(pid), fmt)))
        return 0
    out: dict = {"backend": "postgresql" if args.postgres else "sqlite",
                 "targets": {"jsonl_100k_s": 5, "conll_100k_s": 10}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or tmp
        os.makedirs(folder, exist_ok=True)
        for size in (int(s) for s in args.sizes.split(",")):
            data_dir = os.path.join(folder, f"data-{size}")
            if args.postgres:
                url = _postgres(args.postgres, f"clinlabel_bench_exports_{size}", create=True)
                info = build(url, data_dir, size)
            else:
                path = os.path.join(folder, f"notes-{size}.sqlite")
                url, meta_path = f"sqlite:///{path}", path + ".json"
                if args.keep and os.path.exists(meta_path):
                    info = json.load(open(meta_path))
                else:
                    for stale in (path, path + "-wal", path + "-shm"):
                        if os.path.exists(stale):
                            os.unlink(stale)
                    info = build(url, data_dir, size)
                    json.dump(info, open(meta_path, "w"))
            row = {"dataset": info}
            try:
                for fmt in args.formats.split(","):
                    runs = []
                    for _ in range(max(1, args.repeat)):
                        proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", url, data_dir,
                                               str(info["project_id"]), fmt], capture_output=True, text=True,
                                              cwd=ROOT)
                        if proc.returncode != 0:
                            raise SystemExit(f"export {fmt} at {size} failed: {proc.stderr.strip()[-2000:]}")
                        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
                    row[fmt] = min(runs, key=lambda r: r["seconds"])
            finally:
                if args.postgres:
                    _postgres(args.postgres, f"clinlabel_bench_exports_{size}", create=False)
            out[f"{size // 1000}k"] = row
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
