"""The analytic fidelity's link utilisation, kept as its factors rather than links x bins.

Inside one segment (constant network state) the bytes a directed link carries in a bin are
``sum_k counts[b, k] * weights[k, l]``: the requests per caller of service ``k`` in bin ``b``
times the bytes per request that service puts on link ``l``. A segment's part is then a few
numbers per bin (one per service) and one weight matrix, whatever the number of links, so a
day in 1-second bins is held in megabytes where the dense links x bins array took gigabytes.

Any block of the array is worked out on demand with exactly the operations, in exactly the
order, that filled the dense array (each element is a fixed-order sum over services, then
``load * 8 / capacity-seconds``), so every value, and so every digest, is bit for bit the
one the dense array held. Below :data:`DENSE_LIMIT_BYTES` the whole array is worked out once
and kept; above it only blocks of rows or of columns are, one at a time.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["DENSE_LIMIT_BYTES", "UtilisationSeries", "row_blocks"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: A series whose dense array would take at most this many bytes is worked out once and
#: kept as a plain array; a larger one is kept as its factors.
DENSE_LIMIT_BYTES = 64 * 2**20
#: Rows of a larger series are worked out this many bytes at a time.
BLOCK_BYTES = 16 * 2**20


def fixed_order_matmul(counts: FloatArray, weights: FloatArray) -> FloatArray:
    """``counts @ weights``, summed over services in a fixed order.

    A BLAS matrix product may split its sums differently with the number of threads, which
    changes the last bits of a result between machines or Dask workers; elementwise sums
    in a fixed order keep one seed's run byte for byte the same everywhere.
    """
    out = np.zeros((counts.shape[0], weights.shape[1]))
    for k in range(counts.shape[1]):
        out += np.outer(counts[:, k], weights[k])
    return out


@dataclass(slots=True)
class _Part:
    """Consecutive bins of one segment: requests per caller and the bin's overlap."""

    bins: IntArray  # ascending, each bin once
    counts: FloatArray  # bins x services
    spans: FloatArray  # seconds of each bin inside the segment
    weights: FloatArray  # services x links: bytes per request per link
    caps: FloatArray  # links: capacity (b/s) during the segment


@dataclass(slots=True)
class _Stats:
    row_max: FloatArray
    row_mean: FloatArray
    row_argmax: IntArray
    col_max: FloatArray
    sha256: hashlib._Hash  # over the array's C-order bytes


class UtilisationSeries:
    """Links x bins utilisation of the analytic fidelity (read-only, array-like).

    Supports what results and summaries read: ``shape``, ``size``, ``ndim``, indexing by
    rows and columns, ``max``/``argmax`` along either axis and ``mean``/``sum`` per row
    (each value bit for bit the dense array's), and ``np.asarray`` (the dense array).
    """

    __slots__ = ("_dense", "_groups", "_part_last", "_parts", "_stats", "n_bins", "n_links")

    def __init__(self, n_links: int, n_bins: int) -> None:
        self.n_links = n_links
        self.n_bins = n_bins
        self._parts: list[_Part] = []
        self._part_last: list[int] = []  # last bin of each part, non-decreasing
        self._groups: list[_Part] | None = None
        self._dense: FloatArray | None = None
        self._stats: _Stats | None = None

    # -- building -------------------------------------------------------------------------
    def add(
        self,
        bins: list[int],
        counts: FloatArray,
        spans: list[float],
        weights: FloatArray,
        caps: FloatArray,
    ) -> None:
        """Add one accumulation of a segment: ``bins`` after every bin added so far.

        ``weights`` and ``caps`` are the segment's own arrays, shared by all its parts.
        """
        if not bins:
            return
        if self._part_last and bins[0] < self._part_last[-1]:
            raise ValueError("utilisation parts must come in bin order")
        self._parts.append(
            _Part(
                bins=np.asarray(bins, dtype=np.int64),
                counts=counts,
                spans=np.asarray(spans, dtype=float),
                weights=weights,
                caps=caps,
            )
        )
        self._part_last.append(bins[-1])
        self._groups = None
        self._dense = None
        self._stats = None

    def _merged(self) -> list[_Part]:
        """The parts, consecutive ones of one segment joined (one per segment)."""
        if self._groups is None:
            groups: list[list[_Part]] = []
            for part in self._parts:
                last = groups[-1][-1] if groups else None
                if last is not None and last.weights is part.weights and last.caps is part.caps:
                    groups[-1].append(part)
                else:
                    groups.append([part])
            self._groups = [
                g[0]
                if len(g) == 1
                else _Part(
                    bins=np.concatenate([p.bins for p in g]),
                    counts=np.concatenate([p.counts for p in g]),
                    spans=np.concatenate([p.spans for p in g]),
                    weights=g[0].weights,
                    caps=g[0].caps,
                )
                for g in groups
            ]
        return self._groups

    # -- blocks ---------------------------------------------------------------------------
    @property
    def dense_bytes(self) -> int:
        return self.n_links * self.n_bins * 8

    def kept_dense(self) -> bool:
        """True when the whole array is small enough to be worked out once and kept."""
        return self.dense_bytes <= DENSE_LIMIT_BYTES

    def rows(self, r0: int, r1: int) -> FloatArray:
        """Rows ``r0:r1`` (links), every bin."""
        if self._dense is not None:
            return self._dense[r0:r1]
        n = max(0, r1 - r0)
        load = np.zeros((n, self.n_bins))
        cap_s = np.zeros((n, self.n_bins))
        for part in self._merged():
            load[:, part.bins] += fixed_order_matmul(part.counts, part.weights[:, r0:r1]).T
            cap_s[:, part.bins] += part.caps[r0:r1, None] * part.spans[None, :]
        return _utilisation(load, cap_s)

    def columns(self, c0: int, c1: int) -> FloatArray:
        """Columns ``c0:c1`` (bins), every link."""
        if self._dense is not None:
            return self._dense[:, c0:c1]
        n = max(0, c1 - c0)
        load = np.zeros((self.n_links, n))
        cap_s = np.zeros((self.n_links, n))
        first = bisect.bisect_left(self._part_last, c0)
        for part in self._parts[first:]:
            if part.bins[0] >= c1:
                break
            i0, i1 = np.searchsorted(part.bins, (c0, c1))
            if i1 <= i0:
                continue
            idx = part.bins[i0:i1] - c0
            load[:, idx] += fixed_order_matmul(part.counts[i0:i1], part.weights).T
            cap_s[:, idx] += part.caps[:, None] * part.spans[None, i0:i1]
        return _utilisation(load, cap_s)

    def dense(self) -> FloatArray:
        """The whole links x bins array (kept when :meth:`kept_dense`)."""
        if self._dense is not None:
            return self._dense
        out = self.rows(0, self.n_links)
        if self.kept_dense():
            self._dense = out
        return out

    def row_blocks(self) -> Iterator[FloatArray]:
        """The array in C order, a block of whole rows at a time."""
        if self._dense is not None or self.kept_dense():
            yield self.dense()
            return
        step = max(1, BLOCK_BYTES // max(1, self.n_bins * 8))
        for r0 in range(0, self.n_links, step):
            yield self.rows(r0, min(self.n_links, r0 + step))

    def _summary(self) -> _Stats:
        """Per-row max, mean and argmax, per-column max and the digest, in one pass."""
        if self._stats is None:
            maxes, means, argmaxes = [], [], []
            col_max = np.full(self.n_bins, -np.inf)
            h = hashlib.sha256()
            for block in self.row_blocks():
                block = np.ascontiguousarray(block)
                h.update(block.tobytes())
                if block.size:
                    maxes.append(block.max(axis=1))
                    means.append(block.mean(axis=1))
                    argmaxes.append(block.argmax(axis=1))
                    np.maximum(col_max, block.max(axis=0), out=col_max)
            self._stats = _Stats(
                row_max=np.concatenate(maxes) if maxes else np.zeros(0),
                row_mean=np.concatenate(means) if means else np.zeros(0),
                row_argmax=np.concatenate(argmaxes) if argmaxes else np.zeros(0, np.int64),
                col_max=col_max,
                sha256=h,
            )
        return self._stats

    def sha256(self) -> hashlib._Hash:
        """A hashlib object fed with the array's C-order bytes (copy it before updating)."""
        return self._summary().sha256.copy()

    # -- the array-like surface -----------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_links, self.n_bins)

    @property
    def size(self) -> int:
        return self.n_links * self.n_bins

    @property
    def ndim(self) -> int:
        return 2

    @property
    def dtype(self) -> np.dtype[np.float64]:
        return np.dtype(np.float64)

    def __len__(self) -> int:
        return self.n_links

    def __array__(self, dtype: Any = None, copy: Any = None) -> FloatArray:
        out = self.dense()
        return out if dtype is None else out.astype(dtype)

    def __getitem__(self, key: Any) -> Any:
        if self._dense is not None or self.kept_dense():
            return self.dense()[key]
        rows, cols = key if isinstance(key, tuple) else (key, slice(None))
        if isinstance(rows, slice) and rows == slice(None):
            if isinstance(cols, (int, np.integer)):
                c = int(cols) % self.n_bins
                return self.columns(c, c + 1)[:, 0]
            if isinstance(cols, slice):
                c0, c1, step = cols.indices(self.n_bins)
                if step == 1:
                    return self.columns(c0, max(c0, c1))
            idx = np.arange(self.n_bins)[cols]
            lo = int(idx.min(initial=0))
            hi = int(idx.max(initial=-1)) + 1
            return self.columns(lo, max(lo, hi))[:, idx - lo]
        if isinstance(rows, (int, np.integer)):
            r = int(rows) % self.n_links
            return self.rows(r, r + 1)[0][cols]
        picked = np.arange(self.n_links)[rows]
        if isinstance(rows, slice) and rows.step in (None, 1) and picked.size:
            return self.rows(int(picked[0]), int(picked[-1]) + 1)[:, cols]
        out = np.stack([self.rows(int(r), int(r) + 1)[0] for r in np.ravel(picked)])
        return out.reshape(*np.shape(picked), self.n_bins)[..., cols]

    def max(self, axis: int | None = None) -> Any:
        stats = self._summary()
        if axis is None:
            return stats.row_max.max()
        return (stats.row_max if axis in (1, -1) else stats.col_max).copy()

    def argmax(self, axis: int | None = None) -> Any:
        if axis in (1, -1):
            return self._summary().row_argmax.copy()
        return np.asarray(self).argmax(axis=axis)

    def mean(self, axis: int | None = None) -> Any:
        if axis in (1, -1):
            return self._summary().row_mean.copy()
        return np.asarray(self).mean(axis=axis)

    def sum(self, axis: int | None = None) -> Any:
        if axis in (1, -1):
            return np.concatenate([np.sum(b, axis=1) for b in self.row_blocks()])
        return np.asarray(self).sum(axis=axis)

    def tolist(self) -> list[list[float]]:
        return [row.tolist() for block in self.row_blocks() for row in block]

    def __reduce__(self) -> tuple[Any, ...]:
        state = (self.n_links, self.n_bins, self._merged())
        return (_rebuild, state)


def _rebuild(n_links: int, n_bins: int, parts: list[_Part]) -> UtilisationSeries:
    series = UtilisationSeries(n_links, n_bins)
    series._parts = list(parts)
    series._part_last = [int(p.bins[-1]) for p in parts]
    return series


def _utilisation(load: FloatArray, cap_s: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = np.where(cap_s > 0, load * 8.0 / cap_s, 0.0)
    return out


def row_blocks(values: FloatArray | UtilisationSeries) -> Iterator[FloatArray]:
    """A links x bins array or series in C order, a block of whole rows at a time."""
    if isinstance(values, UtilisationSeries):
        yield from values.row_blocks()
    else:
        yield np.ascontiguousarray(values)
