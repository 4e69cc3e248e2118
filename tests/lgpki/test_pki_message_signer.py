"""MessageVerifier.check_signer and check_fresh: the checks of a message's signer and
freshness on their own, for messages in a format other than SignedMessage (EMW1)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from lgwan_sim.errors import PkiError, VerificationError
from lgwan_sim.lgpki import CertKind, MessageVerifier, Pki, sign_message
from lgwan_sim.lgpki._build import SITE_URI_PREFIX
from lgwan_sim.lgpki._crypto import spki_sha256
from lgwan_sim.lgpki._verify import AlgorithmPolicy, RevocationStore, Verifier
from tests.lgpki.support import ISSUED, NOW, World
from tests.lgpki.test_pki_message import _bad_certificate, _site, _verifier
from tests.lgpki.test_pki_verify import _ca_cert, _crl

NOW_US = int(NOW.timestamp()) * 1_000_000  # NOW is a whole second
WINDOW_US = 5 * 60 * 1_000_000  # the replay window of _verifier()
_SIGNING = x509.ObjectIdentifier("1.3.6.1.4.1.99999.1")  # a message-signing usage of a test


def _der(world: World, holder: str, generation: str = "g2") -> bytes:
    return getattr(world, generation)[holder].certificate.public_bytes(Encoding.DER)


def _signer_reason(verifier, der: bytes, sender: str, now: datetime = NOW) -> str:
    with pytest.raises(VerificationError) as info:
        verifier.check_signer(der, sender, now)
    return info.value.reason


def _fresh_reason(verifier, key_id: bytes, nonce: bytes, ts_us: int, now: datetime = NOW) -> str:
    with pytest.raises(VerificationError) as info:
        verifier.check_fresh(key_id, nonce, ts_us, now)
    return info.value.reason


# -- check_signer ---------------------------------------------------------------------------
def test_check_signer_returns_the_path_that_verifies_an_emw1_style_signature(
    shared_pki, world: World
):
    issued = world.g2["asp-jlis-east"]
    verifier = _verifier(shared_pki)
    vp = verifier.check_signer(_der(world, "asp-jlis-east"), "asp-jlis-east", NOW)
    assert vp.leaf == issued.certificate
    assert vp.anchor_subject == shared_pki.anchor("bridge_g2").subject.rfc4514_string()
    assert vp.site_ids == frozenset({"asp-jlis-east"})
    key = shared_pki.private_key(issued)
    assert vp.leaf_key_id == bytes.fromhex(spki_sha256(key.public_key()))
    # the caller checks its own signed bytes with the path's key
    assert vp.key_kind == "ec"
    signed = b"EMW1-SIG\x00" + b"any bytes of another format"
    signature = key.sign(signed, ec.ECDSA(hashes.SHA256()))
    vp.leaf_key.verify(signature, signed, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        vp.leaf_key.verify(signature, signed + b"!", ec.ECDSA(hashes.SHA256()))
    # check_signer counts nothing: accepted/rejected count SignedMessage verdicts
    assert (verifier.accepted, verifier.rejected) == (0, 0)


def test_check_signer_caches_the_path_by_the_certificates_bytes(shared_pki, world: World):
    verifier = _verifier(shared_pki)
    der = _der(world, "asp-jlis-east")
    first = verifier.check_signer(der, "asp-jlis-east", NOW)
    again = verifier.check_signer(bytes(der), "asp-jlis-east", NOW + timedelta(seconds=1))
    assert again is first
    other = verifier.check_signer(_der(world, "mun-13-101"), "mun-13-101", NOW)
    assert other is not first
    assert other.key_kind == "rsa"
    # the same cache serves SignedMessage verification
    issued = world.g2["asp-jlis-east"]
    message = sign_message(
        sender="asp-jlis-east",
        topic="t",
        payload=b"x",
        key=shared_pki.private_key(issued),
        certificate=issued.certificate,
        now=NOW,
    )
    verifier.verify(message, now=NOW)
    assert verifier.check_signer(der, "asp-jlis-east", NOW) is first


def test_check_signer_refuses_a_sender_the_certificate_does_not_name(shared_pki, world: World):
    verifier = _verifier(shared_pki)
    der = _der(world, "dc-kanto")
    assert _signer_reason(verifier, der, "asp-jlis-east") == "impersonation"
    assert _signer_reason(verifier, der, "dc-kant") == "impersonation"
    assert _signer_reason(verifier, der, "") == "impersonation"
    assert verifier.check_signer(der, "dc-kanto", NOW).site_ids == frozenset({"dc-kanto"})


def test_check_signer_refuses_a_certificate_not_for_message_signing(pki: Pki, world: World):
    server = pki.issue(
        _site("asp-jlis-east"), profile="server", now=NOW - timedelta(hours=2), generation="G2"
    )
    pki.publish_crls(now=NOW - timedelta(hours=1))
    der = server.certificate.public_bytes(Encoding.DER)
    verifier = _verifier(pki)
    # the certificate is otherwise fine: the site is right and the path valid
    assert verifier.verifier.validate(server.certificate, now=NOW).leaf == server.certificate
    assert _signer_reason(verifier, der, "asp-jlis-east") == "key-usage"
    # a wrong sender is reported first
    assert _signer_reason(verifier, der, "dc-kanto") == "impersonation"


@pytest.mark.parametrize("kind", ["junk", "version", "san", "eku"])
def test_check_signer_refuses_a_bad_certificate_as_malformed(shared_pki, kind):
    verifier = _verifier(shared_pki)
    assert _signer_reason(verifier, _bad_certificate(kind), "asp-jlis-east") == "malformed"


def test_check_signer_refuses_a_certificate_of_no_pinned_anchor(shared_pki):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "somebody")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    der = cert.public_bytes(Encoding.DER)
    assert _signer_reason(_verifier(shared_pki), der, "somebody") == "unknown-issuer"


def test_check_signer_rechecks_validity_of_a_cached_path(shared_pki, world: World):
    issued = world.g2["asp-jlis-east"]
    verifier = _verifier(shared_pki)
    der = _der(world, "asp-jlis-east")
    verifier.check_signer(der, "asp-jlis-east", NOW)
    before = issued.certificate.not_valid_before_utc - timedelta(seconds=1)
    after = issued.certificate.not_valid_after_utc + timedelta(seconds=1)
    assert _signer_reason(verifier, der, "asp-jlis-east", before) == "not-yet-valid"
    assert _signer_reason(verifier, der, "asp-jlis-east", after) == "expired"
    # a fresh verifier says the same without a cached path
    assert _signer_reason(_verifier(shared_pki), der, "asp-jlis-east", after) == "expired"


def test_check_signer_checks_revocation_on_every_call(pki: Pki, world: World):
    verifier = _verifier(pki)
    issued = world.g2["asp-jlis-east"]
    der = _der(world, "asp-jlis-east")
    verifier.check_signer(der, "asp-jlis-east", NOW)
    pki.revoke(issued.issuer_ca, issued.serial, reason="key_compromise", now=NOW)
    (crl,) = [i for i in pki.publish_crls(now=NOW, ca_ids=[issued.issuer_ca]) if i.scope == "crl"]
    sub = pki.certificates(kind=CertKind.SUB_CA, issuer_ca="app_root_g2")[0]
    verifier.verifier.revocation.add(crl.crl, sub.certificate)
    later = NOW + timedelta(seconds=1)
    assert _signer_reason(verifier, der, "asp-jlis-east", later) == "revoked"
    # another holder of the same CA is not affected
    assert verifier.check_signer(_der(world, "dc-kanto"), "dc-kanto", later).leaf == (
        world.g2["dc-kanto"].certificate
    )


def test_check_signer_applies_the_algorithm_policy(pki: Pki, world: World):
    stop = pki.plan.weak_algorithms_until
    der = _der(world, "mun-13-101", "g1")  # SHA-1 and RSA-1024 on its path
    before = stop - timedelta(hours=1)
    pki.publish_crls(now=before - timedelta(hours=1))
    vp = _verifier(pki).check_signer(der, "mun-13-101", before)
    assert vp.uses_sha1
    assert vp.weak_rsa
    pki.publish_crls(now=stop)
    verifier = _verifier(pki)
    assert _signer_reason(verifier, der, "mun-13-101", stop) == "weak-hash"


def test_check_signer_and_check_fresh_refuse_a_naive_time(shared_pki, world: World):
    verifier = _verifier(shared_pki)
    der = _der(world, "asp-jlis-east")
    naive = NOW.replace(tzinfo=None)
    with pytest.raises(PkiError, match="timezone-aware"):
        verifier.check_signer(der, "asp-jlis-east", naive)
    verifier.check_signer(der, "asp-jlis-east", NOW)  # cached now, and still refused
    with pytest.raises(PkiError, match="timezone-aware"):
        verifier.check_signer(der, "asp-jlis-east", naive)
    with pytest.raises(PkiError, match="timezone-aware"):
        verifier.check_fresh(b"k", b"n", NOW_US, naive)
    jst = NOW.astimezone(ZoneInfo("Asia/Tokyo"))
    with pytest.raises(PkiError, match="in UTC"):
        verifier.check_fresh(b"k", b"n", NOW_US, jst)


# -- check_fresh ----------------------------------------------------------------------------
def test_check_fresh_accepts_a_new_nonce_and_refuses_it_again(shared_pki):
    verifier = _verifier(shared_pki)
    assert verifier.check_fresh(b"key-a", b"nonce-1", NOW_US, NOW) is None
    assert _fresh_reason(verifier, b"key-a", b"nonce-1", NOW_US) == "replay"
    # a replay is refused whatever its timestamp and whenever it comes, inside the window
    later = NOW + timedelta(minutes=4)
    assert _fresh_reason(verifier, b"key-a", b"nonce-1", NOW_US + 1, later) == "replay"
    # the pair is what counts: the same nonce of another key, another nonce of the same key
    verifier.check_fresh(b"key-b", b"nonce-1", NOW_US, NOW)
    verifier.check_fresh(b"key-a", b"nonce-2", NOW_US, NOW)
    assert _fresh_reason(verifier, b"key-b", b"nonce-1", NOW_US) == "replay"


def test_check_fresh_window_is_inclusive_on_both_sides(shared_pki):
    verifier = _verifier(shared_pki)
    verifier.check_fresh(b"k", b"past-edge", NOW_US - WINDOW_US, NOW)
    verifier.check_fresh(b"k", b"future-edge", NOW_US + WINDOW_US, NOW)
    assert _fresh_reason(verifier, b"k", b"too-old", NOW_US - WINDOW_US - 1) == "stale-message"
    assert _fresh_reason(verifier, b"k", b"too-new", NOW_US + WINDOW_US + 1) == "stale-message"
    # a stale message is not remembered: the same pair, now in the window, is accepted
    verifier.check_fresh(b"k", b"too-old", NOW_US - WINDOW_US - 1, NOW - timedelta(seconds=1))


def test_check_fresh_follows_now_as_it_moves(shared_pki):
    verifier = _verifier(shared_pki)
    for step in range(3):
        now = NOW + timedelta(minutes=10 * step)
        ts = NOW_US + step * 10 * 60 * 1_000_000
        verifier.check_fresh(b"k", bytes([step]), ts, now)
        assert _fresh_reason(verifier, b"k", bytes([step, 1]), ts - WINDOW_US - 1, now) == (
            "stale-message"
        )
    # an equal but distinct datetime gives the same verdict as the cached one
    again = datetime(NOW.year, NOW.month, NOW.day, tzinfo=UTC) + timedelta(minutes=20)
    assert _fresh_reason(verifier, b"k", b"x", NOW_US - 1, again) == "stale-message"


def test_check_fresh_forgets_nonces_only_two_windows_back(shared_pki):
    verifier = _verifier(shared_pki)
    for i in range(4000):
        verifier.check_fresh(b"k", i.to_bytes(4, "big"), NOW_US, NOW)
    later = NOW + timedelta(minutes=10, microseconds=1)  # two windows and 1 us after NOW
    later_us = NOW_US + 2 * WINDOW_US + 1
    for i in range(200):
        verifier.check_fresh(b"k", b"late" + i.to_bytes(4, "big"), later_us, later)
    # NOW's nonces are now more than two windows old: forgotten (they would be stale anyway)
    assert len(verifier._seen) == 200
    assert _fresh_reason(verifier, b"k", b"late\x00\x00\x00\x00", later_us, later) == "replay"


def test_a_signed_message_is_checked_by_the_same_two_methods(shared_pki, world: World):
    issued = world.g2["asp-jlis-east"]
    message = sign_message(
        sender="asp-jlis-east",
        topic="t",
        payload=b"x",
        key=shared_pki.private_key(issued),
        certificate=issued.certificate,
        now=NOW,
    )
    verifier = _verifier(shared_pki)
    # a nonce taken through check_fresh makes the message a replay, and the other way round
    verifier.check_fresh(message.signer_key_id, message.nonce, NOW_US, NOW)
    with pytest.raises(VerificationError) as info:
        verifier.verify(message, now=NOW)
    assert info.value.reason == "replay"
    other = _verifier(shared_pki)
    other.verify(message, now=NOW)
    assert _fresh_reason(other, message.signer_key_id, message.nonce, NOW_US) == "replay"
    assert (other.accepted, other.rejected) == (1, 0)


def test_check_signer_keeps_the_path_that_replaced_a_cached_one():
    # the CA "mid" holds two certificates from the root; the first path found goes through
    # the one that ends after 10 days, and from then on the other path takes its place
    root_key, mid_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _ca_cert("root", root_key, "root", root_key, days=60)
    short = _ca_cert("mid", mid_key, "root", root_key, days=10)
    long = _ca_cert("mid", mid_key, "root", root_key, days=60)
    usage = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leaf")]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mid")]))
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(ISSUED)
        .not_valid_after(ISSUED + timedelta(days=60))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([_SIGNING]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(SITE_URI_PREFIX + "mun-99-001")]
            ),
            critical=False,
        )
        .sign(mid_key, hashes.SHA256())
    )
    store = RevocationStore()
    store.add(_crl(root_key, "root", 1), root)
    store.add(_crl(mid_key, "mid", 1), long)
    verifier = MessageVerifier(
        Verifier(
            anchors=[root],
            intermediates=[short, long],
            revocation=store,
            policy=AlgorithmPolicy(legacy_until=None),
        ),
        message_signing_oid=_SIGNING.dotted_string,
    )
    der = leaf.public_bytes(Encoding.DER)
    first = verifier.check_signer(der, "mun-99-001", NOW)
    assert first.certificates[1] == short
    assert verifier.check_signer(der, "mun-99-001", NOW + timedelta(days=1)) is first
    later = ISSUED + timedelta(days=20)
    second = verifier.check_signer(der, "mun-99-001", later)
    assert second.certificates[1] == long
    assert verifier.check_signer(der, "mun-99-001", later + timedelta(seconds=1)) is second
    assert _signer_reason(verifier, der, "mun-99-002", later) == "impersonation"


def test_verify_refuses_a_naive_time_even_with_the_path_cached(shared_pki, world: World):
    issued = world.g2["asp-jlis-east"]
    key = shared_pki.private_key(issued)
    verifier = _verifier(shared_pki)
    first = sign_message(
        sender="asp-jlis-east",
        topic="t",
        payload=b"1",
        key=key,
        certificate=issued.certificate,
        now=NOW,
    )
    verifier.verify(first, now=NOW)  # the path is cached now
    second = sign_message(
        sender="asp-jlis-east",
        topic="t",
        payload=b"2",
        key=key,
        certificate=issued.certificate,
        now=NOW,
    )
    with pytest.raises(PkiError, match="timezone-aware"):
        verifier.verify(second, now=NOW.replace(tzinfo=None))
    # a programming error, not a verdict on the message: counted neither way
    assert (verifier.accepted, verifier.rejected) == (1, 0)
    verifier.verify(second, now=NOW)


def test_an_unknown_message_algorithm_is_malformed(shared_pki, world: World):
    issued = world.g2["asp-jlis-east"]
    message = sign_message(
        sender="asp-jlis-east",
        topic="t",
        payload=b"x",
        key=shared_pki.private_key(issued),
        certificate=issued.certificate,
        now=NOW,
    )
    verifier = _verifier(shared_pki)
    for name in ("rsa-pss-sha512", "", "ECDSA-P256-SHA256"):
        with pytest.raises(VerificationError) as info:
            verifier.verify(replace(message, algorithm=name), now=NOW)
        assert info.value.reason == "malformed"
        assert "unknown algorithm" in str(info.value)
    assert (verifier.accepted, verifier.rejected) == (0, 3)


def test_the_replay_cache_costs_a_bounded_few_bytes_a_message(shared_pki):
    # The emulator checks every reply a real service sends to a simulated local body, and
    # keeps each nonce for two windows: at 2,000 messages a second that is 1.2 million
    # nonces. Each must cost little, and all are forgotten once two windows old.
    import os
    import tracemalloc

    verifier = _verifier(shared_pki)
    kid = bytes(range(32))  # an EMW1 key id: 32 bytes
    n = 50_000
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(n):  # 1,000 messages a second of signing time
            # as decoded from a header: a new kid and a new nonce object each time
            verifier.check_fresh(bytes(kid), os.urandom(16), NOW_US + i * 1000, NOW)
        per_message = (tracemalloc.get_traced_memory()[0] - before) / n
    finally:
        tracemalloc.stop()
    assert len(verifier._seen) == n
    print(f"replay cache: {per_message:.0f} bytes a message")
    assert per_message <= 120, per_message
    # two windows and a second on, a new message forgets them all
    later_us = NOW_US + n * 1000 + 2 * WINDOW_US + 1_000_000
    for i in range(4097):
        verifier.check_fresh(
            kid,
            b"late" + i.to_bytes(4, "big"),
            later_us,
            NOW + timedelta(microseconds=later_us - NOW_US),
        )
    assert len(verifier._seen) <= 4097
