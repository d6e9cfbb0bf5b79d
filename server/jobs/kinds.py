"""Job kinds: a registry server code and modalities' `tasks.py` add to, and the exceptions handlers raise.

A leaf module (it imports nothing from server/), so any module can declare a kind without an import cycle:

    @job_kind("derive", queue="cpu")
    def derive(ctx): ...

`queue` is a queue name or a callable `(project) -> queue name`. `wants_gpu` is a callable `(project) -> bool`:
such a job goes to queue "gpu" only while a live worker consumes it, else it runs on "cpu" and says so (a GPU job
must never wait for a worker that does not exist).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


class JobCancelled(Exception):
    pass


class JobFailed(Exception):
    """A handler's expected failure; its message is shown to users, so it must not quote PHI."""


@dataclass(frozen=True)
class JobKind:
    name: str
    handler: Callable[[Any], dict | None]
    queue: str | Callable[[Any], str] = "cpu"
    user_startable: bool = False
    wants_gpu: Callable[[Any], bool] | None = None
    # What a user may pass in `params` when starting this kind: name -> (type, longest string or list).
    params: dict[str, tuple[type, int]] | None = None


KINDS: dict[str, JobKind] = {}


def job_kind(name: str, queue: str | Callable[[Any], str] = "cpu", user_startable: bool = False,
             wants_gpu: Callable[[Any], bool] | None = None, params: dict[str, tuple[type, int]] | None = None):
    """Register the decorated function as the handler of jobs of kind `name`."""
    def register(handler: Callable) -> Callable:
        KINDS[name] = JobKind(name, handler, queue, user_startable, wants_gpu, params)
        return handler
    return register


def get(name: str) -> JobKind | None:
    return KINDS.get(name)


def check_params(name: str, params: dict) -> str | None:
    """Why `params` cannot start a job of kind `name` (unknown name, wrong type, too long), or None."""
    allowed = (KINDS[name].params if name in KINDS else None) or {}
    for key, value in params.items():
        if key not in allowed:
            names = ", ".join(sorted(allowed)) or "none"
            return f"params.{str(key)[:40]} is not a parameter of {name} jobs (allowed: {names})"
        kind, longest = allowed[key]
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            return f"params.{key} must be a {kind.__name__}"
        if isinstance(value, (str, list)) and len(value) > longest:
            return f"params.{key} is longer than {longest}"
    return None


def user_startable() -> list[str]:
    return sorted(k.name for k in KINDS.values() if k.user_startable)


def queue_for(name: str, project: Any, gpu_worker_live: Callable[[], bool] = lambda: False) -> tuple[str, str | None]:
    """(queue, note): the note says why a job that wanted a GPU runs on the CPU."""
    kind = KINDS.get(name)
    if kind is None or project is None:
        return "cpu", None
    if kind.wants_gpu is not None and kind.wants_gpu(project):
        if gpu_worker_live():
            return "gpu", None
        return "cpu", "wanted a GPU; no live worker consumes queue gpu, so it runs on the CPU"
    return (kind.queue(project) if callable(kind.queue) else kind.queue), None
