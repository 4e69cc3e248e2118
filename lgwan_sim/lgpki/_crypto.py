"""Low-level crypto helpers: key generation, SHA-1 re-signing, DER bits, SPKI hashes.

``cryptography`` refuses SHA-1 in its X.509 builders since 39.0, yet G1 objects must carry
real SHA-1 signatures. :func:`resign_sha1` takes a certificate or CRL that was signed with
SHA-256 by an RSA key, swaps the ``sha256WithRSAEncryption`` identifier for
``sha1WithRSAEncryption`` (both OIDs are 9 bytes, so no length changes), and re-signs the
new to-be-signed bytes with raw PKCS#1 v1.5 + SHA-1.
"""

from __future__ import annotations

import hashlib
from typing import TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from lgwan_sim.errors import PkiError
from lgwan_sim.lgpki._model import KeyType

__all__ = [
    "PrivateKey",
    "PublicKey",
    "der_length",
    "generate_key",
    "key_type_of",
    "resign_sha1",
    "spki_sha256",
]

PrivateKey: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey: TypeAlias = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

_SHA256_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")
_SHA1_RSA = bytes.fromhex("300d06092a864886f70d0101050500")


def generate_key(key_type: KeyType) -> PrivateKey:
    """Generate a fresh private key of ``key_type``."""
    if key_type is KeyType.P256:
        return ec.generate_private_key(ec.SECP256R1())
    bits = 1024 if key_type is KeyType.RSA1024 else 2048
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def key_type_of(key: PublicKey | PrivateKey) -> KeyType:
    """The :class:`KeyType` of a key; raise :class:`PkiError` for anything else."""
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        if key.key_size == 1024:
            return KeyType.RSA1024
        if key.key_size == 2048:
            return KeyType.RSA2048
        raise PkiError(f"unsupported RSA key size {key.key_size}")
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        if isinstance(key.curve, ec.SECP256R1):
            return KeyType.P256
        raise PkiError(f"unsupported curve {key.curve.name}")
    raise PkiError(f"unsupported key type {type(key).__name__}")


def spki_sha256(key: PublicKey) -> str:
    """Hex SHA-256 of the DER SubjectPublicKeyInfo: the identity of a public key."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def der_length(n: int) -> bytes:
    """DER length octets for a content of ``n`` bytes."""
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + der_length(len(content)) + content


def resign_sha1(der: bytes, key: PrivateKey, *, what: str) -> bytes:
    """Turn a SHA-256/RSA-signed certificate or CRL (``what``) into a SHA-1/RSA-signed one."""
    if not isinstance(key, rsa.RSAPrivateKey):
        raise PkiError("G1 objects are signed with RSA keys only")
    if der.count(_SHA256_RSA) != 2:
        raise PkiError(f"cannot re-sign {what}: expected two sha256WithRSA identifiers")
    swapped = der.replace(_SHA256_RSA, _SHA1_RSA)
    if what == "crl":
        tbs = x509.load_der_x509_crl(swapped).tbs_certlist_bytes
    else:
        tbs = x509.load_der_x509_certificate(swapped).tbs_certificate_bytes
    signature = key.sign(tbs, padding.PKCS1v15(), hashes.SHA1())
    body = tbs + _SHA1_RSA + _tlv(0x03, b"\x00" + signature)
    return _tlv(0x30, body)


def policy_mappings_der(pairs: list[tuple[x509.ObjectIdentifier, x509.ObjectIdentifier]]) -> bytes:
    """DER of a PolicyMappings extension value (RFC 5280 4.2.1.5).

    ``cryptography`` has no class for it, so the value is encoded here and attached as an
    :class:`~cryptography.x509.UnrecognizedExtension`.
    """
    seqs = b"".join(_tlv(0x30, _oid_der(issuer) + _oid_der(subject)) for issuer, subject in pairs)
    return _tlv(0x30, seqs)


def _oid_der(oid: x509.ObjectIdentifier) -> bytes:
    arcs = [int(a) for a in oid.dotted_string.split(".")]
    body = bytearray()
    first = arcs[0] * 40 + arcs[1]
    for arc in [first, *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return _tlv(0x06, bytes(body))


def parse_policy_mappings(value: bytes) -> list[tuple[str, str]]:
    """Decode a PolicyMappings extension value into (issuerDomain, subjectDomain) strings."""
    pairs: list[tuple[str, str]] = []
    content, rest = _read(value, 0x30)
    if rest:
        raise PkiError("trailing bytes after policyMappings")
    while content:
        seq, content = _read(content, 0x30)
        a, seq = _read(seq, 0x06)
        b, seq = _read(seq, 0x06)
        pairs.append((_oid_str(a), _oid_str(b)))
    return pairs


def _read(data: bytes, tag: int) -> tuple[bytes, bytes]:
    if len(data) < 2 or data[0] != tag:
        raise PkiError(f"malformed DER: expected tag {tag:#x}")
    n = data[1]
    pos = 2
    if n & 0x80:
        count = n & 0x7F
        n = int.from_bytes(data[2 : 2 + count], "big")
        pos = 2 + count
    if pos + n > len(data):
        raise PkiError("malformed DER: length beyond end")
    return data[pos : pos + n], data[pos + n :]


def _oid_str(body: bytes) -> str:
    arcs: list[int] = []
    value = 0
    for byte in body:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(a) for a in head + arcs[1:])
