"""Real browser tests: Debian's Chromium driven by Playwright against a live server (gunicorn + Celery worker).

One live server for the module; every test gets a fresh browser context. Setup that is not the behaviour under test
(creating a project, adding items, waiting for a model) goes through the API; the behaviour itself is clicked through.
"""
from __future__ import annotations

import json
import re

import pytest

playwright_sync = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect  # noqa: E402

from live import ADMIN_PASSWORD, api, upload_on_project_page, wait_job  # noqa: E402

pytestmark = pytest.mark.browser

WAIT_MS = 20_000  # upper bound for a job on a 2-core machine; expect() returns as soon as the condition holds

expect.set_options(timeout=WAIT_MS)

XSS_PROJECT = "<img src=x onerror=alert(1)>"
XSS_TEXT = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'


# --------------------------------------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def admin_state(browser, live):
    """A logged-in session (cookies), made once through the login form and reused by each test's fresh context."""
    context = browser.new_context(base_url=live.url)
    page = context.new_page()
    login(page)
    state = context.storage_state()
    context.close()
    return state


class Watcher:
    """Collects what must never happen on a page: uncaught JS errors, CSP violations, alert/confirm dialogs."""

    def __init__(self, page):
        self.problems: list[str] = []
        page.on("pageerror", lambda exc: self.problems.append(f"uncaught JS error: {exc}"))
        page.on("console", self._console)
        page.on("dialog", self._dialog)

    def _console(self, msg):
        if msg.type == "error" and "Content Security Policy" in msg.text:
            self.problems.append(f"CSP violation: {msg.text}")

    def _dialog(self, dialog):
        self.problems.append(f"unexpected {dialog.type} dialog: {dialog.message!r}")
        dialog.dismiss()


def _new_page(browser, live, storage_state=None):
    context = browser.new_context(base_url=live.url, storage_state=storage_state, viewport={"width": 1280, "height": 900},
                                  accept_downloads=True)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    return context, page, Watcher(page)


@pytest.fixture
def anon_page(browser, live):
    context, page, watcher = _new_page(browser, live)
    yield page
    context.close()
    assert not watcher.problems, watcher.problems


@pytest.fixture
def page(browser, live, admin_state):
    log_start = len(live.read_log())
    context, page, watcher = _new_page(browser, live, admin_state)
    page.watcher = watcher
    yield page
    context.close()
    assert not watcher.problems, watcher.problems
    server_log = live.read_log()[log_start:]
    assert "Traceback" not in server_log, server_log[-4000:]  # web server or worker failed behind the page


# ---------------------------------------------------------------------------------------------------------- helpers

def login(page, username="admin", password=ADMIN_PASSWORD):
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-form button[type=submit]")
    expect(page.locator(".who")).to_have_text(username)


def shot(page, tmp_path, name):
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_until_true(page, expression, timeout_ms=30_000):
    """Poll a page expression until it is truthy. page.wait_for_function re-evaluates its string with eval(), which
    the app's CSP (script-src 'self') forbids, so it fails whenever the first check is false; page.evaluate runs
    through the debugger protocol, which CSP does not cover."""
    waited = 0
    while not page.evaluate(expression):
        assert waited < timeout_ms, f"still false after {timeout_ms} ms: {expression}"
        page.wait_for_timeout(100)
        waited += 100


def make_project(live, token, name, label_config=None, **workflow):
    body = {"name": name, "modality": "labels", "workflow": workflow}
    if label_config is not None:
        body["label_config"] = label_config
    return api(live, token, "POST", "/projects", body)


def add_items(live, token, project_id, records):
    return api(live, token, "POST", f"/projects/{project_id}/items", records)["created"]


# ------------------------------------------------------------------------------------------------------------ tests

def test_login_wrong_password_then_login_and_logout(anon_page, live, tmp_path):
    page = anon_page
    page.goto("/")
    expect(page).to_have_url(f"{live.url}/login")  # pages need a session

    page.fill("#username", "admin")
    page.fill("#password", "not-the-password")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#login-error")).to_have_text("invalid username or password")
    expect(page.locator(".who")).to_have_count(0)
    shot(page, tmp_path, "login-error")

    page.fill("#username", "admin")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page).to_have_url(f"{live.url}/")
    expect(page.locator(".who")).to_have_text("admin")
    expect(page.locator("h1")).to_have_text("Projects")

    page.click("#logout")
    expect(page).to_have_url(f"{live.url}/login")
    expect(page.locator(".who")).to_have_count(0)
    page.goto("/")  # the session is gone
    expect(page).to_have_url(f"{live.url}/login")


def test_create_labels_project_through_the_modality_form(page, live, token, tmp_path):
    page.goto("/")
    page.click("#new-project")
    expect(page).to_have_url(f"{live.url}/projects/new")
    page.fill("#project-name", "Ward triage")
    page.select_option("#modality", "notes")  # the notes form: labels in rows, not a page-long schema dump
    expect(page.locator("#entity-labels-table tr.editor-row")).to_have_count(9)
    assert page.locator("#config-form").bounding_box()["height"] < 1500
    page.select_option("#modality", "labels")
    form = page.locator("#config-form")
    rows = form.locator("#labels-table tr.editor-row")
    expect(rows).to_have_count(3)  # the modality's default labels
    rows.nth(0).locator("input.col-name").fill("emergency")
    form.locator("#labels-add").click()
    expect(rows).to_have_count(4)
    rows.nth(3).locator("input.col-name").fill("clinical question")
    rows.nth(3).locator("input.col-hotkey").fill("q")
    form.locator("#cfg-instructions").fill("Label the reason for the message.")
    shot(page, tmp_path, "project-new")
    page.click("#create-project")

    page.wait_for_url(re.compile(r".*/projects/\d+$"))
    expect(page.locator("#project-title")).to_have_text("Ward triage")
    expect(page.locator("#items")).to_contain_text("No items yet.")
    project_id = int(page.locator("#project").get_attribute("data-project-id"))
    assert page.url == f"{live.url}/projects/{project_id}"
    shot(page, tmp_path, "project-page")

    saved = api(live, token, "GET", f"/projects/{project_id}")
    names = [label["name"] for label in saved["label_config"]["labels"]]
    assert names == ["emergency", "routine", "admin", "clinical question"]
    assert saved["label_config"]["labels"][3] == {"name": "clinical question", "hotkey": "q"}
    assert saved["label_config"]["labels"][0]["keywords"][:2] == ["chest pain", "bleeding"]
    assert saved["label_config"]["instructions"] == "Label the reason for the message."
    assert saved["label_config"]["multi_label"] is False


def _drop_files(page, selector, files):
    """Drag-and-drop as the browser delivers it: a `drop` event whose DataTransfer carries File objects."""
    transfer = page.evaluate_handle("""(files) => {
        const dt = new DataTransfer();
        for (const f of files) dt.items.add(new File([f.text], f.name, { type: f.type }));
        return dt;
    }""", files)
    page.dispatch_event(selector, "dragover", {"dataTransfer": transfer})
    expect(page.locator(selector)).to_have_class(re.compile(r"\bover\b"))
    page.dispatch_event(selector, "drop", {"dataTransfer": transfer})


def test_upload_by_file_input_drag_and_drop_and_a_bad_file(page, live, token, tmp_path):
    project = make_project(live, token, "Upload inbox")
    page.goto(f"/projects/{project['id']}")
    expect(page.locator("#items")).to_contain_text("No items yet.")

    jsonl = tmp_path / "messages.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in [
        {"text": "Chest pain since an hour, sweating.", "name": "msg-a"},
        {"text": "Please update my insurance details.", "name": "msg-b"},
    ]) + "\n", encoding="utf-8")
    txt = tmp_path / "note.txt"
    txt.write_text("Stable on current dose, renew the prescription.\n", encoding="utf-8")
    page.set_input_files("#file-input", [str(jsonl), str(txt)])
    expect(page.locator("#upload-summary")).to_have_text("3 item(s) created, 0 failed.")
    shot(page, tmp_path, "upload-summary")
    # the page reloads to show the new items
    for name in ("msg-a", "msg-b", "note.txt"):
        expect(page.locator("#items")).to_contain_text(name)
    expect(page.locator("#items tbody tr")).to_have_count(3)
    expect(page.locator(".stage").first).to_have_text("annotate: 3")

    _drop_files(page, "#dropzone", [{"name": "dropped.txt", "type": "text/plain", "text": "Fax the summary to the GP."}])
    expect(page.locator("#upload-summary")).to_have_text("1 item(s) created, 0 failed.")
    expect(page.locator("#items")).to_contain_text("dropped.txt")
    expect(page.locator("#items tbody tr")).to_have_count(4)

    binary = tmp_path / "scan.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    page.set_input_files("#file-input", str(binary))
    expect(page.locator("#upload-summary")).to_have_text("No item was created: 1 file(s) failed.")
    expect(page.locator("#upload-result .upload-failure")).to_have_text(["scan.txt: binary content, not text"])
    expect(page.locator("#upload-progress")).to_be_hidden()
    shot(page, tmp_path, "upload-bad-file")

    # Enter on the focused drop zone opens the file chooser (the keyboard path; counted here, because Playwright
    # in this Chromium misses about 1 in 6 file choosers opened from a key handler, never from a real click)
    page.evaluate("document.getElementById('file-input').addEventListener('click', () => { window.__chooser = 1; })")
    page.focus("#dropzone")
    page.keyboard.press("Enter")
    expect(page.locator("#dropzone")).to_be_focused()
    assert page.evaluate("window.__chooser") == 1

    # a good and a bad file together, chosen with the "choose files" link: the good one is created, the bad one
    # stays listed with its error until the user reloads
    with page.expect_file_chooser() as chooser:
        page.click("#dropzone label.link")
    chooser.value.set_files([str(binary), str(txt)])
    expect(page.locator("#upload-summary")).to_have_text("1 item(s) created, 1 failed.")
    expect(page.locator("#upload-result .upload-failure")).to_have_text(["scan.txt: binary content, not text"])
    expect(page.locator("#items tbody tr")).to_have_count(4)
    page.click("#reload-items")
    expect(page.locator("#items tbody tr")).to_have_count(5)
    expect(page.locator("#upload-result")).to_be_empty()
    items = api(live, token, "GET", f"/projects/{project['id']}/items")["items"]
    assert sorted(i["name"] for i in items) == ["dropped.txt", "msg-a", "msg-b", "note.txt", "note.txt"]


def test_preannotate_button_runs_a_job_to_100_percent(page, live, token, tmp_path):
    project = make_project(live, token, "Pre-annotation")
    created = add_items(live, token, project["id"], [{"text": "Severe bleeding after extraction."},
                                           {"text": "Annual follow-up, stable."},
                                           {"text": "New mailing address for the patient."}])
    page.goto(f"/projects/{project['id']}")
    page.click("#start-preannotate")
    expect(page.locator("#toast")).to_contain_text("(preannotate) queued")
    row = page.locator("#jobs tbody tr").first
    expect(row).to_contain_text("preannotate")
    expect(row).to_have_attribute("data-status", "succeeded")  # the page polls /jobs until the job ends
    expect(row.locator("td").nth(2)).to_have_text("succeeded")
    expect(row.locator("progress")).to_have_js_property("value", 100)
    expect(row).to_contain_text("100%")
    shot(page, tmp_path, "job-succeeded")
    suggested = {}
    for item in created:
        for a in api(live, token, "GET", f"/items/{item['id']}/annotations")["items"]:
            assert a["source"] == "model"
            suggested[item["id"]] = a["payload"]["labels"]
    assert list(suggested.values()) == [["urgent"], ["routine"], ["admin"]]


def test_annotate_with_model_suggestion_hotkey_and_ctrl_enter(page, live, token, tmp_path):
    config = {"labels": [{"name": "urgent", "keywords": ["chest pain"]}, {"name": "routine", "hotkey": "2"},
                         {"name": "admin", "hotkey": "a"}],
              "instructions": "Pick the one label that fits best.\nAsk the lead when unsure."}
    project = make_project(live, token, "Annotate me", config)
    created = add_items(live, token, project["id"], [
        {"text": "Chest pain radiating to the left arm.", "name": "first"},
        {"text": "Nothing that any keyword would match here.", "name": "second"},
    ])
    job = api(live, token, "POST", f"/projects/{project['id']}/jobs", {"kind": "preannotate"})
    wait_job(live, token, job["id"])

    saves = []  # every annotation write the page makes
    page.on("request", lambda r: saves.append((r.method, r.url)) if "/annotations" in r.url and r.method != "GET"
            else None)
    page.goto(f"/projects/{project['id']}")
    page.click("#annotate-link")
    expect(page.locator("#annotator-status")).to_have_text(f"Item #{created[0]['id']} · first")
    expect(page.locator("#instructions")).to_have_text(config["instructions"])
    expect(page.locator("button.label")).to_have_text(["1 · urgent", "2 · routine", "a · admin"])
    expect(page.locator("#item-text")).to_have_text("Chest pain radiating to the left arm.")
    expect(page.locator("#model-hint")).to_be_visible()
    expect(page.locator("button.label.selected")).to_have_count(1)
    expect(page.locator("button.label.selected")).to_have_attribute("data-label", "urgent")
    shot(page, tmp_path, "annotate-suggestion")

    page.keyboard.press("2")  # hotkey of "routine"; one label per item, so "urgent" is deselected
    expect(page.locator("button.label.selected")).to_have_count(1)
    expect(page.locator("button.label.selected")).to_have_attribute("data-label", "routine")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#toast")).to_have_text("Saved")

    # the next item has no suggestion: nothing preselected, no hint
    expect(page.locator("#annotator-status")).to_have_text(f"Item #{created[1]['id']} · second")
    expect(page.locator("#item-text")).to_have_text("Nothing that any keyword would match here.")
    expect(page.locator("#model-hint")).to_have_count(0)
    expect(page.locator("button.label.selected")).to_have_count(0)
    assert "null" not in page.locator("#item-view").inner_text()  # no stray text where the hint would be
    page.keyboard.press("Control+Enter")  # no label chosen yet: refused with a message
    expect(page.locator("#toast")).to_have_text("Choose a label first.")
    page.keyboard.press("a")  # a letter hotkey from the label config
    expect(page.locator("button.label.selected")).to_have_attribute("data-label", "admin")
    page.locator('button.label[data-label="routine"]').click()  # clicking works as well as keys
    page.locator('button.label[data-label="admin"]').click()
    expect(page.locator("button.label.selected")).to_have_attribute("data-label", "admin")
    page.keyboard.press("Control+Enter")

    expect(page.locator("#annotator-status")).to_have_text("Nothing left for you in this queue. Thank you!")
    expect(page.locator("#item-view")).to_be_hidden()
    expect(page.locator("#submit")).to_be_disabled()
    expect(page.locator("#skip")).to_be_disabled()
    page.keyboard.press("Control+Enter")  # nothing to submit any more: no request, no error
    page.evaluate("() => new Promise((r) => setTimeout(r, 300))")  # let a (wrong) request start if there were one
    expect(page.locator("#toast.error")).to_have_count(0)
    assert [m for m, _ in saves] == ["POST", "POST"], saves
    shot(page, tmp_path, "annotate-done")

    mine = {}
    for item in created:
        for a in api(live, token, "GET", f"/items/{item['id']}/annotations")["items"]:
            if a["source"] == "human":
                mine[item["name"]] = (a["payload"], a["author"])
    assert mine == {"first": ({"labels": ["routine"]}, "admin"), "second": ({"labels": ["admin"]}, "admin")}


def test_export_shows_a_download_link(page, live, token, tmp_path):
    project = make_project(live, token, "Export me")
    created = add_items(live, token, project["id"], [{"text": "Fax the records.", "name": "one"}])
    api(live, token, "POST", f"/items/{created[0]['id']}/annotations", {"payload": {"labels": ["admin"]}})

    page.goto(f"/projects/{project['id']}")
    page.select_option("#export-format", "jsonl")
    page.click("#start-export")
    expect(page.locator("#toast")).to_contain_text("queued")
    link = page.locator("#jobs a.download")
    expect(link).to_have_text("Download")
    expect(page.locator("#jobs tbody tr").first).to_have_attribute("data-status", "succeeded")
    shot(page, tmp_path, "export-download")
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename.startswith(f"project-{project['id']}-")
    lines = [json.loads(line) for line in open(download.path(), encoding="utf-8") if line.strip()]
    assert len(lines) == 1 and "Fax the records." in json.dumps(lines[0]) and "admin" in json.dumps(lines[0])


def test_audit_page_lists_logins_and_verifies_the_chain(page, live, tmp_path):
    page.goto("/")
    page.locator(".topbar nav").get_by_role("link", name="Audit").click()
    page.wait_for_url(f"{live.url}/audit")  # waits for `load`: the page's module has wired the buttons
    table = page.locator("#audit-events")
    login_rows = table.locator("tbody tr", has=page.locator("td:nth-child(4)", has_text=re.compile(r"^login$")))
    expect(login_rows.first).to_be_visible()
    expect(table.locator("tbody tr.outcome-success", has_text="login").first).to_be_visible()
    assert login_rows.count() >= 2  # the module's form login and the API token login at least
    page.click("#verify-chain")
    expect(page.locator("#verify-result")).to_have_text(re.compile(r"^Chain intact: \d+ events verified\.$"))
    expect(page.locator("#verify-result")).to_have_class("ok")
    shot(page, tmp_path, "audit")


def test_stored_xss_is_shown_as_text(page, live, token, tmp_path):
    # label names are restricted by the label-config schema: the API refuses markup characters
    status, body = live.request("POST", "/api/v1/projects", {
        "name": "bad labels", "modality": "labels",
        "label_config": {"labels": [{"name": "<script>alert(1)</script>"}]}}, token)
    assert status == 400, body
    assert "labels" in body["error"]["message"]

    # the same through the form: the API's message is shown, nothing is created
    page.goto("/projects/new")
    page.select_option("#modality", "labels")
    page.fill("#project-name", XSS_PROJECT)
    page.locator('#config-form #labels-table input.col-name').first.fill("<script>alert(1)</script>")
    page.click("#create-project")
    expect(page.locator("#form-error")).to_be_visible()
    expect(page.locator("#form-error")).to_contain_text("label_config invalid")
    assert page.url.endswith("/projects/new")

    # a hostile project name and description are fine (they are only ever text)
    page.locator('#config-form #labels-table input.col-name').first.fill("urgent")
    page.fill("textarea[name=description]", XSS_TEXT)
    page.click("#create-project")
    page.wait_for_url(re.compile(r".*/projects/\d+$"))
    expect(page.locator("#project-title")).to_have_text(XSS_PROJECT)
    expect(page.locator("main p.muted").first).to_contain_text(XSS_TEXT)
    assert page.locator("main img, main script").count() == 0
    assert page.title().startswith(XSS_PROJECT)
    project_id = int(page.locator("#project").get_attribute("data-project-id"))

    # an item whose text and file name are markup, uploaded through the page
    page.set_input_files("#file-input", [
        {"name": "x.jsonl", "mimeType": "application/json",
         "buffer": (json.dumps({"text": XSS_TEXT, "name": XSS_PROJECT}) + "\n").encode()},
        {"name": "<img src=y onerror=alert(3)>.txt", "mimeType": "text/plain", "buffer": b"\x00\x01binary"},
    ])
    expect(page.locator("#upload-summary")).to_have_text("1 item(s) created, 1 failed.")
    expect(page.locator("#upload-result .upload-failure")).to_have_text(
        ["<img src=y onerror=alert(3)>.txt: binary content, not text"])
    assert page.locator("#upload-result img").count() == 0
    page.click("#reload-items")
    expect(page.locator("#items")).to_contain_text(XSS_PROJECT)
    assert page.locator("#items img").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"
    shot(page, tmp_path, "xss-project")

    page.goto("/")
    expect(page.locator("#project-list")).to_contain_text(XSS_PROJECT)
    assert page.locator("#project-list img").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"

    page.goto(f"/projects/{project_id}/annotate")
    expect(page.locator("#item-text")).to_have_text(XSS_TEXT)
    expect(page.locator("#annotator-status")).to_contain_text(XSS_PROJECT)
    assert page.locator("#item-view img, #item-view script, #annotator-status img").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"
    shot(page, tmp_path, "xss-annotate")
    page.keyboard.press("1")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#annotator-status")).to_have_text("Nothing left for you in this queue. Thank you!")

    page.goto("/audit")
    expect(page.locator("#audit-events")).to_be_visible()
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert not page.watcher.problems, page.watcher.problems


def test_two_factor_enrolment_and_login_in_two_steps(anon_page, browser, live, token, tmp_path, admin_state):
    import time

    import pyotp

    api(live, token, "POST", "/users", {"username": "cardiologist", "password": "plover-lantern-93"})
    page = anon_page
    login(page, "cardiologist", "plover-lantern-93")
    page.click("#account-link")
    expect(page.locator("#tfa-status")).to_contain_text("Off.")
    page.fill("#tfa-begin-form input[name=password]", "plover-lantern-93")
    page.click("#tfa-begin-form button[type=submit]")
    expect(page.locator("#tfa-enrol")).to_be_visible()
    wait_until_true(page, "document.querySelector('#tfa-qr').naturalWidth > 100")  # the QR code rendered
    secret = page.locator("#tfa-secret").inner_text()
    shot(page, tmp_path, "2fa-enrol")
    totp = pyotp.TOTP(secret)
    page.fill("#tfa-confirm-form input[name=code]", totp.now())
    page.click("#tfa-confirm-form button[type=submit]")
    expect(page.locator("#tfa-code-list li")).to_have_count(10)
    expect(page.locator("#tfa-status")).to_contain_text("On. 10 recovery codes left.")
    shot(page, tmp_path, "2fa-recovery-codes")

    page.click("#logout")
    page.fill("#username", "cardiologist")
    page.fill("#password", "plover-lantern-93")
    page.click("#login-form button[type=submit]")
    expect(page).to_have_url(f"{live.url}/login/code")
    page.fill("#code", "123456")
    page.click("#code-form button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("wrong or was already used")
    page.fill("#code", totp.at(time.time() + 30))
    page.click("#code-form button[type=submit]")
    expect(page.locator(".who")).to_have_text("cardiologist")
    expect(page.locator("h1")).to_have_text("Projects")

    context, admin_page, watcher = _new_page(browser, live, admin_state)
    admin_page.goto("/account")
    box = admin_page.locator("#require-roles input[value=reviewer]")
    box.check()
    admin_page.click("#require-form button[type=submit]")
    expect(admin_page.locator("#toast")).to_have_text("Saved.")
    assert api(live, token, "GET", "/settings/security")["require_2fa"] == ["reviewer"]
    shot(admin_page, tmp_path, "site-security")
    api(live, token, "PATCH", "/settings/security", {"require_2fa": []})
    context.close()
    assert not watcher.problems, watcher.problems


def test_consult_transcript_edit_of_a_boundary_a_word_and_a_speaker_survives_a_reload(page, live, token, tmp_path):
    from annotators.consult.demo import DEMO_TURNS, synthesize

    project = api(live, token, "POST", "/projects", {"name": "Consult UI", "modality": "consult"})
    wav = tmp_path / "visit.wav"
    synthesize(DEMO_TURNS[:3], str(wav))
    vtt = tmp_path / "visit.vtt"
    vtt.write_text("WEBVTT\n\n1\n00:00:00.000 --> 00:00:02.600\n<v S1>Good morning. What brings you in today?\n\n"
                   "2\n00:00:03.600 --> 00:00:06.700\n<v S2>I have had a cough for three days.\n", encoding="utf-8")
    page.goto(f"/projects/{project['id']}")
    upload_on_project_page(page, [str(wav), str(vtt)])
    item_id = api(live, token, "GET", f"/projects/{project['id']}/items")["items"][0]["id"]
    for _ in range(100):  # the derive job (probe, peaks, PCM) runs on the live worker
        if api(live, token, "GET", f"/items/{item_id}")["status"] == "ready":
            break
        page.wait_for_timeout(200)
    page.goto(f"/projects/{project['id']}/annotate?item={item_id}")
    segments = page.locator(".consult-segment")
    expect(segments).to_have_count(2)  # the sidecar transcript arrives as the starting point
    expect(page.locator(".consult-audio")).to_have_attribute("src", re.compile(r"/api/v1/items/\d+/media"))
    wait_until_true(page, "document.querySelector('.consult-audio').readyState >= 1")  # the audio loads (Range)
    expect(page.locator("[data-waveform=ready]")).to_have_count(1)  # drawn from the server's peaks asset
    regions = page.locator(".consult-waveform [part~=region]")
    expect(regions).to_have_count(2)
    expect(page.locator(".consult-waveform canvas").first).to_be_visible()
    handle = page.locator(".consult-waveform [part~=region-handle-right]").first
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 25, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()  # dragging the first region's end moves its boundary, to 10 ms
    expect(segments.nth(0).locator(".seg-end")).not_to_have_value("2.60")
    dragged_end = float(segments.nth(0).locator(".seg-end").input_value())
    assert 2.6 < dragged_end < 3.6 and round(dragged_end * 100) == dragged_end * 100
    second = segments.nth(1)
    second.locator(".seg-start").fill("3.45")  # a boundary, to 10 ms
    second.locator(".seg-start").dispatch_event("change")
    second.locator(".seg-text").fill("I have had a cough and a fever for three days.")  # a word
    segments.nth(0).locator(".seg-speaker").select_option("S2")
    segments.nth(0).locator(".seg-speaker").select_option("S1")
    second.locator(".seg-speaker").select_option("S1")  # a speaker
    second.locator(".seg-type").select_option("history_taking")
    second.locator(".seg-attr[data-attr=emotion]").select_option("worried")  # a segment attribute
    speaker_one = page.locator(".consult-speaker[data-speaker=S1]")
    speaker_one.locator(".speaker-role").select_option("clinician")  # who S1 is, for `fit`'s known voices
    speaker_one.locator(".speaker-name").fill("Dr Okafor")
    speaker_one.locator(".speaker-name").dispatch_event("change")
    shot(page, tmp_path, "consult-edit")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#toast")).to_have_text("Saved")
    page.goto(f"/projects/{project['id']}/annotate?item={item_id}")
    second = page.locator(".consult-segment").nth(1)
    expect(second.locator(".seg-start")).to_have_value("3.45")
    expect(second.locator(".seg-text")).to_have_value("I have had a cough and a fever for three days.")
    expect(second.locator(".seg-speaker")).to_have_value("S1")
    expect(second.locator(".seg-type")).to_have_value("history_taking")
    expect(page.locator(".consult-speaker[data-speaker=S1] .speaker-name")).to_have_value("Dr Okafor")
    expect(page.locator(".consult-speaker[data-speaker=S1] .speaker-role")).to_have_value("clinician")
    mine = [a for a in api(live, token, "GET", f"/items/{item_id}/annotations")["items"] if a["source"] == "human"]
    seg = mine[0]["payload"]["segments"][1]
    assert (seg["start_ms"], seg["speaker"], seg["type"], seg["attrs"]) == (3450, "S1", "history_taking",
                                                                            {"emotion": "worried"})
    expect(second.locator(".seg-attr[data-attr=emotion]")).to_have_value("worried")
    assert mine[0]["payload"]["segments"][0]["end_ms"] == round(dragged_end * 1000)
    page.locator(".consult-segment .seg-play").first.click()  # playing from a segment highlights it
    wait_until_true(page, "!document.querySelector('.consult-audio').paused || "
                          "document.querySelector('.consult-audio').currentTime > 0")
    expect(page.locator(".consult-segment.current")).to_have_count(1)


def test_a_large_upload_is_imported_by_a_job_and_the_page_says_so(page, live, token, tmp_path):
    project = make_project(live, token, "Big inbox")
    big = tmp_path / "big.jsonl"
    big.write_text("".join(json.dumps({"text": f"please call back about results {i}"}) + "\n" for i in range(10_500)),
                   encoding="utf-8")
    page.goto(f"/projects/{project['id']}")
    page.set_input_files("#file-input", [str(big)])
    expect(page.locator("#upload-summary")).to_contain_text("Large upload: job #")
    job_id = int(re.search(r"job #(\d+)", page.locator("#upload-summary").inner_text()).group(1))
    job = wait_job(live, token, job_id, deadline_s=120)
    assert job["result"]["created"] == 10_500
    assert api(live, token, "GET", f"/projects/{project['id']}/progress")["items"] == 10_500
