"""The bundled packet-zoom at packet fidelity: the only losses are those of its events.

Its mails are lognormal (mean 60 kB, sigma 1.5), so some exceed the 1 MB port buffer;
paced by their window they cross the idle network like any other message.
"""

from __future__ import annotations

import pytest

from lgwan_sim._resources import bundled_dir
from lgwan_sim.engine import Timeline, run
from lgwan_sim.scenario import engine_inputs, load_scenario


@pytest.fixture(scope="module")
def packet_zoom():
    return engine_inputs(load_scenario(bundled_dir("scenarios") / "packet-zoom.yaml"))


def test_without_its_events_packet_zoom_loses_nothing(packet_zoom) -> None:
    i = packet_zoom
    assert i.fidelity == "packet"
    result = run(
        i.topology,
        i.demand,
        Timeline(),
        fidelity=i.fidelity,
        duration_s=i.duration_s,
        seed=i.seed,
        config=i.config,
    )
    assert result.dropped == {}
    assert result.delivered + result.in_flight == result.offered
    assert result.link_utilisation.max() < 0.01  # an idle network: nothing to congest
