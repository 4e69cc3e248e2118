"""The screenshots of docs/dashboard.md: the tohoku-2011 drill before, during and after.

    lgwan-sim run tohoku-2011 -o runs/tohoku --no-plots
    python docs/img/shoot_dashboard.py runs/tohoku

Replays the run in Chromium (Debian's, through Playwright), follows a Miyagi municipality's
path to eLTAX, and writes dashboard-before.png, dashboard-during.png and
dashboard-after.png beside this file.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent)]

from lgwan_sim.live import LiveServer, Replay, read_run  # noqa: E402

MOMENTS = {  # simulated seconds since 2011-03-11 00:00 JST
    "before": 14 * 3600 + 30 * 60,  # 14:30 on the 11th, the afternoon load
    "during": 24 * 3600 + 13 * 3600,  # 13:00 on the 12th: three prefectures down, the surge on
    "after": 3 * 24 * 3600 + 14 * 3600,  # 14:00 on the 14th: all restored
}


def main() -> None:
    from playwright.sync_api import sync_playwright

    replay = Replay(read_run(Path(sys.argv[1])), speed=600)
    replay.state.update(control={"paused": True})
    server = LiveServer(replay)
    url = server.start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
            )
            page = browser.new_page(viewport={"width": 1440, "height": 960})
            page.goto(url)
            page.wait_for_function("window.live && window.live.snapshots > 0")
            page.evaluate("window.livePost('path', {site: 'mun-02-001', service: 'eltax'})")
            page.wait_for_function("window.live.path !== null")
            for name, t in MOMENTS.items():
                page.evaluate(f"window.livePost('clock', {{action: 'seek', value: {t}}})")
                page.wait_for_function(f"window.live.sim_s === {t}")
                page.wait_for_timeout(500)
                page.screenshot(path=str(HERE / f"dashboard-{name}.png"))
            page.evaluate("window.es.close()")
            browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
