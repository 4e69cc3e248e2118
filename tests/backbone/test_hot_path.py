"""Per message, endpoints sign and verify; what is known once per key is not derived again."""

from __future__ import annotations

import os
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from lgwan_sim.backbone import Command, Signer, Testbed, _wire, verify
from lgwan_sim.backbone._trust import EndToEnd
from lgwan_sim.errors import VerificationError
from lgwan_sim.lgpki import SiteInfo, spki_sha256

TS = 1_767_225_600_000_000_000


@pytest.fixture
def derivations(monkeypatch):
    """Every SubjectPublicKeyInfo digest the wire module computes from here on."""
    calls: list[object] = []
    real = _wire.spki_sha256

    def counting(key):
        calls.append(key)
        return real(key)

    monkeypatch.setattr(_wire, "spki_sha256", counting)
    return calls


@pytest.fixture(scope="module")
def muni() -> Signer:
    return Signer("mun-13-104", ec.generate_private_key(ec.SECP256R1()))


def _req(signer: Signer, n: int = 0) -> _wire.Message:
    return signer.seal(
        Command.REQ, "asp-eltax-east/eltax", b"body", id=os.urandom(16), ts_ns=TS + n
    )


def test_a_signer_seals_without_deriving_its_key_id_again(muni, derivations):
    messages = [_req(muni, n) for n in range(5)]
    assert derivations == []
    for m in messages:  # and what it sealed is what the plain check accepts
        assert m.header.kid == muni.kid
        verify(m, muni.key.public_key())


def test_verify_takes_a_known_key_id_instead_of_deriving_it(muni, derivations):
    m = _req(muni)
    verify(m, muni.key.public_key(), key_id=bytes.fromhex(spki_sha256(muni.key.public_key())))
    assert derivations == []


def test_verify_compares_the_key_id_it_is_given(muni):
    with pytest.raises(VerificationError) as exc:
        verify(_req(muni), muni.key.public_key(), key_id=bytes(32))
    assert exc.value.reason == "wrong-signer"


@pytest.fixture(scope="module")
def testbed(tmp_path_factory) -> Testbed:
    return Testbed.issue(
        tmp_path_factory.mktemp("testbed"),
        [
            SiteInfo(id="m1", kind="municipality", name="Morioka"),
            SiteInfo(id="dc-b", kind="asp", name="Osaka"),
        ],
    )


def test_an_end_to_end_check_of_a_known_sender_derives_no_key_id(testbed, monkeypatch):
    signer = testbed.credentials["m1"].signer()
    e2e = EndToEnd(testbed.registry, testbed.message_verifier())

    def request() -> _wire.Message:
        return signer.seal(
            Command.REQ, "dc-b/directory", b"q", id=os.urandom(16), ts_ns=time.time_ns()
        )

    e2e.check(request(), lambda a: a == "dc-b/directory")  # builds and caches the path
    calls: list[object] = []
    real = _wire.spki_sha256
    monkeypatch.setattr(_wire, "spki_sha256", lambda key: calls.append(key) or real(key))
    for _ in range(3):
        e2e.check(request(), lambda a: a == "dc-b/directory")
    assert calls == []
    assert e2e.accepted == 4
    forged = signer.seal(Command.REQ, "dc-b/directory", b"q", id=os.urandom(16), ts_ns=0)
    with pytest.raises(VerificationError):
        e2e.check(forged, lambda a: a == "dc-b/directory")  # the other checks still run
