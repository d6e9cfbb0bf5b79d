"""A two-hour surgical recording (180,000 frames at 25 fps) in the annotation page, with seven phases and 2,100 tag
intervals: step frames deep in the video, jump a second, go from boundary to boundary, zoom and pan the timeline and
play at 4x, measuring the key-to-frame latency and every animation frame meanwhile. Shared by the browser test (which
checks the frames are exact, on the pixels) and benchmarks/bench_surgical_ui.py (which reports the times: speed is
measured, not asserted)."""
from __future__ import annotations

import os
import time

from consult_long_session import _START, _summary

FPS = 25
PHASES = ("Preparation", "CalotTriangleDissection", "ClippingCutting", "GallbladderDissection",
          "GallbladderPackaging", "CleaningCoagulation", "GallbladderRetraction")
TRACKS = ("Grasper", "Bipolar", "Hook", "Scissors", "Clipper", "Irrigator", "SpecimenBag")


def long_timeline(frames: int) -> dict:
    """Seven phases over the whole video (the fourth starts at 90,037 in a two-hour one) and 300 intervals a track."""
    bounds = [0, frames // 10, frames // 4, frames // 2 + 37, frames * 2 // 3, frames * 4 // 5, frames * 9 // 10,
              frames]
    phases = [{"id": f"p{i}", "phase": PHASES[i], "start_frame": a, "end_frame": b}
              for i, (a, b) in enumerate(zip(bounds, bounds[1:]))]
    tags, gap = [], frames // 300
    for t, track in enumerate(TRACKS):
        for n in range(300):
            start = n * gap + (t * 37) % gap
            tags.append({"id": f"t{t}-{n}", "track": track, "start_frame": start,
                         "end_frame": min(frames, start + gap // 3 + t)})
    return {"phases": phases, "tags": tags, "comments": []}


def open_long_video(page, live, token, folder, seconds: int = 7200, size=(64, 48)) -> tuple[int, int]:
    """Upload a long recording through the page, wait for its frame index, proxy and sprite, store the timeline as
    the admin's draft and open it for annotation; `page` is logged in as that admin. Returns (item id, frames)."""
    import media_files
    from live import api

    pid = api(live, token, "POST", "/projects", {"name": f"Surgery {seconds} s", "modality": "surgical"})["id"]
    video = media_files.long_video(os.path.join(folder, "long-case.mp4"), seconds=seconds, fps=FPS, size=size)
    page.goto(f"/projects/{pid}")
    page.set_input_files("#file-input", [video])  # resumable (tus) at this size; a large one imports as a job
    page.locator("#upload-summary.ok").wait_for()
    deadline = time.time() + 180
    while not (items := api(live, token, "GET", f"/projects/{pid}/items")["items"]):
        assert time.time() < deadline, page.locator("#upload-summary").text_content()
        time.sleep(0.3)
    item_id = items[0]["id"]
    while (item := api(live, token, "GET", f"/items/{item_id}"))["status"] != "ready":
        assert item["status"] != "failed" and time.time() < deadline, item
        time.sleep(0.3)
    frames = next(a for a in item["assets"] if a["name"] == "frames")["meta"]["frames"]
    assert api(live, token, "POST", f"/projects/{pid}/next")["id"] == item_id
    api(live, token, "POST", f"/items/{item_id}/annotations", {"payload": long_timeline(frames), "status": "draft"})
    page.goto(f"/projects/{pid}/annotate?item={item_id}")
    page.locator("#item-view[data-ready=true]").wait_for()
    page.locator("#surgical-frame").filter(has_text=f"frame 0 / {frames}").wait_for()
    return item_id, frames


# The time from a key press to the frame counter showing the frame the browser presented.
_LATENCY = """() => {
  window.__steps = [];
  const out = document.querySelector('#surgical-frame');
  let t0 = null;
  document.addEventListener('keydown', () => { t0 = performance.now(); }, { capture: true });
  new MutationObserver(() => { if (t0 !== null) { window.__steps.push(performance.now() - t0); t0 = null; } })
    .observe(out, { childList: true, characterData: true, subtree: true });
}"""

# The RGB of the centre pixel of the frame the player presents (the browser tests read burned-in greys with it).
PRESENTED_GREY = """() => {
  const v = document.querySelector('#surgical-video');
  const c = document.createElement('canvas');
  c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext('2d');
  g.drawImage(v, 0, 0);
  return Array.from(g.getImageData(c.width >> 1, c.height >> 1, 1, 1).data.slice(0, 3));
}"""


def shown(page) -> int:
    return int(page.locator("#surgical-frame").text_content().split()[1])


def _press_until(page, key: str, wanted: int) -> None:
    page.keyboard.press(key)
    page.locator("#surgical-frame").filter(has_text=f"frame {wanted} /").wait_for()


def _latencies(values: list[float]) -> dict:
    values = sorted(values)
    if not values:
        return {"steps": 0}
    return {"steps": len(values), "p50_ms": round(values[len(values) // 2], 1),
            "p95_ms": round(values[min(len(values) - 1, int(len(values) * 0.95))], 1), "max_ms": round(values[-1], 1)}


def step_zoom_and_play(page, frames: int, steps: int = 40) -> dict:
    """On an open annotation page of the long video: boundary jumps, frame and second steps deep in the video (each
    checked on the pixels), timeline zoom and pan, and playing at 4x."""
    page.evaluate(_LATENCY)
    greys = []
    _press_until(page, "]", frames // 10)  # next boundary, three times: the fourth phase starts at frames // 2 + 37
    _press_until(page, "]", frames // 4)
    _press_until(page, "]", frames // 2 + 37)
    jumps = page.evaluate("window.__steps.splice(0)")
    at = shown(page)
    greys.append((at, page.evaluate(PRESENTED_GREY)[0]))
    for _ in range(steps):
        at += 1
        _press_until(page, "ArrowRight", at)
        greys.append((at, page.evaluate(PRESENTED_GREY)[0]))
    frame_steps = page.evaluate("window.__steps.splice(0)")
    for _ in range(steps // 4):
        at -= FPS
        _press_until(page, "Shift+ArrowLeft", at)
        greys.append((at, page.evaluate(PRESENTED_GREY)[0]))
    second_steps = page.evaluate("window.__steps.splice(0)")

    page.locator("#surgical-timeline").scroll_into_view_if_needed()
    canvas = page.locator("#surgical-timeline").bounding_box()
    page.mouse.move(canvas["x"] + canvas["width"] * 0.6, canvas["y"] + canvas["height"] / 2)
    page.evaluate(_START)
    page.keyboard.down("Control")
    for _ in range(60):  # from the whole two hours down to single frames around the pointer
        page.mouse.wheel(0, -120)
        page.wait_for_timeout(16)
    page.keyboard.up("Control")
    page.wait_for_timeout(200)
    zoom = _summary(page.evaluate("window.__framesStop()"))
    zoom["px_per_frame"] = round(float(page.eval_on_selector("#surgical-timeline", "c => c.dataset.pxPerFrame")), 3)
    page.evaluate("document.querySelector('.surgical-zoom').value = '400';"
                  "document.querySelector('.surgical-zoom').dispatchEvent(new Event('input'))")
    page.evaluate(_START)
    for _ in range(60):  # pan through the tags at a zoom of a few minutes per screen
        page.mouse.wheel(300, 0)
        page.wait_for_timeout(16)
    page.wait_for_timeout(200)
    pan = _summary(page.evaluate("window.__framesStop()"))

    page.select_option(".surgical-speed", "4")
    page.evaluate(_START)
    page.keyboard.press("k")
    page.wait_for_timeout(5000)
    page.keyboard.press("k")
    playing = _summary(page.evaluate("window.__framesStop()"))
    page.locator(".surgical-play").filter(has_text="▶").wait_for()
    playing["played_frames"] = shown(page) - at
    return {"boundary_jump": _latencies(jumps), "frame_step": _latencies(frame_steps),
            "second_step": _latencies(second_steps), "timeline_zoom": zoom, "timeline_pan": pan,
            "playing_4x": playing, "greys": greys}
