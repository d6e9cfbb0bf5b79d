"""An hour-long consultation in the annotation page: scroll the zoomed waveform, then play at 2x with the current
segment and word following, and measure every animation frame meanwhile. Shared by the browser test (which checks
that the page did the work) and benchmarks/bench_consult_ui.py (which reports the frame times: speed is measured,
not asserted)."""
from __future__ import annotations

import os
import time

WORDS = ("so", "how", "have", "you", "been", "since", "the", "last", "visit", "any", "chest", "pain", "or",
         "shortness", "of", "breath", "taking", "metformin", "twice", "daily")


def long_transcript(seconds: int, turn_ms: int = 6000) -> dict:
    """A turn every 6 s (600 an hour) with word timings, alternating two speakers."""
    segments = []
    for n, start in enumerate(range(0, seconds * 1000 - turn_ms, turn_ms)):
        words = [{"text": WORDS[(n + k) % len(WORDS)], "start_ms": start + k * 450, "end_ms": start + k * 450 + 400}
                 for k in range(11)]
        segments.append({"id": f"t{n}", "start_ms": start, "end_ms": start + 5000, "speaker": f"S{n % 2 + 1}",
                         "text": " ".join(w["text"] for w in words), "words": words})
    return {"speakers": [{"id": "S1"}, {"id": "S2"}], "segments": segments}


def open_long_consultation(page, live, token, folder, seconds: int = 3600) -> int:
    """Upload an hour's recording through the page, wait for its derived assets, store a 600-turn transcript as the
    admin's draft and open it for annotation; `page` is logged in as that admin."""
    import media_files
    from live import api

    pid = api(live, token, "POST", "/projects", {"name": f"Consult {seconds} s", "modality": "consult"})["id"]
    recording = media_files.long_consultation(os.path.join(folder, "hour.ogg"), seconds=seconds)
    page.goto(f"/projects/{pid}")
    page.set_input_files("#file-input", [recording])
    page.get_by_text("1 item(s) created, 0 failed.").wait_for()
    item_id = api(live, token, "GET", f"/projects/{pid}/items")["items"][0]["id"]
    deadline = time.time() + 120
    while api(live, token, "GET", f"/items/{item_id}")["status"] != "ready":  # probe, peaks, PCM on the worker
        assert time.time() < deadline, "the recording's assets were not derived in 2 minutes"
        time.sleep(0.2)
    assert api(live, token, "POST", f"/projects/{pid}/next")["id"] == item_id
    api(live, token, "POST", f"/items/{item_id}/annotations", {"payload": long_transcript(seconds), "status": "draft"})
    page.goto(f"/projects/{pid}/annotate?item={item_id}")
    page.locator("[data-waveform=ready]").wait_for()
    return item_id


# Frame times from requestAnimationFrame (what the user sees) and Long Animation Frame entries (frames whose work
# took over 50 ms, with the script that did it), collected until __framesStop().
_START = """() => {
  window.__frames = { gaps: [], long: [] };
  let last = performance.now(), running = true;
  const tick = (t) => { window.__frames.gaps.push(t - last); last = t; if (running) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  let observer = null;
  if (PerformanceObserver.supportedEntryTypes.includes('long-animation-frame')) {
    observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__frames.long.push({ duration: e.duration,
        scripts: (e.scripts || []).map((s) => `${s.invoker || ''} ${s.sourceFunctionName || ''}`.trim()).slice(0, 3) });
    });
    observer.observe({ type: 'long-animation-frame' });
  }
  window.__framesStop = () => { running = false; if (observer) observer.disconnect(); return window.__frames; };
}"""


def _summary(frames: dict) -> dict:
    gaps = sorted(frames["gaps"][1:])  # the first gap counts from before the measurement began
    if not gaps:
        return {"frames": 0}
    pick = lambda q: round(gaps[min(len(gaps) - 1, int(len(gaps) * q))], 1)  # noqa: E731
    return {"frames": len(gaps), "frame_p50_ms": pick(0.5), "frame_p99_ms": pick(0.99),
            "frame_max_ms": round(gaps[-1], 1), "frames_over_50ms": sum(g > 50 for g in gaps),
            "long_animation_frames": len(frames["long"]),
            "long_animation_frame_max_ms": round(max((e["duration"] for e in frames["long"]), default=0), 1),
            "long_animation_frame_scripts": sorted({s for e in frames["long"] for s in e["scripts"]})[:5]}


def scroll_and_play(page, play_s: float = 6.0) -> dict:
    """On an open annotation page whose waveform is drawn: zoom in, wheel through the timeline, then play at 2x."""
    scroller = "document.querySelector('.consult-waveform > div').shadowRoot.querySelector('.scroll')"
    page.evaluate("""() => { const z = document.querySelector('.consult-zoom'); z.value = '100';
                            z.dispatchEvent(new Event('input')); }""")
    page.wait_for_timeout(300)
    box = page.locator(".consult-waveform").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    before = page.evaluate(f"{scroller}.scrollLeft")
    page.evaluate(_START)
    for _ in range(60):  # a trackpad's horizontal swipe through a few minutes of audio
        page.mouse.wheel(400, 0)
        page.wait_for_timeout(16)
    page.wait_for_timeout(300)
    scrolling = _summary(page.evaluate("window.__framesStop()"))
    scrolling["scrolled_px"] = page.evaluate(f"{scroller}.scrollLeft") - before

    page.select_option(".consult-speed", "2")
    page.evaluate("document.querySelector('.consult-audio').currentTime = 1800")  # mid-file, 300 turns in
    page.evaluate(_START)
    page.keyboard.press("p")
    page.wait_for_timeout(int(play_s * 1000))
    page.keyboard.press("p")
    playing = _summary(page.evaluate("window.__framesStop()"))
    playing["played_s"] = round(page.evaluate("document.querySelector('.consult-audio').currentTime") - 1800, 2)
    playing["current_segment"] = page.evaluate(
        "Number(document.querySelector('.consult-segment.current')?.dataset.index ?? -1)")
    # The word under the playhead: the third word of turn 300 (at 1800.9 s-1801.3 s).
    page.evaluate("document.querySelector('.consult-audio').currentTime = 1801.1")
    page.locator(".consult-now .word.current").wait_for()
    playing["current_word"] = page.locator(".consult-now .word.current").text_content()
    return {"scrolling": scrolling, "playing": playing}
