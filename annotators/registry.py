"""The registry of modalities: name -> Modality, built-ins first, then third-party entry points
(group ``clinlabel.annotators``; each names a zero-argument callable or a Modality instance)."""
from __future__ import annotations

import importlib.metadata
import logging
import threading

ENTRY_POINT_GROUP = "clinlabel.annotators"


class UnknownModality(LookupError):
    pass


class Registry:
    """Name → Modality. Built-ins are registered by `register_builtins`; the rest come from entry points."""

    def __init__(self) -> None:
        self._modalities: dict[str, "Modality"] = {}
        self.failed: dict[str, str] = {}  # entry point name -> why it could not be loaded
        self._lock = threading.Lock()
        self._loaded = False

    def register(self, modality) -> "Modality":
        if not modality.name:
            raise ValueError("a modality needs a name")
        self._modalities[modality.name] = modality
        return modality

    def unregister(self, name: str) -> None:
        self._modalities.pop(name, None)

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            from annotators import register_builtins

            register_builtins(self)
            for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
                try:
                    obj = ep.load()
                    modality = obj() if callable(obj) and not isinstance(obj, _modality_class()) else obj
                    if not isinstance(modality, _modality_class()):
                        raise TypeError(f"{ep.value} is not a Modality")
                    self.register(modality)
                except Exception as exc:  # noqa: BLE001 - one broken plugin must not take the others down
                    self.failed[ep.name] = f"{type(exc).__name__}: {str(exc)[:200]}"
                    logging.getLogger("clinlabel.annotators").warning(
                        "modality entry point %r skipped: %s", ep.name, self.failed[ep.name])
            self._loaded = True

    def get(self, name: str) -> "Modality":
        self._ensure_loaded()
        try:
            return self._modalities[name]
        except KeyError:
            available = ", ".join(sorted(self._modalities)) or "none"
            raise UnknownModality(f"unknown modality {name!r}; available: {available}") from None

    def names(self) -> list[str]:
        self._ensure_loaded()
        return sorted(self._modalities)

    def all(self) -> list["Modality"]:
        self._ensure_loaded()
        return [self._modalities[n] for n in sorted(self._modalities)]


registry = Registry()


def _modality_class():
    from annotators.base import Modality  # base imports this module: resolved at call time

    return Modality
