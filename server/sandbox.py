"""Running untrusted-media code (probe, decode, derivatives) in a child process with limits.

The child is a fresh interpreter (`python -m annotators.sandbox_child`), not a fork of the worker: a worker holds
models and threads, and an address-space limit below what it already maps could not apply to a fork. Limits:
RLIMIT_AS (memory), RLIMIT_CPU (soft below hard, so the child gets SIGXCPU first), a wall-clock timeout (a blocked
or sleeping decoder uses no CPU), and RLIMIT_CORE 0. Whatever the child does — crash, hang, allocate 10 GB — the
caller gets a SandboxError with a message a person can act on, and the process that called keeps serving.
"""
from __future__ import annotations

import json
import logging
import os
import resource
import signal
import subprocess
import sys

from annotators.sandbox_child import MARK

log = logging.getLogger("clinlabel.sandbox")


class SandboxError(Exception):
    """The sandboxed call failed; the message names the problem (never file contents or paths)."""


def _limits(memory_mb: int, cpu_s: int):
    def apply() -> None:
        memory = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 5))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        os.setsid()  # its own process group: a timeout kills the child and anything it started
    return apply


def _child_env() -> dict:
    env = dict(os.environ)
    paths = [p for p in sys.path if p and os.path.isdir(p)]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys([*env.get("PYTHONPATH", "").split(os.pathsep), *paths]))
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = "1"  # thread pools reserve address space per thread: stay inside RLIMIT_AS
    return env


def run(target: str, args: list, memory_mb: int = 2048, cpu_s: int = 300, wall_s: int = 600):
    """Call `target` ("module:function") with JSON `args` in a limited child; return its JSON result."""
    request = json.dumps({"call": target, "args": args})
    try:
        proc = subprocess.Popen([sys.executable, "-m", "annotators.sandbox_child"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_child_env(),
                                preexec_fn=_limits(memory_mb, cpu_s), close_fds=True)
    except OSError as exc:
        raise SandboxError(f"could not start the media sandbox ({type(exc).__name__})") from None
    try:
        out, err = proc.communicate(request.encode(), timeout=wall_s)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
        raise SandboxError(f"decoding took longer than {wall_s} s and was stopped") from None
    line = next((ln for ln in reversed(out.decode("utf-8", "replace").splitlines()) if ln.startswith(MARK)), None)
    if line is not None:
        reply = json.loads(line[len(MARK):])
        if "ok" in reply:
            return reply["ok"]
        if reply.get("kind") == "ValueError":  # the probe's own, person-readable reasons
            raise SandboxError(reply["error"].removeprefix("ValueError: "))
        raise SandboxError(reply["error"])
    if proc.returncode < 0:
        sig = -proc.returncode
        if sig in (signal.SIGXCPU, signal.SIGKILL):
            raise SandboxError(f"decoding used more than {cpu_s} s of CPU and was stopped")
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        raise SandboxError(f"the decoder crashed on this file ({name})")
    log.warning("sandbox child exited %s without a reply (%d bytes of stderr)", proc.returncode, len(err))
    raise SandboxError(f"the decoder failed on this file (exit status {proc.returncode})")


def probe(path: str, config: dict | None = None) -> dict:
    config = config or {}
    return run("annotators.probe:probe", [path], memory_mb=int(config.get("SANDBOX_MEMORY_MB", 1024)),
               cpu_s=int(config.get("SANDBOX_PROBE_CPU_S", 60)), wall_s=int(config.get("SANDBOX_PROBE_WALL_S", 120)))
