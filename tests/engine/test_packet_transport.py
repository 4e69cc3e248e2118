"""The packet fidelity's sender: segments paced by a window that acknowledgements release.

Expected transfer times come from the sender's model in ``docs/engine.md``: ``N`` segments
of ``mss + header`` bytes leave the bottleneck ``tau`` apart while the window covers the
path's round trip ``R0``; before that, slow start leaves the line idle for
``R0 - w_k * tau`` after each round ``k`` whose window ``w_k`` does not fill it.
"""

from __future__ import annotations

import math

import pytest

from lgwan_sim.engine import EngineConfig, EventKind, Timeline, TimelineEvent, run
from lgwan_sim.traffic import ServiceDemand, SizeDist
from tests.engine.support import demand, make_topology


def _transfer(
    topology, size_bytes: float, config: EngineConfig, *, at_s: tuple[float, ...] = (0.0,)
):
    svc = ServiceDemand(
        name="bulk",
        primary="b",
        callers=("a",),
        requests_per_day=1.0,
        request_size=SizeDist.fixed(size_bytes),
        response_size=SizeDist.fixed(0.0),
        one_way=True,
        arrivals="trace",
        trace_s=at_s,
    )
    return run(topology, demand(svc), fidelity="packet", duration_s=600.0, seed=1, config=config)


def _model_time_s(size_bytes: float, cap_bps: float, delay_s: float, config: EngineConfig) -> float:
    """Delivery time of one leg over one idle link, by the formula of docs/engine.md."""
    mss, header = config.mss_bytes, config.header_bytes
    n = math.ceil(size_bytes / mss)
    tau = (mss + header) * 8 / cap_bps
    last = (size_bytes - (n - 1) * mss + header) * 8 / cap_bps
    rtt = tau + 2 * delay_s + header * 8 / cap_bps
    w_max = math.floor(config.window_bytes / mss)
    idle, sent, w = 0.0, 0, min(config.initial_window_segments, w_max)
    while True:
        sent += w
        if sent >= n:
            break
        idle += max(0.0, rtt - w * tau)
        w = min(2 * w, w_max)
    return (n - 1) * tau + last + idle + delay_s


def test_a_message_ten_times_the_buffer_crosses_an_idle_line() -> None:
    """10 MB over 100 Mbit/s: size/capacity + delay, within 5 %, and the model within 0.5 %."""
    cap, delay, size = 1e8, 0.002, 10e6
    topo = make_topology([("a", "b", cap, delay)])
    config = EngineConfig()
    result = _transfer(topo, size, config)
    stats = result.services["bulk"]
    assert (stats.delivered, stats.dropped) == (1, {})
    took = stats.latency.mean
    assert took == pytest.approx(size * 8 / cap + delay, rel=0.05)
    assert took == pytest.approx(_model_time_s(size, cap, delay, config), rel=0.005)


@pytest.mark.parametrize("size", [974_780, 974_781, 3_000_000])
def test_messages_around_and_above_the_buffer_are_delivered(size: int) -> None:
    topo = make_topology([("a", "b", 1e8, 0.001), ("b", "c", 1e7, 0.004)])
    svc = ServiceDemand(
        name="bulk",
        primary="c",
        callers=("a",),
        requests_per_day=1.0,
        request_size=SizeDist.fixed(size),
        response_size=SizeDist.fixed(0.0),
        one_way=True,
        arrivals="trace",
        trace_s=(0.0, 5.0, 10.0),
    )
    result = run(topo, demand(svc), fidelity="packet", duration_s=60.0, seed=1)
    assert result.services["bulk"].delivered == 3
    assert result.dropped == {}


def test_a_long_fat_path_carries_a_window_per_round_trip() -> None:
    """1 Gbit/s, 50 ms each way, a 200-segment window: payload throughput = window / RTT.

    Two sizes cancel the slow-start ramp: (S2 - S1) / (T2 - T1) is the steady throughput.
    """
    cap, delay = 1e9, 0.05
    topo = make_topology([("a", "b", cap, delay)])
    config = EngineConfig(window_bytes=200 * 1460.0)
    rtt = 2 * delay + (1460 + 40) * 8 / cap + 40 * 8 / cap
    expected = 200 * 1460.0 / rtt
    small, large = 10e6, 40e6
    t_small = _transfer(topo, small, config).services["bulk"].latency.mean
    t_large = _transfer(topo, large, config).services["bulk"].latency.mean
    throughput = (large - small) / (t_large - t_small)
    assert throughput == pytest.approx(expected, rel=0.01)
    # far below the line rate: the window, not the link, is the limit
    assert throughput * 8 < 0.05 * cap
    assert t_large == pytest.approx(_model_time_s(large, cap, delay, config), rel=0.005)


def test_a_fixed_window_has_no_ramp() -> None:
    """initial_window_segments at the window: every round trip carries a full window."""
    cap, delay = 1e9, 0.02
    topo = make_topology([("a", "b", cap, delay)])
    config = EngineConfig(window_bytes=50 * 1460.0, initial_window_segments=50)
    size = 500 * 1460.0  # ten rounds of 50 segments
    took = _transfer(topo, size, config).services["bulk"].latency.mean
    assert took == pytest.approx(_model_time_s(size, cap, delay, config), rel=0.005)
    rtt = 2 * delay + 1500 * 8 / cap + 40 * 8 / cap
    assert took == pytest.approx(9 * rtt + 50 * 1500 * 8 / cap + delay, rel=0.005)


def test_congestion_still_overflows_the_buffer() -> None:
    """Twenty transfers at once into one 10 Mbit/s port with a 100 kB buffer: tail drops."""
    topo = make_topology([("a", "b", 1e9, 0.001), ("b", "c", 1e7, 0.001)])
    svc = ServiceDemand(
        name="bulk",
        primary="c",
        callers=("a",),
        requests_per_day=1.0,
        request_size=SizeDist.fixed(2e6),
        response_size=SizeDist.fixed(0.0),
        one_way=True,
        arrivals="trace",
        trace_s=tuple(0.001 * i for i in range(20)),
    )
    config = EngineConfig(buffer_bytes=100_000.0)
    result = run(topo, demand(svc), fidelity="packet", duration_s=60.0, seed=1, config=config)
    assert result.dropped.get("buffer_overflow", 0) > 0
    assert result.balanced


def test_acks_ride_the_reverse_path_and_a_cut_there_loses_the_message() -> None:
    """The window waits for acks; an ack on a link that fails takes its message with it."""
    from lgwan_sim.engine import EventKind, Timeline, TimelineEvent

    topo = make_topology([("a", "b", 1e8, 0.01)])
    svc = ServiceDemand(
        name="bulk",
        primary="b",
        callers=("a",),
        requests_per_day=1.0,
        request_size=SizeDist.fixed(5e6),
        response_size=SizeDist.fixed(0.0),
        one_way=True,
        arrivals="trace",
        trace_s=(0.0,),
    )
    cut = Timeline(events=(TimelineEvent(at_s=0.2, kind=EventKind.LINK_DOWN, links=("a~b",)),))
    result = run(topo, demand(svc), cut, fidelity="packet", duration_s=60.0, seed=1)
    assert result.dropped == {"link_failure": 1}
    assert result.in_flight == 0
    assert result.counters["acks"] > 0


def test_legs_that_fit_in_the_first_window_are_sent_at_once_without_acks() -> None:
    """Up to 10 segments per leg: the same run as with an unlimited window, and no acks."""
    topo = make_topology([("a", "b", 1e7, 0.002), ("b", "c", 1e7, 0.001)])
    svc = ServiceDemand(
        name="x",
        primary="c",
        callers=("a",),
        requests_per_day=300.0 * 86400.0,
        request_size=SizeDist.empirical((100.0, 1460.0, 5000.0, 14600.0)),
        response_size=SizeDist.fixed(2000.0),
        service_time_s=0.001,
    )

    def once(config: EngineConfig):
        return run(topo, demand(svc), fidelity="packet", duration_s=20.0, seed=5, config=config)

    paced = once(EngineConfig(buffer_bytes=20_000.0))
    unlimited = once(
        EngineConfig(buffer_bytes=20_000.0, window_bytes=math.inf, initial_window_segments=10**6)
    )
    assert paced.counters["acks"] == unlimited.counters["acks"] == 0
    assert paced.dropped.get("buffer_overflow", 0) > 0  # a busy line: queues do form
    assert paced.to_dict() == unlimited.to_dict()


def _four_back_to_back(timeline=None):
    # 8192 b/s = 1024 B/s, no header: four 1024-B messages offered within 0.75 s leave in
    # [0, 1), [1, 2), [2, 3) and [3, 4); bins of 1.5 s
    topo = make_topology([("a", "b", 8192.0, 0.001)])
    config = EngineConfig(bin_s=1.5, header_bytes=0.0)
    svc = ServiceDemand(
        name="s",
        primary="b",
        callers=("a",),
        requests_per_day=1.0,
        request_size=SizeDist.fixed(1024.0),
        response_size=SizeDist.fixed(0.0),
        one_way=True,
        arrivals="trace",
        trace_s=(0.0, 0.25, 0.5, 0.75),
    )
    result = run(
        topo, demand(svc), timeline or Timeline(), fidelity="packet", duration_s=6.0, seed=1,
        config=config,
    )  # fmt: skip
    return result.utilisation_of("a~b>")


def test_a_link_counts_the_bytes_it_transmits_in_each_bin():
    # The bins see 1.5, 1.5, 1 and 0 s of sending; the packet sent across 1.5 s puts half
    # its bytes in each of bins 0 and 1; over the run the bins hold the 4096 B sent.
    util = _four_back_to_back()
    assert util.tolist() == pytest.approx([1.0, 1.0, 2 / 3, 0.0], rel=1e-12)
    assert (util * 8192.0 * 1.5 / 8).sum() == pytest.approx(4 * 1024.0, rel=1e-12)


def test_a_failed_link_counts_only_what_it_sent_before_the_failure():
    # the link fails at 2.25 s, a quarter into the third packet: bin 1 saw 0.75 s of sending
    cut = Timeline(events=(TimelineEvent(at_s=2.25, kind=EventKind.LINK_DOWN, links=("a~b",)),))
    util = _four_back_to_back(cut)
    assert util.tolist() == pytest.approx([1.0, 0.5, 0.0, 0.0], rel=1e-12)


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_a_saturated_link_is_used_at_most_fully(fidelity):
    # 16 Mb/s offered (2000 messages of 1000 B a second) to an 8 Mb/s link
    topo = make_topology([("a", "b", 8e6, 0.001)])
    svc = ServiceDemand(
        name="s",
        primary="b",
        callers=("a",),
        requests_per_day=2000.0 * 86400.0,
        request_size=SizeDist.fixed(1000.0),
        response_size=SizeDist.fixed(0.0),
        one_way=True,
    )
    result = run(
        topo, demand(svc), fidelity=fidelity, duration_s=4.0, seed=1,
        config=EngineConfig(bin_s=1.0),
    )  # fmt: skip
    util = result.utilisation_of("a~b>")
    assert (util <= 1.0 + 1e-9).all()
    assert util[1:] == pytest.approx([1.0] * 3, rel=1e-3)
