"""Never lose a correction, in Chromium: the walkthrough of a new clinical NLP team (two annotators, a reviewer)
reproduced case by case — findable review flow, curation instead of silent tie-breaks, drafts that survive a reload,
undo/redo, the leave-page prompt, a session that ends without losing edits, settings through the UI, and a huge
note that is submitted while another user keeps working."""
from __future__ import annotations

import re
import threading
import time

import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect  # noqa: E402

from live import ADMIN_PASSWORD, api  # noqa: E402
from support import huge_note  # noqa: E402
from test_browser_notes import add_note, drag_select, login_as, span_segment  # noqa: E402

pytestmark = pytest.mark.browser
WAIT_MS = 20_000
PASSWORD = "corrections-password"
TEXT = "Patient denies chest pain. History of asthma and gout. Seen by Dr Lee on 3/4."

expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="module")
def team(live, token):
    for name in ("ann_a", "ann_b", "rev_c", "ann_new"):
        api(live, token, "POST", "/users", {"username": name, "password": PASSWORD})
    return live


def project_with_team(live, token, name, **workflow):
    wf = {"annotators_per_item": 2, "auto_consensus": True, "consensus_threshold": 0.9,
          "adjudication": "below_threshold", "adjudication_threshold": 0.5, **workflow}
    pid = api(live, token, "POST", "/projects", {"name": name, "modality": "notes", "workflow": wf})["id"]
    for user, role in (("ann_a", "annotator"), ("ann_b", "annotator"), ("rev_c", "reviewer")):
        api(live, token, "POST", f"/projects/{pid}/members", {"username": user, "role": role})
    return pid


def submit_as(live, username, pid, spans):
    tok = live.token(username, PASSWORD)
    item = api(live, tok, "POST", f"/projects/{pid}/next")
    api(live, tok, "POST", f"/items/{item['id']}/annotations", {"payload": {"spans": spans, "relations": []}})
    return item["id"]


def span(text, phrase, label, layer="entity", **extra):
    start = text.index(phrase)
    return {"id": f"{label}{start}", "start": start, "end": start + len(phrase), "label": label, "layer": layer,
            **extra}


def shot(page, tmp_path, name):
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)


def watch(page, problems):
    page.on("pageerror", lambda exc: problems.append(f"uncaught JS error: {exc}"))


def test_review_flow_is_findable_and_merge_is_curated_unit_by_unit(browser, team, token, tmp_path):
    live = team
    pid = project_with_team(live, token, "Findable review")
    item_id = add_note(live, token, pid, TEXT)
    both = [span(TEXT, "chest pain", "PROBLEM", assertion="negated"), span(TEXT, "Lee", "NAME", "phi")]
    submit_as(live, "ann_a", pid, both + [span(TEXT, "asthma", "PROBLEM")])  # "Accept all"
    submit_as(live, "ann_b", pid, both + [span(TEXT, "gout", "PROBLEM")])  # corrected
    assert api(live, token, "GET", f"/items/{item_id}")["stage"] == "review"  # a tie is never auto-merged

    context, page = login_as(browser, live, "rev_c", PASSWORD)
    problems: list[str] = []
    watch(page, problems)
    page.goto(f"/projects/{pid}")
    expect(page.locator("#settings-link")).to_have_count(0)  # reviewers do not change settings
    page.click("#review-link")  # the project page leads to the review page, not to the model draft
    expect(page).to_have_url(re.compile(rf"/projects/{pid}/review$"))
    page.locator(f"#review-queue tr[data-item-id='{item_id}'] a").click()
    expect(page.locator("#curation-summary")).to_contain_text("2 tied (must choose)")
    expect(page.locator("#review-layers")).to_contain_text("phi 100%")
    page.click("#curation-save")
    expect(page.locator("#toast")).to_contain_text("tied")  # no silent tie-break toward the first annotator
    for phrase in ("“asthma”", "“gout”"):
        unit = page.locator(".curation-unit", has_text=phrase)
        unit.locator("label", has_text="ann_b").locator("input").check()
    page.click("#curation-preview")
    expect(page.locator("#curation-preview-box")).to_contain_text("gout")
    shot(page, tmp_path, "curation")
    page.fill("#review-comment", "kept the corrected version")
    page.click("#curation-save")
    expect(page.locator("#queue-empty")).to_be_visible()
    context.close()
    assert not problems, problems
    gold = [a for a in api(live, token, "GET", f"/items/{item_id}/annotations")["items"]
            if a["stage"] == "gold" and a["status"] == "accepted"]
    assert sorted(TEXT[s["start"]:s["end"]] for s in gold[0]["payload"]["spans"]) == ["Lee", "chest pain", "gout"]


def test_send_back_comment_draft_autosave_undo_redo_and_leave_prompt(browser, team, token, tmp_path):
    live = team
    pid = project_with_team(live, token, "Work protection", annotators_per_item=1, peer_review=True)
    item_id = add_note(live, token, pid, TEXT)
    submit_as(live, "ann_a", pid, [span(TEXT, "asthma", "PROBLEM")])
    rev = live.token("rev_c", PASSWORD)
    version = api(live, rev, "GET", f"/items/{item_id}/review")["versions"][0]
    api(live, rev, "POST", f"/items/{item_id}/decision", {"action": "send_back", "annotation_id": version["annotation_id"],
                                                          "comment": "gout is a problem too"})

    context, page = login_as(browser, live, "ann_a", PASSWORD)
    problems: list[str] = []
    watch(page, problems)
    page.goto(f"/projects/{pid}/annotate")
    expect(page.locator("#send-back")).to_contain_text("Sent back by rev_c: gout is a problem too")
    page.fill("#comment-text", "gout added, thanks")
    page.click("#post-comment")
    expect(page.locator("#comment-thread")).to_contain_text("gout added, thanks")
    drag_select(page, "gout")
    page.keyboard.press("1")
    expect(span_segment(page, "gout")).to_be_visible()
    expect(page.locator("#save-state")).to_contain_text("Draft saved")
    page.reload()  # a crash or a reload: the edit is still there
    expect(page.locator("#draft-restored")).to_be_visible()
    expect(span_segment(page, "gout")).to_be_visible()
    page.locator("#note-text").focus()
    page.keyboard.press("Control+z")  # history starts at the restored state
    expect(page.locator("#toast")).to_contain_text("Nothing to undo")
    drag_select(page, "chest pain")
    page.keyboard.press("1")
    expect(span_segment(page, "chest pain")).to_be_visible()
    page.keyboard.press("Control+z")
    expect(span_segment(page, "chest pain")).to_have_count(0)
    page.keyboard.press("Control+Shift+z")
    expect(span_segment(page, "chest pain")).to_be_visible()
    # leaving with an edit not yet autosaved asks first
    drag_select(page, "Lee")
    page.keyboard.press("Shift+Digit1")
    with page.expect_event("dialog") as prompt:
        page.close(run_before_unload=True)
    assert prompt.value.type == "beforeunload"
    prompt.value.dismiss()  # "stay on the page"
    expect(span_segment(page, "Lee")).to_be_visible()
    context.close()
    assert not problems, problems
    thread = api(live, rev, "GET", f"/items/{item_id}/review")["comments"]
    assert [c["text"] for c in thread] == ["gout is a problem too", "gout added, thanks"]


def test_session_end_keeps_the_edits_and_a_relogin_saves_them(browser, team, token, tmp_path):
    live = team
    pid = project_with_team(live, token, "Session ends", annotators_per_item=1)
    item_id = add_note(live, token, pid, TEXT)
    context, page = login_as(browser, live, "ann_b", PASSWORD)
    problems: list[str] = []
    watch(page, problems)
    page.goto(f"/projects/{pid}/annotate")
    expect(page.locator("#note-text")).to_contain_text("History of asthma")
    context.clear_cookies()  # the session is gone (idle timeout, server restart): 40 edits must not be
    drag_select(page, "asthma")
    page.keyboard.press("1")
    expect(page.locator("#relogin")).to_be_visible()  # the autosave met a 401: re-login in place
    page.fill("#relogin-password", PASSWORD)
    page.click("#relogin button[type=submit]")
    expect(page.locator("#relogin")).to_have_count(0)
    expect(page.locator("#save-state")).to_contain_text("Draft saved")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#annotator-status")).to_contain_text("Nothing left")
    shot(page, tmp_path, "after-relogin")
    context.close()
    assert not problems, problems
    mine = [a for a in api(live, token, "GET", f"/items/{item_id}/annotations")["items"] if a["source"] == "human"]
    assert [s["label"] for s in mine[0]["payload"]["spans"]] == ["PROBLEM"]


def test_settings_page_changes_the_workflow_and_members(browser, team, token, tmp_path):
    live = team
    pid = project_with_team(live, token, "Settings")
    context, page = login_as(browser, live, "admin", ADMIN_PASSWORD)
    problems: list[str] = []
    watch(page, problems)
    page.goto(f"/projects/{pid}")
    page.click("#settings-link")
    expect(page.locator("#members tr[data-username='ann_a']")).to_contain_text("annotator")
    page.fill("input[name=annotators_per_item]", "3")
    page.check("input[name=peer_review]")
    page.fill("input[name='layer:phi']", "1")
    page.click("#save-workflow")
    expect(page.locator("#toast")).to_contain_text("Workflow saved")
    page.fill("#member-username", "ann_new")
    page.select_option("#member-role", "reviewer")
    page.click("#add-member")
    expect(page.locator("#members tr[data-username='ann_new']")).to_contain_text("reviewer")
    page.once("dialog", lambda d: d.accept())
    page.locator("#members tr[data-username='ann_b'] button.remove-member").click()
    expect(page.locator("#members tr[data-username='ann_b']")).to_have_count(0)
    # the label configuration through its form, not a schema dump
    expect(page.locator("#entity-labels-table tr.editor-row")).to_have_count(9)
    page.click("#entity-labels-add")
    row = page.locator("#entity-labels-table tr.editor-row").last
    row.locator("input.col-name").fill("PROBLEM")  # a duplicate: the server says why
    page.click("#save-label-config")
    expect(page.locator("#toast")).to_contain_text("unique")
    row.locator("input.col-name").fill("SYMPTOM")
    row.locator("input.col-terminologies").fill("hpo")
    page.fill("#cfg-phi-labels", "NAME, DATE, PHONE")
    page.click("#save-label-config")
    expect(page.locator("#toast")).to_contain_text("Labels saved")
    shot(page, tmp_path, "settings")
    context.close()
    assert not problems, problems
    config = api(live, token, "GET", f"/projects/{pid}")["label_config"]
    assert config["entity_labels"][-1] == {"name": "SYMPTOM", "terminologies": ["hpo"], "color": "#888888"}
    assert config["phi_labels"] == ["NAME", "DATE", "PHONE"] and len(config["relation_types"]) == 5
    project = api(live, token, "GET", f"/projects/{pid}")
    assert project["workflow"]["annotators_per_item"] == 3 and project["workflow"]["peer_review"] is True
    assert project["workflow"]["consensus_layer_thresholds"] == {"phi": 1.0}
    members = {m["username"]: m["role"] for m in api(live, token, "GET", f"/projects/{pid}/members")["items"]}
    assert members.get("ann_new") == "reviewer" and "ann_b" not in members


def test_a_million_character_note_submits_while_another_user_works(browser, team, token, tmp_path):
    live = team
    pid = project_with_team(live, token, "Long discharge summary")
    other = project_with_team(live, token, "Everyday notes", annotators_per_item=1)
    add_note(live, token, other, TEXT)
    text, spans = huge_note()
    item_id = add_note(live, token, pid, text, name="discharge summary")
    submit_as(live, "ann_a", pid, spans)
    timings = {}

    def second_submit():
        tok = live.token("ann_b", PASSWORD)
        api(live, tok, "POST", f"/projects/{pid}/next")
        started = time.perf_counter()
        api(live, tok, "POST", f"/items/{item_id}/annotations",
            {"payload": {"spans": spans[:-25], "relations": []}})
        timings["submit_s"] = time.perf_counter() - started

    worker = threading.Thread(target=second_submit)
    worker.start()
    context, page = login_as(browser, live, "ann_a", PASSWORD)  # logging in meanwhile works
    page.goto(f"/projects/{other}/annotate")
    expect(page.locator("#note-text")).to_contain_text("History of asthma")
    drag_select(page, "gout")
    page.keyboard.press("1")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#annotator-status")).to_contain_text("Nothing left")
    context.close()
    worker.join(timeout=120)
    assert "submit_s" in timings
    deadline = time.time() + 120
    while api(live, token, "GET", f"/items/{item_id}")["stage"] == "routing" and time.time() < deadline:
        time.sleep(0.5)
    assert api(live, token, "GET", f"/items/{item_id}")["stage"] == "review"  # 25 spans tied
    jobs = api(live, token, "GET", f"/projects/{pid}/jobs")["items"]
    assert [j["status"] for j in jobs if j["kind"] == "route"] == ["succeeded"]
    print(f"\n1M-character note, {len(spans)} spans: second submit took {timings['submit_s']:.2f} s")


def test_exports_choose_what_to_include_and_annotators_have_a_page(browser, team, token, tmp_path):
    live = team
    pid = project_with_team(live, token, "Exports and people", annotators_per_item=1)
    add_note(live, token, pid, TEXT)
    add_note(live, token, pid, TEXT + " Again.")
    submit_as(live, "ann_a", pid, [span(TEXT, "asthma", "PROBLEM")])
    context, page = login_as(browser, live, "admin", ADMIN_PASSWORD)
    problems: list[str] = []
    watch(page, problems)
    page.goto(f"/projects/{pid}")
    page.select_option("#export-format", "jsonl")
    page.select_option("#export-stage", "gold")
    page.click("#start-export")
    job_row = page.locator("#jobs tbody tr").first
    expect(job_row.locator(".job-kind")).to_have_text("export · jsonl · gold")
    expect(job_row.locator("a.download")).to_be_visible()
    with page.expect_download() as download:
        job_row.locator("a.download").click()
    assert ".." not in download.value.suggested_filename
    lines = open(download.value.path(), encoding="utf-8").read().splitlines()
    assert len(lines) == 1 and '"origin": "human"' in lines[0]  # gold only: the unannotated note stays out
    page.click("#dashboard-link")
    page.locator("#annotators tr[data-user='ann_a'] a.annotator-link").click()
    expect(page.locator("#annotator-title")).to_have_text("Annotator ann_a")
    expect(page.locator("#annotator-stats")).to_contain_text("Items submitted in under a second")
    shot(page, tmp_path, "annotator-page")
    context.close()
    assert not problems, problems


def test_a_million_character_note_with_thousands_of_suggestions_stays_usable(browser, team, token, tmp_path):
    """The 52,099-suggestion note: the model's draft is capped per item (the annotator is told), the note is laid
    out in blocks the browser skips off screen, and deciding suggestions by keyboard works at either end."""
    from server_side import store_model_draft

    live = team
    pid = project_with_team(live, token, "Very long note", annotators_per_item=1)
    line = "Patient denies fever. Seen today with cough.\n"
    text = (line * (1_000_000 // len(line) + 1))[:1_000_000]
    item_id = add_note(live, token, pid, text, name="long")
    starts = [m.start() for m in re.finditer("fever", text)]
    store_model_draft(live, pid, item_id, [{"id": f"m{i}", "start": s, "end": s + 5, "label": "PROBLEM",
                                            "layer": "entity", "score": 0.5} for i, s in enumerate(starts)],
                      note=f"The model proposed {len(starts):,} suggestions; the 5,000 most confident are shown.")
    context, page = login_as(browser, live, "ann_a", PASSWORD)
    problems: list[str] = []
    watch(page, problems)
    page.goto(f"/projects/{pid}/annotate")
    expect(page.locator("#model-note")).to_contain_text("most confident are shown")
    expect(page.locator("#pending-count")).to_have_text(f"{len(starts)}")
    assert page.locator("#note-text .note-chunk").count() > 100
    page.locator("#note-text").focus()
    page.keyboard.press("j")
    page.keyboard.press("a")
    expect(page.locator("#pending-count")).to_have_text(f"{len(starts) - 1}")
    page.keyboard.press("x")
    expect(page.locator("#pending-count")).to_have_text(f"{len(starts) - 2}")
    page.keyboard.press("Control+z")
    expect(page.locator("#pending-count")).to_have_text(f"{len(starts) - 1}")
    page.keyboard.press("End")
    shot(page, tmp_path, "long-note")
    context.close()
    assert not problems, problems
