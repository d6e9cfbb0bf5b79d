"""The consult annotation page on an hour-long recording (600 turns with word timings) in Debian's Chromium: frame
times while wheel-scrolling the zoomed waveform and while playing at 2x (current segment and word following).
Target: no frame over 50 ms. Same scenario as the browser test (tests/consult_long_session.py).

Usage: python benchmarks/bench_consult_ui.py
"""
from __future__ import annotations

import json
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))


def main() -> None:
    from playwright.sync_api import sync_playwright

    from consult_long_session import open_long_consultation, scroll_and_play
    from live import LiveServer, admin_page

    with tempfile.TemporaryDirectory() as tmp, LiveServer(os.path.join(tmp, "data")) as live, \
            sync_playwright() as p:
        browser, page = admin_page(p, live, 60_000)
        open_long_consultation(page, live, live.token(), tmp)
        frames = scroll_and_play(page)
        browser.close()
    print(json.dumps({"benchmark": "consult_ui", "recording_s": 3600, "turns": 599,
                      "targets": {"frame_max_ms": "<= 50 while scrolling and while playing"}, **frames}, indent=2))


if __name__ == "__main__":
    main()
