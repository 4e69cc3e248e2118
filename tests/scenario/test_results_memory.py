"""A long analytic series in short bins is summarised and written a block at a time: the
same figures and bytes as from the dense array, in a fraction of its memory."""

from __future__ import annotations

import gzip
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from lgwan_sim.engine import _series
from lgwan_sim.engine._series import UtilisationSeries
from lgwan_sim.scenario import _results
from lgwan_sim.scenario._results import _write_all_links, link_stats, rank_links

N_LINKS, N_BINS = 1_000, 6_000  # the dense array: 48 MB


def _series_of(n_links: int, n_bins: int) -> UtilisationSeries:
    """Two segments (a bin split between them), two services, links of a few capacities;
    a few links above capacity, one idle."""
    rng = np.random.default_rng(7)
    series = UtilisationSeries(n_links, n_bins)
    caps = rng.choice([1e6, 1e7, 1e8], size=n_links)
    weights = np.round(rng.uniform(0.0, 3e4, size=(2, n_links)), 0)
    weights[:, 0] = 0.0
    weights[0, 1] = 4e6
    cut = n_bins // 3
    counts = rng.integers(0, 8, size=(n_bins, 2)).astype(float)  # few distinct loads
    series.add(list(range(cut + 1)), counts[: cut + 1], [1.0] * cut + [0.4], weights, caps)
    later = weights * 0.5
    series.add(list(range(cut, n_bins)), counts[cut:], [0.6] + [1.0] * (n_bins - cut - 1),
               later, caps)  # fmt: skip
    return series


def test_a_long_series_is_summarised_as_the_dense_array_is(monkeypatch):
    series = _series_of(300, 2_000)
    monkeypatch.setattr(_series, "DENSE_LIMIT_BYTES", 0)
    monkeypatch.setattr(_series, "BLOCK_BYTES", 7 * 2_000 * 8)  # 7 rows a block
    dense = np.asarray(series)
    assert not series.kept_dense()
    got, want = link_stats(series, 300), link_stats(dense, 300)
    for name in ("p95", "peak", "mean_carried", "over", "peak_bin", "bin_max"):
        assert getattr(got, name).tobytes() == getattr(want, name).tobytes(), name
    assert int(want.over.sum()) > 0
    # the figures themselves, against the formulas over the whole array
    assert want.p95.tobytes() == np.percentile(dense, 95, axis=1, method="inverted_cdf").tobytes()
    assert want.mean_carried.tobytes() == np.minimum(dense, 1.0).mean(axis=1).tobytes()
    assert want.bin_max.tobytes() == dense.max(axis=0).tobytes()
    assert want.peak_bin.tolist() == dense.argmax(axis=1).tolist()
    ids = [f"l{i:03d}" for i in range(300)]
    assert rank_links(series, ids)[0] == rank_links(dense, ids)[0]


def test_all_links_file_is_the_same_bytes_block_by_block(tmp_path: Path, monkeypatch):
    series = _series_of(40, 500)
    monkeypatch.setattr(_series, "DENSE_LIMIT_BYTES", 0)
    dense = np.asarray(series)
    stamps = [f"t{b}" for b in range(500)]
    times = np.arange(500, dtype=float)
    ids = [f"l{i}" for i in range(40)]
    _write_all_links(tmp_path / "dense.csv.gz", stamps, times, ids, dense)
    monkeypatch.setattr(_results, "ALL_LINKS_BLOCK_CELLS", 40 * 7)  # 7 bins a block
    _write_all_links(tmp_path / "blocks.csv.gz", stamps, times, ids, series)
    one = (tmp_path / "dense.csv.gz").read_bytes()
    assert (tmp_path / "blocks.csv.gz").read_bytes() == one
    lines = gzip.decompress(one).decode().splitlines()
    assert len(lines) == 501
    assert lines[1].startswith("t0,0,")
    assert lines[3].split(",")[2:] == [f"{v:.6g}" for v in dense[:, 2].tolist()]


@pytest.mark.parametrize("step", ["stats", "file"])
def test_a_long_series_is_never_held_whole(tmp_path: Path, step: str, monkeypatch):
    # blocks of 1/24 of the array: the dense array alone, or a copy of it, is over the bound
    monkeypatch.setattr(_series, "DENSE_LIMIT_BYTES", 0)
    monkeypatch.setattr(_series, "BLOCK_BYTES", N_LINKS * N_BINS * 8 // 24)
    monkeypatch.setattr(_results, "ALL_LINKS_BLOCK_CELLS", N_LINKS * N_BINS // 24)
    series = _series_of(N_LINKS, N_BINS)
    dense_bytes = N_LINKS * N_BINS * 8
    assert not series.kept_dense()
    stamps = [f"t{b}" for b in range(N_BINS)]
    tracemalloc.start()
    try:
        if step == "stats":
            link_stats(series, N_LINKS)
        else:
            ids = [f"l{i}" for i in range(N_LINKS)]
            _write_all_links(
                tmp_path / "all.csv.gz", stamps, np.arange(N_BINS, dtype=float), ids, series
            )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < dense_bytes / 2, peak
    assert peak > dense_bytes / 100, peak  # it was measured
