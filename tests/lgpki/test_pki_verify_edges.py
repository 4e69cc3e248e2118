"""Edges of the verifier and the message checks that no other test reaches.

Each test pins one rule with the reason it is refused for: an RSA key too small at any
date, a hash outside the SHA family given to the policy directly, the repr of a verified
path, and the message checks around the attached certificate.
"""

from __future__ import annotations

import random
import struct
from dataclasses import replace
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from lgwan_sim.errors import PkiError, VerificationError
from lgwan_sim.lgpki import (
    AlgorithmPolicy,
    MessageSigner,
    MessageVerifier,
    RevocationStore,
    SignedMessage,
    Verifier,
    sign_message,
)
from lgwan_sim.lgpki._build import SITE_URI_PREFIX
from lgwan_sim.lgpki._crypto import resign_sha1
from tests.lgpki.support import ISSUED, NOW

#: RSA, so that lists can be re-signed with SHA-1 as G1 lists are
_ROOT_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
#: before the SHA-1 / RSA-1024 cut-over, so only the rules that hold at every date apply
_LEGACY = AlgorithmPolicy(legacy_until=NOW + timedelta(days=365))


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _root() -> x509.Certificate:
    public = _ROOT_KEY.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(_name("root"))
        .issuer_name(_name("root"))
        .public_key(public)
        .serial_number(1)
        .not_valid_before(ISSUED)
        .not_valid_after(ISSUED + timedelta(days=60))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(_ROOT_KEY, hashes.SHA256())
    )


def _leaf(
    public_key,
    *,
    serial: int = 0x1EAF,
    subject: x509.Name | None = None,
    extra: tuple[tuple[x509.ExtensionType, bool], ...] = (),
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name("leaf") if subject is None else subject)
        .issuer_name(_name("root"))
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(ISSUED)
        .not_valid_after(ISSUED + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(ca=False), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(_ROOT_KEY.public_key()),
            critical=False,
        )
    )
    for extension, critical in extra:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(_ROOT_KEY, hashes.SHA256())


def _prime(bits: int, rng: random.Random) -> int:
    """A random prime of ``bits`` bits (Miller-Rabin, 40 rounds)."""
    while True:
        n = rng.getrandbits(bits) | (1 << (bits - 1)) | 1
        d, s = n - 1, 0
        while d % 2 == 0:
            d, s = d // 2, s + 1
        for _ in range(40):
            x = pow(rng.randrange(2, n - 1), d, n)
            if x in (1, n - 1):
                continue
            for _ in range(s - 1):
                x = pow(x, 2, n)
                if x == n - 1:
                    break
            else:
                break
        else:
            return n


def _rsa512_public_key() -> rsa.RSAPublicKey:
    """An RSA-512 public key (``cryptography`` no longer generates keys under 1024 bits)."""
    rng = random.Random(512)
    while True:
        p, q = _prime(256, rng), _prime(256, rng)
        n = p * q
        if p != q and n.bit_length() == 512:
            return rsa.RSAPublicNumbers(65537, n).public_key()


def test_an_rsa_key_under_1024_bits_is_refused_even_before_the_cut_over():
    leaf = _leaf(_rsa512_public_key())
    verifier = Verifier(anchors=[_root()], revocation=RevocationStore(), policy=_LEGACY)
    with pytest.raises(VerificationError) as info:
        verifier.build_path(leaf, now=NOW)
    assert info.value.reason == "weak-key"
    assert "RSA-512" in str(info.value)


@pytest.mark.parametrize("algorithm", [None, hashes.MD5(), hashes.SHA224()])
def test_the_policy_refuses_a_missing_or_non_sha_family_hash(algorithm):
    for policy in (_LEGACY, AlgorithmPolicy(legacy_until=None)):
        with pytest.raises(VerificationError) as info:
            policy.check_hash(algorithm, NOW, "list")
        assert info.value.reason == "weak-hash"
        assert "unsupported signature hash" in str(info.value)


def test_the_repr_of_a_verified_path_is_the_same_for_the_same_path():
    # runs print paths; a repr that shows object addresses would differ from run to run
    root = _root()
    leaf = _leaf(ec.generate_private_key(ec.SECP256R1()).public_key())
    reprs = {
        repr(
            Verifier(anchors=[root], revocation=RevocationStore(), policy=_LEGACY).build_path(
                leaf, now=NOW
            )
        )
        for _ in range(2)
    }
    assert len(reprs) == 1
    assert " at 0x" not in reprs.pop()


@pytest.mark.parametrize("san", ["critical", "non-critical", "none"])
def test_an_empty_subject_needs_a_critical_subject_alt_name(san):
    # RFC 5280 4.1.2.6 / 4.2.1.6: with an empty subject the names are in a critical SAN
    names = x509.SubjectAlternativeName([x509.UniformResourceIdentifier("urn:lgwan:site:x")])
    extra = () if san == "none" else ((names, san == "critical"),)
    leaf = _leaf(
        ec.generate_private_key(ec.SECP256R1()).public_key(), subject=x509.Name([]), extra=extra
    )
    verifier = Verifier(anchors=[_root()], revocation=RevocationStore(), policy=_LEGACY)
    if san == "critical":
        assert verifier.build_path(leaf, now=NOW).leaf == leaf
        return
    with pytest.raises(VerificationError) as info:
        verifier.build_path(leaf, now=NOW)
    assert info.value.reason == "malformed"
    assert "empty subject" in str(info.value)


def test_an_issuer_whose_key_identifier_differs_is_not_tried():
    # the leaf names the root's subject but another key in its authorityKeyIdentifier:
    # the root (whose subjectKeyIdentifier differs) is not its issuer, even though the
    # root's key made the signature
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("leaf"))
        .issuer_name(_name("root"))
        .public_key(ec.generate_private_key(ec.SECP256R1()).public_key())
        .serial_number(7)
        .not_valid_before(ISSUED)
        .not_valid_after(ISSUED + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(ca=False), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(other), critical=False)
        .sign(_ROOT_KEY, hashes.SHA256())
    )
    verifier = Verifier(anchors=[_root()], revocation=RevocationStore(), policy=_LEGACY)
    with pytest.raises(VerificationError) as info:
        verifier.build_path(leaf, now=NOW)
    assert info.value.reason == "unknown-issuer"


def _crl(
    number: int,
    revoked: tuple[int, ...] = (),
    *,
    days: int = 60,
    base: int | None = None,
    sha1: bool = False,
) -> x509.CertificateRevocationList:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(_name("root"))
        .last_update(ISSUED)
        .next_update(ISSUED + timedelta(days=days))
        .add_extension(x509.CRLNumber(number), critical=False)
    )
    if base is not None:
        builder = builder.add_extension(x509.DeltaCRLIndicator(base), critical=True)
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(ISSUED).build()
        )
    crl = builder.sign(_ROOT_KEY, hashes.SHA256())
    if sha1:
        der = resign_sha1(crl.public_bytes(Encoding.DER), _ROOT_KEY, what="crl")
        crl = x509.load_der_x509_crl(der)
    return crl


def test_a_cached_path_is_kept_on_both_edges_of_its_validity():
    # notBefore and notAfter are both inside the validity period (RFC 5280 4.1.2.5): a
    # cached path used at either instant is checked as it is, not built again
    root = _root()
    leaf = _leaf(ec.generate_private_key(ec.SECP256R1()).public_key())
    store = RevocationStore()
    store.add(_crl(1), root)
    verifier = Verifier(anchors=[root], revocation=store, policy=_LEGACY)
    vp = verifier.build_path(leaf, now=NOW)
    assert (vp.not_before, vp.not_after) == (leaf.not_valid_before_utc, leaf.not_valid_after_utc)
    for edge in (vp.not_before, vp.not_after):
        assert verifier.recheck(vp, now=edge) is vp
    with pytest.raises(VerificationError) as info:
        verifier.recheck(vp, now=vp.not_after + timedelta(microseconds=1))
    assert info.value.reason == "expired"


def test_a_sha1_delta_after_the_cut_over_is_refused_not_skipped():
    # the complete list is SHA-256 and lists nothing; the delta that completes it is
    # signed with SHA-1, refused after the cut-over: the status is then unknown
    root = _root()
    leaf = _leaf(ec.generate_private_key(ec.SECP256R1()).public_key())
    store = RevocationStore()
    store.add(_crl(1), root)
    store.add(_crl(2, base=1, sha1=True), root)
    verdicts = {}
    for label, policy in (("before", _LEGACY), ("after", AlgorithmPolicy(legacy_until=None))):
        verifier = Verifier(anchors=[root], revocation=store, policy=policy)
        try:
            verifier.recheck(verifier.build_path(leaf, now=NOW), now=NOW)
        except VerificationError as exc:
            verdicts[label] = exc.reason
        else:
            verdicts[label] = "ok"
    assert verdicts == {"before": "ok", "after": "weak-hash"}


# -- messages ---------------------------------------------------------------------------------


def _message() -> tuple[SignedMessage, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    message = sign_message(
        sender="mun-13-101",
        topic="t",
        payload=b"payload",
        key=key,
        certificate=_leaf(key.public_key()),
        now=NOW,
    )
    return message, message.to_bytes()


def _malformed(data: bytes, **kw) -> str:
    with pytest.raises(VerificationError) as info:
        SignedMessage.from_bytes(data, **kw)
    assert info.value.reason == "malformed"
    return str(info.value)


def test_the_wire_format_starts_with_its_magic_version_1_and_the_timestamp():
    message, wire = _message()
    magic = b"lgwan-sim/msg\x00"
    assert wire.startswith(magic + b"\x01" + struct.pack(">q", message.timestamp_us))
    assert message.version == 1
    assert SignedMessage.from_bytes(wire) == message


def test_a_valid_message_over_the_size_limit_is_refused():
    message, wire = _message()
    assert SignedMessage.from_bytes(wire, max_bytes=len(wire)) == message
    assert f"exceeds {len(wire) - 1}" in _malformed(wire, max_bytes=len(wire) - 1)


def test_a_field_longer_than_the_message_and_trailing_bytes_are_refused():
    message, wire = _message()
    # the signature, the last field, says it is one byte longer than what follows
    start = len(wire) - 4 - len(message.signature)
    assert struct.unpack_from(">I", wire, start) == (len(message.signature),)
    longer = wire[:start] + struct.pack(">I", len(message.signature) + 1) + wire[start + 4 :]
    assert "runs past the end" in _malformed(longer)
    assert "trailing bytes" in _malformed(wire + b"\x00")


def test_an_ecdsa_algorithm_with_an_rsa_key_is_refused_when_signing():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(PkiError, match="does not fit a"):
        sign_message(
            sender="mun-13-101",
            topic="t",
            payload=b"x",
            key=key,
            certificate=_leaf(key.public_key()),
            now=NOW,
            algorithm="ecdsa-p256-sha256",
        )


@pytest.mark.parametrize("window", [timedelta(0), timedelta(seconds=-1)])
def test_a_replay_window_must_be_positive(window):
    verifier = Verifier(anchors=[_root()], revocation=RevocationStore(), policy=_LEGACY)
    with pytest.raises(PkiError, match="replay_window must be positive"):
        MessageVerifier(verifier, message_signing_oid="1.2.3", replay_window=window)


_SIGNING = "1.3.6.1.4.1.55555.1.1"  # a message-signing usage for these tests


def _site_leaf(public_key, site: str = "mun-13-101") -> x509.Certificate:
    return _leaf(
        public_key,
        extra=(
            (
                x509.SubjectAlternativeName(
                    [x509.UniformResourceIdentifier(SITE_URI_PREFIX + site)]
                ),
                False,
            ),
            (x509.ExtendedKeyUsage([x509.ObjectIdentifier(_SIGNING)]), False),
        ),
    )


def _message_verifier(policy: AlgorithmPolicy) -> MessageVerifier:
    root = _root()
    store = RevocationStore()
    store.add(_crl(1), root)
    verifier = Verifier(anchors=[root], revocation=store, policy=policy)
    return MessageVerifier(verifier, message_signing_oid=_SIGNING)


def test_a_sha1_message_signature_is_refused_after_the_cut_over_on_a_sha256_path():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signer = MessageSigner(sender="mun-13-101", key=key, certificate=_site_leaf(key.public_key()))
    assert signer.algorithm == "rsa-pkcs1-sha256"
    message = sign_message(
        sender="mun-13-101",
        topic="t",
        payload=b"x",
        key=key,
        certificate=signer.certificate,
        now=NOW,
        algorithm="rsa-pkcs1-sha1",
    )
    assert _message_verifier(_LEGACY).verify(message, now=NOW).legacy
    with pytest.raises(VerificationError) as info:
        _message_verifier(AlgorithmPolicy(legacy_until=None)).verify(message, now=NOW)
    assert info.value.reason == "weak-hash"
    assert "SHA-1" in str(info.value)


def test_replays_are_refused_after_the_nonce_memory_is_pruned():
    key = ec.generate_private_key(ec.SECP256R1())
    signer = MessageSigner(sender="mun-13-101", key=key, certificate=_site_leaf(key.public_key()))
    verifier = _message_verifier(AlgorithmPolicy(legacy_until=None))
    messages = [
        signer.sign(topic="t", payload=b"x", now=NOW, nonce=i.to_bytes(4, "big"))
        for i in range(4100)  # more than the 4096 nonces kept before pruning starts
    ]
    for message in messages:
        verifier.verify(message, now=NOW)
    # two replay windows (5 min each) later a message prunes what is older than that:
    # the nonces of NOW are exactly two windows old and still remembered
    later = NOW + timedelta(minutes=10)
    verifier.verify(signer.sign(topic="t", payload=b"x", now=later), now=later)
    for message in (messages[0], messages[-1]):
        with pytest.raises(VerificationError) as info:
            verifier.verify(message, now=NOW)
        assert info.value.reason == "replay"
    assert (verifier.accepted, verifier.rejected) == (4101, 2)


def test_the_policy_takes_rsa_1024_only_before_the_cut_over_and_rsa_512_never():
    rsa1024 = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    after = AlgorithmPolicy(legacy_until=None)
    _LEGACY.check_key(rsa1024, NOW, "G1 key")  # accepted: G1 keys are RSA-1024
    for policy, key in ((after, rsa1024), (_LEGACY, _rsa512_public_key())):
        with pytest.raises(VerificationError) as info:
            policy.check_key(key, NOW, "key")
        assert info.value.reason == "weak-key"
        assert f"RSA-{key.key_size} key" in str(info.value)


def test_the_timestamp_is_microseconds_since_the_unix_epoch():
    message, _ = _message()
    assert message.timestamp_us == round(NOW.timestamp() * 1_000_000)
    assert message.timestamp_us == 1_398_988_800_000_000  # 2014-05-02T00:00:00Z


def test_a_message_cut_inside_a_length_prefix_is_truncated_and_an_empty_signature_parses():
    message, wire = _message()
    start = len(wire) - 4 - len(message.signature)
    assert "truncated" in _malformed(wire[: start + 2])
    empty = replace(message, signature=b"")
    assert SignedMessage.from_bytes(empty.to_bytes()) == empty


def test_the_repr_of_a_message_leaves_out_the_certificate_payload_and_signature():
    message, _ = _message()
    text = repr(message)
    assert "mun-13-101" in text
    for name in ("certificate", "payload", "signature"):
        assert f"{name}=" not in text


def test_signing_at_a_naive_time_is_refused():
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(PkiError, match="timezone-aware UTC"):
        sign_message(
            sender="mun-13-101",
            topic="t",
            payload=b"x",
            key=key,
            certificate=_leaf(key.public_key()),
            now=NOW.replace(tzinfo=None),
        )


def test_a_trust_anchor_that_does_not_parse_is_refused_when_pinned():
    from cryptography.x509.oid import ExtensionOID

    anchor = (
        x509.CertificateBuilder()
        .subject_name(_name("root"))
        .issuer_name(_name("root"))
        .public_key(_ROOT_KEY.public_key())
        .serial_number(1)
        .not_valid_before(ISSUED)
        .not_valid_after(ISSUED + timedelta(days=60))
        .add_extension(
            x509.UnrecognizedExtension(ExtensionOID.SUBJECT_KEY_IDENTIFIER, b"\x30\x01"),
            critical=False,
        )
        .sign(_ROOT_KEY, hashes.SHA256())
    )
    with pytest.raises(VerificationError) as info:
        Verifier(anchors=[anchor], revocation=RevocationStore(), policy=_LEGACY)
    assert info.value.reason == "malformed"
    assert "trust anchor" in str(info.value)
