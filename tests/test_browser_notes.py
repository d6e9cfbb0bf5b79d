"""Browser tests of the clinical notes annotator (static/js/modalities/notes.js) and the concept picker widget.

Debian's Chromium driven by Playwright against a live server (gunicorn + Celery worker), one server for the module.
Setup that is not the behaviour under test (projects, items, model runs, a stored annotation) goes through the API;
the behaviour itself is done with the mouse and the keyboard, and its result is checked through the API.
"""
from __future__ import annotations

import random
import re
import time

import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect  # noqa: E402

from live import ADMIN_PASSWORD, api, wait_job  # noqa: E402

pytestmark = pytest.mark.browser

WAIT_MS = 20_000  # upper bound on a 2-core machine; expect() returns as soon as the condition holds

expect.set_options(timeout=WAIT_MS)

# Emoji (surrogate pairs in JS, one code point each in Python, a ZWJ sequence too) sit before the spans, so an
# offset computed in UTF-16 units would be off by a few characters.
NOTE = ("Pt 👩🏽‍⚕️ Jane Doe, seen today 🙂. History of type 2 diabetes with an ulcer of the left foot.\n"
        "Medications: metformin 500 mg twice daily. Denies chest pain.")


# --------------------------------------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def admin_state(browser, live):
    """Logged in once through the form at /login; each test gets a fresh context with these cookies."""
    context = browser.new_context(base_url=live.url)
    page = context.new_page()
    page.goto("/login")
    page.fill("#username", "admin")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page.locator(".who")).to_have_text("admin")
    state = context.storage_state()
    context.close()
    return state


@pytest.fixture
def page(browser, live, admin_state):
    log_start = len(live.read_log())
    context = browser.new_context(base_url=live.url, storage_state=admin_state, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"uncaught JS error: {exc}"))
    page.on("console", lambda msg: problems.append(f"CSP violation: {msg.text}")
            if msg.type == "error" and "Content Security Policy" in msg.text else None)
    page.on("dialog", lambda dialog: (problems.append(f"unexpected dialog {dialog.message!r}"), dialog.dismiss()))
    yield page
    context.close()
    assert not problems, problems
    server_log = live.read_log()[log_start:]
    assert "Traceback" not in server_log, server_log[-4000:]


# ---------------------------------------------------------------------------------------------------------- helpers

def notes_project(live, token, name):
    modalities = api(live, token, "GET", "/modalities")
    names = [m["name"] for m in (modalities["items"] if isinstance(modalities, dict) else modalities)]
    assert "notes" in names, names
    return api(live, token, "POST", "/projects", {"name": name, "modality": "notes"})


def add_note(live, token, project_id, text, name="note"):
    created = api(live, token, "POST", f"/projects/{project_id}/items", [{"text": text, "name": name}])["created"]
    assert len(created) == 1, created
    return created[0]["id"]


def human_annotation(live, token, item_id):
    """The annotator's latest version (with one annotator per item the server also files a copy as stage `gold`;
    a change after that decision is a new version, a revision for a new review round)."""
    mine = [a for a in api(live, token, "GET", f"/items/{item_id}/annotations")["items"]
            if a["source"] == "human" and a["stage"] == "annotate"]
    assert mine and len({a["author"] for a in mine}) == 1, mine
    return max(mine, key=lambda a: a["id"])


def shot(page, tmp_path, name):
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def offsets(text, sub, nth=0):
    """Code-point offsets (Python string indices), as the payload stores them."""
    start = -1
    for _ in range(nth + 1):
        start = text.index(sub, start + 1)
    return start, start + len(sub)


def drag_select(page, sub, nth=0):
    """Select `sub` in the note the way a person does: press the mouse on its first character, drag to its last.
    Scrolled to first and measured after two frames: a long note lays out its blocks as they come into view."""
    for _ in range(2):
        box = _measure_for_drag(page, sub, nth)
        page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    box = _measure_for_drag(page, sub, nth)
    page.mouse.move(box[0], box[1])
    page.mouse.down()
    page.mouse.move((box[0] + box[2]) / 2, (box[1] + box[3]) / 2, steps=4)
    page.mouse.move(box[2], box[3], steps=4)
    page.mouse.up()
    expect(page.locator("#selection-info")).to_contain_text(sub[:40])


def _measure_for_drag(page, sub, nth):
    return page.evaluate("""([sub, nth]) => {
      const root = document.getElementById('note-text');
      const full = root.textContent;
      let i = -1;
      for (let k = 0; k <= nth; k++) i = full.indexOf(sub, i + 1);
      if (i < 0) throw new Error(`not in the note: ${sub}`);
      const locate = (pos) => {
        const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
        let node; let seen = 0;
        while ((node = walk.nextNode())) {
          if (pos < seen + node.length) return [node, pos - seen];
          seen += node.length;
        }
        throw new Error('offset past the text');
      };
      const rect = (pos) => {
        const [node, off] = locate(pos);
        const r = document.createRange(); r.setStart(node, off); r.setEnd(node, off + 1);
        return r.getBoundingClientRect();
      };
      const scroller = document.getElementById('note-scroll');  // bring the words to the middle of the note view
      scroller.scrollIntoView({ block: 'nearest' });
      const view = scroller.getBoundingClientRect();
      scroller.scrollTop += rect(i).top - view.top - view.height / 2;
      const a = rect(i); const b = rect(i + sub.length - 1);
      return [a.left + 1, a.top + a.height / 2, b.right - 1, b.top + b.height / 2];
    }""", [sub, nth])


def span_segment(page, sub):
    """The first segment of the span whose text is `sub` (a segment carries the ids of the spans covering it)."""
    return page.locator("#note-text .seg.on", has_text=re.compile(rf"^{re.escape(sub)}$")).first


# ------------------------------------------------------------------------------------------------------------ tests

def test_label_link_concept_relation_save_and_reload(page, live, token, tmp_path):
    project = notes_project(live, token, "Diabetes clinic notes")
    item_id = add_note(live, token, project["id"], NOTE)

    page.goto(f"/projects/{project['id']}/annotate")
    text = page.locator("#note-text")
    expect(text).to_have_text(NOTE)
    expect(page.locator("#model-hint")).to_have_count(0)  # nothing from a model on this item
    expect(page.locator("#span-count")).to_have_text("0 spans · 0 relations")

    # entity with a hotkey: PROBLEM is key 1
    drag_select(page, "type 2 diabetes")
    page.keyboard.press("1")
    expect(page.locator("#span-panel .chip")).to_have_text("PROBLEM")
    expect(page.locator("#span-text")).to_have_text("type 2 diabetes")
    expect(page.locator("#note-text .seg.focused")).to_have_text("type 2 diabetes")
    expect(span_segment(page, "type 2 diabetes")).to_have_attribute("data-tags", "PROBLEM")

    # the concept picker: a 400 answer is shown, Esc cancels
    page.keyboard.press("c")
    combo = page.locator("#concept-picker [role=combobox]")
    expect(combo).to_be_focused()
    combo.fill("x" * 501)
    expect(page.locator("#concept-picker .cp-status.error")).to_contain_text("longer than 500 characters")
    page.keyboard.press("Escape")
    expect(page.locator("#concept-picker")).to_have_count(0)
    expect(text).to_be_focused()

    # ... then type, move with the arrows and pick with Enter
    page.click("#concept-search")
    expect(combo).to_be_focused()
    page.keyboard.type("type 2 diabetes")
    expect(page.locator("#concept-picker")).to_have_attribute("data-query", "type 2 diabetes")
    expect(page.locator("#concept-picker")).to_have_attribute("data-state", "idle")
    options = page.locator("#concept-picker [role=option]")
    expect(options.first).to_be_visible()
    expect(combo).to_have_attribute("aria-expanded", "true")
    assert page.locator("#concept-picker [role=listbox] [role=option]").count() == options.count() <= 10
    e119 = page.locator('#concept-picker [role=option][data-code="E11.9"]')
    expect(e119).to_contain_text("Type 2 diabetes mellitus without complications")
    expect(e119.locator(".cp-flag.billable")).to_be_visible()
    expect(e119.locator(".cp-path")).to_contain_text("Diabetes mellitus")
    for _ in range(options.count()):
        active = combo.get_attribute("aria-activedescendant")
        if page.locator(f"#{active}").get_attribute("data-code") == "E11.9":
            break
        page.keyboard.press("ArrowDown")
    expect(e119).to_have_attribute("aria-selected", "true")
    expect(combo).to_have_attribute("aria-activedescendant", e119.get_attribute("id"))
    shot(page, tmp_path, "notes-concept-picker")
    page.keyboard.press("Enter")
    expect(page.locator("#concept-picker")).to_have_count(0)
    expect(page.locator("#concept-current")).to_have_attribute("data-code", "E11.9")
    expect(page.locator("#concept-current")).to_contain_text("Type 2 diabetes mellitus without complications")

    # assertion
    page.select_option("#span-assertion", "historical")
    expect(span_segment(page, "type 2 diabetes")).to_have_attribute("data-tags", "PROBLEM · historical")

    # a span made by mistake, removed with Delete
    drag_select(page, "ulcer of the left foot")
    page.keyboard.press("5")
    expect(page.locator("#span-panel .chip")).to_have_text("ANATOMY")
    page.keyboard.press("Delete")
    expect(page.locator("#note-text .seg.on", has_text="ulcer")).to_have_count(0)

    # a PHI span from the PHI row: NAME is Shift+1
    drag_select(page, "Jane Doe")
    page.keyboard.press("Shift+Digit1")
    expect(page.locator("#span-panel .chip.phi")).to_have_text("NAME")

    # medication and dosage, then the relation: focus the drug, press r, click the dose
    drag_select(page, "metformin")
    page.click('button.label[data-label="MEDICATION"]')  # clicking a label works as well as its key
    expect(page.locator("#span-panel .chip")).to_have_text("MEDICATION")
    drag_select(page, "500 mg")
    page.keyboard.press("6")
    expect(page.locator("#span-panel .chip")).to_have_text("DOSAGE")
    span_segment(page, "metformin").click()
    expect(page.locator("#span-text")).to_have_text("metformin")
    page.keyboard.press("r")
    expect(page.locator("#link-banner")).to_contain_text("Click the tail span")
    span_segment(page, "500 mg").click()
    expect(page.locator("#span-relations li")).to_have_count(1)
    expect(page.locator("#span-relations li .rel-type")).to_have_text("dosage")
    expect(page.locator("#span-relations li")).to_contain_text("500 mg")

    # keyboard navigation visits the spans in text order
    page.keyboard.press("Escape")
    expect(page.locator("#span-count")).to_have_text("4 spans · 1 relation")
    seen = []
    for _ in range(4):
        page.keyboard.press("j")
        seen.append(page.locator("#span-text").text_content())
    assert seen == ["Jane Doe", "type 2 diabetes", "metformin", "500 mg"], seen
    page.keyboard.press("k")
    expect(page.locator("#span-text")).to_have_text("metformin")

    # PHI view: masked as [LABEL], then shown again
    page.click("#phi-toggle")
    expect(page.locator("#phi-toggle")).to_have_attribute("aria-pressed", "true")
    expect(span_segment(page, "Jane Doe")).to_have_attribute("data-mask", "[NAME]")
    expect(span_segment(page, "Jane Doe")).to_have_css("font-size", "0px")
    shot(page, tmp_path, "notes-phi-masked")
    page.click("#phi-toggle")
    expect(page.locator("#phi-toggle")).to_have_attribute("aria-pressed", "false")
    shot(page, tmp_path, "notes-before-save")

    page.keyboard.press("Control+Enter")
    expect(page.locator("#toast")).to_have_text("Saved")
    expect(page.locator("#annotator-status")).to_have_text("Nothing left for you in this queue. Thank you!")

    # what the server stored
    saved = human_annotation(live, token, item_id)["payload"]
    by_text = {s["text"]: s for s in saved["spans"]}
    assert set(by_text) == {"Jane Doe", "type 2 diabetes", "metformin", "500 mg"}, saved
    for s in saved["spans"]:
        assert (s["start"], s["end"]) == offsets(NOTE, s["text"]), s  # code points, not UTF-16 units
        assert NOTE[s["start"]:s["end"]] == s["text"]
    problem = by_text["type 2 diabetes"]
    assert problem["label"] == "PROBLEM" and problem["layer"] == "entity" and problem["assertion"] == "historical"
    assert problem["concept"] == {"terminology": "icd10cm", "code": "E11.9",
                                  "name": "Type 2 diabetes mellitus without complications"}
    assert by_text["Jane Doe"]["label"] == "NAME" and by_text["Jane Doe"]["layer"] == "phi"
    assert by_text["metformin"]["label"] == "MEDICATION" and by_text["500 mg"]["label"] == "DOSAGE"
    assert [(r["type"], r["head"], r["tail"]) for r in saved["relations"]] == [
        ("dosage", by_text["metformin"]["id"], by_text["500 mg"]["id"])]

    # reload the item: the same spans, concept and relation are on the page again
    page.goto(f"/projects/{project['id']}/annotate?item={item_id}")
    expect(page.locator("#annotator-status")).to_contain_text("your version 1")
    expect(page.locator("#span-count")).to_have_text("4 spans · 1 relation")
    expect(span_segment(page, "type 2 diabetes")).to_have_attribute("data-tags", "PROBLEM · historical")
    expect(span_segment(page, "Jane Doe")).to_have_class(re.compile(r"\bphi\b"))
    expect(page.locator("#relations-list li")).to_have_count(1)
    expect(page.locator("#relations-list li")).to_contain_text("metformin → 500 mg")
    span_segment(page, "type 2 diabetes").click()
    expect(page.locator("#concept-current")).to_have_attribute("data-code", "E11.9")
    expect(page.locator("#span-assertion")).to_have_value("historical")
    span_segment(page, "metformin").click()
    expect(page.locator("#span-relations li")).to_contain_text("dosage")
    shot(page, tmp_path, "notes-reloaded")


PRE_NOTE = ("HPI: 67 year old man with type 2 diabetes mellitus and hypertension. He denies chest pain. "
            "Seen by Dr. John Carter on 03/04/2024.\nMedications: metformin 500 mg PO BID.")


def test_model_suggestions_accept_reject_and_save(page, live, token, tmp_path):
    project = notes_project(live, token, "Pre-annotated notes")
    item_id = add_note(live, token, project["id"], PRE_NOTE, name="pre")
    job = api(live, token, "POST", f"/projects/{project['id']}/jobs", {"kind": "preannotate"})
    wait_job(live, token, job["id"])
    drafts = [a for a in api(live, token, "GET", f"/items/{item_id}/annotations")["items"] if a["source"] == "model"]
    assert len(drafts) == 1, drafts
    model = drafts[0]["payload"]
    model_by_text = {s["text"]: s for s in model["spans"]}
    # the model finds these (terminology matching); the test needs two entity suggestions of the same label
    assert {"type 2 diabetes mellitus", "hypertension"} <= set(model_by_text), model_by_text.keys()

    page.goto(f"/projects/{project['id']}/annotate")
    expect(page.locator("#model-hint")).to_be_visible()
    pending = page.locator("#pending-count")
    expect(pending).to_have_text(str(len(model["spans"])))
    expect(span_segment(page, "hypertension")).to_have_class(re.compile(r"\btag-suggested\b"))
    shot(page, tmp_path, "notes-suggestions")

    # saving with undecided suggestions is refused, nothing is written
    page.keyboard.press("Control+Enter")
    expect(page.locator("#toast.error")).to_contain_text("still pending")
    assert not [a for a in api(live, token, "GET", f"/items/{item_id}/annotations")["items"] if a["source"] == "human"]

    # accept one (button), reject one (key x)
    span_segment(page, "type 2 diabetes mellitus").click()
    expect(page.locator("#span-panel .badge.suggested")).to_be_visible()
    page.click("#accept-span")
    expect(span_segment(page, "type 2 diabetes mellitus")).not_to_have_class(re.compile(r"\btag-suggested\b"))
    expect(pending).to_have_text(str(len(model["spans"]) - 1))
    span_segment(page, "hypertension").click()
    page.keyboard.press("x")
    expect(page.locator("#note-text .seg.on", has_text="hypertension")).to_have_count(0)
    expect(pending).to_have_text(str(len(model["spans"]) - 2))

    # per label: reject every PHI NAME suggestion, accept every MEDICATION one; then accept all the rest
    phi_names = [s for s in model["spans"] if s["label"] == "NAME"]
    if phi_names:
        page.click('button[data-reject-label="NAME"]')
        expect(page.locator('button[data-reject-label="NAME"]')).to_have_count(0)
    page.click('button[data-accept-label="MEDICATION"]')
    expect(page.locator('button[data-accept-label="MEDICATION"]')).to_have_count(0)
    shot(page, tmp_path, "notes-suggestions-decided")
    page.click("#accept-all")
    expect(page.locator("#suggestion-bar")).to_be_hidden()

    page.keyboard.press("Control+Enter")
    expect(page.locator("#toast")).to_have_text("Saved")
    saved = human_annotation(live, token, item_id)["payload"]
    saved_by_text = {s["text"]: s for s in saved["spans"]}
    expected = {s["text"] for s in model["spans"] if s["text"] != "hypertension" and s["label"] != "NAME"}
    assert set(saved_by_text) == expected
    accepted = saved_by_text["type 2 diabetes mellitus"]
    original = model_by_text["type 2 diabetes mellitus"]
    for key in ("id", "start", "end", "label", "layer", "assertion", "concept", "candidates", "score", "section"):
        assert accepted.get(key) == original.get(key), key  # the model's candidates, score and section survive
    assert accepted["candidates"], original
    kept_ids = {s["id"] for s in saved["spans"]}
    assert saved["relations"] == [r for r in model.get("relations", [])
                                  if r["head"] in kept_ids and r["tail"] in kept_ids]


def _long_note(pages=50, spans_wanted=1000, seed=7):
    """~50 pages of note text (3,000 characters a page) and a payload of `spans_wanted` spans, a few overlapping."""
    rng = random.Random(seed)
    problems = ["headache", "chest pain", "type 2 diabetes", "hypertension", "asthma", "back pain", "anemia"]
    drugs = ["aspirin", "metformin", "lisinopril", "albuterol", "ibuprofen"]
    parts, spans, relations = [], [], []
    pos = 0

    def add(chunk):
        nonlocal pos
        parts.append(chunk)
        pos += len(chunk)

    def add_span(chunk, label, layer="entity"):
        start = pos
        add(chunk)
        spans.append({"id": f"x{len(spans) + 1}", "start": start, "end": pos, "label": label, "layer": layer,
                      "text": chunk, "assertion": "present", "concept": None, "candidates": [], "attributes": {}}
                     if layer == "entity" else
                     {"id": f"x{len(spans) + 1}", "start": start, "end": pos, "label": label, "layer": layer,
                      "text": chunk, "concept": None, "candidates": [], "attributes": {}})
        return spans[-1]

    line = 0
    for page_no in range(1, pages + 1):
        add(f"=== Page {page_no} 📄 ===\n")
        page_start = pos
        while pos - page_start < 3000:
            line += 1
            add(f"{line:05d} Patient reports ")
            if line % 7 == 0 and len(spans) < spans_wanted - 4:
                problem = rng.choice(problems)
                outer = add_span(f"worsening {problem}", "PROBLEM")
                spans.append({**outer, "id": f"x{len(spans) + 1}", "start": outer["end"] - len(problem),
                              "text": problem})  # nested inside the outer span
                add(" and takes ")
                drug = add_span(rng.choice(drugs), "MEDICATION")
                add(" ")
                dose = add_span(f"{rng.choice([5, 10, 20, 81, 500])} mg", "DOSAGE")
                relations.append({"id": f"r{len(relations) + 1}", "type": "dosage", "head": drug["id"],
                                  "tail": dose["id"]})
                add(" daily; seen with ")
                add_span("Dr. Smith", "NAME", "phi")
                add(". Vitals stable, no acute distress noted today.\n")
            else:
                add("fatigue; no new medication, vitals stable and no acute distress today.\n")
    add("Final sign-off: reviewed by the attending physician.\n")
    return "".join(parts), {"spans": spans[:spans_wanted], "relations": [
        r for r in relations if int(r["head"][1:]) <= spans_wanted and int(r["tail"][1:]) <= spans_wanted]}


def test_fifty_page_note_with_a_thousand_spans(page, live, token, tmp_path):
    text, payload = _long_note()
    assert len(text) > 140_000 and len(payload["spans"]) == 1000
    project = notes_project(live, token, "Long discharge summaries")
    item_id = add_note(live, token, project["id"], text, name="long")
    # A draft: the item stays open, so the edit below is a PUT of the same version (not a revision of gold).
    stored = api(live, token, "POST", f"/items/{item_id}/annotations", {"payload": payload, "stage": "annotate",
                                                                        "status": "draft"})

    started = time.time()
    page.goto(f"/projects/{project['id']}/annotate?item={item_id}")
    expect(page.locator("#span-count")).to_have_text(f"1000 spans · {len(payload['relations'])} relations")
    rendered_s = time.time() - started
    assert page.locator("#note-text .seg.on").count() >= 1000
    print(f"\n50-page note ({len(text)} characters, 1000 spans) on screen in {rendered_s:.2f} s")

    drag_select(page, "attending physician")
    started = time.time()
    page.keyboard.press("4")  # TEST
    expect(page.locator("#note-text .seg.focused")).to_have_text("attending physician")
    print(f"hotkey on the 1001st span applied in {time.time() - started:.2f} s")
    page.keyboard.press("k")  # the previous span: the last PHI name of the note
    expect(page.locator("#span-panel .chip")).to_have_text("NAME")
    page.keyboard.press("j")
    expect(page.locator("#span-text")).to_have_text("attending physician")
    shot(page, tmp_path, "notes-long")

    page.keyboard.press("Control+Enter")
    expect(page.locator("#toast")).to_have_text("Saved")
    saved = human_annotation(live, token, item_id)
    assert saved["version"] == stored["version"] + 1
    assert len(saved["payload"]["spans"]) == 1001
    new = [s for s in saved["payload"]["spans"] if s["label"] == "TEST"]
    assert [(s["start"], s["end"], s["text"]) for s in new] == [(*offsets(text, "attending physician"),
                                                                  "attending physician")]
    assert len(saved["payload"]["relations"]) == len(payload["relations"])


CUSTOM_CONFIG = {
    "entity_labels": [
        {"name": "PROBLEM", "terminologies": ["icd10cm"], "hotkey": "1", "color": "#d62728"},
        {"name": "ANATOMY", "terminologies": [], "hotkey": "2", "color": "#8c564b"},
        {"name": "PROCEDURE", "terminologies": ["not_loaded_here"], "hotkey": "3", "color": "#2ca02c"},
    ],
    "phi_labels": ["NAME", "DATE"],
    "relation_types": [
        {"name": "location", "head": ["PROBLEM"], "tail": ["ANATOMY"]},
        {"name": "finding_site", "head": ["PROBLEM"], "tail": ["ANATOMY"]},
    ],
    "assertions": ["present", "negated"],
}
WOUND_NOTE = "Ulcer of the left foot, debrided on 2024-03-04 by the podiatrist."


def test_overlapping_spans_and_keyboard_relations_with_a_type_choice(page, live, token, tmp_path):
    project = api(live, token, "POST", "/projects", {"name": "Wound care", "modality": "notes",
                                                      "label_config": CUSTOM_CONFIG})
    item_id = add_note(live, token, project["id"], WOUND_NOTE, name="wound")
    page.goto(f"/projects/{project['id']}/annotate")
    expect(page.locator("#note-text")).to_have_text(WOUND_NOTE)
    expect(page.locator(".notes-labels button.label.entity")).to_have_count(3)
    expect(page.locator(".notes-labels button.label.phi")).to_have_count(2)

    # a span nested in another: both stay visible (two bars, both tags) on the shared text
    drag_select(page, "Ulcer of the left foot")
    page.keyboard.press("1")
    drag_select(page, "left foot")
    page.keyboard.press("2")
    shared = span_segment(page, "left foot")
    expect(shared).to_have_attribute("data-spans", re.compile(r"^\S+ \S+$"))
    expect(shared).to_have_attribute("data-tags", "ANATOMY | PROBLEM")
    expect(page.locator("#note-text .seg.on")).to_have_count(2)  # "Ulcer of the " and "left foot"
    expect(page.locator("#span-assertion option")).to_have_count(2)  # the project's assertions only

    # keyboard only: focus the problem, r, move to the anatomy with j, Enter, then choose the type with its number
    page.keyboard.press("Escape")
    page.keyboard.press("j")
    expect(page.locator("#span-panel .chip")).to_have_text("PROBLEM")
    page.keyboard.press("r")
    page.keyboard.press("j")
    expect(page.locator("#span-panel .chip")).to_have_text("ANATOMY")
    page.keyboard.press("Enter")
    chooser = page.locator("#relation-chooser")
    expect(chooser.locator("button[data-type]")).to_have_text(["1location", "2finding_site"])
    shot(page, tmp_path, "notes-relation-chooser")
    page.keyboard.press("1")
    expect(page.locator("#span-relations .rel-type")).to_have_text(["location"])
    # delete it from the list, make it again with the other type
    page.locator("#span-relations li.relation button[aria-label='Delete location relation']").click()
    expect(page.locator("#span-relations li")).to_have_count(0)
    page.keyboard.press("r")
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.keyboard.press("2")
    expect(page.locator("#span-relations .rel-type")).to_have_text(["finding_site"])

    # a relation the config does not allow is refused with a message
    drag_select(page, "podiatrist")
    page.keyboard.press("Shift+Digit1")
    page.keyboard.press("r")
    span_segment(page, "left foot").click()
    expect(page.locator("#toast.error")).to_contain_text("No relation type links NAME to")
    page.keyboard.press("Escape")

    # the picker shows the server's message when a terminology is not loaded
    drag_select(page, "debrided")
    page.keyboard.press("3")
    page.keyboard.press("c")
    expect(page.locator("#concept-picker .cp-status.error")).to_contain_text("not_loaded_here")
    page.keyboard.press("Escape")
    expect(page.locator("#concept-picker")).to_have_count(0)

    page.keyboard.press("Control+Enter")
    expect(page.locator("#toast")).to_have_text("Saved")
    saved = human_annotation(live, token, item_id)["payload"]
    by_text = {s["text"]: s for s in saved["spans"]}
    assert {t: s["label"] for t, s in by_text.items()} == {
        "Ulcer of the left foot": "PROBLEM", "left foot": "ANATOMY", "debrided": "PROCEDURE", "podiatrist": "NAME"}
    for s in saved["spans"]:
        assert (s["start"], s["end"]) == offsets(WOUND_NOTE, s["text"])
    assert [(r["type"], r["head"], r["tail"]) for r in saved["relations"]] == [
        ("finding_site", by_text["Ulcer of the left foot"]["id"], by_text["left foot"]["id"])]


# ------------------------------------------------------------------------------------------- review, end to end

def login_as(browser, live, username, password):
    context = browser.new_context(base_url=live.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-form button[type=submit]")
    expect(page.locator(".who")).to_have_text(username)
    return context, page


def test_two_annotators_disagree_reviewer_adjudicates_dashboard_shows_it(browser, live, token, tmp_path):
    project = api(live, token, "POST", "/projects", {
        "name": "Review flow", "modality": "notes",
        "workflow": {"annotators_per_item": 2, "auto_consensus": True, "consensus_threshold": 0.9,
                     "adjudication": "below_threshold", "adjudication_threshold": 0.8}})
    pid = project["id"]
    password = "review-flow-password"
    for name, role in (("ann_x", "annotator"), ("ann_y", "annotator"), ("rev_z", "reviewer")):
        api(live, token, "POST", "/users", {"username": name, "password": password})
        api(live, token, "POST", f"/projects/{pid}/members", {"username": name, "role": role})
    text = "Patient denies chest pain. History of asthma and gout."
    item_id = add_note(live, token, pid, text)

    for annotator, phrase in (("ann_x", "chest pain"), ("ann_y", "asthma")):
        context, page = login_as(browser, live, annotator, password)
        page.goto(f"/projects/{pid}/annotate")
        expect(page.locator("#note-text")).to_contain_text("History of asthma")
        drag_select(page, phrase)
        page.keyboard.press("1")
        expect(span_segment(page, phrase)).to_be_visible()
        page.keyboard.press("Control+Enter")
        expect(page.locator("#annotator-status")).to_contain_text("Nothing left")
        context.close()

    item = api(live, token, "GET", f"/items/{item_id}")
    assert item["stage"] == "adjudicate"

    context, page = login_as(browser, live, "rev_z", password)
    page.goto(f"/projects/{pid}/review")
    row = page.locator(f"#review-queue tr[data-item-id='{item_id}']")
    expect(row).to_contain_text("annotators agree 0%")
    row.locator("a").click()
    expect(page.locator("#review-versions article.version")).to_have_count(2)
    expect(page.locator("#review-diff")).to_contain_text("PROBLEM “chest pain” marked only by ann_x")
    shot(page, tmp_path, "review-side-by-side")
    page.locator("article.version[data-author='ann_x'] button.primary").click()
    expect(page.locator("#queue-empty")).to_be_visible()
    context.close()

    gold = [a for a in api(live, token, "GET", f"/items/{item_id}/annotations")["items"]
            if a["stage"] == "gold" and a["status"] == "accepted"]
    assert len(gold) == 1 and [s["text"] for s in gold[0]["payload"]["spans"]] == ["chest pain"]

    context, page = login_as(browser, live, "admin", ADMIN_PASSWORD)
    page.goto(f"/projects/{pid}/dashboard")
    expect(page.locator("#agreement-summary")).to_contain_text("1 item(s) with several versions")
    expect(page.locator("#agreement-metrics tr.pair")).to_contain_text("ann_x – ann_y")
    expect(page.locator("#annotators tr[data-user='ann_x']")).to_be_visible()
    shot(page, tmp_path, "dashboard")
    context.close()


def test_ontology_page_picker_finds_the_codes_by_keyboard(page, tmp_path):
    """The shared picker on the Ontologies page: each query, arrows + Enter, and the concept's hierarchy."""
    page.goto("/ontologies")
    expect(page.locator("#terminologies tr[data-name='icd10cm']")).to_be_visible()
    for query, terminology, code in (("type 2 diabetes", "icd10cm", "E11.9"), ("htn", "icd10cm", "I10"),
                                     ("CHF exacerbation", "icd10cm", "I50.9"), ("seizure", "hpo", "HP:0001250")):
        page.select_option("#terminology-filter", terminology)
        box = page.locator("#picker-host input.cp-input")
        box.fill(query)
        expect(page.locator("#picker-host .concept-picker")).to_have_attribute("data-query", query)
        option = page.locator("#picker-host .cp-option", has_text=code).first
        expect(option).to_be_visible()
        index = page.locator("#picker-host .cp-option").evaluate_all(
            "(opts, code) => opts.findIndex((o) => o.dataset.code === code)", code)
        for _ in range(index):  # the first option is active when results arrive
            box.press("ArrowDown")
        box.press("Enter")
        expect(page.locator("#concept-title")).to_contain_text(code)
        if query == "seizure":
            shot(page, tmp_path, "ontology-picker")
    expect(page.locator("#concept-path")).to_contain_text("Phenotypic abnormality")
