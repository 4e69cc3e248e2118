"""Which reason the verifier gives when every candidate path fails, and the state it keeps
between verifications (the CRL signers being validated)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from lgwan_sim.errors import VerificationError
from lgwan_sim.lgpki import AlgorithmPolicy, RevocationStore, Verifier
from tests.lgpki.support import ISSUED, NOW

_KEYS = {n: ec.generate_private_key(ec.SECP256R1()) for n in ("root", "mid", "other", "leaf")}
_UNKNOWN = x509.ObjectIdentifier("1.3.6.1.4.1.99999.7")


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _usage(*, ca: bool, crl_only: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca and not crl_only,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca or crl_only,
        encipher_only=False,
        decipher_only=False,
    )


def _cert(
    subject: str,
    key: str,
    issuer: str,
    issuer_key: str,
    *,
    ca: bool = True,
    start: timedelta = timedelta(0),
    days: float = 60,
    ski: bool | None = False,
    extra: tuple[tuple[x509.ExtensionType, bool], ...] = (),
    usage: x509.KeyUsage | None = None,
) -> x509.Certificate:
    """``ski``: False non-critical, True critical, None absent."""
    public = _KEYS[key].public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(ISSUED + start)
        .not_valid_after(ISSUED + start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(usage or _usage(ca=ca), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(_KEYS[issuer_key].public_key()),
            critical=False,
        )
    )
    if ski is not None:
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(public), critical=ski
        )
    for extension, critical in extra:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(_KEYS[issuer_key], hashes.SHA256())


ROOT = _cert("root", "root", "root", "root", days=365)
LEAF = _cert("leaf", "leaf", "mid", "mid", ca=False)

#: A certificate of the CA "mid" (key "mid", from the root) that fails for one reason.
_MIDS = {
    "expired": lambda: _cert("mid", "mid", "root", "root", days=0.5),
    "not-yet-valid": lambda: _cert("mid", "mid", "root", "root", start=timedelta(days=2)),
    "policy": lambda: _cert(
        "mid",
        "mid",
        "root",
        "root",
        extra=(
            (x509.PolicyConstraints(require_explicit_policy=0, inhibit_policy_mapping=None), True),
        ),
    ),
    "name-constraints": lambda: _cert(
        "mid",
        "mid",
        "root",
        "root",
        extra=((x509.NameConstraints([x509.DirectoryName(_name("elsewhere"))], None), True),),
    ),
    "not-a-ca": lambda: _cert("mid", "mid", "root", "root", ca=False),
    "malformed": lambda: _cert("mid", "mid", "root", "root", ski=True),  # a critical SKI
    "unknown-critical-extension": lambda: _cert(
        "mid",
        "mid",
        "root",
        "root",
        extra=((x509.UnrecognizedExtension(_UNKNOWN, b"\x05\x00"), True),),
    ),
    # same name, another key, no key identifier to tell it apart: the signature fails
    "bad-certificate-signature": lambda: _cert("mid", "other", "root", "root", ski=None),
}


def _build_reason(intermediates: list[x509.Certificate], *, max_depth: int = 6) -> str:
    verifier = Verifier(
        anchors=[ROOT],
        intermediates=intermediates,
        revocation=RevocationStore(),
        policy=AlgorithmPolicy(legacy_until=None),
        max_depth=max_depth,
    )
    with pytest.raises(VerificationError) as info:
        verifier.build_path(LEAF, now=NOW)
    return info.value.reason


@pytest.mark.parametrize("reason", sorted(_MIDS))
def test_each_failing_issuer_alone_gives_its_reason(reason):
    assert _build_reason([_MIDS[reason]()]) == reason


@pytest.mark.parametrize(
    ("stronger", "weaker"),
    [
        ("expired", "policy"),
        ("expired", "name-constraints"),
        ("expired", "not-a-ca"),
        ("not-yet-valid", "policy"),
        ("not-yet-valid", "name-constraints"),
        ("policy", "malformed"),
        ("policy", "bad-certificate-signature"),
        ("name-constraints", "malformed"),
        ("name-constraints", "unknown-critical-extension"),
        ("not-a-ca", "malformed"),
        ("not-a-ca", "bad-certificate-signature"),
        ("not-a-ca", "unknown-critical-extension"),
    ],
)
@pytest.mark.parametrize("stronger_first", [True, False])
def test_when_every_path_fails_the_most_telling_reason_is_given(stronger, weaker, stronger_first):
    # an expired or not yet valid CA certificate tells the holder what to do; a path
    # refused by policy or constraints says more than one that is merely unreadable
    pair = [_MIDS[stronger](), _MIDS[weaker]()]
    if not stronger_first:
        pair.reverse()
    assert _build_reason(pair) == stronger


@pytest.mark.parametrize("reason", ["malformed", "unknown-critical-extension", "not-a-ca"])
@pytest.mark.parametrize("good_first", [True, False])
def test_a_path_too_long_says_less_than_a_failing_issuer(reason, good_first):
    # with max_depth 1 the good "mid" certificate leads nowhere (path-too-long)
    pair = [_cert("mid", "mid", "root", "root"), _MIDS[reason]()]
    if not good_first:
        pair.reverse()
    assert _build_reason(pair, max_depth=1) == reason
    assert _build_reason(pair[:1] if good_first else pair[1:], max_depth=1) == "path-too-long"


def _unknown_signature_algorithm(cert: x509.Certificate) -> x509.Certificate:
    """``cert`` with its signature algorithm (ecdsa-with-SHA256) made an unknown OID."""
    der = cert.public_bytes(Encoding.DER)
    oid = b"\x06\x08\x2a\x86\x48\xce\x3d\x04\x03\x02"  # 1.2.840.10045.4.3.2
    assert der.count(oid) == 2  # in the TBS and outside it
    return x509.load_der_x509_certificate(der.replace(oid, oid[:-1] + b"\x09"))


def test_a_signature_that_cannot_be_read_is_malformed_not_an_unknown_issuer():
    leaf = _unknown_signature_algorithm(LEAF)
    verifier = Verifier(
        anchors=[ROOT],
        intermediates=[_cert("mid", "mid", "root", "root")],
        revocation=RevocationStore(),
        policy=AlgorithmPolicy(legacy_until=None),
    )
    with pytest.raises(VerificationError) as info:
        verifier.build_path(leaf, now=NOW)
    assert info.value.reason == "malformed"
    assert "does not parse" in str(info.value)
    # the genuine leaf has a path
    assert verifier.build_path(LEAF, now=NOW).length == 3


def _crl(signer: str, issuer: str, number: int) -> x509.CertificateRevocationList:
    return (
        x509.CertificateRevocationListBuilder()
        .issuer_name(_name(issuer))
        .last_update(ISSUED)
        .next_update(ISSUED + timedelta(days=60))
        .add_extension(x509.CRLNumber(number), critical=False)
        .sign(_KEYS[signer], hashes.SHA256())
    )


def test_a_crl_signer_is_validated_again_on_every_use():
    # the root signs its CRLs with a second key ("other"), certified for 10 days only; the
    # list itself runs 60 days. Once the signer's certificate ends the list counts no more.
    signer = _cert(
        "root", "other", "root", "root", ca=False, days=10, usage=_usage(ca=False, crl_only=True)
    )
    leaf = _cert("leaf", "leaf", "root", "root", ca=False)
    store = RevocationStore()
    store.add(_crl("other", "root", 1), signer)
    verifier = Verifier(
        anchors=[ROOT],
        intermediates=[signer],
        revocation=store,
        policy=AlgorithmPolicy(legacy_until=None),
    )
    assert verifier.validate(leaf, now=NOW).length == 2
    assert verifier.validate(leaf, now=NOW + timedelta(days=1)).length == 2
    with pytest.raises(VerificationError) as info:
        verifier.validate(leaf, now=ISSUED + timedelta(days=20))
    assert info.value.reason == "crl-signer"
    assert "expired" in str(info.value)
    # a verifier that never saw the signer valid says the same
    fresh = Verifier(
        anchors=[ROOT],
        intermediates=[signer],
        revocation=store,
        policy=AlgorithmPolicy(legacy_until=None),
    )
    with pytest.raises(VerificationError) as again:
        fresh.validate(leaf, now=ISSUED + timedelta(days=20))
    assert again.value.reason == info.value.reason
    assert verifier._signer_stack == set()
