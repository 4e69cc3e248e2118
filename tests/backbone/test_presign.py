"""Signing with nonces made ahead: ordinary ECDSA signatures, each nonce used once."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import os
import pickle
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
    assert pool.fill(until=lambda: True) == 0  # asked first: a waiting message goes first
    asked = []
    assert pool.fill(until=lambda: asked.append(1) or len(asked) == 4) == 3
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


def test_a_nonce_that_would_give_s_zero_is_passed_over():
    # with d = -z / r (mod n) the first nonce gives s = 0, which is no signature: the next
    # one is taken instead
    pool = NoncePool(2)
    pool.fill()
    key = ec.generate_private_key(ec.SECP256R1())
    data = b"signed bytes"
    _, r = pool._pairs[0]
    z = int.from_bytes(hashlib.sha256(data).digest(), "big")
    d = (-z * pow(r, -1, P256_ORDER)) % P256_ORDER
    signature = pool.sign(key, d, data)
    r2, s2 = utils.decode_dss_signature(signature)
    assert r2 != r
    assert s2 != 0
    assert (pool.used, len(pool)) == (1, 0)


def test_a_pool_is_never_copied_pickled_or_inherited_by_a_fork():
    pool = NoncePool(3)
    pool.fill()
    signer = Signer("m1", ec.generate_private_key(ec.SECP256R1()), pool)
    for copy_of in (copy.copy, copy.deepcopy, pickle.dumps):
        with pytest.raises(TypeError, match="single-use secrets"):
            copy_of(pool)
    with pytest.raises(TypeError, match="single-use secrets"):
        copy.deepcopy(signer)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child reports how many nonces it inherited, and goes
        os.write(write, str(len(pool)).encode())
        os._exit(0)
    os.close(write)
    inherited = os.read(read, 16)
    os.close(read)
    os.waitpid(child, 0)
    assert inherited == b"0"
    assert len(pool) == 3  # the parent keeps its own
