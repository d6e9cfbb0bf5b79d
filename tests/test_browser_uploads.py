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


NCBI_BRAT = os.path.join(os.path.dirname(__file__), "data", "notes", "peers", "inception", "brat", "NCBI-disease")


def _brat_zip(path):
    """INCEpTION's NCBI-disease brat test corpus (its own files, zipped as a team would upload them): the label
    `Disease`, which no notes project has, with a `Category` attribute."""
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        for name in sorted(os.listdir(NCBI_BRAT)):
            archive.write(os.path.join(NCBI_BRAT, name), f"NCBI-disease/{name}")
    return path


def test_import_with_unknown_labels_previews_and_maps_them(browser, live, tmp_path):
    token = live.token()
    pid = api(live, token, "POST", "/projects", {"name": "NCBI disease migration", "modality": "notes"})["id"]
    archive = _brat_zip(tmp_path / "ncbi-disease-brat.zip")
    context, page = login(browser, live)
    problems = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.goto(f"/projects/{pid}")
    # Cancel first: nothing is imported.
    page.set_input_files("#file-input", str(archive))
    expect(page.locator("#import-preview")).to_be_visible()
    page.click("#import-cancel")
    expect(page.locator("#upload-summary")).to_have_text("Import cancelled.")
    assert api(live, token, "GET", f"/projects/{pid}/items")["items"] == []

    page.set_input_files("#file-input", str(archive))
    expect(page.locator("#import-preview-summary")).to_contain_text("5 item(s) with 5 imported annotation set(s)")
    rows = page.locator("#unknown-labels tbody tr")
    expect(rows).to_have_count(1)
    expect(page.locator("#unknown-labels tr[data-name=Disease] td").nth(1)).to_have_text("79")
    # Nothing chosen yet: unknown labels would be dropped (shown struck through in the preview).
    first = page.locator("#import-preview-items .preview-item").first
    expect(first.locator(".preview-span.dropped").first).to_be_visible()
    page.select_option("#unknown-labels select[data-name=Disease]", "PROBLEM")
    expect(first.locator(".preview-span.dropped")).to_have_count(0)
    expect(first.locator(".preview-label").first).to_have_text("PROBLEM")
    page.screenshot(path=str(tmp_path / "import-preview.png"), full_page=True)
    page.check("#remember-plan")
    page.click("#import-commit")
    summary = page.locator("#upload-summary")
    expect(summary).to_contain_text("5 item(s) created, 0 failed.")
    expect(summary).to_contain_text("mapped Disease→PROBLEM (79)")
    context.close()
    assert problems == []
    standing = api(live, token, "GET", f"/projects/{pid}")["workflow"]["import_label_plan"]
    assert standing["labels"] == {"Disease": "PROBLEM"}
    items = api(live, token, "GET", f"/projects/{pid}/items")["items"]
    spans = []
    for item in items:
        for annotation in api(live, token, "GET", f"/items/{item['id']}/annotations")["items"]:
            spans += annotation["payload"]["spans"]
    assert len(spans) == 79 and {s["label"] for s in spans} == {"PROBLEM"}
    assert {s["attributes"]["Category"] for s in spans} >= {"SpecificDisease", "Modifier"}
