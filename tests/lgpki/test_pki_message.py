"""Signed messages between emulated sites: the good case and each way to be refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lgwan_sim.errors import PkiError, VerificationError
from lgwan_sim.lgpki import (
    CertKind,
    MessageSigner,
    MessageVerifier,
    Pki,
    SignedMessage,
    SiteInfo,
    sign_message,
    verifier_from_pki,
)
from tests.lgpki.support import NOW, World


def _verifier(pki: Pki, anchor: str = "bridge_g2") -> MessageVerifier:
    return MessageVerifier(
        verifier_from_pki(pki, anchor),
        message_signing_oid=pki.hierarchy.message_signing_oid.dotted_string,
        replay_window=timedelta(minutes=5),
    )


def _signer(pki: Pki, world: World, holder: str, generation: str = "g2") -> MessageSigner:
    issued = getattr(world, generation)[holder]
    return MessageSigner(sender=holder, key=pki.private_key(issued), certificate=issued.certificate)


def _reason(verifier: MessageVerifier, message: SignedMessage, **kw) -> str:
    with pytest.raises(VerificationError) as info:
        verifier.verify(message, now=kw.pop("now", NOW), **kw)
    return info.value.reason


def test_a_signed_message_verifies_and_round_trips(shared_pki, world: World):
    signer = _signer(shared_pki, world, "asp-jlis-east")
    message = signer.sign(topic="asp/notice", payload=b"\x00" * 1024, now=NOW)
    wire = message.to_bytes()
    assert SignedMessage.from_bytes(wire) == message
    verifier = _verifier(shared_pki)
    result = verifier.verify(SignedMessage.from_bytes(wire), now=NOW + timedelta(seconds=2))
    assert (result.sender, result.topic, result.algorithm) == (
        "asp-jlis-east",
        "asp/notice",
        "ecdsa-p256-sha256",
    )
    assert not result.legacy
    assert (verifier.accepted, verifier.rejected) == (1, 0)


def test_role_certificate_of_a_head_of_organisation(shared_pki, world: World):
    signer = _signer(shared_pki, world, "mun-13-101")
    head = shared_pki.hierarchy.role_oids["head"].dotted_string
    message = signer.sign(topic="notice", payload=b"decision", now=NOW)
    result = _verifier(shared_pki).verify(message, now=NOW, required_role_oid=head)
    assert result.algorithm == "rsa-pkcs1-sha256"


@pytest.mark.parametrize(
    ("field", "reason"),
    [
        ("sender", "bad-signature"),
        ("topic", "bad-signature"),
        ("payload", "bad-signature"),
        ("timestamp_us", "bad-signature"),
        ("nonce", "bad-signature"),
        ("signature", "bad-signature"),
        ("algorithm", "algorithm-mismatch"),  # an RSA name on an ECDSA certificate
        ("signer_key_id", "wrong-signer"),
    ],
)
def test_tampering_with_any_field_is_refused(shared_pki, world: World, field, reason):
    message = _signer(shared_pki, world, "asp-jlis-east").sign(topic="t", payload=b"pay", now=NOW)
    changed = {
        "sender": "asp-jlis-eas",
        "topic": "u",
        "payload": b"paz",
        "timestamp_us": message.timestamp_us + 1,
        "nonce": bytes(16),
        "signature": message.signature[:-1] + bytes([message.signature[-1] ^ 1]),
        "algorithm": "rsa-pkcs1-sha256",
        "signer_key_id": bytes(32),
    }[field]
    tampered = replace(message, **{field: changed})
    assert _reason(_verifier(shared_pki), tampered) == reason
    # on the wire too: the change survives encoding and is still refused for the same reason
    assert _reason(_verifier(shared_pki), SignedMessage.from_bytes(tampered.to_bytes())) == reason


def test_wrong_signer(shared_pki, world: World):
    # signed with the data centre's key, but carrying the ASP's certificate
    wrong_key = shared_pki.private_key(world.g2["dc-kanto"])
    message = sign_message(
        sender="asp-jlis-east",
        topic="t",
        payload=b"x",
        key=wrong_key,
        certificate=world.g2["asp-jlis-east"].certificate,
        now=NOW,
    )
    assert _reason(_verifier(shared_pki), message) == "wrong-signer"


def test_signer_refuses_a_key_that_is_not_its_certificates(shared_pki, world: World):
    with pytest.raises(PkiError, match="does not match"):
        MessageSigner(
            sender="asp-jlis-east",
            key=shared_pki.private_key(world.g2["dc-kanto"]),
            certificate=world.g2["asp-jlis-east"].certificate,
        )


def test_impersonation(shared_pki, world: World):
    # a valid certificate of dc-kanto, used to claim to be asp-jlis-east
    issued = world.g2["dc-kanto"]
    message = sign_message(
        sender="asp-jlis-east",
        topic="t",
        payload=b"x",
        key=shared_pki.private_key(issued),
        certificate=issued.certificate,
        now=NOW,
    )
    assert _reason(_verifier(shared_pki), message) == "impersonation"


def test_replayed_message(shared_pki, world: World):
    verifier = _verifier(shared_pki)
    message = _signer(shared_pki, world, "asp-jlis-east").sign(topic="t", payload=b"x", now=NOW)
    verifier.verify(message, now=NOW)
    assert _reason(verifier, message, now=NOW + timedelta(seconds=1)) == "replay"


def test_message_outside_the_replay_window(shared_pki, world: World):
    message = _signer(shared_pki, world, "asp-jlis-east").sign(topic="t", payload=b"x", now=NOW)
    verifier = _verifier(shared_pki)
    assert (
        _reason(verifier, message, now=NOW + timedelta(minutes=5, microseconds=1))
        == "stale-message"
    )
    verifier.verify(message, now=NOW + timedelta(minutes=5))


def test_missing_role(shared_pki, world: World):
    head = shared_pki.hierarchy.role_oids["head"].dotted_string
    message = _signer(shared_pki, world, "asp-jlis-east").sign(topic="t", payload=b"x", now=NOW)
    assert _reason(_verifier(shared_pki), message, required_role_oid=head) == "role"


def test_certificate_without_message_signing_usage(pki: Pki, world: World):
    server = pki.issue(
        _site("asp-jlis-east"), profile="server", now=NOW - timedelta(hours=2), generation="G2"
    )
    pki.publish_crls(now=NOW - timedelta(hours=1))
    message = sign_message(
        sender="asp-jlis-east",
        topic="t",
        payload=b"x",
        key=pki.private_key(server),
        certificate=server.certificate,
        now=NOW,
    )
    assert _reason(_verifier(pki), message) == "key-usage"


def test_paths_are_cached_but_revocation_is_checked_every_time(pki: Pki, world: World):
    verifier = _verifier(pki)
    signer = _signer(pki, world, "asp-jlis-east")
    verifier.verify(signer.sign(topic="t", payload=b"1", now=NOW), now=NOW)
    issued = world.g2["asp-jlis-east"]
    pki.revoke(issued.issuer_ca, issued.serial, reason="key_compromise", now=NOW)
    (crl,) = [i for i in pki.publish_crls(now=NOW, ca_ids=[issued.issuer_ca]) if i.scope == "crl"]
    issuer = pki.anchor("app_root_g2")  # wrong issuer on purpose first: refused, nothing changes
    with pytest.raises(VerificationError):
        verifier.verifier.revocation.add(crl.crl, issuer)
    sub = pki.certificates(kind=CertKind.SUB_CA, issuer_ca="app_root_g2")[0]
    verifier.verifier.revocation.add(crl.crl, sub.certificate)
    message = signer.sign(topic="t", payload=b"2", now=NOW + timedelta(seconds=1))
    assert _reason(verifier, message, now=NOW + timedelta(seconds=1)) == "revoked"


def test_g1_sender_signs_with_sha1_and_is_refused_after_the_cut_over(pki: Pki, world: World):
    stop = pki.plan.weak_algorithms_until
    signer = _signer(pki, world, "mun-13-101", "g1")
    assert signer.algorithm == "rsa-pkcs1-sha1"
    before = stop - timedelta(hours=1)
    pki.publish_crls(now=before - timedelta(hours=1))
    result = _verifier(pki).verify(signer.sign(topic="t", payload=b"x", now=before), now=before)
    assert result.legacy
    pki.publish_crls(now=stop)
    message = signer.sign(topic="t", payload=b"x", now=stop)
    assert _reason(_verifier(pki), message, now=stop) == "weak-hash"


@given(st.binary(max_size=400))
def test_garbage_never_parses_into_a_message_silently(data):
    reason = None
    try:
        message = SignedMessage.from_bytes(data)
    except VerificationError as exc:
        reason = exc.reason
    else:
        assert message.to_bytes() == data
    assert reason in (None, "malformed")


def test_oversized_message_is_refused():
    with pytest.raises(VerificationError) as info:
        SignedMessage.from_bytes(b"x" * 2048, max_bytes=1024)
    assert info.value.reason == "malformed"


def _site(site_id: str) -> SiteInfo:
    return SiteInfo(id=site_id, kind="asp", name=site_id)


def _bad_certificate(kind: str) -> bytes:
    """DER that does not load (``junk``), or loads and fails when its extensions are read."""
    if kind == "junk":
        return b"\x30\x03\x02\x01\x01"
    if kind == "version":  # X.509 version 12: cryptography raises InvalidVersion, not ValueError
        good = _bad_certificate("san")
        assert good.count(b"\xa0\x03\x02\x01\x02") == 1
        return good.replace(b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x0b")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import ExtensionOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "LGPKI Application CA G2 Sub1")])
    oid = {"san": ExtensionOID.SUBJECT_ALTERNATIVE_NAME, "eku": ExtensionOID.EXTENDED_KEY_USAGE}[
        kind
    ]
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
        .add_extension(x509.UnrecognizedExtension(oid, b"\x04\x01"), critical=False)
        .sign(key, hashes.SHA256())
        .public_bytes(Encoding.DER)
    )


@pytest.mark.parametrize("kind", ["junk", "version", "san", "eku"])
def test_a_bad_attached_certificate_is_a_malformed_rejection(shared_pki, world: World, kind):
    message = _signer(shared_pki, world, "asp-jlis-east").sign(topic="t", payload=b"x", now=NOW)
    verifier = _verifier(shared_pki)
    bad = replace(message, certificate=_bad_certificate(kind))
    assert _reason(verifier, bad) == "malformed"
    assert _reason(verifier, SignedMessage.from_bytes(bad.to_bytes())) == "malformed"
    assert (verifier.accepted, verifier.rejected) == (0, 2)
