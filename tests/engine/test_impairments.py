"""Link impairments: random and Gilbert-Elliott loss, added latency with jitter, flapping.

Each figure is checked against its model with a bound the run could miss: a binomial bound
on a loss count, the Gilbert-Elliott chain's mean burst length, the jitter distribution's
mean and standard deviation, a renewal process's count of flaps. The same seed gives the
same run; another seed another one.
"""

from __future__ import annotations

import math
import random
import statistics

import pytest

from lgwan_sim.engine import (
    SIMULATE,
    DropReason,
    EngineConfig,
    EngineInputs,
    EventKind,
    LossModel,
    Timeline,
    TimelineEvent,
    build,
    run,
)
from lgwan_sim.engine._state import LossProcess
from lgwan_sim.errors import InputError
from lgwan_sim.traffic import SizeDist
from tests.engine.support import demand, make_topology, one_way

LINK = "a~b"


@pytest.fixture(scope="module")
def line():
    """``a`` to ``b``: 1 Gb/s, 1 ms."""
    return make_topology([("a", "b", 1e9, 0.001)])


def _run(topology, events, fidelity, *, rate=200.0, size=500.0, duration_s=100.0, seed=3):
    return run(
        topology,
        demand(one_way("m", ("a",), "b", rate_per_s=rate, size=SizeDist.fixed(size))),
        Timeline(events=tuple(events)),
        fidelity=fidelity,
        duration_s=duration_s,
        seed=seed,
        config=EngineConfig(bin_s=10.0),
    )


def _loss(model, at_s=0.0, hold="x"):
    return TimelineEvent(at_s=at_s, kind=EventKind.LINK_LOSS, links=(LINK,), loss=model, hold=hold)


def _within_binomial(k: int, n: int, p: float, z: float = 4.5) -> bool:
    return abs(k - n * p) <= z * math.sqrt(n * p * (1 - p)) + 1


@pytest.mark.parametrize("fidelity", ["packet", "flow"])
def test_random_loss_is_binomial_and_every_loss_is_a_drop_with_its_reason(line, fidelity):
    p = 0.05
    result = _run(line, [_loss(LossModel.random(p))], fidelity, rate=1000.0)
    stats = result.services["m"]
    draws = result.counters["link_loss_draws"]
    lost = stats.dropped.get(DropReason.LINK_LOSS, 0)
    assert draws > 90_000  # one single-packet message per draw
    assert lost == result.counters["link_losses"]
    assert _within_binomial(lost, draws, p), (lost, draws * p)
    assert stats.offered == stats.delivered + sum(stats.dropped.values()) + stats.in_flight
    assert set(stats.dropped) == {DropReason.LINK_LOSS}


def test_a_segmented_message_is_lost_when_any_of_its_packets_is(line):
    """Four packets a message: a message gets through with probability (1 - p)^4."""
    p = 0.02
    result = _run(line, [_loss(LossModel.random(p))], "packet", size=4 * 1460.0, rate=100.0)
    stats = result.services["m"]
    done = stats.delivered + stats.dropped.get(DropReason.LINK_LOSS, 0)
    assert _within_binomial(stats.delivered, done, (1 - p) ** 4)


def test_loss_ends_with_its_hold_and_an_unlossy_run_loses_nothing(line):
    result = _run(line, [_loss(LossModel.random(0.5)), _loss(None, at_s=50.0)], "packet")
    per_bin = result.delivered_per_bin["m"] / result.offered_per_bin["m"]
    assert all(x < 0.7 for x in per_bin[:5])
    assert all(x > 0.99 for x in per_bin[5:])
    clean = _run(line, [], "packet")
    assert clean.services["m"].dropped == {}


def _bursts(outcomes):
    runs, n = [], 0
    for lost in outcomes:
        if lost:
            n += 1
        elif n:
            runs.append(n)
            n = 0
    return runs


def test_gilbert_elliott_bursts_last_one_over_r_packets():
    p, r = 0.01, 0.25
    process = LossProcess(LossModel(p_good_to_bad=p, p_bad_to_good=r), random.Random(1))
    outcomes = [process.lose() for _ in range(400_000)]
    runs = _bursts(outcomes)
    mean = statistics.fmean(runs)
    # a geometric run length: mean 1/r, standard deviation sqrt(1-r)/r
    assert abs(mean - 1 / r) <= 4.5 * math.sqrt(1 - r) / r / math.sqrt(len(runs)), mean
    rate = sum(outcomes) / len(outcomes)
    assert abs(rate - p / (p + r)) < 0.004, rate
    assert LossModel(p_good_to_bad=p, p_bad_to_good=r).mean_loss == pytest.approx(p / (p + r))


def test_gilbert_elliott_on_a_packet_run_loses_the_stationary_share(line):
    model = LossModel(p_good_to_bad=0.02, p_bad_to_good=0.3, loss_good=0.001, loss_bad=0.8)
    result = _run(line, [_loss(model)], "packet", rate=1000.0, duration_s=200.0)
    draws = result.counters["link_loss_draws"]
    lost = result.counters["link_losses"]
    # bursty: about 3,750 Bad spells of 1/r packets (sd sqrt(1-r)/r) in 200,000 draws give
    # the loss count a relative deviation near 2 %: 10 % of the mean is about 4.5 sigma
    assert abs(lost / draws - model.mean_loss) < 0.1 * model.mean_loss, lost / draws


class _Clock:
    """An endpoint at the host that notes each message's one-way latency, in arrival order."""

    def __init__(self):
        self.latency = []
        self.order = []

    def receive(self, message, t):
        self.latency.append(t - message.sent_at_s)
        self.order.append(message.sent_at_s)
        return SIMULATE


def _timed(topology, events, fidelity, *, rate, duration_s=2000.0):
    inputs = EngineInputs(
        topology=topology,
        demand=demand(one_way("m", ("a",), "b", rate_per_s=rate, size=SizeDist.fixed(100.0))),
        timeline=Timeline(events=tuple(events)),
        fidelity=fidelity,
        duration_s=duration_s,
        seed=5,
        config=EngineConfig(bin_s=100.0),
    )
    clock = _Clock()
    engine = build(inputs, endpoints={"b": clock})
    engine.finish()
    return clock


@pytest.mark.parametrize("fidelity", ["packet", "flow"])
def test_added_latency_has_the_jitter_distributions_mean_and_deviation(line, fidelity):
    delay, jitter = 0.050, 0.020
    latency = TimelineEvent(
        at_s=0.0,
        kind=EventKind.LINK_LATENCY,
        links=(LINK,),
        delay_s=delay,
        jitter_s=jitter,
    )
    base = _timed(line, [], fidelity, rate=1.0, duration_s=50.0).latency[0]
    seen = [x - base for x in _timed(line, [latency], fidelity, rate=2.0).latency]
    n = len(seen)
    assert n > 3000
    sd = jitter / math.sqrt(3)  # uniform on [delay - jitter, delay + jitter]
    assert abs(statistics.fmean(seen) - delay) <= 4.5 * sd / math.sqrt(n)
    assert abs(statistics.stdev(seen) - sd) <= 0.06 * sd
    assert min(seen) >= delay - jitter - 1e-9
    assert max(seen) <= delay + jitter + 0.01


def test_a_link_stays_fifo_under_jitter(line):
    latency = TimelineEvent(
        at_s=0.0, kind=EventKind.LINK_LATENCY, links=(LINK,), delay_s=0.05, jitter_s=0.05
    )
    clock = _timed(line, [latency], "packet", rate=500.0, duration_s=20.0)
    assert len(clock.order) > 5000
    assert clock.order == sorted(clock.order)


def _flap(at_s, mtbf, mttr, hold="f"):
    return TimelineEvent(
        at_s=at_s, kind=EventKind.LINK_FLAP, links=(LINK,), mtbf_s=mtbf, mttr_s=mttr, hold=hold
    )


def _stop(at_s, hold="f"):
    return TimelineEvent(at_s=at_s, kind=EventKind.LINK_FLAP, links=(LINK,), hold=hold)


@pytest.mark.parametrize("fidelity", ["analytic", "flow", "packet"])
def test_flapping_transitions_follow_mtbf_and_mttr_and_stop_with_the_event(line, fidelity):
    mtbf, mttr, until = 20.0, 5.0, 8000.0
    result = _run(
        line,
        [_flap(0.0, mtbf, mttr), _stop(until)],
        fidelity,
        rate=1.0,
        duration_s=9000.0,
    )
    downs = [e for e in result.events if e.kind == "link_down"]
    ups = [e for e in result.events if e.kind == "link_up"]
    assert all(e.links == (LINK,) for e in (*downs, *ups))
    assert all(e.at_s <= until for e in (*downs, *ups))
    assert len(ups) == len(downs)  # the end brings the link back
    mu = mtbf + mttr
    expected = until / mu
    sigma = math.sqrt(until * (mtbf**2 + mttr**2) / mu**3)
    assert abs(len(downs) - expected) <= 4.5 * sigma, (len(downs), expected)
    down_time = sum(u.at_s - d.at_s for d, u in zip(downs, ups, strict=True))
    assert abs(down_time / until - mttr / mu) < 0.03
    assert any(e.kind == "converged" for e in result.events)


def test_impairments_are_seeded_byte_for_byte(line):
    events = [
        _loss(LossModel(p_good_to_bad=0.05, p_bad_to_good=0.5)),
        TimelineEvent(
            at_s=0.0, kind=EventKind.LINK_LATENCY, links=(LINK,), delay_s=0.01, jitter_s=0.01
        ),
        _flap(0.0, 5.0, 1.0),
    ]

    def digest(seed):
        r = _run(line, events, "packet", seed=seed, duration_s=60.0)
        s = r.services["m"]
        return (
            s.dropped,
            s.delivered,
            s.latency.total_s,
            tuple((e.at_s, e.kind) for e in r.events),
        )

    assert digest(11) == digest(11)
    assert digest(11) != digest(12)


def test_the_analytic_fidelity_refuses_loss_and_latency(line):
    with pytest.raises(InputError, match="analytic fidelity models no per-packet link_loss"):
        _run(line, [_loss(LossModel.random(0.1))], "analytic")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": EventKind.LINK_LATENCY, "delay_s": 0.01, "jitter_s": 0.02}, "jitter_s"),
        ({"kind": EventKind.LINK_FLAP, "mtbf_s": 5.0}, "mttr_s"),
        ({"kind": EventKind.LINK_FLAP, "mtbf_s": -1.0, "mttr_s": 1.0}, "mtbf_s"),
    ],
)
def test_bad_impairments_name_their_field(fields, field):
    with pytest.raises(InputError) as err:
        TimelineEvent(at_s=0.0, links=(LINK,), **fields)
    assert err.value.field.endswith(field)


def test_a_gilbert_elliott_chain_that_never_leaves_bad_is_refused():
    with pytest.raises(InputError, match="p_bad_to_good"):
        LossModel(p_good_to_bad=0.1, p_bad_to_good=0.0)


@pytest.mark.parametrize("fidelity", ["analytic", "packet"])
def test_ending_a_flap_forgets_only_its_own_pending_transitions(line, fidelity):
    # the end of the flap cancels the transitions of hold "f"; the events of another hold
    # still pending at that time (and routing convergences in flight) stay scheduled
    later = [
        TimelineEvent(at_s=60.0, kind=EventKind.LINK_DOWN, links=(LINK,), hold="g"),
        TimelineEvent(at_s=70.0, kind=EventKind.LINK_UP, links=(LINK,), hold="g"),
    ]
    result = _run(line, [_flap(0.0, 2.0, 1.0), _stop(50.0), *later], fidelity, rate=1.0)
    assert [
        (e.at_s, e.kind) for e in result.events if e.at_s >= 60.0 and e.kind != "converged"
    ] == [
        (60.0, "link_down"),
        (70.0, "link_up"),
    ]
    flaps = [e for e in result.events if e.kind in ("link_down", "link_up") and e.at_s < 60.0]
    assert flaps
    assert all(e.at_s <= 50.0 for e in flaps)
