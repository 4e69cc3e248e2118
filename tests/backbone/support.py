"""Shared test data for the backbone tests: the EMW1 test vectors rebuilt from
docs/protocol-vectors.json, and a small scenario for the emulator (five sites, directory at dc-b)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_private_key

from lgwan_sim.backbone import Command, ErrorCode, Header, Message, Signer, decode_delivery, seal

VECTORS_PATH = Path(__file__).resolve().parents[2] / "docs" / "protocol-vectors.json"

#: Header attributes by wire key, for reading a vector's header fields.
ATTRS = {
    "src": "src",
    "id": "id",
    "kid": "kid",
    "alg": "alg",
    "ts": "ts_ns",
    "corr": "corr",
    "ttl": "ttl_ns",
    "seq": "seq",
    "ct": "ct",
    "size": "size_bytes",
    "code": "code",
    "reason": "reason",
    "addr": "addr",
    "hb": "hb_ns",
    "trace": "trace",
    "cert": "cert",
}


def load_vectors() -> dict[str, Any]:
    return json.loads(VECTORS_PATH.read_text(encoding="utf-8"))


def field_value(kind: str, text: str) -> Any:
    """A vector header value: ints are decimal strings (for JavaScript), bytes are hex."""
    if kind == "int":
        return int(text)
    if kind == "bin":
        return bytes.fromhex(text)
    if kind == "str":
        return text
    raise ValueError(f"unknown field kind {kind!r}")


def private_key(vectors: dict[str, Any], name: str) -> Any:
    return load_der_private_key(bytes.fromhex(vectors["keys"][name]["private_pkcs8_der"]), None)


def header_of(vector: dict[str, Any], signer: Signer) -> Header:
    fields: dict[str, Any] = {}
    for key, kind, text in vector["header_fields"]:
        fields[ATTRS[key]] = field_value(kind, text)
    assert fields.pop("src") == signer.src
    assert fields.pop("kid") == signer.kid
    assert fields.pop("alg") == signer.alg.value
    if "code" in fields:
        fields["code"] = ErrorCode(fields["code"])
    return signer.header(**fields)


def rebuild(vectors: dict[str, Any], name: str) -> tuple[Message, Signer]:
    """Seal vector ``name`` from its inputs with the Python implementation."""
    vector = vectors["vectors"][name]
    src = next(text for key, _, text in vector["header_fields"] if key == "src")
    signer = Signer(src, private_key(vectors, vector["key"]))
    message = seal(
        Command(vector["command"]),
        vector["address"],
        header_of(vector, signer),
        bytes.fromhex(vector["body"]),
        signer.key,
    )
    if "delivery" in vector:
        from dataclasses import replace

        message = replace(message, delivery=decode_delivery(bytes.fromhex(vector["delivery"])))
    return message, signer


def is_p256(key: Any) -> bool:
    return isinstance(key, ec.EllipticCurvePrivateKey)


# A small scenario for the emulator's tests: five sites, directory at dc-b (packet).
SMALL = """\
name: emu-small
description: Five sites; directory look-ups from two towns to an ASP site in Osaka.
topology:
  inline:
    sites:
      - {id: core, kind: central, lat: 35.68, lon: 139.77, campus: east, name: East central site}
      - {id: dc-a, kind: asp, lat: 35.69, lon: 139.74, name: "LGWAN-ASP site, Tokyo"}
      - {id: dc-b, kind: asp, lat: 34.69, lon: 135.50, name: "LGWAN-ASP site, Osaka"}
      - {id: m1, kind: municipality, prefecture: "03", lat: 39.70, lon: 141.15, name: Morioka, name_ja: 盛岡市}
      - {id: m2, kind: municipality, prefecture: "04", lat: 38.27, lon: 140.87, name: Sendai, name_ja: 仙台市}
    links:
      - {a: core, b: dc-a, capacity_bps: 1.0e+9}
      - {a: core, b: dc-b, capacity_bps: 1.0e+9}
      - {a: m1, b: core, capacity_bps: 1.0e+8, kind: access}
      - {a: m2, b: core, capacity_bps: 1.0e+8, kind: access}
only_services: [directory]
services:
  directory: {primary: dc-b, secondary: dc-a, requests_per_day: RATE}
start: "2026-02-16T10:00"
duration: DURATION
seed: 7
fidelity: packet
engine: {bin_s: 10}
"""


def small_scenario(folder: Path, *, rate: float = 200_000, duration: str = "60s") -> Path:
    path = folder / "emu-small.yaml"
    path.write_text(SMALL.replace("RATE", str(int(rate))).replace("DURATION", duration), "utf-8")
    return path
