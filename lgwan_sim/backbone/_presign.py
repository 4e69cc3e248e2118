"""ECDSA P-256 nonces made ahead of time, so that a signature costs a hash and a few products.

Almost all of an ECDSA signature's cost is ``k·G``, the nonce times the curve's generator,
and that depends neither on the message nor on the key. A :class:`NoncePool` makes pairs
``(k⁻¹ mod n, r)`` in time its owner has to spare (the emulator's broker: while it waits for
the next thing due), and :meth:`NoncePool.sign` then computes ``s = k⁻¹(z + r·d) mod n``. The
signature is the ordinary one (DER, FIPS 186-4 section 6.4); any verifier accepts it.

Each nonce comes from OpenSSL's generator (a fresh key pair's private value, whose public
point gives ``r``), is used for one signature and forgotten: a nonce used twice would give the
key away, and a kept ``k⁻¹`` is as secret as the key. So a pool cannot be copied or pickled,
and a process forked from its owner starts with it empty. The arithmetic runs in Python
integers, which are not constant-time, so the pool is for the keys of simulated identities
(the emulator's test bodies), not for a program's own key, which the SDK signs with through
``cryptography`` as before.
"""

from __future__ import annotations

import hashlib
import os
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

__all__ = ["P256_ORDER", "NoncePool"]

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
"""n, the order of P-256's generator (SEC 2, section 2.4.2)."""

_CURVE = ec.SECP256R1()
_ECDSA = ec.ECDSA(hashes.SHA256())


_POOLS: weakref.WeakSet[NoncePool] = weakref.WeakSet()


def _empty_pools_in_child() -> None:
    for pool in list(_POOLS):
        pool._pairs.clear()  # the parent goes on using these nonces


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_empty_pools_in_child)


class NoncePool:
    """Up to ``size`` P-256 signing nonces, made by :meth:`fill` and each used once.

    ``made`` counts the nonces made, ``used`` the signatures that took one and ``without``
    those that found the pool empty and were signed the ordinary way. A pool is not copied
    nor pickled (:class:`TypeError`): two holders of the same nonces would reuse them.
    """

    def __init__(self, size: int = 512) -> None:
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        self.size = size
        self._pairs: deque[tuple[int, int]] = deque()
        self.made = 0
        self.used = 0
        self.without = 0
        _POOLS.add(self)

    def __reduce__(self) -> Any:
        raise TypeError("a NoncePool holds single-use secrets: it cannot be copied or pickled")

    def __len__(self) -> int:
        return len(self._pairs)

    def fill(
        self,
        budget_s: float = float("inf"),
        *,
        clock: Callable[[], float] = time.monotonic,
        until: Callable[[], bool] | None = None,
    ) -> int:
        """Make nonces until the pool is full, ``budget_s`` has gone or ``until()`` is true
        (asked before the first and after each one); returns how many.

        At least one is made when the pool is not full, ``budget_s`` > 0 and ``until()`` is
        not true at first, so the caller
        should pass the time it can spare minus one nonce's cost (tens of µs, a few hundred
        on a cold cache).
        """
        if budget_s <= 0 or (until is not None and until()):
            return 0
        pairs = self._pairs
        n = 0
        end = clock() + budget_s
        while len(pairs) < self.size:
            key = ec.generate_private_key(_CURVE)
            k = key.private_numbers().private_value
            r = key.public_key().public_numbers().x % P256_ORDER
            if r:  # r = 0 would need another k (probability about 2**-256)
                pairs.append((pow(k, -1, P256_ORDER), r))
                n += 1
            if clock() >= end or (until is not None and until()):
                break
        self.made += n
        return n

    def sign(self, key: ec.EllipticCurvePrivateKey, d: int, data: bytes) -> bytes:
        """ECDSA with SHA-256 of ``data`` by ``key`` (whose private value is ``d``), DER.

        Takes a nonce from the pool, or signs the ordinary way when it is empty.
        """
        z = int.from_bytes(hashlib.sha256(data).digest(), "big")
        pairs = self._pairs
        while pairs:
            kinv, r = pairs.popleft()
            s = kinv * (z + r * d) % P256_ORDER
            if s:  # s = 0 needs another nonce (probability about 2**-256)
                self.used += 1
                return utils.encode_dss_signature(r, s)
        self.without += 1
        return key.sign(data, _ECDSA)
