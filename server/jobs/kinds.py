"""Job kinds: a registry server code and modalities' `tasks.py` add to, and the exceptions handlers raise.

A leaf module (it imports nothing from server/), so any module can declare a kind without an import cycle:

    @job_kind("derive", queue="cpu")
    def derive(ctx): ...

`queue` is a queue name or a callable `(project) -> queue name` (e.g. "gpu" when the modality's model wants one).
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


KINDS: dict[str, JobKind] = {}


def job_kind(name: str, queue: str | Callable[[Any], str] = "cpu", user_startable: bool = False):
    """Register the decorated function as the handler of jobs of kind `name`."""
    def register(handler: Callable) -> Callable:
        KINDS[name] = JobKind(name, handler, queue, user_startable)
        return handler
    return register


def get(name: str) -> JobKind | None:
    return KINDS.get(name)


def user_startable() -> list[str]:
    return sorted(k.name for k in KINDS.values() if k.user_startable)


def queue_for(name: str, project: Any) -> str:
    kind = KINDS.get(name)
    if kind is None or project is None:
        return "cpu"
    return kind.queue(project) if callable(kind.queue) else kind.queue
