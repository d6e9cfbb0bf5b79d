"""Resumable uploads in Chromium: the project page sends large files with tus (tus-js-client from the npm registry,
served from static/vendor), shows per-file progress, survives a dropped connection, and resumes after a reload
from the bytes the server already has."""
from __future__ import annotations

import math
import os

import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect  # noqa: E402

from live import ADMIN_PASSWORD, CHROMIUM, LiveServer, api  # noqa: E402
from test_browser_notes import login_as  # noqa: E402

pytestmark = pytest.mark.browser
WAIT_MS = 30_000
expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="module")
def live(tmp_path_factory, shipped_ontology_dir):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    # small thresholds so a note of a few hundred kilobytes goes through tus in several chunks
    root = tmp_path_factory.mktemp("nas")
    (root / "clinic").mkdir()
    for i in range(3):
        (root / "clinic" / f"letter-{i}.txt").write_text(f"Letter {i}: follow-up for asthma in {i + 2} weeks.")
    env = {"CLINLABEL_TUS_THRESHOLD_MB": "0.2", "CLINLABEL_TUS_CHUNK_MB": "0.1", "CLINLABEL_IMPORT_ROOTS": f"nas={root}"}
    with LiveServer(str(tmp_path_factory.mktemp("uploads-live")), extra_env=env) as server:
        yield server


def login(browser, live):
    context, page = login_as(browser, live, "admin", ADMIN_PASSWORD)
    context.set_default_timeout(WAIT_MS)  # chunked uploads with retries take longer than a click
    return context, page


def a_long_note(tmp_path, name):
    text = "".join(f"Day {i}: patient denies chest pain; tolerating diet; ambulating in hallway.\n" for i in range(8000))
    path = tmp_path / name
    path.write_text(text)
    return path, text


def test_a_dropped_connection_is_retried_and_the_upload_completes(browser, live, tmp_path):
    token = live.token()
    pid = api(live, token, "POST", "/projects", {"name": "tus", "modality": "notes"})["id"]
    path, text = a_long_note(tmp_path, "discharge.txt")
    assert 200_000 < len(text) < 1_000_000
    context, page = login(browser, live)
    problems = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    patches = {"n": 0}

    def flaky(route):
        if route.request.method == "PATCH":
            patches["n"] += 1
            if patches["n"] in (3, 4):  # the network drops twice in the middle of the upload
                route.abort("connectionreset")
                return
        route.continue_()

    page.route("**/api/v1/uploads/*", flaky)
    page.goto(f"/projects/{pid}")
    page.set_input_files("#file-input", str(path))
    row = page.locator("#tus-uploads li.tus-file[data-name='discharge.txt']")
    expect(row).to_be_visible()
    expect(page.locator("#upload-summary")).to_have_text("1 item(s) created, 0 failed.")
    expect(row.locator(".tus-state")).to_have_text("100%")
    assert patches["n"] >= 8  # 8 chunks of 100 kB, two of them sent twice
    page.screenshot(path=str(tmp_path / "tus-upload.png"), full_page=True)
    context.close()
    assert not problems, problems
    items = api(live, token, "GET", f"/projects/{pid}/items")["items"]
    assert [i["name"] for i in items] == ["discharge.txt"]
    assert api(live, token, "GET", f"/items/{items[0]['id']}")["text"] == text


def test_an_upload_resumes_after_a_reload_from_what_the_server_has(browser, live, tmp_path):
    token = live.token()
    pid = api(live, token, "POST", "/projects", {"name": "tus resume", "modality": "notes"})["id"]
    path, text = a_long_note(tmp_path, "resume.txt")
    context, page = login(browser, live)
    sent = {"before": 0}

    def cut_after_three(route):
        if route.request.method == "PATCH":
            sent["before"] += 1
            if sent["before"] > 3:
                route.abort("connectionreset")  # the laptop lid closes
                return
        route.continue_()

    page.route("**/api/v1/uploads/*", cut_after_three)
    page.goto(f"/projects/{pid}")
    page.set_input_files("#file-input", str(path))
    chunk, size = 0.1 * 1024 * 1024, len(text.encode())
    expect(page.locator("#tus-uploads .tus-state")).to_have_text(f"{round(100 * 3 * chunk / size)}%")  # 3 chunks in
    page.reload()  # the page (and its retries) go away first; the network comes back after
    page.unroute("**/api/v1/uploads/*")
    after = []
    page.on("request", lambda r: after.append(r.method) if "/api/v1/uploads/" in r.url else None)
    page.set_input_files("#file-input", str(path))
    expect(page.locator("#upload-summary")).to_have_text("1 item(s) created, 0 failed.")
    context.close()
    remaining = math.ceil((size - 3 * chunk) / chunk)
    total = math.ceil(size / chunk)
    assert "HEAD" in after and 1 <= after.count("PATCH") <= remaining < total  # resumed, not sent again from 0
    items = api(live, token, "GET", f"/projects/{pid}/items")["items"]
    assert api(live, token, "GET", f"/items/{items[0]['id']}")["text"] == text


def test_a_manager_imports_a_server_folder_from_the_project_page(browser, live, tmp_path):
    token = live.token()
    pid = api(live, token, "POST", "/projects", {"name": "from the NAS", "modality": "notes"})["id"]
    context, page = login(browser, live)
    page.goto(f"/projects/{pid}")
    expect(page.locator("#server-import")).to_be_visible()
    page.fill("#import-glob", "clinic/*.txt")
    page.click("#start-import")
    row = page.locator("#jobs tbody tr").first
    expect(row.locator(".import-summary")).to_have_text(" · 3 imported, 0 already there, 0 failed")
    page.click("#start-import")  # again: nothing is imported twice
    expect(page.locator("#jobs tbody tr").first.locator(".import-summary")).to_have_text(
        " · 0 imported, 3 already there, 0 failed")
    context.close()
    names = sorted(i["name"] for i in api(live, token, "GET", f"/projects/{pid}/items")["items"])
    assert names == ["letter-0.txt", "letter-1.txt", "letter-2.txt"]
