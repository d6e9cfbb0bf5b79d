"""Structure the modality contract relies on: server/ has no import cycle (function-level imports included, so
none hides one), and job kinds are registered where they are defined."""
from __future__ import annotations

import ast
import os

from support import ROOT


def _server_modules() -> dict[str, str]:
    mods = {}
    for dirpath, _dirs, files in os.walk(os.path.join(ROOT, "server")):
        if "migrations" in dirpath:
            continue
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                module = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                mods[module.removesuffix(".__init__")] = path
    return mods


def _imports(module: str, path: str, modules: dict[str, str]) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "server":
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                out.add(candidate if candidate in modules else node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "server")
    return {m for m in out if m in modules and m != module}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_server_import_graph_has_no_cycle():
    modules = _server_modules()
    graph = {m: _imports(m, p, modules) for m, p in modules.items()}
    assert len(graph) > 30
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_job_kinds_register_where_they_live(sqlite_app):
    from server.jobs import kinds

    assert {"preannotate", "fit", "export", "agreement", "route", "ontology_load"} <= set(kinds.KINDS)
    assert kinds.user_startable() == ["agreement", "fit", "preannotate"]
    assert kinds.get("route").handler.__module__ == "server.review"
    assert kinds.get("agreement").handler.__module__ == "server.analytics"


def test_a_new_job_kind_runs_without_editing_server_code(admin, make_member):
    from server.jobs import kinds

    @kinds.job_kind("count_items", user_startable=True)
    def count_items(ctx):
        return {"seen": ctx.job.params.get("items", [])}

    try:
        status, project = admin.post("/projects", {"name": "kinds", "modality": "labels"})
        status, job = admin.post(f"/projects/{project['id']}/jobs", {"kind": "count_items"})
        assert status == 202 and job["queue"] == "cpu"
        _, job = admin.get(f"/jobs/{job['id']}")
        assert job["status"] == "succeeded" and job["result"] == {"seen": []}
    finally:
        kinds.KINDS.pop("count_items")
    status, body = admin.post(f"/projects/{project['id']}/jobs", {"kind": "count_items"})
    assert status == 400 and "agreement, fit, preannotate" in body["error"]["message"]
