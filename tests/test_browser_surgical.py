"""The surgical video modality in Chromium: a 50-frame 25 fps video uploaded through the page gets its frame index,
proxy and thumbnails; frame stepping shows the frame the browser presented (checked on the video's pixels: frame i
is a flat grey of 5 * i); phases set with hotkeys, a boundary dragged on the timeline snaps to a frame, a tag track
and a comment; submitted, reloaded and read back through the API with frames and milliseconds from the index."""
from __future__ import annotations

import os
import time

import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect  # noqa: E402

from live import ADMIN_PASSWORD, api  # noqa: E402
from surgical_long_session import PRESENTED_GREY  # noqa: E402
from test_browser_notes import login_as  # noqa: E402

pytestmark = pytest.mark.browser


# A read-only mount (the review page's) next to the editor: ids suffixed, no editing controls, the diff in words.
READ_ONLY = """async ([payload, itemId]) => {
  const mod = await import('/static/js/modalities/surgical.js');
  const box = document.createElement('div');
  document.body.append(box);
  const item = await fetch(`/api/v1/items/${itemId}`, { credentials: 'same-origin' }).then((r) => r.json());
  const assets = Object.fromEntries(item.assets.map((a) => [a.name, { url: a.url, meta: a.meta }]));
  const config = JSON.parse(document.getElementById('label-config').textContent);
  const ui = mod.mount(box, { item, labelConfig: config, initial: payload, readOnly: true, mediaUrl: item.media_url, assets });
  await new Promise((resolve) => { const t0 = Date.now(); const poll = () => (box.querySelector('[data-ready]') || box.dataset.ready || Date.now() - t0 > 10000 ? resolve() : setTimeout(poll, 50)); poll(); });
  const who = (i) => ['ann_a', 'ann_b'][i];
  const out = {
    ids: [...box.querySelectorAll('[id]')].map((e) => e.id),
    trackButtons: box.querySelectorAll('.surgical-track').length,
    deleteButtons: box.querySelectorAll('.surgical-seg-delete, .surgical-tag-delete').length,
    rows: box.querySelectorAll('.surgical-seg').length,
    snapshot: ui.snapshot().payload,
    diff: [mod.describeDiff({ kind: 'phase_differs', start_frame: 20, end_frame: 25, values: ['Preparation', null], a: 0, b: 1 }, item, who),
      mod.describeDiff({ kind: 'boundary_moved', frame_a: 25, frame_b: 20, values: ['CalotTriangleDissection'], a: 0, b: 1 }, item, who),
      mod.describeDiff({ kind: 'other', x: 1 }, item, who)],
  };
  window.surgicalReadOnly = { ui, box };  // destroyed by the test after its screenshot
  return out;
}"""


def shown_frame(page, n):
    expect(page.locator("#surgical-frame")).to_contain_text(f"frame {n} / 50")


def press(page, key, times=1):
    for _ in range(times):
        page.keyboard.press(key)


def segments(page):
    return page.eval_on_selector_all("#surgical-segments .surgical-seg", "rows => rows.map((r) => "
                                     "[r.dataset.phase, Number(r.dataset.start), Number(r.dataset.end)])")


def expect_segments(page, wanted):
    deadline = time.time() + 10
    while segments(page) != wanted and time.time() < deadline:
        time.sleep(0.05)
    assert segments(page) == wanted


def frame_x(page, frame):
    box = page.locator("#surgical-timeline").bounding_box()
    geo = page.eval_on_selector("#surgical-timeline", "c => ({ ...c.dataset })")
    x = box["x"] + float(geo["x0"]) + (frame - float(geo["viewStart"])) * float(geo["pxPerFrame"])
    return x, box["y"] + float(geo["phaseY"])


def ready_item(live, token, pid, path) -> int:
    """Upload one video through the API and wait for its derived assets (the live worker); returns its id."""
    item_id = live.upload(f"/api/v1/projects/{pid}/items", [(os.path.basename(str(path)), open(path, "rb").read())],
                          token)[1]["created"][0]["id"]
    for _ in range(300):
        if api(live, token, "GET", f"/items/{item_id}")["status"] == "ready":
            break
        time.sleep(0.2)
    return item_id


def open_item(page, pid, item_id):
    page.goto(f"/projects/{pid}/annotate?item={item_id}")
    expect(page.locator("#item-view[data-ready=true]")).to_be_visible()
    shown_frame(page, 0)


def newest_human(live, token, item_id) -> dict:
    mine = [a for a in api(live, token, "GET", f"/items/{item_id}/annotations")["items"] if a["source"] == "human"]
    return max(mine, key=lambda a: a["id"])["payload"]


def test_frame_accurate_phases_tags_and_comments_on_a_surgical_video(browser, live, token, tmp_path):
    import media_files

    pid = api(live, token, "POST", "/projects", {"name": "Cholecystectomy timeline", "modality": "surgical"})["id"]
    video = media_files.mp4(tmp_path / "case.mp4", frames=50, fps=25, size=(160, 120))
    context, page = login_as(browser, live, "admin", ADMIN_PASSWORD)
    problems = []
    page.on("pageerror", lambda exc: problems.append(f"uncaught JS error: {exc}"))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" and "Content Security" in msg.text else None)
    page.goto(f"/projects/{pid}")
    page.set_input_files("#file-input", [video])
    expect(page.locator("#upload-summary")).to_have_text("1 item(s) created, 0 failed.")
    item_id = api(live, token, "GET", f"/projects/{pid}/items")["items"][0]["id"]
    for _ in range(300):  # the derive job (frame index, proxy, thumbnails) runs on the live worker
        item = api(live, token, "GET", f"/items/{item_id}")
        if item["status"] == "ready":
            break
        time.sleep(0.2)
    assert item["status"] == "ready", item
    assert {a["name"] for a in item["assets"]} >= {"frames", "proxy", "sprite"}, item["assets"]

    # Frame stepping: the number shown is the frame presented, and so are the pixels.
    open_item(page, pid, item_id)
    press(page, "ArrowRight", 12)
    shown_frame(page, 12)
    grey = page.evaluate(PRESENTED_GREY)
    assert all(abs(v - 60) <= 4 for v in grey), grey  # frame 12 is grey 60; frames 11 and 13 are 55 and 65
    press(page, "Shift+ArrowRight")  # one second on: the frame nearest 0.48 s + 1 s
    shown_frame(page, 37)
    assert all(abs(v - 185) <= 4 for v in page.evaluate(PRESENTED_GREY))
    press(page, "ArrowLeft")
    shown_frame(page, 36)
    expect(page.locator("#surgical-frame")).to_contain_text("00:01.440")

    # Phases from hotkeys: "phase n starts at this frame".
    press(page, "Home")
    shown_frame(page, 0)
    press(page, "1")
    expect_segments(page, [["Preparation", 0, 50]])
    press(page, "ArrowRight", 20)
    shown_frame(page, 20)
    press(page, "2")
    press(page, "ArrowRight", 16)
    shown_frame(page, 36)
    press(page, "3")
    expect_segments(page, [["Preparation", 0, 20], ["CalotTriangleDissection", 20, 36], ["ClippingCutting", 36, 50]])
    press(page, "[")  # previous boundary
    shown_frame(page, 20)
    press(page, "]")
    shown_frame(page, 36)

    # Drag the boundary at frame 20 to about frame 25: both phases move, snapped to a whole frame.
    x20, y = frame_x(page, 20)
    x25, _ = frame_x(page, 25.3)
    page.mouse.move(x20, y)
    page.mouse.down()
    page.mouse.move((x20 + x25) / 2, y, steps=4)
    page.mouse.move(x25, y, steps=4)
    page.mouse.up()
    expect_segments(page, [["Preparation", 0, 25], ["CalotTriangleDissection", 25, 36], ["ClippingCutting", 36, 50]])
    expect(page.locator("#surgical-segments .surgical-seg-start").nth(1)).to_have_value("25")
    page.keyboard.press("Control+z")  # undo remounts the module: the playhead stays where it was
    expect_segments(page, [["Preparation", 0, 20], ["CalotTriangleDissection", 20, 36], ["ClippingCutting", 36, 50]])
    expect(page.locator("#item-view[data-ready=true]")).to_be_visible()
    shown_frame(page, 36)
    page.keyboard.press("Control+Shift+z")
    expect_segments(page, [["Preparation", 0, 25], ["CalotTriangleDissection", 25, 36], ["ClippingCutting", 36, 50]])
    expect(page.locator("#item-view[data-ready=true]")).to_be_visible()
    shown_frame(page, 36)

    # A tag: on at frame 30, off at frame 40 (half-open: up to 41).
    press(page, "ArrowLeft", 6)
    shown_frame(page, 30)
    page.click("#surgical-tracks .surgical-track[data-track=Grasper]")
    expect(page.locator("#surgical-tracks .surgical-track[data-track=Grasper]")).to_have_attribute("aria-pressed", "true")
    press(page, "ArrowRight", 10)
    shown_frame(page, 40)
    page.click("#surgical-tracks .surgical-track[data-track=Grasper]")
    tag = page.locator("#surgical-tags .surgical-tag")
    expect(tag).to_have_count(1)
    expect(tag).to_have_attribute("data-start", "30")
    expect(tag).to_have_attribute("data-end", "41")

    # A comment at frame 20.
    page.evaluate("document.activeElement.blur()")
    press(page, "Home")
    press(page, "ArrowRight", 20)
    shown_frame(page, 20)
    page.fill("#surgical-comment-text", "clip on the cystic artery")
    page.click("#surgical-comment-add")
    expect(page.locator("#surgical-comments .surgical-comment")).to_contain_text("frame 20")
    page.evaluate("document.activeElement.blur()")
    page.screenshot(path=str(tmp_path / "surgical.png"), full_page=True)

    page.keyboard.press("Control+Enter")
    expect(page.locator("#toast")).to_have_text("Saved")

    open_item(page, pid, item_id)  # reload: the submitted version is back
    expect_segments(page, [["Preparation", 0, 25], ["CalotTriangleDissection", 25, 36], ["ClippingCutting", 36, 50]])
    expect(page.locator("#surgical-tags .surgical-tag")).to_have_attribute("data-end", "41")
    expect(page.locator("#surgical-comments .surgical-comment")).to_contain_text("clip on the cystic artery")

    payload = newest_human(live, token, item_id)
    assert [(p["phase"], p["start_frame"], p["end_frame"], p["start_ms"], p["end_ms"]) for p in payload["phases"]] == [
        ("Preparation", 0, 25, 0, 1000), ("CalotTriangleDissection", 25, 36, 1000, 1440),
        ("ClippingCutting", 36, 50, 1440, 2000)]  # 25 fps: frame f at 40 f ms; the end is the last frame's end
    assert [(t["track"], t["start_frame"], t["end_frame"], t["start_ms"], t["end_ms"]) for t in payload["tags"]] == [
        ("Grasper", 30, 41, 1200, 1640)]
    assert [(c["frame"], c["ms"], c["text"]) for c in payload["comments"]] == [(20, 800, "clip on the cystic artery")]

    seen = page.evaluate(READ_ONLY, [payload, item_id])
    assert seen["ids"] and all(i.endswith(("-v1", "-v2", "-v3", "-v4", "-v5")) for i in seen["ids"]), seen["ids"]
    assert (seen["trackButtons"], seen["deleteButtons"], seen["rows"]) == (0, 0, 3)
    assert seen["snapshot"] == payload
    assert seen["diff"][0] == "frames 20–24 (5): ann_a Preparation · ann_b unlabelled"
    assert seen["diff"][1] == "CalotTriangleDissection starts at frame 25 for ann_a, at frame 20 for ann_b (5 frames apart)"
    assert seen["diff"][2] == '{"kind":"other","x":1}'
    page.locator("body > div:last-child").screenshot(path=str(tmp_path / "surgical-readonly.png"))
    page.evaluate("() => { window.surgicalReadOnly.ui.destroy(); window.surgicalReadOnly.box.remove(); }")
    context.close()
    assert not problems, problems


def _timeline(bounds):
    names = ["Preparation", "CalotTriangleDissection", "ClippingCutting"]
    return {"phases": [{"id": f"p{i}", "phase": names[i], "start_frame": a, "end_frame": b}
                       for i, (a, b) in enumerate(zip(bounds, bounds[1:]))], "tags": [], "comments": []}


def test_review_stacks_both_timelines_and_marks_where_they_differ(browser, live, token, tmp_path):
    import media_files

    from support import PASSWORD

    workflow = {"annotators_per_item": 2, "adjudication": "always"}
    pid = api(live, token, "POST", "/projects", {"name": "Phase review", "modality": "surgical", "workflow": workflow})["id"]
    tokens = {}
    for name, role in (("surg_a", "annotator"), ("surg_b", "annotator"), ("surg_lead", "reviewer")):
        api(live, token, "POST", "/users", {"username": name, "password": PASSWORD})
        api(live, token, "POST", f"/projects/{pid}/members", {"username": name, "role": role})
        tokens[name] = live.token(name, PASSWORD)
    video = media_files.mp4(tmp_path / "review.mp4", frames=50, fps=25, size=(160, 120))
    item_id = ready_item(live, token, pid, video)
    for who, bounds in (("surg_a", [0, 25, 36, 50]), ("surg_b", [0, 20, 40, 50])):
        assert api(live, tokens[who], "POST", f"/projects/{pid}/next")["id"] == item_id
        api(live, tokens[who], "POST", f"/items/{item_id}/annotations", {"payload": _timeline(bounds)})
    context, page = login_as(browser, live, "surg_lead", PASSWORD)
    problems = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.goto(f"/projects/{pid}/review?item={item_id}")
    compare = page.locator("#surgical-compare")
    expect(compare.locator(".compare-row[data-version]")).to_have_count(2)
    expect(compare.locator(".compare-row[data-version='0'] .compare-seg")).to_have_count(3)
    expect(page.locator("#compare-summary")).to_have_text("2 region(s) differ, 9 of 50 frames (18.0%).")
    regions = page.locator("#compare-regions li")
    expect(regions).to_have_text([
        "frames 20–24: surg_a Preparation · surg_b CalotTriangleDissection",
        "frames 36–39: surg_a ClippingCutting · surg_b CalotTriangleDissection"])
    marks = compare.locator(".compare-disagree")
    expect(marks).to_have_count(2)
    band = compare.locator(".compare-row[data-version='0'] .compare-band").bounding_box()
    first = marks.first.bounding_box()
    assert abs(first["x"] - (band["x"] + band["width"] * 20 / 50)) < 2 and abs(first["width"] - band["width"] * 5 / 50) < 2
    expect(page.locator("#review-versions [data-ready=true]")).to_have_count(2)
    regions.nth(1).locator("button").click()  # both versions' players go to the region's first frame
    for output in page.locator("#review-versions output.surgical-frame").all():
        expect(output).to_contain_text("frame 36 / 50")
    expect(page.locator("#curation-units .curation-unit label").first).to_contain_text(
        "surg_a: Preparation 0–24 · CalotTriangleDissection 25–35 · ClippingCutting 36–49; 0 tag(s), 0 comment(s)")
    page.screenshot(path=str(tmp_path / "surgical-review.png"), full_page=True)
    context.close()
    assert not problems, problems


def test_a_two_hour_video_steps_exact_frames_deep_inside_and_zooms_to_single_frames(browser, live, token, tmp_path):
    """Smoothness is measured by benchmarks/bench_surgical_ui.py; this checks the same session does the work: jumps
    to boundaries 90,000 frames in, steps frames and seconds there (each checked on the presented pixels), zooms from
    two hours to single frames, pans, plays."""
    from surgical_long_session import open_long_video, step_zoom_and_play

    context, page = login_as(browser, live, "admin", ADMIN_PASSWORD)
    problems = []
    page.on("pageerror", lambda exc: problems.append(f"uncaught JS error: {exc}"))
    _, frames = open_long_video(page, live, token, str(tmp_path))
    assert frames == 180_000
    start = page.eval_on_selector("#surgical-timeline", "c => Number(c.dataset.viewStart)")
    measured = step_zoom_and_play(page, frames)
    greys = measured["greys"]
    assert greys[0][0] == 90_037 and len(greys) == 51
    wrong = [(k, g) for k, g in greys if abs(g - (k % 50) * 5) > 4]  # frame k is grey 5 * (k % 50)
    assert not wrong, wrong
    assert measured["frame_step"]["steps"] == 40 and measured["second_step"]["steps"] == 10
    assert measured["timeline_zoom"]["px_per_frame"] >= 20  # the whole two hours down to single frames
    assert page.eval_on_selector("#surgical-timeline", "c => Number(c.dataset.viewStart)") != start
    assert measured["playing_4x"]["played_frames"] > 0
    page.screenshot(path=str(tmp_path / "surgical-two-hours.png"), full_page=True)
    context.close()
    assert not problems, problems


UPRIGHT = """() => {
  const v = document.querySelector('#surgical-video');
  const c = document.createElement('canvas');
  c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext('2d');
  g.drawImage(v, 0, 0);
  const at = (x, y) => g.getImageData(x, y, 1, 1).data[0];
  return { width: v.videoWidth, height: v.videoHeight, left: at(2, c.height >> 1), right: at(c.width - 3, c.height >> 1) };
}"""


def test_phone_videos_filmed_upright_play_upright_whether_remuxed_or_encoded(browser, live, token, tmp_path):
    """A phone's H.264 MP4 (remuxed: the browser honours its matrix) and its H.265 twin (encoded: the pixels are
    turned) both show portrait, the white top of the sensor on the right; frame stepping still counts frames."""
    import media_files

    pid = api(live, token, "POST", "/projects", {"name": "Phone recordings", "modality": "surgical"})["id"]
    files = [media_files.phone_video(tmp_path / "phone-h264.mp4", codec="libx264"),
             media_files.phone_video(tmp_path / "phone-hevc.mp4", codec="libx265")]
    created = live.upload(f"/api/v1/projects/{pid}/items", [(os.path.basename(f), open(f, "rb").read()) for f in files],
                          token)[1]["created"]
    context, page = login_as(browser, live, "admin", ADMIN_PASSWORD)
    problems = []
    page.on("pageerror", lambda exc: problems.append(f"uncaught JS error: {exc}"))
    for entry, made_by in zip(created, ("remux", "h264")):
        for _ in range(300):
            item = api(live, token, "GET", f"/items/{entry['id']}")
            if item["status"] in ("ready", "failed"):
                break
            time.sleep(0.2)
        assert item["status"] == "ready", item
        assets = {a["name"]: a["meta"] for a in item["assets"]}
        assert assets["proxy"]["made_by"] == made_by and assets["frames"]["rotation"] == 90, assets
        assert assets["sprite"]["thumb_height"] > assets["sprite"]["thumb_width"]  # thumbnails upright too
        page.goto(f"/projects/{pid}/annotate?item={entry['id']}")
        expect(page.locator("#item-view[data-ready=true]")).to_be_visible()
        expect(page.locator("#surgical-frame")).to_contain_text("frame 0 / 30")
        press(page, "ArrowRight", 3)
        expect(page.locator("#surgical-frame")).to_contain_text("frame 3 / 30")
        seen = page.evaluate(UPRIGHT)
        assert (seen["width"], seen["height"]) == (48, 64), (made_by, seen)
        assert seen["left"] < 30 and seen["right"] > 225, (made_by, seen)
        page.screenshot(path=str(tmp_path / f"phone-{made_by}.png"))
    context.close()
    assert not problems, problems


def test_a_phase_takes_a_step_and_an_action_from_the_projects_vocabulary(browser, live, token, tmp_path):
    """The hierarchy phase -> step -> action: the step list follows the phase, the action list the step; both are
    saved with the segment and come back after a reload."""
    import media_files

    config = {"phases": ["Preparation", "CalotTriangleDissection"],
              "steps": {"CalotTriangleDissection": ["expose the triangle", "dissect the cystic duct"]},
              "actions": {"dissect the cystic duct": ["grasp", "hook dissection"]},
              "tracks": [{"name": "Grasper", "kind": "instrument"}]}
    pid = api(live, token, "POST", "/projects", {"name": "Steps and actions", "modality": "surgical",
                                                 "label_config": config})["id"]
    video = media_files.mp4(tmp_path / "steps.mp4", frames=30, fps=25, size=(64, 48))
    item_id = ready_item(live, token, pid, video)
    assert api(live, token, "POST", f"/projects/{pid}/next")["id"] == item_id
    api(live, token, "POST", f"/items/{item_id}/annotations", {"status": "draft", "payload": {"phases": [
        {"id": "p1", "phase": "CalotTriangleDissection", "start_frame": 0, "end_frame": 30}], "tags": [], "comments": []}})
    context, page = login_as(browser, live, "admin", ADMIN_PASSWORD)
    page.goto(f"/projects/{pid}/annotate?item={item_id}")
    expect(page.locator("#item-view[data-ready=true]")).to_be_visible()
    expect(page.locator(".surgical-seg-action")).to_have_count(0)  # no step yet: no action list
    page.select_option(".surgical-seg-step", "dissect the cystic duct")
    page.select_option(".surgical-seg-action", "hook dissection")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#toast")).to_have_text("Saved")
    page.goto(f"/projects/{pid}/annotate?item={item_id}")
    expect(page.locator("#item-view[data-ready=true]")).to_be_visible()
    expect(page.locator(".surgical-seg-action")).to_have_value("hook dissection")
    page.screenshot(path=str(tmp_path / "surgical-step-action.png"), full_page=True)
    saved = newest_human(live, token, item_id)["phases"][0]
    assert (saved["step"], saved["action"]) == ("dissect the cystic duct", "hook dissection")
    context.close()
