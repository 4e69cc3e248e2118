"""What the emulator gives the dashboard: every link in each bin event, a clock to hold."""

from __future__ import annotations

from typing import Any

import pytest

from lgwan_sim.backbone import Control, ControlError, EventStream
from lgwan_sim.engine._state import directed_link_ids
from lgwan_sim.network import build_national

pytestmark = pytest.mark.emulator


def test_a_bin_event_carries_every_link_and_every_service(emulator: Any):
    stream = EventStream(emulator.endpoints)
    try:
        record = stream.wait_for("bin", timeout=60)
    finally:
        stream.close()
    util = record["utilisation"]
    assert len(util) == len(directed_link_ids(build_national())) == 2 * 1911
    assert all(isinstance(u, float | int) and u >= 0 for u in util)
    assert any(u > 0 for u in util)  # the night is quiet, not silent
    services = record["services"]
    assert set(services) == set(emulator.info["hosts"])
    assert sum(v[0] for v in services.values()) == record["offered"]
    assert sum(v[1] for v in services.values()) == record["delivered"]
    assert sum(v[2] for v in services.values()) == sum(record["dropped"].values())


@pytest.mark.parametrize(
    "body",
    [{"paused": "yes"}, {"step_s": 0}, {"step_s": -1}, {"speed": float("inf")}, {"speed": True}],
)
def test_the_clock_refuses_bad_changes(emulator: Any, body: dict[str, Any]):
    control = Control(emulator.endpoints)
    with pytest.raises(ControlError) as got:
        control._request("POST", "/clock", body)
    assert got.value.status == 400
    assert control.clock()["paused"] is False  # nothing changed
