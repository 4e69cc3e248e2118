"""The analytic fidelity's utilisation kept as its factors: the same values as the dense
array, bit for bit, and memory that does not grow with links x bins."""

from __future__ import annotations

import pickle
import tracemalloc

import numpy as np
import pytest

from lgwan_sim.engine import (
    EngineConfig,
    EngineInputs,
    EventKind,
    Observer,
    Timeline,
    TimelineEvent,
    _series,
    build,
    n1_sweep,
    run,
)
from lgwan_sim.engine._series import UtilisationSeries
from lgwan_sim.traffic import ServiceDemand, SizeDist
from tests.engine.support import demand, make_topology, one_way

#: Cut at 33.3 s (mid-bin, so a bin is split between segments), mended at 71.9 s.
TIMELINE = Timeline(
    events=(
        TimelineEvent(at_s=33.3, kind=EventKind.LINK_DOWN, links=("b~c",)),
        TimelineEvent(at_s=71.9, kind=EventKind.LINK_UP, links=("b~c",)),
    )
)


def _inputs(diamond) -> EngineInputs:
    req = ServiceDemand(
        name="rr",
        primary="c",
        secondary=None,
        callers=("a", "b", "d"),
        requests_per_day=40.0 * 86400.0,
        request_size=SizeDist.exponential(20_000.0),
        response_size=SizeDist.fixed(3_000.0),
        service_time_s=0.01,
    )
    ow = one_way("ow", ("a", "d"), "c", rate_per_s=300.0, size=SizeDist.fixed(8000.0))
    return EngineInputs(
        topology=diamond,
        demand=demand(req, ow),
        timeline=TIMELINE,
        duration_s=120.0,
        seed=3,
        config=EngineConfig(bin_s=7.0, convergence_delay_s=2.0),
    )


class Bins(Observer):
    def __init__(self) -> None:
        self.bins: list[list[float]] = []

    def on_bin(self, record) -> None:
        self.bins.append(record.utilisation.tolist())


def _run(inputs: EngineInputs, *, step_s: float | None = None):
    seen = Bins()
    engine = build(inputs, observer=seen)
    if step_s is not None:  # advanced from outside, a part per step
        t = 0.0
        while t < inputs.duration_s:
            t = min(inputs.duration_s, t + step_s)
            engine.advance_to(t)
    return engine.finish(), seen.bins


@pytest.fixture
def factored(monkeypatch):
    """Keep every series as its factors, worked out three rows at a time."""
    monkeypatch.setattr(_series, "DENSE_LIMIT_BYTES", 0)
    monkeypatch.setattr(_series, "BLOCK_BYTES", 3 * 18 * 8)


@pytest.mark.parametrize("step_s", [None, 5.0, 2.5])
def test_a_factored_series_holds_the_dense_values_bit_for_bit(diamond, factored, step_s):
    inputs = _inputs(diamond)
    result, bins = _run(inputs, step_s=step_s)
    util = result.link_utilisation
    assert isinstance(util, UtilisationSeries)
    assert len(util._merged()) == result.counters["segments"]  # one part per segment
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_series, "DENSE_LIMIT_BYTES", 2**30)
        dense_result, dense_bins = _run(inputs)
    dense = dense_result.link_utilisation
    assert isinstance(dense, np.ndarray)
    assert dense.shape == util.shape == (len(result.link_ids), 18)
    assert np.asarray(util).tobytes() == dense.tobytes()
    assert result.digest() == dense_result.digest()
    assert result.to_dict() == dense_result.to_dict()
    assert bins == dense_bins  # the observer's bins, during the run
    assert dense[:, 4].max() > 0
    assert dense[:, 5].max() > 0
    for axis in (0, 1):
        assert util.max(axis=axis).tobytes() == dense.max(axis=axis).tobytes()
        assert util.argmax(axis=axis).tolist() == dense.argmax(axis=axis).tolist()
        assert util.mean(axis=axis).tobytes() == dense.mean(axis=axis).tobytes()
        assert util.sum(axis=axis).tobytes() == dense.sum(axis=axis).tobytes()
    assert util.max() == dense.max()
    for key in (3, -1, slice(2, 7), [5, 0, 2], (slice(None), 4), (slice(None), slice(3, 9))):
        assert np.asarray(util[key]).tobytes() == dense[key].tobytes()
    assert util[2, 5] == dense[2, 5]
    assert util[:, [1, 16, 4]].tobytes() == dense[:, [1, 16, 4]].tobytes()
    link = result.link_ids[5]
    assert result.utilisation_of(link).tobytes() == dense_result.utilisation_of(link).tobytes()
    assert result.top_links(5) == dense_result.top_links(5)
    again = pickle.loads(pickle.dumps(util))
    assert np.asarray(again).tobytes() == dense.tobytes()


def test_a_long_run_in_short_bins_keeps_a_fraction_of_the_dense_array():
    # 240 sites around a hub (480 directed links), 4 h in 1-second bins: 14,400 bins, so the
    # dense links x bins array takes 55 MB. The run keeps its factors instead (a few numbers
    # per bin) and works out 240 bins (in finish) or 1/64 of the rows (in to_dict) at a time.
    leaves = [f"l{i:03d}" for i in range(240)]
    topo = make_topology([(leaf, "hub", 1e8, 0.001) for leaf in leaves])
    svc = one_way("s", ("l000", "l001"), "l002", rate_per_s=50.0, size=SizeDist.fixed(1000.0))
    dense_bytes = 480 * 14_400 * 8
    tracemalloc.start()
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(_series, "DENSE_LIMIT_BYTES", dense_bytes // 2)
            mp.setattr(_series, "BLOCK_BYTES", dense_bytes // 64)
            result = run(topo, demand(svc), fidelity="analytic", duration_s=14_400.0, seed=1,
                         config=EngineConfig(bin_s=1.0))  # fmt: skip
            summary = result.to_dict()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.n_bins == 14_400
    assert isinstance(result.link_utilisation, UtilisationSeries)
    assert peak < dense_bytes / 3, peak
    # the two legs' links carry the traffic, every other link none
    assert [link for link, _, _ in result.top_links(10)] == [
        "l002~hub<", "l000~hub>", "l001~hub>"
    ]  # fmt: skip
    assert summary["series_sha256"] == result.digest()


def test_n1_peaks_are_the_dense_arrays_first_maximum(monkeypatch):
    # A ring of six sites (symmetric: two links often tie for the peak) with a spur; four
    # callers reach two hosts. For each failure, the peak and the worst link must be the
    # first maximum, in (bin, link) order, of the run with that link down from the start.
    ring = [f"r{i}" for i in range(6)]
    links = [(a, b, 1e8, 0.001) for a, b in zip(ring, ring[1:] + ring[:1], strict=True)]
    topo = make_topology([*links, ("r0", "x", 5e7, 0.001)])
    svcs = (
        one_way("s1", ("r1", "r5", "x"), "r3", rate_per_s=200.0, size=SizeDist.fixed(5000.0)),
        one_way("s2", ("r2", "r4"), "r0", rate_per_s=120.0, size=SizeDist.fixed(3000.0)),
    )
    cfg = EngineConfig(bin_s=60.0, convergence_delay_s=0.0)
    failed = [lk.id for lk in topo.links.values()]
    impacts = n1_sweep(topo, demand(*svcs), failed, duration_s=3600.0, config=cfg)
    ties = 0
    for impact in impacts:
        cut = Timeline(
            events=(TimelineEvent(at_s=0.0, kind=EventKind.LINK_DOWN, links=(impact.link,)),)
        )
        ref = run(
            topo, demand(*svcs), cut, fidelity="analytic", duration_s=3600.0, seed=1, config=cfg
        )
        util = np.asarray(ref.link_utilisation).T  # bins x links
        first = np.unravel_index(int(np.argmax(util)), util.shape)
        ties += int((util == util.max()).sum() > 1)
        assert impact.peak_utilisation == util[first]
        assert impact.worst_link == ref.link_ids[first[1]]
    assert ties > 0  # the tie-break was exercised
