"""Write docs/protocol-vectors.json (run once: ``python tests/backbone/make_vectors.py``).

Everything in the file is a fixed function of the inputs below except the P-256 signatures
(ECDSA draws a fresh nonce each time), which are produced once and kept: the test suite
checks that they verify, and that everything else is reproduced byte for byte. RSA PKCS#1
v1.5 signatures are deterministic and are checked byte for byte. The RSA test key was
generated once; re-running this script keeps it when the file exists.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import msgpack
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_der_private_key,
)

from lgwan_sim.backbone import (
    Command,
    Delivery,
    ErrorCode,
    Signer,
    encode_delivery,
    encode_header,
)

VECTORS_PATH = Path(__file__).resolve().parents[2] / "docs" / "protocol-vectors.json"
TS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z in ns
P256_SEED = b"EMW1 test vector key P-256"


def p256_key() -> ec.EllipticCurvePrivateKey:
    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    d = int.from_bytes(hashlib.sha256(P256_SEED).digest(), "big") % n
    return ec.derive_private_key(d, ec.SECP256R1())


def rsa_key(old: dict[str, Any] | None) -> rsa.RSAPrivateKey:
    if old is not None:
        key = load_der_private_key(bytes.fromhex(old["keys"]["rsa2048"]["private_pkcs8_der"]), None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def key_entry(key: Any) -> dict[str, str]:
    spki = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    entry = {
        "private_pkcs8_der": key.private_bytes(
            Encoding.DER, PrivateFormat.PKCS8, NoEncryption()
        ).hex(),
        "public_spki_der": spki.hex(),
        "kid": hashlib.sha256(spki).hexdigest(),
    }
    if isinstance(key, ec.EllipticCurvePrivateKey):
        entry["private_scalar"] = f"{key.private_numbers().private_value:064x}"
        entry["public_point"] = (
            key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint).hex()
        )
    return entry


def ids(first: int) -> bytes:
    return bytes(range(first, first + 16))


REQ_ID = ids(0x10)

# name: (key, src, command, address, optional header fields, body, delivery)
INPUTS: list[tuple[str, str, str, Command, str, dict[str, Any], bytes, Delivery | None]] = [
    (
        "ready",
        "p256",
        "asp-eltax-east",
        Command.READY,
        "asp-eltax-east/eltax",
        {"hb_ns": 1_000_000_000},
        b"",
        None,
    ),
    (
        "req",
        "p256",
        "mun-13-104",
        Command.REQ,
        "asp-eltax-east/eltax",
        {"ttl_ns": 5_000_000_000, "seq": 1, "ct": "application/msgpack", "size_bytes": 2048},
        msgpack.packb({"q": "ping"}),
        None,
    ),
    (
        "rep",
        "p256",
        "asp-eltax-east",
        Command.REP,
        "mun-13-104",
        {"corr": REQ_ID, "ct": "application/msgpack"},
        msgpack.packb({"a": "pong"}),
        None,
    ),
    (
        "rep_delivery",
        "p256",
        "asp-eltax-east",
        Command.REP,
        "mun-13-104",
        {"corr": REQ_ID},
        b"pong",
        Delivery(delay_ns=3_250_000, path=("asp-eltax-east", "gw-east", "mun-13-104"), attempt=1),
    ),
    ("evt", "p256", "mun-13-104", Command.EVT, "asp-eltax-east/eltax", {"seq": 2}, b"notice", None),
    (
        "err",
        "p256",
        "emulator",
        Command.ERR,
        "mun-13-104",
        {
            "corr": REQ_ID,
            "code": ErrorCode.TIMEOUT,
            "reason": "timed out in the network",
            "addr": "asp-eltax-east/eltax",
        },
        b"",
        None,
    ),
    ("heartbeat", "p256", "asp-eltax-east", Command.HEARTBEAT, "", {}, b"", None),
    ("bye", "p256", "asp-eltax-east", Command.BYE, "asp-eltax-east/eltax", {}, b"", None),
    (
        "req_rsa",
        "rsa2048",
        "mun-13-104",
        Command.REQ,
        "asp-eltax-east/eltax",
        {"ttl_ns": 5_000_000_000},
        msgpack.packb({"q": "ping"}),
        None,
    ),
]
FIRST_ID = {name: 0x10 * (i + 1) for i, (name, *_rest) in enumerate(INPUTS)}

WIRE = {
    "src": "src",
    "id": "id",
    "kid": "kid",
    "alg": "alg",
    "ts_ns": "ts",
    "corr": "corr",
    "ttl_ns": "ttl",
    "seq": "seq",
    "ct": "ct",
    "size_bytes": "size",
    "code": "code",
    "reason": "reason",
    "addr": "addr",
    "hb_ns": "hb",
}


def fields_of(header: Any) -> list[list[str]]:
    out = []
    for attr, wire in WIRE.items():
        value = getattr(header, attr)
        if value is None:
            continue
        if isinstance(value, bytes):
            out.append([wire, "bin", value.hex()])
        elif isinstance(value, str):  # Algorithm is a str too
            out.append([wire, "str", str(value)])
        else:
            out.append([wire, "int", str(int(value))])
    return out


def invalid_vectors(good: list[bytes]) -> list[dict[str, Any]]:
    """Frame sets every receiver must refuse with 400, each a small change of ``req``."""
    hdr = msgpack.unpackb(good[4])

    def with_header(**changes: Any) -> list[bytes]:
        h = dict(hdr)
        h.update(changes)
        return [*good[:4], msgpack.packb(h, use_bin_type=True), *good[5:]]

    cases = [
        ("six frames", good[:6]),
        ("frame 0 not empty", [b"x", *good[1:]]),
        ("wrong version", [good[0], b"EMW2", *good[2:]]),
        ("unknown command 0x09", [*good[:2], b"\x09", *good[3:]]),
        ("empty REQ address", [*good[:3], b"", *good[4:]]),
        ("address not UTF-8", [*good[:3], b"\xff\xfe", *good[4:]]),
        ("header not msgpack", [*good[:4], b"\xc1", *good[5:]]),
        ("header is an array", [*good[:4], msgpack.packb([1, 2]), *good[5:]]),
        ("ts is a float", with_header(ts=float(TS))),
        ("ts is a bool", with_header(ts=True)),
        ("ts is negative", with_header(ts=-1)),
        ("id is 15 bytes", with_header(id=bytes(15))),
        (
            "kid missing",
            [*good[:4], msgpack.packb({k: v for k, v in hdr.items() if k != "kid"}), *good[5:]],
        ),
        ("unknown alg", with_header(alg="ed25519")),
        ("nested value", with_header(x={"a": 1})),
        ("header with trailing bytes", [*good[:4], good[4] + b"\x00", *good[5:]]),
        ("signature not DER", [*good[:6], b"\x00" * 64]),
        ("REP without corr", [good[0], good[1], b"\x02", *good[3:]]),
    ]
    return [{"why": why, "frames": [f.hex() for f in frames]} for why, frames in cases]


def main() -> None:
    old = json.loads(VECTORS_PATH.read_text()) if VECTORS_PATH.exists() else None
    keys = {"p256": p256_key(), "rsa2048": rsa_key(old)}
    vectors: dict[str, Any] = {}
    for name, key_name, src, command, address, extra, body, delivery in INPUTS:
        signer = Signer(src, keys[key_name])
        message = signer.seal(command, address, body, id=ids(FIRST_ID[name]), ts_ns=TS, **extra)
        kept = old["vectors"].get(name) if old else None
        if kept is not None and key_name == "p256":
            # keep the published signature: it verifies and the bytes it covers are unchanged
            assert bytes.fromhex(kept["signed_bytes"]) == message.signed_bytes()
            from dataclasses import replace

            message = replace(message, signature=bytes.fromhex(kept["signature"]))
        if delivery is not None:
            from dataclasses import replace

            message = replace(message, delivery=delivery)
        entry: dict[str, Any] = {
            "key": key_name,
            "command": int(command),
            "address": address,
            "header_fields": fields_of(message.header),
            "body": body.hex(),
            "header": encode_header(message.header).hex(),
            "signed_bytes": message.signed_bytes().hex(),
            "signature": message.signature.hex(),
        }
        if delivery is not None:
            entry["delivery"] = encode_delivery(delivery).hex()
        entry["frames"] = [f.hex() for f in message.frames()]
        vectors[name] = entry
    good = [bytes.fromhex(f) for f in vectors["req"]["frames"]]
    doc = {
        "protocol": "EMW1",
        "about": "Test vectors for docs/protocol.md. Header ints are decimal strings, bytes hex. "
        "P-256 signatures are randomised: check that they verify, then compare everything else "
        "byte for byte; RSA PKCS#1 v1.5 signatures are deterministic and compare byte for byte.",
        "keys": {name: key_entry(key) for name, key in keys.items()},
        "vectors": vectors,
        "invalid": invalid_vectors(good),
    }
    VECTORS_PATH.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
