"""The dashboard in real Chromium beside a real emulator: faults in red, the clock, clicks."""

from __future__ import annotations

from typing import Any

import pytest

from lgwan_sim.backbone import Control, ControlError
from tests.live.support import Served, close_page, needs_browser, offline_page, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.emulator, needs_browser]


@pytest.fixture(scope="module")
def dash(emulator: Any) -> Any:
    from lgwan_sim.live._dashboard import Dashboard, read_endpoints

    served = Served(Dashboard(read_endpoints(emulator.endpoints)))
    yield served
    served.stop()


@pytest.fixture
def control(emulator: Any) -> Any:
    c = Control(emulator.endpoints)
    c.reset()
    yield c
    c.reset()
    # the emulator is shared with the other live tests: a test that failed while the clock
    # was held must not leave it held for them
    c.clock(paused=False)


def test_a_fault_on_the_control_api_turns_its_elements_red_within_1_s(
    browser: Any, dash: Any, control: Any
):
    context, page, tried = offline_page(browser, dash.url)
    seq = page.evaluate("window.live.seq")
    control.put("quake", kind="site_down", sites=["pn-04"])
    page.wait_for_function(
        "document.querySelector('[data-site=\"pn-04\"]').classList.contains('down')",
        timeout=1000,
    )
    assert page.evaluate("window.live.seq") > seq
    topo = dash.server.source.state.topology
    lines = sorted(lk.id for lk in topo.links_of_site("pn-04"))
    red = page.eval_on_selector_all("#failed [data-link]", "els => els.map(e => e.dataset.link)")
    assert sorted(red) == lines
    assert page.eval_on_selector_all("#failed [data-site]", "e => e.map(x => x.dataset.site)") == [
        "pn-04"
    ]
    # Miyagi's local bodies hang off its prefecture node: all of them are cut off
    miyagi = {s.id for s in topo.sites.values() if s.prefecture == "04" and s.kind.is_local_body}
    cut = set(page.eval_on_selector_all("#cut [data-cut]", "e => e.map(x => x.dataset.cut)"))
    assert miyagi <= cut
    control.delete("quake")
    page.wait_for_function("window.live.failedSites.size === 0", timeout=1000)
    assert page.eval_on_selector_all("#failed *", "els => els.length") == 0
    assert tried == []
    close_page(context, page)


def test_the_clock_advances(browser: Any, dash: Any, control: Any):
    context, page, _ = offline_page(browser, dash.url)
    t0 = page.evaluate("window.live.sim_s")
    page.wait_for_function(f"window.live.sim_s > {t0} + 10", timeout=10_000)
    assert page.text_content("#clock").startswith("2026-06-10 ")
    close_page(context, page)


def test_a_click_fails_a_link_and_a_second_restores_it(browser: Any, dash: Any, control: Any):
    context, page, _ = offline_page(browser, dash.url)
    page.select_option("#target", "link")
    topo = dash.server.source.state.topology
    link = topo.links_of_site("mun-04-001")[0].id  # a municipality's access line
    with page.expect_response(lambda r: r.url.endswith("/api/fault"), timeout=60_000) as first:
        page.dispatch_event(f'[data-link="{link}"]', "click")
    assert first.value.json()["done"] == "failed"
    wait_until(lambda: link in control.state()["links_down"], timeout=60)
    assert control.state()["faults"] == [f"map-link-{sorted(topo.links).index(link)}"]
    # generous: on a loaded machine the emulator's loop answers /state late
    page.wait_for_function(
        f"document.querySelector('[data-link=\"{link}\"]').parentNode.id === 'failed'",
        timeout=60_000,
    )
    with page.expect_response(lambda r: r.url.endswith("/api/fault"), timeout=60_000) as second:
        page.dispatch_event(f'[data-link="{link}"]', "click")
    assert second.value.json()["done"] == "restored"
    wait_until(lambda: link not in control.state()["links_down"], timeout=60)
    assert control.state()["faults"] == []
    page.wait_for_function("window.live.failedLinks.size === 0", timeout=60_000)
    close_page(context, page)


def test_pause_and_step_reach_the_emulator(browser: Any, dash: Any, control: Any):
    context, page, _ = offline_page(browser, dash.url)
    page.click("#play")
    # generous: on a loaded machine the emulator's loop answers late
    wait_until(lambda: control.clock()["paused"], timeout=60)
    held = control.state()["sim_s"]
    page.wait_for_timeout(700)
    assert control.state()["sim_s"] == held  # paused: the simulated clock stands
    bin_s = dash.server.source.state.bin_s
    page.click("#step")  # one bin on, then paused again
    step_to = wait_until(lambda: control.clock()["step_to"], timeout=60)
    assert step_to == pytest.approx(held + bin_s, abs=1e-3)
    # the clock is read to the microsecond: held + bin_s may be a hair past what is shown
    wait_until(lambda: control.state()["sim_s"] >= held + bin_s - 1e-3, timeout=60)
    page.wait_for_timeout(700)
    assert control.state()["sim_s"] < held + bin_s + 1  # and no further
    assert control.clock()["paused"]
    page.click("#play")
    wait_until(lambda: not control.clock()["paused"], timeout=60)
    close_page(context, page)


def test_a_route_that_is_not_a_pair_is_refused_naming_it(control: Any):
    with pytest.raises(ControlError) as refused:
        control.state([("mun-04-001", "x,y")])
    assert refused.value.status == 400
    assert "route" in str(refused.value)
    assert "mun-04-001,x,y" in str(refused.value)
    with pytest.raises(ControlError) as unknown:
        control.state([("mun-04-001", "no-such-site")])
    assert unknown.value.status == 400
    assert "no-such-site" in str(unknown.value)
    assert control.state([("mun-04-001", "pn-04")])["routes"][0]["sites"][0] == "mun-04-001"


def test_the_path_shown_is_the_engines_which_lags_a_cut_by_the_convergence_delay(
    dash: Any, control: Any
):
    # The engine keeps routing over a cut line until routing converges (3 s by default):
    # the dashboard shows that path, not a shortest path of its own around what is down.
    from lgwan_sim.network import Router

    st = dash.server.source.state
    topo = st.topology
    site, service = "mun-04-001", "eltax"
    control.clock(paused=True)
    try:
        host = control.state()["hosts"][service]
        before = control.state([(site, host)])["routes"][0]["sites"]
        assert len(before or ()) >= 4
        shown = dash.post("path", {"site": site, "service": service})["path"]
        assert [st.site_ids[i] for i in shown["sites"]] == before
        # a backbone line in the middle of the path, with a way around it
        cut = topo.link_between(before[len(before) // 2 - 1], before[len(before) // 2]).id
        around = Router(topo)
        around.fail_links([cut])
        detour = list(around.route(site, host).sites)
        assert detour != before
        control.put("cut", kind="link_down", links=[cut])
        at = control.state()["sim_s"]
        control.clock(step_s=1.0)  # the line is down, routing has not converged
        wait_until(lambda: cut in control.state()["links_down"], timeout=60)
        assert control.state([(site, host)])["routes"][0]["sites"] == before
        assert control.state()["sim_s"] < at + 3.0
        wait_until(lambda: st.down_links == frozenset([cut]), timeout=10)
        # asked again, the dashboard answers after its own poll of the emulator
        shown = dash.post("path", {"site": site, "service": service})["path"]
        assert [st.site_ids[i] for i in shown["sites"]] == before
        control.clock(step_s=5.0)  # converged: the engine and the page take the detour
        engine = wait_until(
            lambda: (r := control.state([(site, host)])["routes"][0]["sites"]) != before and r,
            timeout=60,
        )
        assert engine == detour
        shown = dash.post("path", {"site": site, "service": service})["path"]
        assert [st.site_ids[i] for i in shown["sites"]] == detour
        assert st.link_index[cut] not in shown["links"]
    finally:
        control.clock(paused=False)
        dash.post("path", {})


def test_two_fast_clicks_fail_then_restore_the_same_line(browser: Any, dash: Any, control: Any):
    # The second click must see the first one's fault: both decided from the emulator's
    # list at once, both would fail the line and the trainer could not restore it.
    context, page, _ = offline_page(browser, dash.url)
    page.select_option("#target", "link")
    link = dash.server.source.state.topology.links_of_site("mun-04-002")[0].id
    seen: list[Any] = []
    page.on("response", lambda r: seen.append(r) if r.url.endswith("/api/fault") else None)
    for n in range(1, 6):
        page.evaluate(
            """(id) => { const el = document.querySelector(`[data-link="${id}"]`);
                         el.dispatchEvent(new MouseEvent("click", {bubbles: true}));
                         el.dispatchEvent(new MouseEvent("click", {bubbles: true})); }""",
            link,
        )
        for _ in range(1200):  # Playwright hands events over only while it is called
            if len(seen) >= 2 * n:
                break
            page.wait_for_timeout(50)
        answers = [r.json()["done"] for r in seen]
        assert sorted(answers[-2:]) == ["failed", "restored"], answers
        assert control.state()["faults"] == []
    close_page(context, page)
