"""The real-time driver: pacing logic on an injected clock, and once on the wall clock."""

from __future__ import annotations

import heapq
import math
import time

import pytest

from lgwan_sim.engine._realtime import Lateness, RealtimeDriver
from lgwan_sim.errors import InputError


class FakeClock:
    """A clock that moves only when waited on, plus ``tick`` per reading (so spins end)."""

    def __init__(self, tick: float = 1e-6, oversleep: float = 0.0) -> None:
        self.t = 100.0
        self.tick = tick
        self.oversleep = oversleep
        self.waits: list[float] = []

    def __call__(self) -> float:
        self.t += self.tick
        return self.t

    def wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.t += seconds + self.oversleep


class Timed:
    """A steppable with a heap of due times; records the wall clock at which each ran."""

    def __init__(self, times: list[float], clock: FakeClock | None = None) -> None:
        self.heap = list(times)
        heapq.heapify(self.heap)
        self.clock = clock
        self.ran: list[tuple[float, float]] = []  # (due, wall)
        self.advanced: list[float] = []

    def peek(self) -> float:
        return self.heap[0] if self.heap else math.inf

    def advance_to(self, t_s: float) -> None:
        self.advanced.append(t_s)
        while self.heap and self.heap[0] < t_s:
            due = heapq.heappop(self.heap)
            wall = self.clock() if self.clock else time.monotonic()
            self.ran.append((due, wall))


def test_each_event_runs_when_the_wall_clock_reaches_it():
    clock = FakeClock()
    engine = Timed([0.1, 0.25, 1.0], clock)
    driver = RealtimeDriver(engine, clock=clock, wait=clock.wait)
    wall0 = clock.t
    late = driver.run(2.0)
    assert [due for due, _ in engine.ran] == [0.1, 0.25, 1.0]
    for due, wall in engine.ran:
        assert wall - wall0 >= due
        assert wall - wall0 - due < 1e-4
    assert late.steps == 3
    assert late.max_s < 1e-4
    assert driver.now_s == 2.0
    assert engine.advanced[-1] == 2.0
    # the end is waited for too: the clock stands at the end's wall time
    assert clock.t - wall0 == pytest.approx(2.0, abs=1e-4)


def test_speed_scales_the_wall_time():
    clock = FakeClock()
    engine = Timed([1.0, 30.0], clock)
    driver = RealtimeDriver(engine, speed=60.0, clock=clock, wait=clock.wait)
    wall0 = clock.t
    driver.run(60.0)
    walls = [wall - wall0 for _, wall in engine.ran]
    assert walls == pytest.approx([1.0 / 60, 0.5], abs=1e-4)
    assert clock.t - wall0 == pytest.approx(1.0, abs=1e-4)


def test_blocking_waits_leave_the_last_millisecond_to_the_spin():
    clock = FakeClock(oversleep=0.0008)  # a sleep that wakes 0.8 ms late
    engine = Timed([0.5], clock)
    driver = RealtimeDriver(engine, clock=clock, wait=clock.wait)
    wall0 = clock.t
    late = driver.run(0.6)
    assert clock.waits[0] == pytest.approx(0.5 - 0.001, abs=1e-5)
    _due, wall = engine.ran[0]
    # 0.8 ms of oversleep is absorbed by the 1 ms left to the spin
    assert wall - wall0 == pytest.approx(0.5, abs=1e-4)
    assert late.p50_s < 1e-4


def test_a_late_wakeup_is_reported_as_lateness():
    clock = FakeClock(oversleep=0.005)  # 5 ms late: more than the spin can absorb
    engine = Timed([0.5, 0.7], clock)
    driver = RealtimeDriver(engine, clock=clock, wait=clock.wait)
    late = driver.run(1.0)
    assert late.steps == 2
    assert late.p50_s == pytest.approx(0.004, abs=2e-4)
    assert late.max_s == pytest.approx(0.004, abs=2e-4)


def test_a_wait_that_returns_early_lets_the_caller_add_work():
    clock = FakeClock()
    engine = Timed([1.0], clock)
    arrived = []

    def wait(seconds: float) -> None:
        # input arrives 0.2 s into the first wait: the wait returns then
        if not arrived:
            clock.t += 0.2
            arrived.append(clock.t)
        else:
            clock.wait(seconds)

    driver = RealtimeDriver(engine, clock=clock, wait=wait)
    wall0 = clock.t
    assert driver.step(5.0) is True
    assert engine.ran == []  # nothing advanced past the wall clock
    assert engine.advanced == []
    # the caller hands the engine something due now, then steps on
    now = driver.sim_now()
    assert now == pytest.approx(0.2, abs=1e-4)
    heapq.heappush(engine.heap, now)
    driver.run(5.0)
    assert [due for due, _ in engine.ran] == [now, 1.0]
    assert engine.ran[1][1] - wall0 == pytest.approx(1.0, abs=1e-4)


def test_as_fast_as_possible_never_waits():
    clock = FakeClock()
    engine = Timed([0.5, 100.0, 3600.0], clock)
    driver = RealtimeDriver(engine, speed=math.inf, clock=clock, wait=clock.wait)
    late = driver.run(7200.0)
    assert clock.waits == []
    assert [due for due, _ in engine.ran] == [0.5, 100.0, 3600.0]
    assert driver.now_s == 7200.0
    assert late.steps == 0


def test_waiting_forever_is_refused():
    clock = FakeClock()
    driver = RealtimeDriver(Timed([]), clock=clock, wait=clock.wait)
    with pytest.raises(InputError, match="wait forever"):
        driver.step()


@pytest.mark.parametrize("speed", [0, -1.0, math.nan, "fast"])
def test_bad_speed_is_refused(speed):
    with pytest.raises(InputError) as info:
        RealtimeDriver(Timed([]), speed=speed)
    assert info.value.field == "speed"


def test_lateness_percentiles_are_nearest_rank():
    late = Lateness.of([0.003, 0.001, 0.002, 0.010])
    assert (late.steps, late.p50_s, late.p99_s, late.max_s) == (4, 0.002, 0.010, 0.010)
    assert Lateness.of([]).steps == 0


@pytest.mark.slow
def test_on_the_wall_clock_steps_are_on_time():
    # 200 events 2 ms apart: a generous bound, the machine may be busy
    engine = Timed([0.002 * (i + 1) for i in range(200)])
    driver = RealtimeDriver(engine)
    t0 = time.monotonic()
    late = driver.run(0.5)
    assert time.monotonic() - t0 >= 0.5
    # a late step catches up: it runs every event already due, so steps may be fewer
    assert len(engine.ran) == 200
    assert 0 < late.steps <= 200
    assert late.p50_s < 0.005
    for due, wall in engine.ran:
        assert wall - t0 >= due - 1e-3


@pytest.mark.slow
def test_the_driver_paces_the_packet_engine_and_a_cut_drops_in_transfer():
    from lgwan_sim.engine import (
        EngineInputs,
        EventKind,
        FakeEndpoint,
        Reply,
        TimelineEvent,
        build,
    )
    from lgwan_sim.traffic import ServiceDemand, SizeDist
    from tests.engine.support import demand, make_topology

    # a-b-c and a slower a-d-c; requests from a and b to c, 200 a second for 2 s
    topo = make_topology(
        [
            ("a", "b", 1e8, 0.001),
            ("b", "c", 1e8, 0.001),
            ("a", "d", 1e8, 0.005),
            ("d", "c", 1e8, 0.005),
        ]
    )
    svc = ServiceDemand(
        name="dir",
        primary="c",
        callers=("a", "b"),
        requests_per_day=100.0 * 86400,
        request_size=SizeDist.fixed(1000.0),
        response_size=SizeDist.fixed(1000.0),
    )
    inputs = EngineInputs(
        topology=topo, demand=demand(svc), fidelity="packet", duration_s=2.0, seed=3
    )
    service = FakeEndpoint(lambda m, t: Reply(size_bytes=1000.0, after_s=0.005))
    engine = build(inputs, endpoints={"c": service})
    driver = RealtimeDriver(engine)
    t0 = time.monotonic()
    cut = False
    while driver.step(2.0):
        if not cut and driver.now_s >= 1.0:
            at = driver.sim_now()
            engine.apply(TimelineEvent(at_s=at, kind=EventKind.LINK_DOWN, links=("b~c",)))
            cut = True
    late = driver.lateness()
    result = engine.finish()
    assert time.monotonic() - t0 >= 2.0
    # every request reached the service at its modelled time, on the wall clock or after
    assert service.received
    for message, at_s in service.received:
        assert at_s >= message.sent_at_s
    stats = result.services["dir"]
    assert stats.offered == stats.delivered + sum(stats.dropped.values()) + stats.in_flight
    assert stats.dropped.get("link_failure", 0) > 0  # sent over b~c before it converged
    assert late.p50_s < 0.005  # generous: the machine may be busy


def test_the_driver_keeps_bounded_memory_however_long_it_runs():
    from lgwan_sim.engine import Reservoir

    r = Reservoir(1000, seed=3)
    for i in range(100_000):
        r.add(float(i))
    assert len(r.samples) == 1000
    assert r.seen == 100_000
    assert r.max == 99_999.0
    # a uniform sample: its median is near the stream's
    ordered = sorted(r.samples)
    assert 45_000 < ordered[500] < 55_000
    again = Reservoir(1000, seed=3)
    for i in range(100_000):
        again.add(float(i))
    assert again.samples == r.samples  # seeded: the same stream keeps the same samples
    small = Reservoir(1000)
    for i in range(10):
        small.add(float(i))
    assert small.samples == [float(i) for i in range(10)]  # below the size, all are kept


class ScriptedClock:
    """A clock that reads the given values in turn, then stays at the last one."""

    def __init__(self, *readings: float) -> None:
        self.readings = list(readings)
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.readings.pop(0) if len(self.readings) > 1 else self.readings[0]

    def wait(self, seconds: float) -> None:
        self.waits.append(seconds)


def test_within_the_spin_window_the_driver_spins_and_yields_at_every_turn(monkeypatch):
    # pinned at wall 0; the event is due at 1.0 s; the step reads 0.75 (exactly spin_s =
    # 0.25 before it is due), so it must not block: it spins on 0.8, 0.9 and 1.0, giving
    # the interpreter lock away before each of the two readings that were still early
    yields = []
    monkeypatch.setattr("lgwan_sim.engine._realtime.time.sleep", yields.append)
    clock = ScriptedClock(0.0, 0.75, 0.8, 0.9, 1.0)
    engine = Timed([1.0], clock)
    driver = RealtimeDriver(engine, clock=clock, wait=clock.wait, spin_s=0.25)
    assert driver.step(2.0) is True
    assert clock.waits == []
    assert yields == [0, 0]
    assert engine.advanced == [math.nextafter(1.0, math.inf)]
    assert driver.lateness() == Lateness(steps=1, p50_s=0.0, p99_s=0.0, max_s=0.0)


def test_the_spin_offers_its_turns_to_idle_work_and_yields_when_there_is_none(monkeypatch):
    # as above, with an idle hook: it is asked at each early reading (0.8, 0.9) with the
    # time left, does work at the first (no yield then) and declines at the second (a yield)
    yields = []
    monkeypatch.setattr("lgwan_sim.engine._realtime.time.sleep", yields.append)
    clock = ScriptedClock(0.0, 0.75, 0.8, 0.9, 1.0)
    engine = Timed([1.0], clock)
    offered = []

    def idle(remaining_s: float) -> bool:
        offered.append(round(remaining_s, 9))
        return len(offered) == 1

    driver = RealtimeDriver(engine, clock=clock, wait=clock.wait, spin_s=0.25, idle=idle)
    assert driver.step(2.0) is True
    assert offered == [0.2, 0.1]
    assert yields == [0]
    assert engine.advanced == [math.nextafter(1.0, math.inf)]
    assert driver.lateness().max_s == 0.0


def test_a_step_at_or_past_the_end_does_nothing():
    clock = FakeClock()
    engine = Timed([0.5], clock)
    driver = RealtimeDriver(engine, clock=clock, wait=clock.wait)
    driver.run(1.0)
    advanced, waits, t = list(engine.advanced), list(clock.waits), clock.t
    assert driver.step(1.0) is False
    assert driver.step(0.5) is False
    assert (engine.advanced, clock.waits, clock.t) == (advanced, waits, t)


def test_a_speed_below_one_is_slower_than_real_time():
    clock = FakeClock()
    engine = Timed([1.0], clock)
    driver = RealtimeDriver(engine, speed=0.5, clock=clock, wait=clock.wait)
    wall0 = clock.t
    driver.run(1.5)
    ((_due, wall),) = engine.ran
    assert wall - wall0 == pytest.approx(2.0, abs=1e-4)
    assert clock.t - wall0 == pytest.approx(3.0, abs=1e-4)


def test_no_step_gives_zero_lateness():
    assert Lateness.of([]) == Lateness(steps=0, p50_s=0.0, p99_s=0.0, max_s=0.0)
    driver = RealtimeDriver(Timed([]), clock=FakeClock())
    assert driver.lateness() == Lateness(steps=0, p50_s=0.0, p99_s=0.0, max_s=0.0)


def test_the_drivers_reservoir_keeps_a_hundred_thousand_steps():
    from lgwan_sim.engine import Reservoir

    r = Reservoir()
    for i in range(100_001):
        r.add(float(i))
    assert (len(r.samples), r.seen, r.max) == (100_000, 100_001, 100_000.0)


def test_a_driver_started_mid_run_paces_from_its_start():
    # the engine is at 100 s when the driver is made: the event at 100.5 s is due half a
    # second of wall time later, and the end (101 s) one second later
    clock = FakeClock()
    engine = Timed([100.5], clock)
    driver = RealtimeDriver(engine, start_s=100.0, clock=clock, wait=clock.wait)
    wall0 = clock.t
    assert driver.wall_of(100.5) == wall0 + 0.5
    driver.run(101.0)
    ((_due, wall),) = engine.ran
    assert wall - wall0 == pytest.approx(0.5, abs=1e-4)
    assert clock.t - wall0 == pytest.approx(1.0, abs=1e-4)


def test_a_wakeup_a_rounding_error_before_the_spin_window_blocks_once_more(monkeypatch):
    # due at 1.0 s, spin_s = 1 ms: the first wait (0.5 s to 0.999 s) wakes at 0.999, and
    # 1.0 - 0.999 is a hair over 1 ms in floats: the driver blocks again for that hair
    # (never longer), then runs the event at 1.0 without spinning
    yields = []
    monkeypatch.setattr("lgwan_sim.engine._realtime.time.sleep", yields.append)
    clock = ScriptedClock(0.0, 0.5, 0.999, 0.999, 1.0)
    engine = Timed([1.0], clock)
    driver = RealtimeDriver(engine, clock=clock, wait=clock.wait)
    assert driver.step(2.0) is True
    assert clock.waits == [1.0 - 0.5 - 0.001, 1.0 - 0.999 - 0.001]
    assert yields == []
    assert engine.advanced == [math.nextafter(1.0, math.inf)]


class Busy(Timed):
    """A steppable whose every event costs ``cost`` seconds of the clock (a loaded engine)."""

    def __init__(self, times: list[float], clock: FakeClock, cost: float) -> None:
        super().__init__(times, clock)
        self.cost = cost
        self.took: list[float] = []  # wall seconds of each advance_to

    def advance_to(self, t_s: float) -> None:
        assert self.clock is not None
        began = self.clock.t
        self.advanced.append(t_s)
        while self.heap and self.heap[0] < t_s:
            due = heapq.heappop(self.heap)
            self.clock.t += self.cost
            self.ran.append((due, self.clock.t))
        self.took.append(self.clock.t - began)


def test_a_driver_behind_the_clock_catches_up_in_turns_and_runs_every_event():
    # 2 s of events every 0.5 ms, each costing 2 ms of wall time: the engine cannot keep
    # pace, so the driver falls ever further behind; with turns no advance holds the
    # caller for much more than one turn (a first slice of one turn's simulated time would
    # take four), and every event still runs once, in order
    times = [i * 0.0005 for i in range(1, 4000)]
    clock = FakeClock()
    engine = Busy(times, clock, cost=0.002)
    driver = RealtimeDriver(engine, clock=clock, wait=clock.wait, turn_s=0.005)
    driver.run(2.0)
    assert [due for due, _ in engine.ran] == sorted(times)
    assert driver.turns_cut > 100
    assert max(engine.took[5:]) <= 0.0125, max(engine.took)
    assert engine.advanced == sorted(engine.advanced)


def test_without_turns_a_driver_behind_the_clock_advances_in_long_steps():
    # the same load without turn_s: the contrast that shows what turns change
    times = [i * 0.0005 for i in range(1, 4000)]
    clock = FakeClock()
    engine = Busy(times, clock, cost=0.001)
    driver = RealtimeDriver(engine, clock=clock, wait=clock.wait)
    driver.run(2.0)
    assert [due for due, _ in engine.ran] == sorted(times)
    assert driver.turns_cut == 0
    assert max(engine.took) > 0.5


@pytest.mark.parametrize("turn", [0.0, -1.0, math.inf, math.nan])
def test_a_turn_that_is_not_a_positive_time_is_refused(turn):
    with pytest.raises(InputError, match="turn_s"):
        RealtimeDriver(Timed([]), clock=FakeClock(), turn_s=turn)
