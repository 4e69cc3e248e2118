"""Fuzzed input to the EMW1 decoder: anything at all gives a Message or a WireError (400).

The inputs are random multipart messages, truncated, oversized and bit-flipped frames, wrong
versions and commands, bad msgpack, msgpack of the wrong shape or types, and frames that are
not bytes. 5,000 run in the normal suite, 100,000 in the slow one (which also reports the
rate and the resident memory before and after).
"""

from __future__ import annotations

import random
import time
from collections import Counter

import msgpack
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from lgwan_sim.backbone import (
    MAX_BODY_BYTES,
    Command,
    ErrorCode,
    Signer,
    WireError,
    decode,
    peek_src,
)

TS = 1_767_225_600_000_000_000


def _valid_frames() -> list[list[bytes]]:
    signer = Signer("mun-13-104", ec.derive_private_key(12345, ec.SECP256R1()))
    out = []
    for command in Command:
        fields: dict[str, object] = {"ttl_ns": 10**9, "seq": 3}
        if command in (Command.REP, Command.ERR):
            fields["corr"] = bytes(16)
        if command is Command.ERR:
            fields.update(code=ErrorCode.OVERLOADED, reason="queue full")
        message = signer.seal(
            command, "asp-eltax-east/eltax", b"body", id=bytes(16), ts_ns=TS, **fields
        )
        out.append(message.frames())
    return out


_ODD_VALUES = [
    None,
    1.5,
    float("nan"),
    -1,
    1 << 63,
    True,
    "",
    "x" * 300,
    b"",
    b"\x00" * 17,
    [1, 2],
    {"a": {"b": 1}},
    msgpack.ExtType(5, b"ext"),
]


def _random_msgpack(rng: random.Random) -> bytes:
    choice = rng.randrange(6)
    if choice == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
    if choice == 1:  # deep nesting
        depth = rng.randrange(1, 3000)
        return b"\x91" * depth + b"\x01"
    if choice == 2:  # a map claiming more entries or bytes than it has
        return rng.choice(
            [
                b"\xdf\xff\xff\xff\xff",
                b"\xc6\xff\xff\xff\xff",
                b"\xdb\x7f\xff\xff\xff",
                b"\x85\xa1a",
            ]
        )
    if choice == 3:
        return msgpack.packb(rng.choice(_ODD_VALUES), use_bin_type=True)
    if choice == 4:  # repeated keys
        return b"\x82\xa3src\xa1a\xa3src\xa1b"
    return msgpack.packb({f"k{i}": i for i in range(rng.randrange(30, 40))})


def _mutate(rng: random.Random, frames: list[bytes]) -> object:
    frames = list(frames)
    kind = rng.randrange(12)
    i = rng.randrange(len(frames))
    if kind == 0:  # random multipart
        return [
            bytes(rng.randrange(256) for _ in range(rng.randrange(20)))
            for _ in range(rng.randrange(12))
        ]
    if kind == 1:  # truncate a frame
        frames[i] = frames[i][: rng.randrange(len(frames[i]) + 1)]
    elif kind == 2:  # drop or add frames
        if rng.random() < 0.5:
            del frames[i]
        else:
            frames.insert(i, frames[i])
    elif kind == 3:  # flip bytes
        if frames[i]:
            b = bytearray(frames[i])
            for _ in range(rng.randrange(1, 4)):
                b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
            frames[i] = bytes(b)
    elif kind == 4:  # oversized
        frames[i] = frames[i] + b"\x00" * rng.choice([256, 16_385, 70_000, MAX_BODY_BYTES + 1])
    elif kind == 5:  # wrong version or command
        frames[rng.choice([1, 2])] = rng.choice(
            [b"EMW2", b"EMW", b"emw1", b"\x00", b"\x08", b"\x01\x01"]
        )
    elif kind == 6:  # bad msgpack header or delivery frame
        target = 4 if rng.random() < 0.7 else 7
        if target == 7 and len(frames) == 7:
            frames.append(b"")
        frames[min(target, len(frames) - 1)] = _random_msgpack(rng)
    elif kind == 7:  # a header field of the wrong type
        h = msgpack.unpackb(frames[4])
        h[rng.choice([*h, "corr", "code", "hb", "cert"])] = rng.choice(_ODD_VALUES)
        frames[4] = msgpack.packb(h, use_bin_type=True)
    elif kind == 8:  # not bytes at all
        frames[i] = rng.choice([None, 5, "text", 1.0, [b""], object()])  # type: ignore[call-overload]
    elif kind == 9:
        return rng.choice([None, b"", "", 7, {"a": b""}, iter([b""]), frames[0], tuple(frames)])
    elif kind == 10:  # a garbage signature
        frames[6] = bytes(
            rng.randrange(256) for _ in range(rng.choice([0, 8, 64, 72, 73, 256, 600]))
        )
    else:  # splice frames from two commands
        frames[i] = rng.choice(_VALID)[rng.randrange(7)]
    return frames


_VALID = _valid_frames()


def fuzz(count: int, seed: int) -> tuple[Counter[str], float]:
    """Decode ``count`` fuzzed inputs; the outcomes and the seconds spent in ``decode``."""
    rng = random.Random(seed)
    outcomes: Counter[str] = Counter()
    clock = time.perf_counter
    decoding_s = 0.0
    for _ in range(count):
        data = _mutate(rng, rng.choice(_VALID))
        start = clock()
        try:
            message = decode(data)
        except WireError as exc:
            decoding_s += clock() - start
            outcomes[f"refused {exc.code}"] += 1
        else:
            decoding_s += clock() - start
            outcomes["accepted"] += 1
            assert peek_src(message.header_bytes) == message.header.src
        if isinstance(data, list) and len(data) > 4 and type(data[4]) is bytes:
            try:
                peek_src(data[4])
            except WireError:
                outcomes["peek refused"] += 1
    return outcomes, decoding_s


def test_5000_fuzzed_inputs_give_only_wire_errors():
    outcomes, _ = fuzz(5_000, seed=1)
    assert outcomes["refused 400"] > 4_000  # most mutations break the message; none crash it


def _rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")  # pragma: no cover


@pytest.mark.slow
def test_100000_fuzzed_inputs_give_only_wire_errors_and_keep_memory_flat():
    fuzz(2_000, seed=2)  # warm caches and the allocator
    before = _rss_kib()
    start = time.perf_counter()
    outcomes, decoding_s = fuzz(100_000, seed=3)
    elapsed = time.perf_counter() - start
    after = _rss_kib()
    print(
        f"\nfuzz: 100000 inputs in {elapsed:.2f} s ({100_000 / elapsed:,.0f}/s with generation; "
        f"decode alone {decoding_s:.2f} s, {100_000 / decoding_s:,.0f}/s), "
        f"{outcomes['refused 400']} refused (400), {outcomes['accepted']} accepted, "
        f"RSS {before} KiB before, {after} KiB after"
    )
    assert outcomes["refused 400"] + outcomes["accepted"] == 100_000
    assert after - before < 16_384, "memory grew by more than 16 MiB over 100,000 inputs"
