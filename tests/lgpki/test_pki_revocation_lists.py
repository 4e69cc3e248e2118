"""The revocation store's lists one by one: how their entries are read, how deltas and
complete lists combine in time, which failure is reported, and the issuer-only look-up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtensionOID

from lgwan_sim.errors import VerificationError
from lgwan_sim.lgpki import AlgorithmPolicy, RevocationStore
from lgwan_sim.lgpki._revocation import _quick_entries
from lgwan_sim.lgpki._verify import issuer_key
from tests.lgpki.support import ISSUED, NOW
from tests.lgpki.test_pki_revocation_scope import _KEYS, _idp, _leaf, _name, _root, _usage, _verdict

POLICY = AlgorithmPolicy(legacy_until=None)
KC = x509.ReasonFlags.key_compromise


def _list(
    number: int,
    revoked: tuple[int, ...] = (),
    *,
    this_update: datetime = ISSUED,
    next_update: datetime = ISSUED + timedelta(days=60),
    base: int | None = None,
    idp: x509.IssuingDistributionPoint | None = None,
    issuer: str = "root",
    sha1: bool = False,
) -> x509.CertificateRevocationList:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(_name(issuer))
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
    )
    if base is not None:
        builder = builder.add_extension(x509.DeltaCRLIndicator(base), critical=True)
    if idp is not None:
        builder = builder.add_extension(idp, critical=True)
    for serial in revoked:
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(this_update)
            .add_extension(x509.CRLReason(KC), critical=False)
        )
        builder = builder.add_revoked_certificate(entry.build())
    crl = builder.sign(_KEYS[issuer], hashes.SHA256())
    return _resign_sha1(crl, _KEYS[issuer]) if sha1 else crl


def _store(*crls: x509.CertificateRevocationList, issuer: x509.Certificate | None = None):
    store = RevocationStore()
    for crl in crls:
        store.add(crl, issuer or _root())
    return store


def _check(store: RevocationStore, serial: int, *, is_ca: bool = False, now: datetime = NOW):
    """RevocationStore.check's verdict: "ok" or the reason."""
    try:
        store.check(issuer_key(_root()), serial, is_ca, now, POLICY)
    except VerificationError as exc:
        return exc.reason
    return "ok"


# -- reading entries ------------------------------------------------------------------------
def _der(tag: int, body: bytes) -> bytes:
    n = len(body)
    head = (
        bytes([n])
        if n < 0x80
        else bytes([0x81 if n < 256 else 0x82]) + n.to_bytes(1 if n < 256 else 2, "big")
    )
    return bytes([tag]) + head + body


def _int(v: int) -> bytes:
    return _der(0x02, v.to_bytes((v + (v < 0)).bit_length() // 8 + 1, "big", signed=True))


def _utc(t: datetime) -> bytes:
    return _der(0x17, t.strftime("%y%m%d%H%M%SZ").encode())


def _elements(der: bytes) -> list[bytes]:
    """The DER elements inside the SEQUENCE ``der`` (short or long lengths)."""
    out, pos = [], 2 + (der[1] & 0x7F if der[1] & 0x80 else 0)
    while pos < len(der):
        n, head = der[pos + 1], 2
        if n & 0x80:
            head += n & 0x7F
            n = int.from_bytes(der[pos + 2 : pos + head], "big")
        out.append(der[pos : pos + head + n])
        pos += head + n
    return out


def _resign_sha1(
    crl: x509.CertificateRevocationList, key: ec.EllipticCurvePrivateKey
) -> x509.CertificateRevocationList:
    """``crl`` signed with ecdsa-with-SHA1, which ``cryptography``'s builders refuse."""
    alg = _der(0x30, _der(0x06, bytes.fromhex("2a8648ce3d0401")))
    version, _, *rest = _elements(crl.tbs_certlist_bytes)
    tbs = _der(0x30, version + alg + b"".join(rest))
    signature = key.sign(tbs, ec.ECDSA(hashes.SHA1()))
    return x509.load_der_x509_crl(_der(0x30, tbs + alg + _der(0x03, b"\x00" + signature)))


def _hand_made_crl(entries: list[tuple[int, int | None]]) -> x509.CertificateRevocationList:
    """A CRL of the root written byte by byte: ``cryptography`` refuses to build entries
    with a negative serial number, which PKITS 4.4.14/15 and old CAs have."""
    alg = _der(0x30, _der(0x06, bytes.fromhex("2a8648ce3d040302")))  # ecdsa-with-SHA256
    body = b""
    for serial, code in entries:
        ext = b""
        if code is not None:
            reason = _der(0x06, bytes.fromhex("551d15")) + _der(0x04, _der(0x0A, bytes([code])))
            ext = _der(0x30, _der(0x30, reason))
        body += _der(0x30, _int(serial) + _utc(ISSUED) + ext)
    number = _der(0x30, _der(0x06, bytes.fromhex("551d14")) + _der(0x04, _int(9)))
    tbs = _der(
        0x30,
        _int(1)
        + alg
        + _name("root").public_bytes()
        + _utc(ISSUED)
        + _utc(ISSUED + timedelta(days=60))
        + _der(0x30, body)
        + _der(0xA0, _der(0x30, number)),
    )
    signature = _KEYS["root"].sign(tbs, ec.ECDSA(hashes.SHA256()))
    return x509.load_der_x509_crl(_der(0x30, tbs + alg + _der(0x03, b"\x00" + signature)))


def test_negative_and_large_serial_numbers_are_read_as_cryptography_reads_them():
    crl = _hand_made_crl([(-1, None), (-(2**63), 1), (2**159 - 1, 1), (0x80, None), (5, 4)])
    expected = {
        e.serial_number: (
            None
            if not e.extensions or e.extensions[0].value.reason is x509.ReasonFlags.unspecified
            else e.extensions[0].value.reason
        )
        for e in crl
    }
    assert set(expected) == {-1, -(2**63), 2**159 - 1, 0x80, 5}
    assert _quick_entries(crl.tbs_certlist_bytes) == expected
    store = _store(crl)
    assert _check(store, -1) == "revoked"
    assert _check(store, 2**159 - 1) == "revoked"
    assert _check(store, 1) == "ok"
    assert _check(store, 0xFF) == "ok"  # -1 read unsigned


def test_a_list_running_past_2049_still_lists_its_entries():
    # RFC 5280 4.1.2.5: from 2050 on a time is a GeneralizedTime (tag 0x18), not a UTCTime
    leaf = _leaf()
    crl = _list(3, (leaf.serial_number,), next_update=datetime(2051, 1, 1, tzinfo=UTC))
    assert crl.tbs_certlist_bytes.count(b"\x18\x0f2051") == 1
    assert _quick_entries(crl.tbs_certlist_bytes) == {leaf.serial_number: KC}
    assert _verdict(_store(crl), leaf, _root()) == "revoked"
    assert _check(_store(crl), leaf.serial_number) == "revoked"


# -- deltas in time -------------------------------------------------------------------------
def test_a_delta_counts_from_the_instant_it_is_valid():
    leaf, root = _leaf(), _root()
    store = _store(_list(1), _list(2, (leaf.serial_number,), base=1, this_update=NOW))
    assert _check(store, leaf.serial_number, now=NOW - timedelta(microseconds=1)) == "ok"
    assert _check(store, leaf.serial_number, now=NOW) == "revoked"
    verifier_now = _verdict(store, leaf, root)  # _verdict checks at NOW
    assert verifier_now == "revoked"


def test_a_delta_against_base_number_zero_is_applied():
    leaf, root = _leaf(), _root()
    store = _store(_list(0), _list(1, (leaf.serial_number,), base=0))
    assert _verdict(store, leaf, root) == "revoked"
    assert _check(store, leaf.serial_number) == "revoked"


def test_a_delta_issued_with_its_base_that_ran_out_adds_nothing_to_it():
    leaf, root = _leaf(), _root()
    short = ISSUED + timedelta(hours=12)  # before NOW
    together = _store(_list(1), _list(2, base=1, next_update=short))
    assert _verdict(together, leaf, root) == "ok"
    # a delta issued after its base that ran out leaves what happened since unknown
    later = _store(
        _list(1), _list(2, base=1, this_update=ISSUED + timedelta(hours=1), next_update=short)
    )
    assert _verdict(later, leaf, root) == "crl-stale"
    # nextUpdate is the first instant a list is out of date
    edge = _store(
        _list(1), _list(2, base=1, this_update=ISSUED + timedelta(hours=1), next_update=NOW)
    )
    assert _verdict(edge, leaf, root) == "crl-stale"
    assert _check(edge, leaf.serial_number, now=NOW - timedelta(microseconds=1)) == "ok"
    assert _check(edge, leaf.serial_number, now=NOW) == "crl-stale"


# -- which failure is reported --------------------------------------------------------------
@pytest.mark.parametrize("stale_is_newer", [True, False])
def test_a_stale_list_is_reported_before_a_sha1_list(stale_is_newer):
    # two lists that both cover the leaf (one complete, one for its distribution point),
    # one out of date and one signed with SHA-1 after the cut-over: nothing is known, and
    # the out-of-date list is what the operator has to fix
    leaf, root = _leaf(), _root()
    stale = dict(next_update=ISSUED + timedelta(hours=12))
    sha1 = dict(sha1=True)
    first, second = (stale, sha1) if not stale_is_newer else (sha1, stale)
    store = _store(_list(3, **first), _list(5, idp=_idp(), **second))
    assert _verdict(store, leaf, root) == "crl-stale"
    # each alone
    assert _verdict(_store(_list(5, idp=_idp(), **sha1)), leaf, root) == "weak-hash"
    assert _verdict(_store(_list(5, idp=_idp(), **stale)), leaf, root) == "crl-stale"


# -- RevocationStore.check: by issuer only --------------------------------------------------
def _why(store: RevocationStore, serial: int, *, is_ca: bool = False) -> str:
    with pytest.raises(VerificationError) as info:
        store.check(issuer_key(_root()), serial, is_ca, NOW, POLICY)
    return str(info.value)


def test_check_without_lists_is_unknown():
    assert _check(RevocationStore(), 7) == "crl-missing"
    assert _why(RevocationStore(), 7) == "crl-missing: no CRL for serial 7's issuer: status unknown"
    assert "no ARL for serial 7's issuer" in _why(RevocationStore(), 7, is_ca=True)


def test_check_judges_by_the_issuers_complete_lists():
    store = _store(_list(1, (7,)))
    assert _check(store, 7) == "revoked"
    assert _check(store, 8) == "ok"
    assert [r.number for r in store] == [1]
    assert len(store) == 1
    # stale, or before its time
    assert _check(store, 8, now=ISSUED + timedelta(days=61)) == "crl-stale"
    assert _check(store, 8, now=ISSUED - timedelta(seconds=1)) == "crl-not-yet-valid"


def test_check_sees_a_newer_list_at_once():
    store = _store(_list(1))
    assert _check(store, 7) == "ok"
    store.add(_list(2, (7,)), _root())
    assert _check(store, 7) == "revoked"


def test_check_applies_deltas_to_their_base():
    store = _store(_list(1), _list(2, (7,), base=1))
    assert _check(store, 7) == "revoked"
    assert _check(store, 8) == "ok"
    # a delta alone is no complete list
    assert _check(_store(_list(2, (7,), base=1)), 8) == "crl-missing"


def test_check_ignores_another_issuers_lists():
    other = _root_named("other")
    store = _store(_list(1))
    store.add(_list(4, (7,), issuer="other"), other)
    assert _check(store, 7) == "ok"
    assert len(store) == 2


def test_check_keeps_user_and_ca_lists_apart():
    users = x509.IssuingDistributionPoint(None, None, True, False, None, False, False)
    cas = x509.IssuingDistributionPoint(None, None, False, True, None, False, False)
    store = _store(_list(1, (7,), idp=users))
    assert _check(store, 7) == "revoked"
    assert _check(store, 7, is_ca=True) == "crl-missing"
    store = _store(_list(1, (7,), idp=cas))
    assert _check(store, 7, is_ca=True) == "ca-revoked"
    assert _check(store, 7) == "crl-missing"


def test_check_needs_every_reason_covered():
    some = x509.IssuingDistributionPoint(None, None, False, False, frozenset({KC}), False, False)
    assert _check(_store(_list(1, idp=some)), 7) == "crl-missing"
    # the message names the reasons no list covers
    assert _why(_store(_list(1, idp=some)), 7) == (
        "crl-missing: no CRL covers serial 7 for the reasons aa_compromise, affiliation_changed,"
        " ca_compromise, certificate_hold, cessation_of_operation, privilege_withdrawn,"
        " superseded: status unknown"
    )
    assert _check(_store(_list(1, idp=some), _list(2)), 7) == "ok"


def _root_named(cn: str) -> x509.Certificate:
    key = _KEYS[cn]
    return (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(ISSUED)
        .not_valid_after(ISSUED + timedelta(days=60))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_usage(ca=True), critical=True)
        .sign(key, hashes.SHA256())
    )


# -- add_all --------------------------------------------------------------------------------
def test_add_all_passes_over_a_look_alike_whose_key_cannot_be_used():
    # a certificate with the root's name and a DSA key (no key identifiers on either) comes
    # first; the list is the real root's, so it is the one taken
    from cryptography.hazmat.primitives.asymmetric import dsa

    dsa_key = dsa.generate_private_key(2048)
    look_alike = (
        x509.CertificateBuilder()
        .subject_name(_name("root"))
        .issuer_name(_name("root"))
        .public_key(dsa_key.public_key())
        .serial_number(4)
        .not_valid_before(ISSUED)
        .not_valid_after(ISSUED + timedelta(days=60))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_usage(ca=True), critical=True)
        .sign(dsa_key, hashes.SHA256())
    )
    root = _root_named("root")
    store = RevocationStore()
    assert store.add_all([_list(1, (7,))], [look_alike, root]) == 1
    assert [r.signer for r in store] == [root]
    assert _check(store, 7) == "revoked"


def test_add_all_refuses_an_unreadable_signer_with_a_verification_error():
    # the only certificate of the list's issuer has a keyUsage that does not parse, and
    # the list names no key identifier: refused with a reason, never a bare ValueError
    key = _KEYS["root"]
    unreadable = (
        x509.CertificateBuilder()
        .subject_name(_name("root"))
        .issuer_name(_name("root"))
        .public_key(key.public_key())
        .serial_number(3)
        .not_valid_before(ISSUED)
        .not_valid_after(ISSUED + timedelta(days=60))
        .add_extension(
            x509.UnrecognizedExtension(ExtensionOID.KEY_USAGE, b"\x04\x01"), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    store = RevocationStore()
    with pytest.raises(VerificationError) as info:
        store.add_all([_list(1)], [unreadable])
    assert info.value.reason == "crl-malformed"
    assert store.add_all([_list(1)], [unreadable], strict=False) == 0
    ((_, exc),) = store.rejected
    assert isinstance(exc, VerificationError)
    assert exc.reason == "crl-malformed"
