#!/usr/bin/env python3
"""Assemble the benchmark bundle in this directory (run on the GPU machine, stdlib only).

Expects part.00 part.01 part.02 (one per carried call) next to it. Verifies SHA256SUMS, joins
the parts into payload.tar, installs the wheels into ./site, unpacks CTranslate2 (cp312) into
./site, decompresses the clip and rebuilds the CTranslate2 model directories under ./models.
On failure writes {"error": ...} to the --out JSON so the run still reports something.
"""
import glob
import hashlib
import io
import json
import lzma
import os
import shutil
import subprocess
import sys
import tarfile
import time
import traceback
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
os.chdir(HERE)
sys.path.insert(0, HERE)


def log(*a):
    print(f"[assemble {time.strftime('%H:%M:%S')}]", *a, flush=True)


def main():
    t0 = time.time()
    sums = dict(reversed(line.split()) for line in open("SHA256SUMS") if line.strip())
    parts = sorted(k for k in sums if k.startswith("part."))
    missing = [p for p in parts if not os.path.exists(p)]
    if missing and not os.path.isdir("payload"):
        raise SystemExit(f"MISSING {missing}: the machine went cold between calls; redo calls 1..3 quickly")
    if not os.path.isdir("payload"):
        with open("payload.tar", "wb") as out:
            for p in parts:
                h = hashlib.sha256()
                with open(p, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 22), b""):
                        h.update(chunk)
                        out.write(chunk)
                if h.hexdigest() != sums[p]:
                    raise SystemExit(f"sha256 mismatch for {p}")
        log("parts verified and joined", os.path.getsize("payload.tar"))
        with tarfile.open("payload.tar") as t:
            t.extractall(".")
        os.remove("payload.tar")
        for p in parts:
            os.remove(p)
    os.makedirs("site", exist_ok=True)
    wheels = sorted(glob.glob("payload/wheels/*.whl"))
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                        "--no-cache-dir", "--target", "site", *wheels], capture_output=True, text=True)
    if r.returncode != 0:
        log("pip failed, unzipping wheels instead:", r.stderr[-800:])
        for w in wheels:
            zipfile.ZipFile(w).extractall("site")
    log("wheels:", [os.path.basename(w) for w in wheels])
    with tarfile.open("payload/ctranslate2_cp312.tar.xz") as t:
        t.extractall("site")
    log("ctranslate2 unpacked")
    if not os.path.exists("consultation16k.npy"):
        with open("payload/consultation16k.npy.xz", "rb") as f, open("consultation16k.npy", "wb") as g:
            g.write(lzma.decompress(f.read()))
    shutil.copy("payload/consultation_ref.json", "consultation_ref.json")
    import ct2pack

    info = json.load(open("bundle_info.json"))
    info["unpack"] = {}
    with tarfile.open("payload/model_text_files.tar.xz") as t:
        t.extractall("models")
    for name in sorted(os.listdir("payload/pack")):
        os.makedirs(f"models/{name}", exist_ok=True)
        info["unpack"][name] = ct2pack.unpack(f"payload/pack/{name}", f"models/{name}/model.bin")
        log("model", name, info["unpack"][name])
    info["assemble_s"] = round(time.time() - t0, 1)
    json.dump(info, open("bundle_info.json", "w"), indent=1)
    log("done in", info["assemble_s"], "s")


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else None
    try:
        main()
    except BaseException as e:  # noqa: BLE001
        tb = traceback.format_exc()
        print(tb, flush=True)
        if out:
            os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
            json.dump({"error": f"assemble failed: {e}", "traceback": tb[-4000:],
                       "files": sorted(os.listdir(HERE))}, open(out, "w"), indent=1)
        sys.exit(3)
