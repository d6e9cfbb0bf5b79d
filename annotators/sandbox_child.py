"""Entry point of the sandboxed child process (`python -m annotators.sandbox_child`).

Reads one JSON request from stdin — {"call": "module:function", "args": [...]} — calls the function and writes
{"ok": result} or {"error": message} as the last line of stdout. The parent (server/sandbox.py) set the memory and
CPU limits before exec and holds the wall-clock timeout; a crash of the decoder ends this process, not the worker.
Only plain JSON crosses the boundary.
"""
from __future__ import annotations

import importlib
import json
import sys

MARK = "@@clinlabel-sandbox@@"


def _resolve(target: str):
    module_name, _, qualname = target.partition(":")
    obj = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def call_derivative(target: str, view: dict, out_dir: str, *options):
    """Run a modality's Derivative.make (or an Exporter.prepare) on an ItemView rebuilt from JSON (the worker's view
    of the item); `options`: the JSON third argument, when the caller has one."""
    from annotators.base import ItemView
    from annotators.media import MediaInfo

    item = ItemView(id=view["id"], kind=view["kind"], text=view.get("text"), meta=view.get("meta") or {},
                    media_path=view.get("media_path"), media=MediaInfo.from_dict(view.get("media")),
                    assets=view.get("assets") or {})
    return _resolve(target)(item, out_dir, *options)


def main() -> int:
    request = json.loads(sys.stdin.read())
    try:
        result = _resolve(request["call"])(*request.get("args", []))
        out, code = {"ok": result}, 0
    except MemoryError:
        out, code = {"error": "decoding needed more memory than the sandbox allows", "kind": "memory"}, 1
    except Exception as exc:  # noqa: BLE001 - every failure is reported to the parent as a message
        out, code = {"error": f"{type(exc).__name__}: {str(exc)[:300]}", "kind": type(exc).__name__}, 1
    sys.stdout.write("\n" + MARK + json.dumps(out) + "\n")
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
