"""Signing with nonces made ahead: ordinary ECDSA signatures, each nonce used once."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, utils

from lgwan_sim.backbone._presign import P256_ORDER, NoncePool
from lgwan_sim.backbone._wire import Command, Signer, verify
from lgwan_sim.errors import VerificationError


def _seal(signer: Signer, n: int, body: bytes = b"look-up"):
    return signer.seal(Command.REQ, "dc-b/directory", body, id=n.to_bytes(16, "big"), ts_ns=n)


def test_the_order_is_p256s_generators():
    # (n - 1)·G = -G, which has G's x; OpenSSL refuses n itself as a private value
    curve = ec.SECP256R1()
    g = ec.derive_private_key(1, curve).public_key().public_numbers()
    minus_g = ec.derive_private_key(P256_ORDER - 1, curve).public_key().public_numbers()
    assert minus_g.x == g.x
    assert minus_g.y != g.y
    with pytest.raises(ValueError, match="Invalid EC key"):
        ec.derive_private_key(P256_ORDER, curve)


def test_a_pooled_signature_verifies_and_takes_one_nonce_each():
    pool = NoncePool(8)
    assert pool.fill() == 8
    assert len(pool) == 8
    key = ec.generate_private_key(ec.SECP256R1())
    signer = Signer("m1", key, pool)
    messages = [_seal(signer, i) for i in range(5)]
    for message in messages:
        verify(message, key.public_key(), address="dc-b/directory")
    assert (pool.used, pool.without, len(pool)) == (5, 0, 3)
    # a nonce is never used twice: every r differs
    rs = {utils.decode_dss_signature(m.signature)[0] for m in messages}
    assert len(rs) == 5


def test_a_pooled_signature_binds_the_message():
    pool = NoncePool(2)
    pool.fill()
    key = ec.generate_private_key(ec.SECP256R1())
    message = _seal(Signer("m1", key, pool), 1)
    other = _seal(Signer("m1", key), 1, body=b"another body")
    forged = dataclasses.replace(message, body=other.body)
    with pytest.raises(VerificationError) as refused:
        verify(forged, key.public_key())
    assert refused.value.reason == "bad-signature"
    # and another key does not verify it
    stranger = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(VerificationError):
        verify(message, stranger.public_key(), key_id=message.header.kid)


def test_an_empty_pool_signs_the_ordinary_way():
    pool = NoncePool(4)
    key = ec.generate_private_key(ec.SECP256R1())
    message = _seal(Signer("m1", key, pool), 1)
    verify(message, key.public_key())
    assert (pool.used, pool.without) == (0, 1)


def test_an_rsa_key_ignores_the_pool():
    pool = NoncePool(4)
    pool.fill()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    message = _seal(Signer("m1", key, pool), 1)
    verify(message, key.public_key())
    assert (pool.used, pool.without, len(pool)) == (0, 0, 4)


def test_fill_keeps_to_its_budget_and_its_stop():
    pool = NoncePool(50)
    assert pool.fill(0.0) == 0
    assert pool.fill(1e-9) == 1  # a budget makes one at least
    asked = []
    assert pool.fill(until=lambda: asked.append(1) or len(asked) == 3) == 3
    assert pool.fill() == 46
    assert len(pool) == 50
    assert pool.made == 50
    assert pool.fill() == 0  # full
    with pytest.raises(ValueError, match="size must be >= 1"):
        NoncePool(0)


@pytest.mark.openssl
@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")
def test_openssl_accepts_a_pooled_signature(tmp_path):
    pool = NoncePool(1)
    pool.fill()
    key = ec.generate_private_key(ec.SECP256R1())
    message = _seal(Signer("m1", key, pool), 7)
    assert pool.used == 1
    (tmp_path / "data").write_bytes(message.signed_bytes())
    (tmp_path / "sig").write_bytes(message.signature)
    (tmp_path / "pub.pem").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    args = ["openssl", "dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig", "data"]
    out = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Verified OK" in out.stdout
    (tmp_path / "data").write_bytes(message.signed_bytes() + b"x")
    out = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert out.returncode != 0
