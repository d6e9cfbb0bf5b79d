"""Permission matrix: role × route × method → expected status. A route without an entry fails the test."""
import base64
import io
import os
import re

import pytest

from support import HERE, PASSWORD, Api, create_user, form_login

ROLES = ("anon", "outsider", "annotator", "reviewer", "manager", "padmin", "site")
OK = "2xx"


def row(anon, outsider, annotator, reviewer, manager, padmin, site):
    return dict(zip(ROLES, (anon, outsider, annotator, reviewer, manager, padmin, site)))


MEMBER_READ = row(401, 404, 200, 200, 200, 200, 200)
STAFF_ONLY = row(401, 404, 403, 403, OK, OK, OK)
SITE_ONLY = row(401, 403, 403, 403, 403, 403, OK)
ANY_USER = row(401, 200, 200, 200, 200, 200, 200)
PUBLIC = row(OK, OK, OK, OK, OK, OK, OK)

API = {
    ("/api/v1/tokens", "POST"): PUBLIC,
    ("/api/v1/session", "POST"): row(OK, 409, 409, 409, 409, 409, OK),  # the site admin logs in: others 409
    ("/api/v1/projects/<int:project_id>/import-roots", "GET"): STAFF_ONLY,
    ("/api/v1/uploads", "OPTIONS"): PUBLIC,
    ("/api/v1/uploads", "POST"): row(401, 404, 403, 403, 201, 201, 201),
    ("/api/v1/uploads/<string:upload_id>", "HEAD"): row(401, 404, 404, 404, 404, 404, 404),  # private to uploader
    ("/api/v1/uploads/<string:upload_id>", "PATCH"): row(401, 404, 404, 404, 404, 404, 404),
    ("/api/v1/uploads/<string:upload_id>", "DELETE"): row(401, 404, 404, 404, 404, 404, 404),
    ("/api/v1/tokens/current", "DELETE"): row(401, 204, 204, 204, 204, 204, 204),
    ("/api/v1/me", "GET"): ANY_USER,
    # The matrix sends a wrong current password: every user gets as far as the password check.
    ("/api/v1/me/password", "POST"): row(401, 403, 403, 403, 403, 403, 403),
    ("/api/v1/me/2fa", "GET"): ANY_USER,
    ("/api/v1/me/2fa", "POST"): row(401, 403, 403, 403, 403, 403, 403),
    ("/api/v1/me/2fa/confirm", "POST"): row(401, 409, 409, 409, 409, 409, 409),  # nothing to confirm yet
    ("/api/v1/me/2fa", "DELETE"): row(401, 403, 403, 403, 403, 403, 403),
    ("/api/v1/settings/security", "GET"): SITE_ONLY,
    ("/api/v1/settings/security", "PATCH"): SITE_ONLY,
    ("/api/v1/users/<int:user_id>/unlock", "POST"): SITE_ONLY,
    ("/api/v1/users/<int:user_id>/reset-2fa", "POST"): SITE_ONLY,
    ("/api/v1/health", "GET"): PUBLIC,
    ("/api/v1/users", "POST"): SITE_ONLY,
    ("/api/v1/users", "GET"): SITE_ONLY,
    ("/api/v1/users/<int:user_id>", "PATCH"): SITE_ONLY,
    ("/api/v1/modalities", "GET"): ANY_USER,
    ("/api/v1/projects", "POST"): SITE_ONLY,
    ("/api/v1/projects", "GET"): ANY_USER,
    ("/api/v1/projects/<int:project_id>", "GET"): MEMBER_READ,
    ("/api/v1/projects/<int:project_id>", "PATCH"): STAFF_ONLY,
    ("/api/v1/projects/<int:project_id>", "DELETE"): row(401, 404, 403, 403, 403, 204, 204),
    ("/api/v1/projects/<int:project_id>/members", "GET"): MEMBER_READ,
    ("/api/v1/projects/<int:project_id>/members", "POST"): row(401, 404, 403, 403, 403, OK, OK),
    ("/api/v1/projects/<int:project_id>/members", "DELETE"): row(401, 404, 403, 403, 403, 204, 204),
    ("/api/v1/projects/<int:project_id>/items", "POST"): STAFF_ONLY,
    ("/api/v1/projects/<int:project_id>/items/preview", "POST"): STAFF_ONLY,
    ("/api/v1/projects/<int:project_id>/items", "GET"): MEMBER_READ,
    ("/api/v1/items/<int:item_id>", "GET"): MEMBER_READ,
    ("/api/v1/items/<int:item_id>", "DELETE"): row(401, 404, 403, 403, 204, 204, 204),
    ("/api/v1/items/<int:item_id>/media", "GET"): row(401, 404, 404, 404, 404, 404, 404),  # text item: no media
    ("/api/v1/items/<int:item_id>/annotations", "GET"): MEMBER_READ,
    ("/api/v1/items/<int:item_id>/annotations", "POST"): row(401, 404, 201, 201, 201, 201, 201),
    ("/api/v1/annotations/<int:annotation_id>", "PUT"): row(401, 404, 404, 403, 403, 403, 200),
    # The matrix's annotation is a draft, not frozen: its author (site) is told to use PUT.
    ("/api/v1/annotations/<int:annotation_id>/revisions", "POST"): row(401, 404, 404, 403, 403, 403, 409),
    ("/api/v1/projects/<int:project_id>/next", "POST"): row(401, 404, OK, OK, OK, OK, OK),
    ("/api/v1/items/<int:item_id>/skip", "POST"): row(401, 404, 409, 409, 409, 409, 409),
    ("/api/v1/projects/<int:project_id>/jobs", "POST"): STAFF_ONLY,
    ("/api/v1/projects/<int:project_id>/jobs", "GET"): MEMBER_READ,
    ("/api/v1/jobs/<int:job_id>", "GET"): MEMBER_READ,
    ("/api/v1/jobs/<int:job_id>/cancel", "POST"): row(401, 404, 403, 403, 409, 409, 409),
    ("/api/v1/projects/<int:project_id>/exports", "POST"): STAFF_ONLY,
    ("/api/v1/exports/<int:job_id>/file", "GET"): row(401, 404, 403, 403, 200, 200, 200),
    ("/api/v1/audit", "GET"): SITE_ONLY,
    ("/api/v1/audit/verify", "GET"): SITE_ONLY,
    ("/api/v1/audit/checkpoints", "GET"): SITE_ONLY,
    ("/api/v1/openapi.json", "GET"): PUBLIC,
    ("/api/v1/ontologies", "GET"): ANY_USER,
    ("/api/v1/ontologies/search", "GET"): ANY_USER,
    ("/api/v1/ontologies/<string:terminology>/concepts/<path:code>", "GET"): ANY_USER,
    ("/api/v1/ontologies/imports", "POST"): row(401, 403, 403, 403, 403, 403, 202),
    ("/api/v1/ontology-jobs/<int:job_id>", "GET"): row(401, 403, 403, 403, 403, 403, 404),  # an export job id
    ("/api/v1/items/<int:item_id>/review", "GET"): row(401, 404, 403, 200, 200, 200, 200),
    ("/api/v1/items/<int:item_id>/decision", "POST"): row(401, 404, 403, 409, 409, 409, 409),  # not in review
    ("/api/v1/items/<int:item_id>/draft", "GET"): row(401, 404, OK, OK, OK, OK, OK),
    ("/api/v1/items/<int:item_id>/draft", "PUT"): row(401, 404, 200, 200, 200, 200, 200),
    ("/api/v1/items/<int:item_id>/draft", "DELETE"): row(401, 404, 204, 204, 204, 204, 204),
    ("/api/v1/items/<int:item_id>/curation", "GET"): row(401, 404, 403, 200, 200, 200, 200),
    ("/api/v1/items/<int:item_id>/curation/preview", "POST"): row(401, 404, 403, 409, 409, 409, 409),  # no versions
    ("/api/v1/items/<int:item_id>/gold", "PUT"): STAFF_ONLY,
    ("/api/v1/projects/<int:project_id>/review-queue", "GET"): row(401, 404, 403, 200, 200, 200, 200),
    ("/api/v1/projects/<int:project_id>/comments", "GET"): MEMBER_READ,
    ("/api/v1/items/<int:item_id>/comments", "POST"): row(401, 404, 201, 201, 201, 201, 201),
    ("/api/v1/projects/<int:project_id>/agreement", "GET"): row(401, 404, 403, 200, 200, 200, 200),
    ("/api/v1/projects/<int:project_id>/agreement/chart.svg", "GET"): row(401, 404, 403, 200, 200, 200, 200),
    ("/api/v1/projects/<int:project_id>/annotators", "GET"): row(401, 404, 403, 403, 200, 200, 200),
    ("/api/v1/projects/<int:project_id>/annotators/<int:user_id>", "GET"): row(401, 404, 403, 403, 200, 200, 200),
    ("/api/v1/projects/<int:project_id>/progress", "GET"): row(401, 404, 403, 403, 200, 200, 200),
}
WEB = {
    ("/login", "GET"): PUBLIC,
    ("/login", "POST"): row(400, 400, 400, 400, 400, 400, 400),  # no CSRF token in the form
    ("/logout", "POST"): row(400, 400, 400, 400, 400, 400, 400),  # CSRF protected, checked first
    ("/login/code", "GET"): row(302, 302, 302, 302, 302, 302, 302),  # no password step pending: back to /login
    ("/login/code", "POST"): row(400, 400, 400, 400, 400, 400, 400),
    ("/account", "GET"): row(302, 200, 200, 200, 200, 200, 200),
    ("/", "GET"): row(302, 200, 200, 200, 200, 200, 200),
    ("/projects/new", "GET"): row(302, 403, 403, 403, 403, 403, 200),
    ("/projects/<int:project_id>", "GET"): row(302, 404, 200, 200, 200, 200, 200),
    ("/projects/<int:project_id>/annotate", "GET"): row(302, 404, 200, 200, 200, 200, 200),
    ("/audit", "GET"): row(302, 403, 403, 403, 403, 403, 200),
    ("/projects/<int:project_id>/review", "GET"): row(302, 404, 403, 200, 200, 200, 200),
    ("/projects/<int:project_id>/dashboard", "GET"): row(302, 404, 403, 200, 200, 200, 200),
    ("/projects/<int:project_id>/annotators/<int:user_id>", "GET"): row(302, 404, 403, 403, 200, 200, 200),
    ("/projects/<int:project_id>/settings", "GET"): row(302, 404, 403, 403, 200, 200, 200),
    ("/ontologies", "GET"): row(302, 200, 200, 200, 200, 200, 200),
}
MATRIX = {**API, **WEB}


def routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        methods = rule.methods - {"HEAD", "OPTIONS"}
        if not methods:  # a HEAD- or OPTIONS-only route (tus): that method is the route
            methods = (rule.methods - {"OPTIONS"}) or {"OPTIONS"}
        for method in sorted(methods):
            yield rule.rule, method


def test_every_route_has_a_matrix_entry(sqlite_app):
    missing = [r for r in routes(sqlite_app) if r not in MATRIX]
    assert not missing, f"routes without a permission-matrix entry: {missing}"
    stale = [k for k in MATRIX if k not in set(routes(sqlite_app))]
    assert not stale, f"matrix entries for routes that no longer exist: {stale}"


class World:
    """A project with one member per role, an outsider in another project, and objects to act on."""

    def __init__(self, app):
        self.app, self.client = app, app.test_client()
        create_user(app, "site", is_admin=True)
        self.site = self.login("site")
        _, self.project = self.site.post("/projects", {"name": "P", "modality": "labels"})
        _, other = self.site.post("/projects", {"name": "Other", "modality": "labels"})
        self.pid = self.project["id"]
        self.members = {}
        for role, db_role in (("annotator", "annotator"), ("reviewer", "reviewer"), ("manager", "manager"),
                              ("padmin", "admin")):
            create_user(app, role)
            self.site.post(f"/projects/{self.pid}/members", {"username": role, "role": db_role})
        create_user(app, "outsider")
        self.site.post(f"/projects/{other['id']}/members", {"username": "outsider", "role": "admin"})
        self.counter = 0
        with app.app_context():
            from server.ontology_service import store

            store().import_files("tabular", [os.path.join(HERE, "data", "ontologies", "sample.csv")], name="sample",
                                 version="1")
            self.concept_code = store().index("sample").codes[0]

    def login(self, name):
        resp = self.client.post("/api/v1/tokens", json={"username": name, "password": PASSWORD})
        return Api(self.client, resp.get_json()["token"])

    def item(self):
        self.counter += 1
        _, body = self.site.post(f"/projects/{self.pid}/items", [{"text": f"text {self.counter}"}])
        return body["created"][0]["id"]

    def done_job(self, kind="export"):
        if kind == "export":
            _, job = self.site.post(f"/projects/{self.pid}/exports", {"format": "jsonl"})
        else:
            _, job = self.site.post(f"/projects/{self.pid}/jobs", {"kind": "preannotate"})
        return job["id"]

    def request_for(self, rule, method):
        """(path, json body) for a call on `rule`; fresh objects for destructive calls."""
        if "<int:project_id>" in rule and method == "DELETE" and rule.endswith("<int:project_id>"):
            _, p = self.site.post("/projects", {"name": "Doomed", "modality": "labels"})
            for role, db_role in (("annotator", "annotator"), ("reviewer", "reviewer"), ("manager", "manager"),
                                  ("padmin", "admin")):
                self.site.post(f"/projects/{p['id']}/members", {"username": role, "role": db_role})
            return rule.replace("<int:project_id>", str(p["id"])), None
        ids = {"project_id": self.pid, "item_id": self.item(), "user_id": 1}
        if "annotation_id" in rule:
            _, ann = self.site.post(f"/items/{ids['item_id']}/annotations",
                                    {"payload": {"labels": ["urgent"]}, "status": "draft"})
            ids["annotation_id"] = ann["id"]
        if "job_id" in rule:
            ids["job_id"] = self.done_job()
        path = re.sub(r"<int:(\w+)>", lambda m: str(ids[m.group(1)]), rule)
        path = path.replace("<string:terminology>", "sample").replace("<path:code>", self.concept_code)
        if rule.endswith("/ontologies/search"):
            path += "?q=pain"
        bodies = {
            ("/api/v1/tokens", "POST"): None,
            ("/api/v1/session", "POST"): {"username": "site", "password": PASSWORD},
            ("/api/v1/me/password", "POST"): {"current_password": "wrong-password", "new_password": "x" * 12},
            ("/api/v1/me/2fa", "POST"): {"password": "wrong-password"},
            ("/api/v1/me/2fa/confirm", "POST"): {"code": "000000"},
            ("/api/v1/me/2fa", "DELETE"): {"password": "wrong-password", "code": "000000"},
            ("/api/v1/settings/security", "PATCH"): {"require_2fa": []},
            ("/api/v1/users", "POST"): {"username": f"new{self.counter}", "password": "plover-lantern-93"},
            ("/api/v1/users/<int:user_id>", "PATCH"): {"is_active": True},
            ("/api/v1/projects", "POST"): {"name": "N", "modality": "labels"},
            ("/api/v1/projects/<int:project_id>", "PATCH"): {"description": "d"},
            ("/api/v1/projects/<int:project_id>/members", "POST"): {"username": "annotator", "role": "annotator"},
            ("/api/v1/projects/<int:project_id>/items", "POST"): [{"text": "new"}],
            ("/api/v1/projects/<int:project_id>/items/preview", "POST"): [{"text": "new"}],
            ("/api/v1/items/<int:item_id>/annotations", "POST"): {"payload": {"labels": ["admin"]}},
            ("/api/v1/annotations/<int:annotation_id>", "PUT"): {"payload": {"labels": ["admin"]}, "version": 1},
            ("/api/v1/annotations/<int:annotation_id>/revisions", "POST"): {"payload": {"labels": ["admin"]}},
            ("/api/v1/items/<int:item_id>/skip", "POST"): {"reason": "unclear"},
            ("/api/v1/projects/<int:project_id>/jobs", "POST"): {"kind": "preannotate"},
            ("/api/v1/projects/<int:project_id>/exports", "POST"): {"format": "jsonl"},
            ("/api/v1/items/<int:item_id>/decision", "POST"): {"action": "merge"},
            ("/api/v1/items/<int:item_id>/comments", "POST"): {"text": "question"},
            ("/api/v1/items/<int:item_id>/draft", "PUT"): {"payload": {"labels": ["admin"]}, "revision": 0},
            ("/api/v1/items/<int:item_id>/curation/preview", "POST"): {"choices": {}},
            ("/api/v1/items/<int:item_id>/gold", "PUT"): {"payload": {"labels": ["admin"]}, "comment": "typo fixed"},
        }
        if (rule, method) == ("/api/v1/projects/<int:project_id>/members", "DELETE"):
            self.counter += 1
            name = f"temp{self.counter}"
            create_user(self.app, name)
            self.site.post(f"/projects/{self.pid}/members", {"username": name, "role": "annotator"})
            return path, {"username": name}
        return path, bodies.get((rule, method))

    def caller(self, role):
        if role == "anon":
            return None
        if role == "site":
            return self.login("site")
        return self.login(role)


def matches(expected, status):
    return 200 <= status < 300 if expected == OK else status == expected


@pytest.mark.parametrize("key", sorted(API), ids=lambda k: f"{k[1]} {k[0]}")
def test_api_permission_matrix(sqlite_app, key):
    world = World(sqlite_app)
    rule, method = key
    failures = []
    for role in ROLES:
        path, body = world.request_for(rule, method)
        if rule == "/api/v1/tokens":
            body = {"username": "site" if role in ("anon", "site") else ("padmin" if role == "padmin" else role),
                    "password": PASSWORD}
            if role == "outsider":
                body["username"] = "outsider"
        api = world.caller(role)
        headers = {"Authorization": f"Bearer {api.token}"} if api else {}
        if rule.startswith("/api/v1/uploads"):  # tus: the protocol's headers, so permissions are what is tested
            path = path.replace("<string:upload_id>", "0" * 32)
            project = base64.b64encode(str(world.pid).encode()).decode()
            headers.update({"Tus-Resumable": "1.0.0", "Upload-Length": "10", "Upload-Metadata": f"project {project}",
                            "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
            body = None
        if rule == "/api/v1/ontologies/imports":
            with open(os.path.join(HERE, "data", "ontologies", "sample.csv"), "rb") as fh:
                form = {"format": "tabular", "name": "uploaded", "files": [(io.BytesIO(fh.read()), "sample.csv")]}
            resp = world.client.post(path, data=form, headers=headers, content_type="multipart/form-data")
        else:
            resp = world.client.open(path, method=method, json=body, headers=headers)
        if rule == "/api/v1/session":
            world.client.delete_cookie("session")  # the session login must not leak into the next role's calls
        if not matches(API[key][role], resp.status_code):
            failures.append(f"{role}: expected {API[key][role]}, got {resp.status_code} {resp.get_data(as_text=True)[:120]}")
    assert not failures, failures


def session_client(app, username):
    client = app.test_client()
    resp = form_login(client, username)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    return client


@pytest.mark.parametrize("key", sorted(WEB), ids=lambda k: f"{k[1]} {k[0]}")
def test_web_permission_matrix(sqlite_app, key):
    world = World(sqlite_app)
    rule, method = key
    failures = []
    for role in ROLES:
        client = sqlite_app.test_client() if role == "anon" else session_client(sqlite_app, role)
        path = rule.replace("<int:project_id>", str(world.pid)).replace("<int:user_id>", "1")
        resp = client.open(path, method=method, data={})
        if not matches(WEB[key][role], resp.status_code):
            failures.append(f"{role}: expected {WEB[key][role]}, got {resp.status_code}")
    assert not failures, failures
