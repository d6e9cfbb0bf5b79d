"""Consultation review in Chromium: two transcribers' versions of one recording side by side, the review screen's
word-level and speaker-turn differences, the reviewer's decision, and WER/DER per annotator pair on the dashboard."""
from __future__ import annotations

import time

import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect  # noqa: E402

from live import ADMIN_PASSWORD, api, upload_on_project_page  # noqa: E402
from test_browser_notes import login_as  # noqa: E402

pytestmark = pytest.mark.browser
PASSWORD = "consult-review-password"


def transcript(texts, speakers, prefix):
    return {"speakers": [{"id": s} for s in sorted(set(speakers))],
            "segments": [{"id": f"{prefix}{i}", "start_ms": i * 4000, "end_ms": i * 4000 + 3500, "text": t,
                          "speaker": who} for i, (t, who) in enumerate(zip(texts, speakers))]}


def test_two_transcripts_reviewed_side_by_side_and_wer_der_on_the_dashboard(browser, live, token, tmp_path):
    import media_files

    workflow = {"annotators_per_item": 2, "auto_consensus": True, "consensus_threshold": 0.95,
                "adjudication": "below_threshold", "adjudication_threshold": 0.95}
    pid = api(live, token, "POST", "/projects", {"name": "Consult review UI", "modality": "consult",
                                                  "workflow": workflow})["id"]
    tokens = {}
    for name, role in (("tx_one", "annotator"), ("tx_two", "annotator"), ("tx_lead", "reviewer")):
        api(live, token, "POST", "/users", {"username": name, "password": PASSWORD})
        api(live, token, "POST", f"/projects/{pid}/members", {"username": name, "role": role})
        tokens[name] = live.token(name, PASSWORD)
    wav = media_files.wav(tmp_path / "visit.wav", seconds=12.0)
    context, page = login_as(browser, live, "admin", ADMIN_PASSWORD)
    page.goto(f"/projects/{pid}")
    upload_on_project_page(page, [wav])
    context.close()
    item_id = api(live, token, "GET", f"/projects/{pid}/items")["items"][0]["id"]
    for _ in range(150):  # the derive job (probe, peaks, PCM) runs on the live worker; items are handed out ready
        if api(live, token, "GET", f"/items/{item_id}")["status"] == "ready":
            break
        time.sleep(0.2)
    texts = {"tx_one": ["Good morning. What brings you in today?", "I have had a cough for three days.", "Any fever?"],
             "tx_two": ["Good morning. What brings you here today?", "I have had a cuff for three days.", "Any fever?"]}
    voices = {"tx_one": ["D", "P", "D"], "tx_two": ["S1", "S2", "S2"]}
    for who in ("tx_one", "tx_two"):
        assert api(live, tokens[who], "POST", f"/projects/{pid}/next")["id"] == item_id
        api(live, tokens[who], "POST", f"/items/{item_id}/annotations",
            {"payload": transcript(texts[who], voices[who], who), "time_spent_ms": 5000})
    assert api(live, token, "GET", f"/items/{item_id}")["stage"] == "adjudicate"

    context, page = login_as(browser, live, "tx_lead", PASSWORD)
    page.goto(f"/projects/{pid}/review?item={item_id}")
    expect(page.locator("#review-versions article.version")).to_have_count(2)
    expect(page.locator("#review-versions .consult-segment")).to_have_count(6)  # both transcripts, side by side
    diff = page.locator("#review-diff")
    expect(diff).to_contain_text("words: tx_one “cough” · tx_two “cuff”")
    expect(diff).to_contain_text("words: tx_one “in” · tx_two “here”")
    expect(diff).to_contain_text("speaker: tx_one D · tx_two S2")
    page.screenshot(path=str(tmp_path / "consult-review.png"), full_page=True)
    page.locator("article.version[data-author='tx_one'] button.primary").click()
    expect(page.locator("#queue-empty")).to_be_visible()
    context.close()
    assert api(live, token, "GET", f"/items/{item_id}")["stage"] == "done"

    context, page = login_as(browser, live, "admin", ADMIN_PASSWORD)
    page.goto(f"/projects/{pid}/dashboard")
    expect(page.locator("#agreement-metrics tr.pair")).to_contain_text("tx_one – tx_two")
    expect(page.locator("#agreement-metrics tr.pair-metric[data-metric=wer]")).to_contain_text("0.118")  # 2 of 17 words
    expect(page.locator("#agreement-metrics tr.pair-metric[data-metric=der]")).to_be_visible()
    page.screenshot(path=str(tmp_path / "consult-dashboard.png"), full_page=True)
    context.close()


def test_an_hour_long_consultation_scrolls_and_plays_with_the_current_word_following(browser, live, token, tmp_path):
    """600 turns over 60 minutes: the waveform comes from the server's peaks, the view scrolls under the wheel and
    playback moves the current segment and word. Frame times are measured here and reported by
    benchmarks/bench_consult_ui.py (the target is no frame over 50 ms); nothing is timed in this test."""
    import json

    from consult_long_session import WORDS, open_long_consultation, scroll_and_play

    context, page = login_as(browser, live, "admin", ADMIN_PASSWORD)
    open_long_consultation(page, live, token, str(tmp_path))
    expect(page.locator(".consult-segment")).to_have_count(599)
    expect(page.locator(".consult-waveform [part~=region]").first).to_be_visible()  # only those in view are drawn
    frames = scroll_and_play(page)
    page.screenshot(path=str(tmp_path / "consult-hour.png"))
    context.close()
    (tmp_path / "frames.json").write_text(json.dumps(frames, indent=1))
    print("hour-long consultation frames:", json.dumps(frames))
    assert frames["scrolling"]["frames"] > 30 and frames["scrolling"]["scrolled_px"] > 5000
    assert frames["playing"]["frames"] > 30 and frames["playing"]["played_s"] > 4
    assert frames["playing"]["current_segment"] >= 300  # the turn being played, half-way through the hour
    assert frames["playing"]["current_word"] == WORDS[(300 + 2) % len(WORDS)]


def newest_human(live, token, item_id) -> dict:
    mine = [a for a in api(live, token, "GET", f"/items/{item_id}/annotations")["items"] if a["source"] == "human"]
    return max(mine, key=lambda a: a["id"])["payload"]


def test_clinical_entities_in_a_turn_with_the_notes_span_tools_and_concept_picker(browser, live, token, tmp_path):
    """A turn's text opens the notes editor: select a drug, label it, link its concept, mark a problem negated;
    the entities travel in the segment, survive a reload and a later edit of the turn's text."""
    import media_files
    from test_browser_notes import drag_select

    pid = api(live, token, "POST", "/projects", {"name": "Consult entities", "modality": "consult"})["id"]
    wav = media_files.wav(tmp_path / "visit.wav", seconds=8.0)
    vtt = tmp_path / "visit.vtt"
    vtt.write_text("WEBVTT\n\n00:00:00.000 --> 00:00:03.000\n<v S1>Are you still taking metformin?\n\n"
                   "00:00:03.500 --> 00:00:07.000\n<v S2>Yes, and I have no chest pain.\n", encoding="utf-8")
    context, page = login_as(browser, live, "admin", ADMIN_PASSWORD)
    page.goto(f"/projects/{pid}")
    upload_on_project_page(page, [wav, str(vtt)])
    item_id = api(live, token, "GET", f"/projects/{pid}/items")["items"][0]["id"]
    for _ in range(150):
        if api(live, token, "GET", f"/items/{item_id}")["status"] == "ready":
            break
        time.sleep(0.2)
    page.goto(f"/projects/{pid}/annotate?item={item_id}")
    first, second = page.locator(".consult-segment").nth(0), page.locator(".consult-segment").nth(1)
    first.locator(".seg-entities").click()
    expect(page.locator("#note-text")).to_have_text("Are you still taking metformin?")
    drag_select(page, "metformin")
    page.click(".label.entity[data-label=MEDICATION]")
    expect(page.locator("#span-text")).to_have_text("metformin")
    page.click("#concept-search")
    page.keyboard.type("metformin")
    option = page.locator("#concept-picker [role=option]", has_text="metformin").first
    expect(option).to_be_visible()
    option.click()
    expect(page.locator("#concept-current")).to_contain_text("etformin")
    second.locator(".seg-entities").click()  # one editor at a time: the first turn's entities are kept
    expect(first.locator(".seg-entities")).to_have_text("entities (1)")
    expect(first.locator(".entity-chip")).to_have_text("MEDICATION: metformin")
    expect(page.locator("#note-text")).to_have_text("Yes, and I have no chest pain.")
    drag_select(page, "chest pain")
    page.keyboard.press("1")  # PROBLEM, the notes hotkey, not the consult shortcut "assign speaker 1"
    page.select_option("#span-assertion", "negated")
    expect(second.locator(".seg-speaker")).to_have_value("S2")
    page.screenshot(path=str(tmp_path / "consult-entities.png"), full_page=True)
    page.keyboard.press("Control+Enter")
    expect(page.locator("#toast")).to_have_text("Saved")

    segs = newest_human(live, token, item_id)["segments"]
    drug = segs[0]["entities"]["spans"][0]
    assert (drug["label"], drug["text"], drug["start"], drug["end"]) == ("MEDICATION", "metformin", 21, 30)
    assert drug["concept"]["terminology"] == "drugs"
    problem = segs[1]["entities"]["spans"][0]
    assert (problem["label"], problem["text"], problem["assertion"]) == ("PROBLEM", "chest pain", "negated")

    page.goto(f"/projects/{pid}/annotate?item={item_id}")
    first = page.locator(".consult-segment").nth(0)
    expect(first.locator(".entity-chip")).to_have_text("MEDICATION: metformin")
    first.locator(".seg-text").fill("So, are you still taking metformin daily?")  # the span follows its word
    page.keyboard.press("Control+Enter")
    expect(page.locator("#toast")).to_have_text("Saved")
    drug = newest_human(live, token, item_id)["segments"][0]["entities"]["spans"][0]
    assert (drug["start"], drug["end"], drug["text"]) == (25, 34, "metformin")
    context.close()
