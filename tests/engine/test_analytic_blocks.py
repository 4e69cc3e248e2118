"""The analytic latency pass gives the same bits however its work is cut up.

The bottleneck expectation is worked out a block of paths (and of lattice items) at a time,
in place, and each leg shared by services routed alike once per chunk of bins. None of this
may change a value: the results are compared byte for byte with the formulas written out
whole (as they were before the blocks) and with blocks of one item.
"""

from __future__ import annotations

import numpy as np
import pytest

from lgwan_sim.engine import _analytic as analytic


def _exact_max_whole(rho, inv, floor):  # type: ignore[no-untyped-def]
    """:func:`_exact_max` as first written: every array at once, nothing in place."""
    width = rho.shape[1]
    n_pts = analytic._lattice_points(float(rho.max(initial=0.0)))
    n = np.arange(1, n_pts + 1, dtype=float)[None, :]
    fl = floor[:, None]
    out = floor.copy()
    for link in range(width):
        out *= 1.0 - rho[:, link] ** np.floor(floor / inv[:, link] + 1e-9)
    for link in range(width):
        r = rho[:, link : link + 1]
        y = n * inv[:, link : link + 1]
        term = y * (1.0 - r) * r ** (n - 1.0) * (y > fl * (1 + 1e-12))
        for other in range(width):
            if other == link:
                continue
            ro = rho[:, other : other + 1]
            u = n * (inv[:, link : link + 1] / inv[:, other : other + 1])
            if other < link:
                term *= 1.0 - ro ** np.floor(u + 1e-9)
            else:
                term *= 1.0 - ro ** (np.ceil(u - 1e-9) - 1.0)
        out += term.sum(axis=1)
    return out


def _network(seed: int, n_links: int = 30, n_paths: int = 120, hops: int = 4, bins: int = 12):
    """Links x bins utilisations (some idle, some near the cap) and padded paths."""
    rng = np.random.default_rng(seed)
    rho = rng.uniform(0.0, 0.8, size=(n_links, bins))
    rho[rng.random(n_links) < 0.2] = 0.0  # idle links
    rho = np.vstack([rho, np.zeros((1, bins))])  # the dummy link of padded paths
    caps = rng.choice([1e6, 1e7, 1e8, 1e9], size=n_links + 1)
    inv_ext = np.append(1.0 / caps[:-1], 0.0)
    paths = rng.integers(0, n_links, size=(n_paths, hops))
    short = rng.integers(1, hops + 1, size=n_paths)
    paths[np.arange(hops)[None, :] >= short[:, None]] = n_links  # padding
    return rho, paths.astype(np.int64), inv_ext[paths]


def test_exact_max_in_place_matches_the_whole_formula() -> None:
    rng = np.random.default_rng(3)
    for width in (2, 3, 4):
        rho = rng.uniform(0.0, 0.95, size=(500, width))
        inv = rng.choice([1e-9, 1e-8, 1e-7], size=(500, width))
        floor = inv.max(axis=1)
        want = _exact_max_whole(rho, inv, floor)
        assert analytic._exact_max(rho, inv, floor).tobytes() == want.tobytes()
        # in blocks, each on the lattice of the whole: the same sums
        n_pts = analytic._lattice_points(float(rho.max()))
        parts = [
            analytic._exact_max(rho[lo : lo + 37], inv[lo : lo + 37], floor[lo : lo + 37], n_pts)
            for lo in range(0, 500, 37)
        ]
        assert np.concatenate(parts).tobytes() == want.tobytes()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bottleneck_blocks_of_one_give_the_same_bits(monkeypatch, seed) -> None:  # type: ignore[no-untyped-def]
    rho, paths, inv = _network(seed)
    want = analytic._bottleneck_seconds_per_bit(rho, paths, inv)
    assert (want > inv.max(axis=1)[:, None]).any()  # some paths have a loaded link
    monkeypatch.setattr(analytic, "_EXCESS_BLOCK", 1)
    monkeypatch.setattr(analytic, "_EXACT_BLOCK", 50)
    got = analytic._bottleneck_seconds_per_bit(rho, paths, inv)
    assert got.tobytes() == want.tobytes()


def test_a_shared_leg_is_worked_out_once_with_the_same_bits() -> None:
    rho, paths, inv = _network(5)
    legs = analytic._Legs(rho)
    first = legs.seconds_per_bit(paths, inv)
    want = analytic._bottleneck_seconds_per_bit(rho, paths, inv)
    assert first.tobytes() == want.tobytes()
    assert legs.seconds_per_bit(paths.copy(), inv.copy()) is first
    other = legs.seconds_per_bit(paths[:-1], inv[:-1])
    assert other is not first
    assert (
        other.tobytes() == analytic._bottleneck_seconds_per_bit(rho, paths[:-1], inv[:-1]).tobytes()
    )


def _every_row_its_own(values):  # type: ignore[no-untyped-def]
    n = len(values)
    return np.arange(n), np.arange(n)


@pytest.mark.parametrize("seed", [2, 4])
def test_items_alike_are_summed_once_with_the_same_bits(monkeypatch, seed) -> None:  # type: ignore[no-untyped-def]
    # Callers of one place share a path's numbers: here every path four times over, on
    # links loaded up to 0.95 (so the items span chunks summed on different lattices).
    # Half the links are loaded up to 0.95, half up to 0.3; paths on the light links come
    # both among those on the busy ones and after them, so the same numbers are summed on
    # a long lattice in one chunk and a short one in another.
    rho, paths, inv = _network(seed, n_links=60, n_paths=700, bins=12)
    rho[:30] = np.minimum(rho[:30] * 1.2, 0.95)
    rho[30:-1] *= 0.3 / 0.8
    light = (paths >= 30).all(axis=1)
    mixed = np.concatenate([np.flatnonzero(~light), np.flatnonzero(light)[::2]])
    order = np.concatenate([np.tile(mixed, 4), np.tile(np.flatnonzero(light), 4)])
    paths, inv = paths[order], inv[order]
    seen: list[tuple[int, int]] = []
    distinct = analytic._distinct_rows

    def spy(values):  # type: ignore[no-untyped-def]
        first, inverse = distinct(values)
        seen.append((len(values), len(first), len(set(values[:, -1].tolist()))))
        assert (values[first][inverse].view(np.int64) == values.view(np.int64)).all()
        return first, inverse

    monkeypatch.setattr(analytic, "_distinct_rows", spy)
    got = analytic._bottleneck_seconds_per_bit(rho, paths, inv)
    items, kept, lattices = seen[0]
    assert lattices > 1  # several chunks, on lattices of several sizes
    assert kept <= items / 4
    # every item summed on its own, each on its chunk's lattice (as before items alike
    # were merged)
    monkeypatch.setattr(analytic, "_distinct_rows", _every_row_its_own)
    want = analytic._bottleneck_seconds_per_bit(rho, paths, inv)
    assert got.tobytes() == want.tobytes()
