#!/usr/bin/env python3
"""Whisper transcription speed benchmark: openai-whisper (torch) vs faster-whisper (CTranslate2).

Orchestrator (default): runs each (model, backend) in its own subprocess (a crash, e.g. a
CTranslate2/cuBLAS mismatch, cannot take the other configurations down; peak-memory numbers are
per process), collects everything in one JSON (--out) and prints it.

  python3 bench_gpu.py --device cuda --out $OUT/gpu_whisper.json
  python3 bench_gpu.py --device cpu --max-seconds 30 --runs 1 --out /tmp/x.json   (local check)

Models: CTranslate2 directories under --models-dir/<name>; the openai-whisper checkpoint is
converted from the same model.bin (ct2_whisper.convert) inside the worker, so both backends use
identical weights.
"""
import argparse
import glob
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

T0 = time.time()


# ----------------------------------------------------------------------------- WER
def _simple_norm(text):
    text = text.lower().replace("-", " ")
    text = re.sub(r"[^\w\s']", " ", text)
    text = text.replace("'", "")
    return text.split()


def _edit_distance(ref, hyp):
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def wer_scores(ref_text, hyp_text):
    out = {}
    r, h = _simple_norm(ref_text), _simple_norm(hyp_text)
    out["wer_simple"] = round(_edit_distance(r, h) / max(len(r), 1), 4)
    out["ref_words"], out["hyp_words"] = len(r), len(h)
    try:  # Whisper's English normaliser maps "thirty eight" <-> "38", "X-ray" etc. on both sides
        from whisper.normalizers import EnglishTextNormalizer

        n = EnglishTextNormalizer()
        r2, h2 = n(ref_text).split(), n(hyp_text).split()
        out["wer_whisper_norm"] = round(_edit_distance(r2, h2) / max(len(r2), 1), 4)
    except Exception as e:  # noqa: BLE001
        out["wer_whisper_norm_error"] = repr(e)
    return out


# ----------------------------------------------------------------------------- helpers
def load_ref(a):
    """Reference text; with --max-seconds only the turns that start before the cut."""
    ref = json.load(open(a.ref))
    if a.max_seconds and ref.get("turns"):
        return " ".join(t["text"] for t in ref["turns"] if t["start"] < a.max_seconds)
    return ref["reference"]


def load_audio(path, max_seconds=None):
    import numpy as np

    if path.endswith(".npy"):
        a = np.load(path)
    else:
        from scipy.io import wavfile

        sr, a = wavfile.read(path)
        assert sr == 16000, sr
    if a.dtype == np.int16:
        a = a.astype(np.float32) / 32768.0
    a = np.ascontiguousarray(a.astype(np.float32))
    if max_seconds:
        a = a[: int(max_seconds * 16000)]
    return a


class GpuMemSampler:
    """Peak device memory in use (all allocators, incl. CTranslate2's) by polling cudaMemGetInfo."""

    def __init__(self, enabled, poll=True, interval=0.05):
        self.enabled, self.poll, self.interval = enabled, poll, interval
        self.base = self.peak = None

    def _used(self):
        import torch

        free, total = torch.cuda.mem_get_info()
        return total - free

    def __enter__(self):
        if not self.enabled:
            return self
        self.base = self.peak = self._used()
        self._stop = threading.Event()

        def loop():
            while not self._stop.is_set():
                try:
                    self.peak = max(self.peak, self._used())
                except Exception:  # noqa: BLE001
                    return
                time.sleep(self.interval)

        self._t = threading.Thread(target=loop, daemon=True)
        if self.poll:  # openai-whisper: no polling thread (GIL contention with its Python decode loop)
            self._t.start()
        return self

    def __exit__(self, *exc):
        if self.enabled:
            self._stop.set()
            if self.poll:
                self._t.join()
            self.peak = max(self.peak, self._used())

    def result(self):
        if not self.enabled:
            return {}
        return {"device_used_before_mb": round(self.base / 2**20, 1),
                "device_used_peak_mb": round(self.peak / 2**20, 1),
                "device_used_delta_peak_mb": round((self.peak - self.base) / 2**20, 1)}


def timed_runs(fn, runs, sync, budget_s):
    """One warm-up call, then `runs` timed calls (skipped once budget_s is spent)."""
    t = time.perf_counter()
    sync()
    out = fn()
    sync()
    warm = time.perf_counter() - t
    times = []
    for _ in range(runs):
        if times and time.time() - T0 > budget_s:
            break
        sync()
        t = time.perf_counter()
        out = fn()
        sync()
        times.append(time.perf_counter() - t)
    return out, warm, times


def summarize(times, warm, duration):
    import statistics

    if not times:
        return {"warmup_s": round(warm, 3)}
    return {"warmup_s": round(warm, 3), "times_s": [round(x, 3) for x in times],
            "min_s": round(min(times), 3), "median_s": round(statistics.median(times), 3),
            "rtf_min": round(min(times) / duration, 5), "rtf_median": round(statistics.median(times) / duration, 5),
            "x_realtime_min": round(duration / min(times), 1)}


# ----------------------------------------------------------------------------- workers
def worker_openai(a):
    import numpy as np  # noqa: F401
    import torch
    import whisper

    import ct2_whisper

    ref = load_ref(a)
    audio = load_audio(a.audio, a.max_seconds)
    dur = len(audio) / 16000
    cuda = a.device == "cuda"
    res = {"backend": "openai-whisper", "model": a.model, "whisper_version": whisper.__version__}
    t = time.perf_counter()
    ckpt = ct2_whisper.convert(os.path.join(a.models_dir, a.model))
    model = ct2_whisper.load_checkpoint(ckpt, device=a.device)
    res["convert_and_load_s"] = round(time.perf_counter() - t, 3)
    res["dims"] = ckpt["dims"]
    res["alignment_heads"] = ckpt["alignment_heads"]
    del ckpt
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    fp16 = cuda and not a.fp32
    configs = [("ow_fp16_greedy_words" if fp16 else "ow_fp32_greedy_words", True)]
    if a.force_cpu_dtw:
        _force_cpu_timing()
    if a.with_nowords:
        configs.append((configs[0][0].replace("_words", "_nowords"), False))
    res["configs"] = {}
    for name, words in configs:
        c = {}
        if res["configs"] and time.time() - T0 > a.budget_s:
            res["configs"][name] = {"skipped": "time budget spent"}
            continue
        try:
            if cuda:
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            import warnings

            with warnings.catch_warnings(record=True) as wlist:
                warnings.simplefilter("always")

                def fn():
                    return model.transcribe(audio, language="en", temperature=0.0, beam_size=None, best_of=None,
                                            word_timestamps=words, condition_on_previous_text=False, fp16=fp16,
                                            verbose=None)
                with GpuMemSampler(cuda, poll=False) as mem:
                    out, warm, times = timed_runs(fn, a.runs, sync, a.budget_s)
            c.update(summarize(times, warm, dur))
            c["warnings"] = sorted({str(w.message)[:300] for w in wlist if not issubclass(w.category, ResourceWarning)})
            if cuda:
                c["torch_max_memory_allocated_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
                c["torch_max_memory_reserved_mb"] = round(torch.cuda.max_memory_reserved() / 2**20, 1)
            c.update(mem.result())
            text = out["text"].strip()
            c["transcript"] = text
            c["n_segments"] = len(out["segments"])
            ws = [w for s in out["segments"] for w in s.get("words", [])]
            c["n_words_timestamped"] = len(ws)
            c["words"] = [[w["word"], round(w["start"], 2), round(w["end"], 2)] for w in ws]
            c.update(wer_scores(ref, text))
        except Exception as e:  # noqa: BLE001
            c["error"] = f"{type(e).__name__}: {e}"
            c["traceback"] = traceback.format_exc()[-3000:]
        if "error" in c and words and cuda and not a.force_cpu_dtw:
            # whisper.timing runs DTW / median filter as Triton kernels on CUDA and only falls back to
            # CPU on RuntimeError/CalledProcessError; if something else broke, retry with CPU timing.
            res["configs"][name] = c
            _force_cpu_timing()
            name, c = name + "_cpu_dtw_retry", {}
            try:
                with GpuMemSampler(cuda, poll=False) as mem:
                    out, warm, times = timed_runs(lambda: model.transcribe(
                        audio, language="en", temperature=0.0, beam_size=None, best_of=None, word_timestamps=True,
                        condition_on_previous_text=False, fp16=fp16, verbose=None), a.runs, sync, a.budget_s)
                c.update(summarize(times, warm, dur))
                c.update(mem.result())
                c["transcript"] = out["text"].strip()
                ws = [w for s in out["segments"] for w in s.get("words", [])]
                c["n_words_timestamped"] = len(ws)
                c["words"] = [[w["word"], round(w["start"], 2), round(w["end"], 2)] for w in ws]
                c.update(wer_scores(ref, c["transcript"]))
            except Exception as e:  # noqa: BLE001
                c["error"] = f"{type(e).__name__}: {e}"
                c["traceback"] = traceback.format_exc()[-3000:]
        res["configs"][name] = c
        _save(a, res)
    return res


def _save(a, res):
    """Partial results, so a worker killed by its timeout still reports finished configs."""
    if a.result:
        with open(a.result + ".tmp", "w") as f:
            json.dump(res, f)
        os.replace(a.result + ".tmp", a.result)


def _force_cpu_timing():
    """Make whisper.timing do DTW and the median filter on the CPU (no Triton)."""
    import torch.nn.functional as F
    import whisper.timing as wt

    wt.dtw = lambda x: wt.dtw_cpu(x.double().cpu().numpy())

    def median_filter(x, filter_width):
        dev = x.device
        x = x.cpu()
        pad = filter_width // 2
        if x.shape[-1] <= pad:
            return x.to(dev)
        if (ndim := x.ndim) <= 2:
            x = x[None, None, :]
        x = F.pad(x, (pad, pad, 0, 0), mode="reflect")
        r = x.unfold(-1, filter_width, 1).sort()[0][..., pad]
        if ndim <= 2:
            r = r[0, 0]
        return r.to(dev)

    wt.median_filter = median_filter


def _import_faster_whisper():
    try:
        import av  # noqa: F401
        stub = False
    except ImportError:  # faster_whisper.audio imports av at module load; we pass arrays, never files
        m = types.ModuleType("av")
        m.__path__ = []
        sys.modules["av"] = m
        stub = True
    import faster_whisper

    return faster_whisper, stub


def worker_faster(a):
    import ctranslate2

    cuda = a.device == "cuda"
    res = {"backend": "faster-whisper", "model": a.model, "ctranslate2_version": ctranslate2.__version__,
           "LD_LIBRARY_PATH": os.environ.get("LD_LIBRARY_PATH", "")}
    if cuda:
        import torch  # only for device memory polling (cudaMemGetInfo)

        torch.cuda.init()
        res["ct2_cuda_device_count"] = ctranslate2.get_cuda_device_count()
        res["ct2_cuda_compute_types"] = sorted(ctranslate2.get_supported_compute_types("cuda"))
    fw, stub = _import_faster_whisper()
    res["faster_whisper_version"] = fw.__version__
    res["av_stubbed"] = stub
    ref = load_ref(a)
    audio = load_audio(a.audio, a.max_seconds)
    dur = len(audio) / 16000
    compute_type = "float16" if cuda and not a.fp32 else "float32"
    t = time.perf_counter()
    model = fw.WhisperModel(os.path.join(a.models_dir, a.model), device=a.device, compute_type=compute_type,
                            cpu_threads=0 if cuda else a.cpu_threads)
    res["load_s"] = round(time.perf_counter() - t, 3)
    batched = fw.BatchedInferencePipeline(model=model) if hasattr(fw, "BatchedInferencePipeline") else None
    n = len(audio)
    fixed30 = [{"start": s / 16000, "end": min(s + 30 * 16000, n) / 16000} for s in range(0, n, 30 * 16000)]
    common = dict(language="en", beam_size=1, temperature=0.0, word_timestamps=True,
                  condition_on_previous_text=False)
    configs = [(f"fw_{compute_type}_greedy_words", lambda: model.transcribe(audio, vad_filter=False, **common))]
    if batched is not None and a.batch_sizes:
        for bs in a.batch_sizes:
            configs.append((f"fw_{compute_type}_batched{bs}_vad_words",
                            lambda bs=bs: batched.transcribe(audio, batch_size=bs, vad_filter=True, **common)))
        bs = max(a.batch_sizes)
        configs.append((f"fw_{compute_type}_batched{bs}_fixed30s_words",
                        lambda bs=bs: batched.transcribe(audio, batch_size=bs, vad_filter=False,
                                                         clip_timestamps=fixed30, **common)))
    else:
        res["batched_error"] = "faster_whisper has no BatchedInferencePipeline"
    res["configs"] = {}
    for name, call in configs:
        c = {}
        if res["configs"] and time.time() - T0 > a.budget_s:
            res["configs"][name] = {"skipped": "time budget spent"}
            continue
        try:
            def fn(call=call):
                segs, info = call()
                return list(segs), info  # transcription is lazy: consume the generator
            with GpuMemSampler(cuda) as mem:
                (segs, info), warm, times = timed_runs(fn, a.runs, lambda: None, a.budget_s)
            c.update(summarize(times, warm, dur))
            c.update(mem.result())
            text = " ".join(s.text.strip() for s in segs).strip()
            c["transcript"] = text
            c["n_segments"] = len(segs)
            ws = [w for s in segs for w in (s.words or [])]
            c["n_words_timestamped"] = len(ws)
            c["words"] = [[w.word, round(w.start, 2), round(w.end, 2)] for w in ws]
            c.update(wer_scores(ref, text))
        except Exception as e:  # noqa: BLE001
            c["error"] = f"{type(e).__name__}: {e}"
            c["traceback"] = traceback.format_exc()[-3000:]
        res["configs"][name] = c
        _save(a, res)
    return res


# ----------------------------------------------------------------------------- orchestrator
def env_info(device):
    info = {"python": sys.version.split()[0], "platform": platform.platform(), "argv": sys.argv}
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_cuda"] = torch.version.cuda
        info["cudnn"] = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
        if device == "cuda" and torch.cuda.is_available():
            p = torch.cuda.get_device_properties(0)
            info["gpu"] = p.name
            info["gpu_total_mem_mb"] = round(p.total_memory / 2**20)
            info["gpu_capability"] = f"{p.major}.{p.minor}"
        info["cuda_available"] = torch.cuda.is_available()
    except Exception as e:  # noqa: BLE001
        info["torch_error"] = repr(e)
    import shutil

    info["cc"] = shutil.which("cc") or shutil.which("gcc")
    try:
        import triton

        info["triton"] = triton.__version__
    except Exception as e:  # noqa: BLE001
        info["triton"] = repr(e)
    import importlib.metadata
    import importlib.util

    for mod, dist in (("ctranslate2", "ctranslate2"), ("faster_whisper", "faster-whisper"),
                      ("whisper", "openai-whisper"), ("more_itertools", "more-itertools"), ("numpy", "numpy"),
                      ("numba", "numba"), ("tiktoken", "tiktoken"), ("onnxruntime", "onnxruntime"),
                      ("tokenizers", "tokenizers"), ("av", "av")):
        try:
            spec = importlib.util.find_spec(mod)
            info[mod] = (importlib.metadata.version(dist) + " @ " + os.path.dirname(spec.origin)) if spec else None
        except Exception as e:  # noqa: BLE001
            info[mod] = repr(e)
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
        info["nvidia_smi"] = out.stdout.strip() or out.stderr.strip()
    except Exception as e:  # noqa: BLE001
        info["nvidia_smi"] = repr(e)
    return info


def find_cublas13():
    """Directory holding libcublas.so.13 (pip nvidia-cublas for CUDA 13, or a system CUDA)."""
    cands = []
    for p in sys.path + ["/usr/local/cuda/lib64", "/usr/lib/x86_64-linux-gnu"]:
        if os.path.isdir(p):
            cands += glob.glob(os.path.join(p, "nvidia", "**", "libcublas.so.1[3-9]*"), recursive=True)
            cands += glob.glob(os.path.join(p, "libcublas.so.1[3-9]*"))
    cands = [c for c in cands if re.search(r"libcublas\.so\.\d+$", c)]
    return sorted(cands)[-1] if cands else None


def make_cublas12_compat(dirpath):
    """CTranslate2 4.x wheels dlopen("libcublas.so.12") and only call stable cuBLAS v2 entry points
    (cublasCreate_v2, cublasGemmEx, cublasGemmStridedBatchedEx, cublasSgemm_v2, ...) through plain
    dlsym (unversioned, so the libcublas.so.13 default symbol versions resolve); CUDA 13 has
    libcublas.so.13 only. Experiment: a symlink named libcublas.so.12 -> libcublas.so.13.
    Returns the LD_LIBRARY_PATH entries (compat dir, then the real cuBLAS 13 dir for libcublasLt)."""
    lib = find_cublas13()
    if not lib:
        return None, "libcublas.so.13 not found"
    os.makedirs(dirpath, exist_ok=True)
    d = os.path.dirname(lib)
    for name, target in (("libcublas.so.12", lib),
                         ("libcublasLt.so.12", os.path.join(d, os.path.basename(lib).replace("libcublas", "libcublasLt")))):
        link = os.path.join(dirpath, name)
        if os.path.lexists(link):
            os.remove(link)
        if os.path.exists(target):
            os.symlink(target, link)
    return dirpath + ":" + d, lib


def run_worker(kind, model, a, extra_env=None, timeout=300):
    left = a.deadline_s - (time.time() - T0)
    if left < 40:
        return {"backend": kind, "model": model, "skipped": f"overall deadline ({a.deadline_s}s) reached"}
    timeout = min(timeout, left)
    budget = max(10.0, min(a.budget_s, left - 30))
    fd, path = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind, "--model", model, "--result", path,
           "--device", a.device, "--models-dir", a.models_dir, "--audio", a.audio, "--ref", a.ref,
           "--runs", str(a.runs), "--budget-s", str(budget), "--cpu-threads", str(a.cpu_threads),
           "--batch-sizes", ",".join(map(str, a.batch_sizes))]
    if a.max_seconds:
        cmd += ["--max-seconds", str(a.max_seconds)]
    if a.fp32:
        cmd.append("--fp32")
    if a.with_nowords:
        cmd.append("--with-nowords")
    if a.force_cpu_dtw:
        cmd.append("--force-cpu-dtw")
    env = dict(os.environ, **(extra_env or {}))
    t = time.time()
    print(f"[{time.time() - T0:6.1f}s] start {kind} {model} {extra_env or ''}", flush=True)
    try:
        p = subprocess.run(cmd, env=env, timeout=timeout, capture_output=True, text=True)
        rc, err = p.returncode, p.stderr
    except subprocess.TimeoutExpired as e:
        rc, err = "timeout", (e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or ""))
    try:
        res = json.load(open(path))
    except Exception:  # noqa: BLE001
        res = {"backend": kind, "model": model}
    os.remove(path)
    res["worker_rc"] = rc
    res["worker_wall_s"] = round(time.time() - t, 1)
    if rc != 0:
        res["worker_stderr_tail"] = (err or "")[-4000:]
    print(f"[{time.time() - T0:6.1f}s] done {kind} {model} rc={rc}", flush=True)
    return res


def probe_ct2(a, model, extra_env):
    """Small faster-whisper transcription on the device: does CTranslate2 GPU work at all?"""
    code = ("import sys,types,numpy as np\n"
            "try:\n import av\nexcept ImportError:\n m=types.ModuleType('av'); m.__path__=[]; sys.modules['av']=m\n"
            "import faster_whisper as fw\n"
            f"m=fw.WhisperModel({os.path.join(a.models_dir, model)!r},device={a.device!r},"
            f"compute_type={'float16' if a.device == 'cuda' else 'float32'!r})\n"
            f"x=np.load({a.audio!r})[:16000*8].astype(np.float32)/32768\n"
            "s,_=m.transcribe(x,language='en',beam_size=1,vad_filter=False)\n"
            "print('PROBE_OK', ' '.join(t.text for t in s))\n")
    try:
        p = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, **(extra_env or {})),
                           capture_output=True, text=True, timeout=90)
        ok = p.returncode == 0 and "PROBE_OK" in p.stdout
        return {"ok": ok, "rc": p.returncode, "stdout": p.stdout[-500:], "stderr": p.stderr[-2500:]}
    except Exception as e:  # noqa: BLE001
        return {"ok": False, "error": repr(e)}


def orchestrate(a):
    result = {"bench": "whisper-transcription-speed", "device": a.device, "env": env_info(a.device)}
    audio = load_audio(a.audio, a.max_seconds)
    ref = json.load(open(a.ref))
    result["audio"] = {"path": os.path.basename(a.audio), "duration_s": round(len(audio) / 16000, 3),
                       "reference_words": len(_simple_norm(ref["reference"])), "voices": ref.get("voices")}
    if os.path.exists(os.path.join(HERE, "bundle_info.json")):
        result["bundle"] = json.load(open(os.path.join(HERE, "bundle_info.json")))
    if a.assemble_log and os.path.exists(a.assemble_log):
        result["assemble_log_tail"] = open(a.assemble_log).read()[-3000:]
    result["settings"] = {"runs": a.runs, "warmup_runs": 1, "language": "en", "decoding": "greedy, temperature 0",
                          "word_timestamps": True, "condition_on_previous_text": False,
                          "openai_whisper": "fp32" if (a.fp32 or a.device != "cuda") else "fp16",
                          "faster_whisper_compute_type": "float32" if (a.fp32 or a.device != "cuda") else "float16",
                          "timing": "wall clock around transcribe (incl. mel, VAD, word alignment), cuda synchronize"}
    runs = []
    backends = a.backends.split(",")
    fw_env = None
    if "faster" in backends:
        probe = {"plain": probe_ct2(a, a.models[0], None)}
        if not probe["plain"]["ok"] and a.device == "cuda":
            d, lib = make_cublas12_compat(os.path.join(HERE, "cu12compat"))
            probe["cublas12_compat"] = {"dir": d, "target": lib}
            if d:
                env = {"LD_LIBRARY_PATH": d + (":" + os.environ["LD_LIBRARY_PATH"]
                                               if os.environ.get("LD_LIBRARY_PATH") else "")}
                probe["with_compat"] = probe_ct2(a, a.models[0], env)
                if probe["with_compat"]["ok"]:
                    fw_env = env
                    probe["used"] = "cublas12->13 symlink compat"
        result["ct2_probe"] = probe
        ct2_ok = probe["plain"]["ok"] or fw_env is not None
    for model in a.models:
        if "openai" in backends:
            runs.append(run_worker("openai", model, a, timeout=a.worker_timeout))
        if "faster" in backends:
            if ct2_ok:
                runs.append(run_worker("faster", model, a, fw_env, timeout=a.worker_timeout))
            else:
                runs.append({"backend": "faster-whisper", "model": model,
                             "skipped": "CTranslate2 probe failed on this device (see ct2_probe)"})
        result["runs"] = runs
        write(result, a.out)  # partial results survive a later timeout
    # compact table
    table = []
    ow_text = {r.get("model"): c.get("transcript") for r in runs if r.get("backend") == "openai-whisper"
               for c in (r.get("configs") or {}).values() if c.get("transcript")}
    for r in runs:
        if r.get("skipped") or r.get("error"):
            table.append({"model": r.get("model"), "backend": r.get("backend"),
                          "error": (r.get("skipped") or r.get("error"))[:200]})
        for name, c in (r.get("configs") or {}).items():
            table.append({"model": r.get("model"), "config": name, "min_s": c.get("min_s"),
                          "median_s": c.get("median_s"), "rtf_min": c.get("rtf_min"),
                          "rtf_median": c.get("rtf_median"), "wer_simple": c.get("wer_simple"),
                          "wer_whisper_norm": c.get("wer_whisper_norm"),
                          "peak_mb": c.get("torch_max_memory_allocated_mb", c.get("device_used_delta_peak_mb")),
                          "same_text_as_openai": (c.get("transcript") == ow_text.get(r.get("model")))
                          if c.get("transcript") else None,
                          "error": (c.get("error") or c.get("skipped") or "")[:200] or None})
    result["summary"] = table
    result["total_wall_s"] = round(time.time() - T0, 1)
    write(result, a.out)
    return result


def write(result, path):
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path + ".tmp", "w") as f:
            json.dump(result, f, indent=1)
        os.replace(path + ".tmp", path)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cuda")
    p.add_argument("--models", default="tiny.en,base")
    p.add_argument("--model")
    p.add_argument("--models-dir", default=os.path.join(HERE, "models"))
    p.add_argument("--audio", default=os.path.join(HERE, "consultation16k.npy"))
    p.add_argument("--ref", default=os.path.join(HERE, "consultation_ref.json"))
    p.add_argument("--out", default=None)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--max-seconds", type=float, default=None)
    p.add_argument("--backends", default="openai,faster")
    p.add_argument("--batch-sizes", default="8,16")
    p.add_argument("--fp32", action="store_true")
    p.add_argument("--with-nowords", action="store_true")
    p.add_argument("--force-cpu-dtw", action="store_true")
    p.add_argument("--deadline-s", type=float, default=420, help="whole run; later workers get what is left")
    p.add_argument("--cpu-threads", type=int, default=0)
    p.add_argument("--budget-s", type=float, default=330, help="skip further timed runs after this (per worker)")
    p.add_argument("--worker-timeout", type=float, default=240)
    p.add_argument("--assemble-log", default=None)
    p.add_argument("--worker")
    p.add_argument("--result")
    a = p.parse_args()
    a.models = a.models.split(",")
    a.batch_sizes = [int(x) for x in a.batch_sizes.split(",") if x]
    if a.worker:
        try:
            res = worker_openai(a) if a.worker == "openai" else worker_faster(a)
        except Exception as e:  # noqa: BLE001
            res = {"backend": a.worker, "model": a.model, "error": f"{type(e).__name__}: {e}",
                   "traceback": traceback.format_exc()[-4000:]}
        if a.device == "cuda":
            try:
                import torch

                res["torch_max_memory_allocated_mb_process"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
            except Exception:  # noqa: BLE001
                pass
        with open(a.result, "w") as f:
            json.dump(res, f)
        return
    res = orchestrate(a)
    print(json.dumps(res, indent=1))
    print("=== SUMMARY (audio %.1f s, %s) ===" % (res["audio"]["duration_s"], res["env"].get("gpu", a.device)))
    for row in res["summary"]:
        print(json.dumps(row))
    if res.get("ct2_probe"):
        print("ct2_probe:", json.dumps({k: (v.get("ok") if isinstance(v, dict) and "ok" in v else v)
                                         for k, v in res["ct2_probe"].items()}))


if __name__ == "__main__":
    main()
