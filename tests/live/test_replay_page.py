"""The replay in real Chromium: offline, every element, the outage in red, to the end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lgwan_sim.network import build_national
from tests.live.support import Served, close_page, needs_browser, offline_page

pytestmark = [pytest.mark.browser, needs_browser]


@pytest.fixture(scope="module")
def national() -> Any:
    return build_national()


def test_page_offline_shows_every_site_and_link(browser: Any, mini_run: Path, national: Any):
    from lgwan_sim.live import Replay, read_run

    served = Served(Replay(read_run(mini_run), speed=1))
    try:
        context, page, tried = offline_page(browser, served.url)
        sites = page.eval_on_selector_all("[data-site]", "els => els.map(e => e.dataset.site)")
        links = page.eval_on_selector_all("[data-link]", "els => els.map(e => e.dataset.link)")
        prefs = page.eval_on_selector_all("[data-pref]", "els => els.length")
        assert sorted(sites) == sorted(national.sites)
        assert sorted(links) == sorted(national.links)
        assert (len(sites), len(links), prefs) == (1853, 1911, 47)
        # the Japanese font and the script came from this server; nothing else was tried
        assert page.evaluate("document.fonts.check('12px IPAexGothic', '東京都')")
        assert tried == []
        assert page.errors == []
        close_page(context, page)
    finally:
        served.stop()


def test_replay_at_600x_shows_the_outage_and_reaches_the_end(browser: Any, mini_run: Path):
    from lgwan_sim.live import Replay, read_run

    rec = read_run(mini_run)
    replay = Replay(rec, speed=600)
    replay.control("pause")  # played from the page once it is loaded, so it misses nothing
    served = Served(replay)
    try:
        context, page, tried = offline_page(browser, served.url)
        page.click("#play")
        # 14:46 to 15:10 JST: Iwate, Miyagi and Fukushima down, their sites red above all
        page.wait_for_function("window.live.failedSites.size > 0", timeout=20_000)
        down = page.eval_on_selector_all(
            "#failed [data-site]", "els => els.map(e => e.dataset.site)"
        )
        topo = rec.scenario.topology
        want = sorted(s.id for s in topo.sites.values() if s.prefecture in ("03", "04", "07"))
        assert sorted(down) == want
        assert page.evaluate("getComputedStyle(document.querySelector('#failed .s')).fill") == (
            "rgb(240, 62, 62)"
        )
        # the failed group is the last one drawn: above every other element
        assert page.evaluate("document.getElementById('map').lastElementChild.id") == "failed"
        assert page.eval_on_selector_all("#cut [data-cut]", "els => els.length") > 0
        page.wait_for_function("window.live.control.ended === true", timeout=30_000)
        assert page.text_content("#clock") == "2011-03-11 15:30:00 JST"
        assert page.evaluate("window.live.failedSites.size") == 0  # restored at 15:10
        # every bin of every service reached the plots; the seq counter saw every frame
        bins = page.evaluate("Object.values(window.live.history).map(h => h.length)")
        assert set(bins) == {len(rec.times_s)}
        assert page.evaluate("window.live.frames === window.live.seq - window.live.firstSeq + 1")
        lines = page.eval_on_selector_all("#timeline li", "els => els.length")
        assert lines == len(rec.events)
        assert tried == []
        close_page(context, page)
    finally:
        served.stop()


def test_pause_and_step_from_the_page(browser: Any, mini_run: Path):
    from lgwan_sim.live import Replay, read_run

    served = Served(Replay(read_run(mini_run), speed=60))
    try:
        context, page, _ = offline_page(browser, served.url)
        page.click("#play")  # pause
        page.wait_for_function("window.live.control.paused === true")
        t = page.evaluate("window.live.sim_s")
        page.click("#step")
        page.wait_for_function(f"window.live.sim_s > {t}")
        stepped = page.evaluate("window.live.sim_s")
        assert stepped % 300 == 0
        assert stepped - t <= 300
        seq = page.evaluate("window.live.seq")
        page.wait_for_timeout(400)  # paused: nothing more comes
        assert page.evaluate("[window.live.seq, window.live.sim_s]") == [seq, stepped]
        close_page(context, page)
    finally:
        served.stop()
