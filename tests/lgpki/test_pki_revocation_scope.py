"""Revocation scope in the store and the verifier: lists that must not replace each other,
every certificate judged (the anchor too), and no input that crashes the verifier."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lgwan_sim.errors import VerificationError
from lgwan_sim.lgpki import AlgorithmPolicy, RevocationStore, Verifier
from tests.lgpki.support import ISSUED, NOW

CRL_URL = "http://repo.example.invalid/crl/root.crl"
_KEYS = {name: ec.generate_private_key(ec.SECP256R1()) for name in ("root", "leaf", "other")}


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


def _root(
    *, days: int = 60, extra: tuple[tuple[x509.ExtensionType, bool], ...] = ()
) -> x509.Certificate:
    key = _KEYS["root"]
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name("root"))
        .issuer_name(_name("root"))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(ISSUED)
        .not_valid_after(ISSUED + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    for extension, critical in extra:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(key, hashes.SHA256())


def _leaf(
    *, serial: int = 0x1EAF, extra: tuple[tuple[x509.ExtensionType, bool], ...] = ()
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name("leaf"))
        .issuer_name(_name("root"))
        .public_key(_KEYS["leaf"].public_key())
        .serial_number(serial)
        .not_valid_before(ISSUED)
        .not_valid_after(ISSUED + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(ca=False), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(_KEYS["root"].public_key()),
            critical=False,
        )
        .add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        [x509.UniformResourceIdentifier(CRL_URL)], None, None, None
                    )
                ]
            ),
            critical=False,
        )
    )
    for extension, critical in extra:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(_KEYS["root"], hashes.SHA256())


def _idp(
    *, reasons: frozenset[x509.ReasonFlags] | None = None, users: bool = True
) -> x509.IssuingDistributionPoint:
    return x509.IssuingDistributionPoint(
        full_name=[x509.UniformResourceIdentifier(CRL_URL)],
        relative_name=None,
        only_contains_user_certs=users,
        only_contains_ca_certs=False,
        only_some_reasons=reasons,
        indirect_crl=False,
        only_contains_attribute_certs=False,
    )


def _crl(
    number: int,
    revoked: tuple[tuple[int, x509.ReasonFlags], ...] = (),
    *,
    idp: x509.IssuingDistributionPoint | None = None,
    days: int = 60,
) -> x509.CertificateRevocationList:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(_name("root"))
        .last_update(ISSUED)
        .next_update(ISSUED + timedelta(days=days))
        .add_extension(x509.CRLNumber(number), critical=False)
    )
    if idp is not None:
        builder = builder.add_extension(idp, critical=True)
    for serial, reason in revoked:
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(ISSUED)
            .add_extension(x509.CRLReason(reason), critical=False)
        )
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign(_KEYS["root"], hashes.SHA256())


def _verdict(store: RevocationStore, cert: x509.Certificate, root: x509.Certificate) -> str:
    verifier = Verifier(anchors=[root], revocation=store, policy=AlgorithmPolicy(legacy_until=None))
    try:
        verifier.recheck(verifier.build_path(cert, now=NOW), now=NOW)
    except VerificationError as exc:
        return exc.reason
    return "ok"


# -- the two store attacks ------------------------------------------------------------------


def test_an_older_list_without_distribution_point_does_not_replace_the_newer_scoped_one():
    root, leaf = _root(), _leaf()
    superseded = ((leaf.serial_number, x509.ReasonFlags.superseded),)
    scoped_new = _crl(5, superseded, idp=_idp())
    full_old = _crl(3)  # correctly signed, nothing revoked, no issuing distribution point
    store = RevocationStore()
    store.add(scoped_new, root)
    with pytest.raises(VerificationError) as info:
        store.add(full_old, root)
    assert info.value.reason == "crl-rollback"
    assert _verdict(store, leaf, root) == "revoked"
    # the other way round, the old full list stays but cannot outvote the newer one
    store = RevocationStore()
    store.add(full_old, root)
    store.add(scoped_new, root)
    assert _verdict(store, leaf, root) == "revoked"


def test_a_newer_list_for_some_reasons_does_not_replace_the_full_list():
    root, leaf = _root(), _leaf()
    full = _crl(3, ((leaf.serial_number, x509.ReasonFlags.superseded),))
    compromise_only = _crl(4, idp=_idp(reasons=frozenset({x509.ReasonFlags.key_compromise})))
    store = RevocationStore()
    store.add(full, root)
    store.add(compromise_only, root)
    assert _verdict(store, leaf, root) == "revoked"
    # alone, a list for some reasons leaves the others unknown: rejected, not accepted
    partial = RevocationStore()
    partial.add(compromise_only, root)
    assert _verdict(partial, leaf, root) == "crl-missing"


def test_a_list_for_another_distribution_point_does_not_vouch_for_the_certificate():
    root, leaf = _root(), _leaf()
    other = x509.IssuingDistributionPoint(
        full_name=[x509.UniformResourceIdentifier("http://repo.example.invalid/crl/other.crl")],
        relative_name=None,
        only_contains_user_certs=True,
        only_contains_ca_certs=False,
        only_some_reasons=None,
        indirect_crl=False,
        only_contains_attribute_certs=False,
    )
    store = RevocationStore()
    store.add(_crl(7, idp=other), root)
    assert _verdict(store, leaf, root) == "crl-missing"
    store.add(_crl(8, idp=_idp()), root)
    assert _verdict(store, leaf, root) == "ok"


# -- every certificate judged, the anchor too ------------------------------------------------


def test_an_expired_anchor_is_refused():
    root = _root(days=10)
    store = RevocationStore()
    store.add(_crl(1), root)
    assert _verdict(store, _leaf(), root) == "ok"
    verifier = Verifier(anchors=[root], revocation=store, policy=AlgorithmPolicy(legacy_until=None))
    with pytest.raises(VerificationError) as info:
        verifier.build_path(_leaf(), now=ISSUED + timedelta(days=11))
    assert info.value.reason == "expired"
    assert "root" in str(info.value)


def test_an_anchor_with_an_unknown_critical_extension_is_refused():
    odd = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00")
    root = _root(extra=((odd, True),))
    store = RevocationStore()
    store.add(_crl(1), root)
    assert _verdict(store, _leaf(), root) == "unknown-critical-extension"


def test_a_leaf_that_may_sign_certificates_is_not_an_end_entity():
    root = _root()
    store = RevocationStore()
    store.add(_crl(1), root)
    verifier = Verifier(anchors=[root], revocation=store, policy=AlgorithmPolicy(legacy_until=None))
    # keyCertSign on a certificate without cA: the key usage is replaced by a CA's
    usage = _usage(ca=True)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name("leaf"))
        .issuer_name(_name("root"))
        .public_key(_KEYS["leaf"].public_key())
        .serial_number(77)
        .not_valid_before(ISSUED)
        .not_valid_after(ISSUED + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
    )
    leaf = builder.sign(_KEYS["root"], hashes.SHA256())
    with pytest.raises(VerificationError) as info:
        verifier.verify_certificate(leaf, now=NOW)
    assert info.value.reason == "not-end-entity"
    # as a plain RFC 5280 validation (a CA certificate may be a target), it passes
    assert verifier.validate(leaf, now=NOW).length == 2


def test_a_critical_authority_key_identifier_is_refused():
    root = _root()
    store = RevocationStore()
    store.add(_crl(1), root)
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(_KEYS["root"].public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name("leaf"))
        .issuer_name(_name("root"))
        .public_key(_KEYS["leaf"].public_key())
        .serial_number(78)
        .not_valid_before(ISSUED)
        .not_valid_after(ISSUED + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(ca=False), critical=True)
        .add_extension(aki, critical=True)
    )
    assert _verdict(store, builder.sign(_KEYS["root"], hashes.SHA256()), root) == "malformed"


# -- no input crashes the verifier -----------------------------------------------------------


def _mutants(der: bytes, rng: random.Random, count: int) -> list[bytes]:
    out = []
    for _ in range(count):
        data = bytearray(der)
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(data))
            data[pos] = rng.randrange(256) if rng.random() < 0.7 else data[pos] ^ 0x80
        out.append(bytes(data))
    return out


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
def test_mutated_certificates_and_crls_give_verification_errors_only():
    """Thousands of byte-level mutants of a leaf, the anchor and a CRL: each either loads
    and gets a verdict, or fails to load; never another exception from the verifier."""
    rng = random.Random(15)
    root, leaf = _root(), _leaf()
    crl = _crl(2, ((0x99, x509.ReasonFlags.key_compromise),), idp=_idp())
    verdicts: dict[str, int] = {}

    def record(reason: str) -> None:
        verdicts[reason] = verdicts.get(reason, 0) + 1

    good = RevocationStore()
    good.add(crl, root)
    for data in _mutants(leaf.public_bytes(Encoding.DER), rng, 1500):
        try:
            cert = x509.load_der_x509_certificate(data)
        except (ValueError, x509.InvalidVersion):
            record("does-not-load")
            continue
        record(_verdict(good, cert, root))
    for data in _mutants(root.public_bytes(Encoding.DER), rng, 800):
        try:
            anchor = x509.load_der_x509_certificate(data)
        except (ValueError, x509.InvalidVersion):
            record("does-not-load")
            continue
        try:
            store = RevocationStore()
            store.add(crl, anchor)
        except VerificationError as exc:
            record(exc.reason)
            continue
        try:
            record(_verdict(store, leaf, anchor))
        except VerificationError as exc:  # the anchor itself refused at construction
            record(exc.reason)
    for data in _mutants(crl.public_bytes(Encoding.DER), rng, 1500):
        try:
            mutant = x509.load_der_x509_crl(data)
        except (ValueError, x509.InvalidVersion):
            record("does-not-load")
            continue
        store = RevocationStore()
        try:
            store.add(mutant, root)
        except VerificationError as exc:
            record(exc.reason)
            continue
        record(_verdict(store, leaf, root))
    # the mutants reached the checks, not only the parser
    assert verdicts.get("ok", 0) > 0
    assert verdicts.get("bad-certificate-signature", 0) > 0
    assert verdicts.get("crl-signature", 0) > 0
    assert len(verdicts) > 5


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_extensions_never_escape_as_exceptions(data):
    # replace one extension value of the leaf by arbitrary bytes (duplicate OIDs allowed)
    oid = data.draw(
        st.sampled_from(
            [
                x509.oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
                x509.oid.ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
                x509.oid.ExtensionOID.EXTENDED_KEY_USAGE,
                x509.oid.ExtensionOID.KEY_USAGE,
                x509.oid.ExtensionOID.CRL_DISTRIBUTION_POINTS,
                x509.oid.ExtensionOID.CERTIFICATE_POLICIES,
                x509.oid.ExtensionOID.NAME_CONSTRAINTS,
                x509.oid.ExtensionOID.POLICY_CONSTRAINTS,
                x509.oid.ExtensionOID.SUBJECT_KEY_IDENTIFIER,
                x509.oid.ExtensionOID.BASIC_CONSTRAINTS,
            ]
        )
    )
    value = data.draw(st.binary(max_size=40))
    critical = data.draw(st.booleans())
    raw = x509.UnrecognizedExtension(oid, value)
    root = _root()
    store = RevocationStore()
    store.add(_crl(1, idp=_idp()), root)
    try:
        leaf = _leaf(serial=data.draw(st.integers(1, 2**64)), extra=((raw, critical),))
    except ValueError:
        return  # the builder itself refused (a duplicate of an extension it added)
    assert isinstance(_verdict(store, leaf, root), str)


_REASONS = [r for r in x509.ReasonFlags if r is not x509.ReasonFlags.unspecified]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 2**159 - 1), st.one_of(st.none(), st.sampled_from(_REASONS))),
        max_size=40,
        unique_by=lambda e: e[0],
    )
)
def test_the_quick_crl_reader_agrees_with_cryptography(entries):
    from lgwan_sim.lgpki._revocation import _quick_entries

    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(_name("root"))
        .last_update(ISSUED)
        .next_update(ISSUED + timedelta(days=60))
        .add_extension(x509.CRLNumber(1), critical=False)
    )
    for serial, reason in entries:
        entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(ISSUED)
        if reason is not None:
            entry = entry.add_extension(x509.CRLReason(reason), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    crl = builder.sign(_KEYS["root"], hashes.SHA256())
    expected = {}
    for revoked in crl:
        reasons = [
            e.value.reason for e in revoked.extensions if isinstance(e.value, x509.CRLReason)
        ]
        expected[revoked.serial_number] = reasons[0] if reasons else None
    assert _quick_entries(crl.tbs_certlist_bytes) == expected


def test_a_list_or_certificate_signed_without_a_hash_is_refused():
    # Ed25519 signatures carry no separate hash: a verifier that skipped the check for
    # "no hash algorithm" would take these for signed by the (ECDSA) root
    from cryptography.hazmat.primitives.asymmetric import ed25519

    root = _root()
    other = ed25519.Ed25519PrivateKey.generate()
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(_name("root"))
        .last_update(ISSUED)
        .next_update(ISSUED + timedelta(days=60))
        .add_extension(x509.CRLNumber(9), critical=False)
        .sign(other, None)
    )
    assert crl.signature_hash_algorithm is None
    with pytest.raises(VerificationError) as info:
        RevocationStore().add(crl, root)
    assert info.value.reason == "crl-signature"
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("leaf"))
        .issuer_name(_name("root"))
        .public_key(_KEYS["leaf"].public_key())
        .serial_number(5)
        .not_valid_before(ISSUED)
        .not_valid_after(ISSUED + timedelta(days=30))
        .sign(other, None)
    )
    store = RevocationStore()
    store.add(_crl(1), root)
    assert _verdict(store, leaf, root) == "bad-certificate-signature"
