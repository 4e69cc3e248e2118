"""The EMW1 test vectors: their inputs, rebuilt from docs/protocol-vectors.json."""

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
