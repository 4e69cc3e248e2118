"""Staged restoration: a stage out of order names the stage it must follow."""

from __future__ import annotations

from tests.scenario.support import SMALL


def _region(restore: str) -> str:
    return SMALL.replace(
        "events:\n",
        "events:\n"
        '  - {at: "+20m", kind: region_down, prefectures: ["03", "04"],'
        f" restore: {restore}}}\n",
    )


def test_a_stage_before_the_previous_one_names_the_previous_stage(
    cli, write_scenario, tmp_path
) -> None:
    path = write_scenario(
        _region('[{at: "+1h", prefectures: ["03"]}, {at: "+50m", prefectures: ["04"]}]')
    )
    result = cli("validate", path)
    assert result.code == 2
    line = (
        path.read_text(encoding="utf-8")
        .splitlines()
        .index(next(t for t in path.read_text(encoding="utf-8").splitlines() if '"+50m"' in t))
    )
    assert result.err.splitlines() == [
        f"lgwan-sim: error: {path}:{line + 1}: events[0].restore[1].at: must be after the previous "
        "stage (events[0].restore[0].at: +1h) (got '+50m')"
    ]
    assert "event's start" not in result.err


def test_a_first_stage_before_the_event_still_names_the_event_start(cli, write_scenario) -> None:
    path = write_scenario(_region('[{at: "+10m", prefectures: ["03", "04"]}]'))
    result = cli("validate", path)
    assert result.code == 2
    assert "events[0].restore[0].at: must be after the event's start (got '+10m')" in result.err


def test_stages_in_order_are_accepted(cli, write_scenario) -> None:
    path = write_scenario(
        _region('[{at: "+50m", prefectures: ["04"]}, {at: "+1h", prefectures: ["03"]}]')
    )
    result = cli("validate", path)
    assert result.code == 0, result.err
    assert "4 events" in result.out
