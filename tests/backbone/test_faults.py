"""Faults on demand, end to end: the control API, the engine's events, message faults."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

from lgwan_sim.backbone import Client, Control, ControlError, EmulatorError, EventStream, Service
from lgwan_sim.backbone.pytest_plugin import start_emulator
from tests.backbone.support import small_scenario

pytestmark = pytest.mark.emulator


class Seen:
    def __init__(self) -> None:
        self.requests: list[tuple[str, bytes]] = []

    def __call__(self, request):
        self.requests.append((request.src, request.body))
        return b"ok:" + request.body


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One emulator at real time (almost no simulated traffic) with a service at dc-b."""
    folder = tmp_path_factory.mktemp("faults")
    emu = start_emulator(small_scenario(folder, rate=1, duration="3600s"), folder / "emu", speed=1)
    seen = Seen()
    service = Service(emu.endpoints, "dc-b", {"directory": seen})
    thread = threading.Thread(target=service.serve, daemon=True)
    thread.start()
    assert service.ready.wait(30)
    control = Control(emu.endpoints)
    events = EventStream(emu.endpoints)
    yield emu, service, seen, control, events
    events.close()
    service.stop()
    thread.join(10)
    service.close()
    if emu.process.poll() is None:
        emu.stop()


@pytest.fixture
def rig(shared):
    """The shared emulator with no fault, an empty log of what the service saw, a client."""
    emu, service, seen, control, events = shared
    control.reset()
    seen.requests.clear()
    service.rejected.clear()
    client = Client(emu.endpoints, "m1", timeout_s=2.0, retries=1)
    yield emu, service, seen, control, events, client
    client.close()
    control.reset()


def test_a_link_fault_goes_through_the_engine_and_back(rig):
    _, _, seen, control, events, client = rig
    control.put("cut", kind="link_down", links=["m1~core"])
    applied = events.wait_for("applied", event_kind="link_down")
    assert applied["links"] == ["m1~core"]
    assert "m1~core" in control.state()["links_down"]
    with pytest.raises((EmulatorError, TimeoutError)):
        client.request("dc-b/directory", b"during")
    assert seen.requests == []
    control.delete("cut")
    up = events.wait_for("applied", event_kind="link_up")
    assert control.state()["links_down"] == []
    seq = up["seq"]
    while True:  # the routing of the restoration (the cut's own may come first)
        converged = events.wait_for("applied", event_kind="converged", after=seq, timeout=60)
        if "link_up" in converged.get("note", ""):
            break
        seq = converged["seq"]
    assert client.request("dc-b/directory", b"after").body == b"ok:after"
    log = [(e["name"], e["what"]) for e in control.events() if e["kind"] == "fault"]
    assert log[-2:] == [("cut", "added"), ("cut", "removed")]


def test_a_fault_with_a_duration_expires_by_itself(rig):
    _, _, _, control, events, _ = rig
    control.put("blip", kind="site_down", sites=["dc-a"], duration_s=1.0)
    events.wait_for("applied", event_kind="site_down")
    events.wait_for("fault", name="blip", what="removed", timeout=10)
    assert control.faults() == []
    assert control.state()["sites_down"] == []


def test_the_first_three_requests_are_dropped_then_the_rest_pass(rig):
    _, _, seen, control, _, client = rig
    control.put("drop3", kind="drop", match={"service": "directory", "first": 3})
    for i in range(3):
        with pytest.raises(TimeoutError):
            client.request("dc-b/directory", b"%d" % i, timeout_s=1.0)
    assert client.request("dc-b/directory", b"4th").body == b"ok:4th"
    assert seen.requests == [("m1", b"4th")]
    assert control.get("drop3")["hits"] == 3
    hits = [e for e in control.events() if e["kind"] == "fault_hit" and e["name"] == "drop3"]
    assert len(hits) == 3
    assert {(h["command"], h["caller"], h["action"]) for h in hits} == {("request", "m1", "drop")}
    metrics = control.metrics()
    assert 'lgwan_emulator_fault_hits_total{fault="drop3"} 3' in metrics


def test_an_error_fault_answers_the_client_with_its_code(rig):
    _, _, seen, control, _, client = rig
    with control.fault("busy", kind="error", code=503, match={"command": "request"}):
        with pytest.raises(EmulatorError) as info:
            client.request("dc-b/directory", b"x")
        assert info.value.code == 503
    assert seen.requests == []
    assert client.request("dc-b/directory", b"y").body == b"ok:y"


def test_a_delay_fault_adds_its_delay_to_the_round_trip(rig):
    _, _, _, control, _, client = rig
    before = min(client.request("dc-b/directory", b"a").rtt_s for _ in range(3))
    with control.fault("slow", kind="delay", delay_s=0.5, match={"service": "directory"}):
        during = client.request("dc-b/directory", b"b", timeout_s=5).rtt_s
    assert during - before >= 0.45


def test_a_corrupted_request_is_refused_by_the_service(rig):
    _, service, seen, control, _, client = rig
    with control.fault("flip", kind="corrupt", match={"first": 1}), pytest.raises(TimeoutError):
        client.request("dc-b/directory", b"c", timeout_s=1.5)
    deadline = time.monotonic() + 5
    while not service.rejected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert service.rejected == {"bad-signature": 1}
    assert seen.requests == []


def test_a_duplicated_request_is_caught_as_a_replay_by_the_service(rig):
    _, service, seen, control, _, client = rig
    with control.fault("twice", kind="duplicate", match={"first": 1}):
        assert client.request("dc-b/directory", b"d").body == b"ok:d"
    deadline = time.monotonic() + 5
    while not service.rejected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen.requests == [("m1", b"d")]  # the copy is the same signed message: a replay
    assert service.rejected == {"replay": 1}


def test_a_held_request_is_delivered_when_the_hold_is_lifted(rig):
    _, _, seen, control, _, client = rig
    control.put("hang", kind="hold", match={"service": "directory"})
    with pytest.raises(TimeoutError):
        client.request("dc-b/directory", b"h", timeout_s=1.0)
    assert seen.requests == []
    control.delete("hang")
    deadline = time.monotonic() + 5
    while not seen.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen.requests == [("m1", b"h")]


def test_a_disconnect_drops_the_transport_and_clients_come_back(rig):
    _, _, _, control, events, client = rig
    control.put("unplug", kind="disconnect", duration_s=1.0)
    events.wait_for("transport", what="unbound")
    events.wait_for("transport", what="bound", timeout=10)
    time.sleep(0.5)
    other = Client(client.peer.endpoints, "m2", timeout_s=3)
    try:
        reply = other.request("dc-b/directory", b"z")
    finally:
        other.close()
    assert reply.body == b"ok:z"
    assert client.request("dc-b/directory", b"again").body == b"ok:again"  # m1 reconnected


def test_a_lossy_link_loses_requests_as_link_loss_and_the_stream_records_it(rig):
    _, _, seen, control, events, client = rig
    control.put("lossy", kind="link_loss", links=["m1~core"], loss=1.0)
    applied = events.wait_for("applied", event_kind="link_loss")
    assert applied["links"] == ["m1~core"]
    for i in range(3):
        with pytest.raises(TimeoutError):
            client.request("dc-b/directory", b"%d" % i, timeout_s=1.0)
    assert seen.requests == []
    drops = [e for e in control.events() if e["kind"] == "drop" and e["seq"] > applied["seq"]]
    assert len(drops) >= 3  # each request and its retry
    assert {(d["reason"], d["caller"], d["service"]) for d in drops} == {
        ("link_loss", "m1", "directory")
    }
    control.delete("lossy")
    events.wait_for("applied", event_kind="link_loss", after=applied["seq"])
    assert client.request("dc-b/directory", b"after").body == b"ok:after"
    assert seen.requests == [("m1", b"after")]


def test_a_half_lossy_link_loses_about_half_of_the_round_trips(rig):
    _, _, seen, control, _, client = rig
    # each round trip crosses the link twice: it gets through with probability 0.7^2
    control.put("half", kind="link_loss", links=["m1~core"], loss=0.3)
    answered = 0
    n = 40
    for i in range(n):
        try:
            client.request("dc-b/directory", b"%d" % i, timeout_s=0.4)
            answered += 1
        except TimeoutError:
            pass
    p = 0.49
    assert abs(answered - n * p) <= 4 * (n * p * (1 - p)) ** 0.5, answered
    assert len(seen.requests) >= answered  # each answer came from the service


def test_a_link_latency_adds_its_delay_both_ways(rig):
    _, _, _, control, events, client = rig
    before = min(client.request("dc-b/directory", b"a").rtt_s for _ in range(3))
    control.put("far", kind="link_latency", links=["m1~core"], delay_s=0.25, jitter_s=0.05)
    events.wait_for("applied", event_kind="link_latency")
    during = [client.request("dc-b/directory", b"b", timeout_s=5).rtt_s for _ in range(5)]
    control.delete("far")
    for rtt in during:  # 0.25 s each way, each within 0.05 s of it
        assert 0.4 - 0.05 <= rtt - before <= 0.6 + 0.15, rtt - before
    after = min(client.request("dc-b/directory", b"c").rtt_s for _ in range(3))
    assert after - before < 0.2


def test_a_flapping_link_goes_down_and_up_until_the_fault_is_removed(rig):
    _, _, _, control, events, _ = rig
    control.put("flappy", kind="link_flap", links=["m2~core"], mtbf_s=0.3, mttr_s=0.3)
    start = events.wait_for("applied", event_kind="link_flap")
    down = events.wait_for("applied", event_kind="link_down", after=start["seq"], timeout=20)
    up = events.wait_for("applied", event_kind="link_up", after=down["seq"], timeout=20)
    assert down["links"] == up["links"] == ["m2~core"]
    assert "flap" in down["note"]
    assert "flap" in up["note"]
    control.delete("flappy")
    stop = events.wait_for("applied", event_kind="link_flap", after=up["seq"])
    time.sleep(1.0)  # a transition pending at the removal must not come
    later = [
        e
        for e in control.events()
        if e["kind"] == "applied" and e["seq"] > stop["seq"] and e["event_kind"] == "link_down"
    ]
    assert later == []
    assert control.state()["links_down"] == []


def test_faults_are_idempotent_and_bad_ones_name_their_field(rig):
    _, _, _, control, _, _ = rig
    first = control.put("x", kind="drop", match={"first": 2})
    again = control.put("x", kind="drop", match={"first": 2})
    assert first == again
    assert len(control.faults()) == 1
    with pytest.raises(ControlError) as info:
        control.put("y", kind="error", code=418)
    assert info.value.status == 400
    assert "faults.y.code" in str(info.value)
    with pytest.raises(ControlError) as info:
        control.put("z", kind="link_down", links=["nowhere~core"])
    assert info.value.status == 400
    with pytest.raises(ControlError) as info:
        control.put("ge", kind="link_loss", links=["m1~core"], p_good_to_bad=0.1)
    assert "faults.ge.p_bad_to_good" in str(info.value)
    with pytest.raises(ControlError) as info:
        control.put("j", kind="link_latency", links=["m1~core"], delay_s=0.01, jitter_s=0.1)
    assert "faults.j.jitter_s" in str(info.value)
    control.reset()
    assert control.faults() == []
    assert 'lgwan_emulator_messages_total{kind="ready"} 1' in control.metrics()


def test_the_fault_command_line(rig):
    emu, _, _, control, _, _ = rig

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "lgwan_sim", "fault", *args, "--endpoints", str(emu.endpoints)],
            capture_output=True,
            text=True,
            timeout=60,
        )

    added = cli("add", "cut", '{"kind": "link_down", "links": ["m2~core"]}')
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["name"] == "cut"
    listed = cli("list")
    assert [json.loads(line)["name"] for line in listed.stdout.splitlines()] == ["cut"]
    bad = cli("add", "bad", '{"kind": "nope"}')
    assert bad.returncode == 2
    assert "faults.bad.kind" in bad.stderr
    assert cli("rm", "cut").returncode == 0
    assert cli("rm", "cut").returncode == 2
    assert control.faults() == []


def test_faults_applied_live_are_in_the_outputs(lgwan_emulator, tmp_path):
    emu = lgwan_emulator(small_scenario(tmp_path, rate=200_000, duration="600s"), speed=10)
    control = Control(emu.endpoints)
    control.put("cut", kind="link_down", links=["m2~core"], duration_s=20)
    time.sleep(3)  # 30 simulated seconds: the cut and its end
    summary = emu.stop()
    log = summary["emulation"]["faults"]
    assert [(f["fault"], f["what"]) for f in log] == [("cut", "added"), ("cut", "removed")]
    assert log[0]["kind"] == "link_down"
    events = (
        json.loads((emu.out / "events.json").read_text())
        if (emu.out / "events.json").exists()
        else None
    )
    assert (
        summary["totals"]["dropped"].get("link_failure", 0)
        + summary["totals"]["dropped"].get("no_route", 0)
        > 0
    ), "the cut must have cost messages, as the same event in a scenario would"
    del events


def test_each_network_fault_is_undone_by_its_restoration():
    from lgwan_sim.backbone._faults import parse_fault

    restored = {
        kind: [(e.kind.value, e.capacity_bps, e.hold) for e in fault.restore(2.0)]
        for kind, fault in (
            (s["kind"], parse_fault("x", s, now_s=1.0, campuses={"east": ("core",)}))
            for s in (
                {"kind": "link_down", "links": ["m1~core"]},
                {"kind": "site_down", "sites": ["dc-a"]},
                {"kind": "region_down", "prefectures": ["03"]},
                {"kind": "campus_down", "campus": "east"},
                {"kind": "failover", "service": "directory"},
                {"kind": "capacity", "links": ["m1~core"], "capacity_bps": 1e6},
                {"kind": "link_loss", "links": ["m1~core"], "loss": 0.1},
                {"kind": "link_latency", "links": ["m1~core"], "delay_s": 0.1},
                {"kind": "link_flap", "links": ["m1~core"], "mtbf_s": 1, "mttr_s": 1},
            )
        )
    }
    assert restored == {
        "link_down": [("link_up", None, "fault:x")],
        "site_down": [("site_up", None, "fault:x")],
        "region_down": [("region_up", None, "fault:x")],
        "campus_down": [("site_up", None, "fault:x")],
        "failover": [("failback", None, "fault:x")],
        "capacity": [("capacity", None, "fault:x")],
        "link_loss": [("link_loss", None, "fault:x")],
        "link_latency": [("link_latency", None, "fault:x")],
        "link_flap": [("link_flap", None, "fault:x")],
    }
    for spec in (
        {"kind": "link_loss", "links": ["m1~core"], "loss": 0.1},
        {"kind": "link_latency", "links": ["m1~core"], "delay_s": 0.1, "jitter_s": 0.05},
        {"kind": "link_flap", "links": ["m1~core"], "mtbf_s": 1, "mttr_s": 1},
    ):
        (undo,) = parse_fault("x", spec, now_s=1.0, campuses={}).restore(2.0)
        assert (undo.loss, undo.delay_s, undo.mtbf_s) == (None, None, None)
