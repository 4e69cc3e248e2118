"""A replay shows what the run recorded, not what its scenario file schedules."""

from __future__ import annotations

import time

import pytest

from lgwan_sim.backbone import Control
from lgwan_sim.live import read_run
from tests.backbone.support import small_scenario

pytestmark = pytest.mark.emulator


def test_a_fault_applied_live_in_an_emulation_is_in_its_replay(lgwan_emulator, tmp_path):
    # the scenario schedules nothing; the cut exists only because the control API made it
    emu = lgwan_emulator(small_scenario(tmp_path, rate=200_000, duration="600s"), speed=10)
    control = Control(emu.endpoints)
    control.put("cut", kind="link_down", links=["m2~core"], duration_s=20)
    time.sleep(4)  # 40 simulated seconds: the cut and its end
    emu.stop()
    recording = read_run(emu.out)
    downs = [c for c in recording.changes if "m2~core" in c.down_links]
    assert downs, "the live cut must be in the replay"
    first = downs[0]
    back = [c for c in recording.changes if c.at_s > first.at_s and not c.down_links]
    assert back, "and so must its end"
    # the files write times to six significant digits
    assert back[0].at_s == pytest.approx(first.at_s + 20.0, abs=1e-3)
    assert any("link_down" in line for _, line in recording.events)
