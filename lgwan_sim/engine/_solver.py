"""Max-min fair rate allocation by progressive filling (water-filling).

The problem is given over *classes*: a class is a set of identical flows (same path, so
the same max-min rate). Class ``i`` has ``counts[i]`` flows, uses the constraints
``members[i]`` (indices into ``capacities``) and has a per-flow ``limits[i]`` (its own
bottleneck share or a rate cap). The returned rates are per flow.

All unfrozen flows grow at the same level; at each round the level stops at the tightest
constraint (the smallest remaining capacity per unfrozen flow, or a class limit); the flows
on that constraint are frozen at the level and their usage is subtracted. The rounds equal
the number of distinct bottleneck levels. Two implementations give the same answer: a pure
Python one (fast for small problems, no numpy call overhead) and a numpy one (for large).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["max_min_rates", "waterfill_numpy", "waterfill_python"]

_REL_EPS = 1e-12


def waterfill_python(
    capacities: Sequence[float],
    members: Sequence[Sequence[int]],
    counts: Sequence[float],
    limits: Sequence[float],
) -> list[float]:
    """Per-flow max-min rates; pure Python."""
    m = len(members)
    rem = list(capacities)
    weight = [0.0] * len(rem)
    users: list[list[int]] = [[] for _ in rem]
    for i in range(m):
        for c in members[i]:
            weight[c] += counts[i]
            users[c].append(i)
    rates = [0.0] * m
    unfrozen = set(range(m))
    live = {c for c in range(len(rem)) if weight[c] > 0}
    while unfrozen:
        level = min(limits[i] for i in unfrozen)
        for c in live:
            share = rem[c] / weight[c]
            if share < level:
                level = share
        cut = level * (1 + _REL_EPS)
        frozen = {i for i in unfrozen if limits[i] <= cut}
        for c in live:
            if rem[c] / weight[c] <= cut:
                frozen.update(i for i in users[c] if i in unfrozen)
        for i in sorted(frozen):
            rates[i] = level
            unfrozen.discard(i)
            used = counts[i] * level
            for c in members[i]:
                rem[c] = max(0.0, rem[c] - used)
                weight[c] -= counts[i]
                if weight[c] <= 1e-9:
                    live.discard(c)
    return rates


def waterfill_numpy(
    capacities: Sequence[float],
    members: Sequence[Sequence[int]],
    counts: Sequence[float],
    limits: Sequence[float],
) -> list[float]:
    """Per-flow max-min rates; vectorised with numpy (same algorithm)."""
    m = len(members)
    k = len(capacities)
    ci = np.fromiter((i for i in range(m) for _ in members[i]), dtype=np.int64)
    li = np.fromiter((c for i in range(m) for c in members[i]), dtype=np.int64)
    n = np.asarray(counts, dtype=float)
    lim = np.asarray(limits, dtype=float)
    rem = np.asarray(capacities, dtype=float).copy()
    rates = np.zeros(m)
    unfrozen = np.ones(m, dtype=bool)
    pair_n = n[ci]
    while unfrozen.any():
        active = unfrozen[ci]
        w = np.bincount(li, weights=pair_n * active, minlength=k)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(w > 1e-9, rem / w, np.inf)
        level = min(float(share.min()) if k else math.inf, float(lim[unfrozen].min()))
        cut = level * (1 + _REL_EPS)
        frz = unfrozen & (lim <= cut)
        if k:
            hit = (share <= cut)[li] & active
            frz |= np.bincount(ci, weights=hit, minlength=m) > 0
        rates[frz] = level
        if k:
            # only the pairs of frozen classes use capacity: weighting every pair by
            # ``frz * level`` makes 0 * inf = nan once the level is unbounded (a class
            # crossing no link, left last with no limit)
            used = frz[ci]
            rem = np.maximum(
                0.0, rem - np.bincount(li[used], weights=pair_n[used] * level, minlength=k)
            )
        unfrozen &= ~frz
    return [float(r) for r in rates]


def max_min_rates(
    capacities: Mapping[str, float],
    flows: Mapping[str, Sequence[str]],
    *,
    method: str = "auto",
    numpy_min_flows: int = 48,
) -> dict[str, float]:
    """Max-min fair rates of named flows over named links (a convenience for checking).

    ``flows`` maps a flow name to the links it crosses. ``method`` is ``"python"``,
    ``"numpy"`` or ``"auto"`` (numpy from ``numpy_min_flows`` flows up).
    """
    names = sorted(capacities)
    index = {name: i for i, name in enumerate(names)}
    flow_names = sorted(flows)
    members = [[index[link] for link in flows[f]] for f in flow_names]
    counts = [1.0] * len(flow_names)
    limits = [math.inf] * len(flow_names)
    caps = [float(capacities[name]) for name in names]
    use_numpy = method == "numpy" or (method == "auto" and len(flow_names) >= numpy_min_flows)
    if method not in ("auto", "python", "numpy"):
        raise ValueError(f"method must be auto, python or numpy, got {method!r}")
    solve = waterfill_numpy if use_numpy else waterfill_python
    rates = solve(caps, members, counts, limits)
    return dict(zip(flow_names, rates, strict=True))
