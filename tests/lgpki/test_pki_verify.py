"""The relying party's verifier: good paths over the bridge and every way to fail."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from lgwan_sim.errors import PkiError, VerificationError
from lgwan_sim.lgpki import (
    AlgorithmPolicy,
    CertKind,
    Pki,
    RevocationStore,
    Verifier,
    verifier_from_pki,
    verifier_from_repository,
)
from tests.lgpki.support import CRL_AT, ISSUED, NOW, PASSPHRASE, World


def _policy_oid(pki: Pki, domain: str) -> str:
    return pki.hierarchy.policies[domain].dotted_string


@pytest.mark.parametrize(
    ("anchor", "domain", "holder", "generation", "length"),
    [
        ("bridge_g2", "lgpki", "mun-13-101", "g2", 3),  # leaf, cross(Bridge G2 -> Org G2), anchor
        ("bridge_g2", "lgpki", "asp-jlis-east", "g2", 4),  # leaf, Sub1, cross(-> App Root), anchor
        ("bridge_g2", "lgpki", "mun-13-101", "g1", 4),  # through the OldWithNew link certificate
        ("bridge_g1", "lgpki", "mun-13-101", "g2", 4),  # through the NewWithOld link certificate
        ("gpki_bridge", "gpki", "mun-13-101", "g2", 4),  # GPKI relying party, policy mapped
        ("gpki_bridge", "gpki", "dc-kanto", "g1", 5),
    ],
)
def test_paths_over_the_bridge_and_links(
    shared_pki, world: World, anchor, domain, holder, generation, length
):
    verifier = verifier_from_pki(
        shared_pki, anchor, acceptable_policies=[_policy_oid(shared_pki, domain)]
    )
    cert = getattr(world, generation)[holder].certificate
    path = verifier.verify_certificate(cert, now=NOW)
    assert path.length == length
    assert path.certificates[-1] == shared_pki.anchor(anchor)
    fingerprints = [c.fingerprint(hashes.SHA256()) for c in path.certificates]
    assert len(set(fingerprints)) == len(fingerprints)
    assert path.site_ids == {holder}


def test_gpki_policy_reaches_lgpki_only_through_the_mapping(shared_pki, world: World):
    # a GPKI relying party that asks for the LGPKI policy directly gets nothing: the GPKI
    # bridge's cross-certificate asserts the GPKI policy and maps it.
    verifier = verifier_from_pki(
        shared_pki, "gpki_bridge", acceptable_policies=[_policy_oid(shared_pki, "lgpki")]
    )
    with pytest.raises(VerificationError) as info:
        verifier.verify_certificate(world.g2["mun-13-101"].certificate, now=NOW)
    assert info.value.reason == "policy"


def test_path_building_survives_every_cross_certificate_in_both_directions(
    shared_pki, world: World
):
    # feeding the whole repository (reverse cross-certificates included) must neither loop
    # nor return a path with repeated certificates
    everything = [c.certificate for c in shared_pki.certificates() if c.kind is not CertKind.EE]
    revocation = RevocationStore()
    revocation.add_all(shared_pki.latest_crls(), everything)
    verifier = Verifier(
        anchors=[shared_pki.anchor("gpki_bridge")],
        intermediates=list(reversed(everything)),
        revocation=revocation,
        policy=AlgorithmPolicy.from_plan(shared_pki.plan),
    )
    for cert in [*world.g1.values(), *world.g2.values()]:
        path = verifier.verify_certificate(cert.certificate, now=NOW)
        subjects = [c.subject for c in path.certificates]
        assert len(set(subjects)) == len(subjects)


def test_repository_files_alone_give_the_same_verdict(shared_pki, world: World):
    verifier = verifier_from_repository(shared_pki.repo, "bridge_g2", plan=shared_pki.plan)
    assert verifier.verify_certificate(world.g2["pref-13"].certificate, now=NOW).length == 3


def test_an_unreadable_repository_file_is_named(pki: Pki):
    crl = pki.repo / "crl" / "org_g2.crl"
    crl.write_text("junk")
    with pytest.raises(PkiError, match=re.escape(f"{crl} in the repository is not a PEM CRL")):
        verifier_from_repository(pki.repo, "bridge_g2", plan=pki.plan)
    bundle = pki.repo / "bundles" / "bridge_g2.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(PkiError, match=r"bridge_g2\.pem in the repository is not PEM"):
        verifier_from_repository(pki.repo, "bridge_g2", plan=pki.plan)


def _foreign_leaf() -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "LGPKI Organisation CA G2")])
    leaf = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "intruder")])
    return (
        x509.CertificateBuilder()
        .subject_name(leaf)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(ISSUED)
        .not_valid_after(ISSUED + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


def _ca_cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = True,
    path_length: int | None = None,
    key_id: bytes | None = None,
    days: int = 30,
) -> x509.Certificate:
    """A minimal certificate of a small stand-alone hierarchy (names are CNs).

    ``key_id`` overrides the subject key identifier of a CA (to forge a look-alike)."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(ISSUED)
        .not_valid_after(ISSUED + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if ca:
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        usage = x509.KeyUsage(
            digital_signature=False,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=True,
            crl_sign=True,
            encipher_only=False,
            decipher_only=False,
        )
        builder = builder.add_extension(
            ski if key_id is None else x509.SubjectKeyIdentifier(key_id), critical=False
        ).add_extension(usage, critical=True)
    return builder.sign(issuer_key, hashes.SHA256())


def _crl(
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    number: int,
    revoked: tuple[int, ...] = (),
    *,
    extensions: tuple[x509.ExtensionType, ...] = (),
) -> x509.CertificateRevocationList:
    """A CRL of the small stand-alone hierarchy: full (users and CAs) unless ``extensions``
    (critical) scope it."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .last_update(ISSUED)
        .next_update(ISSUED + timedelta(days=60))
        .add_extension(x509.CRLNumber(number), critical=False)
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=True)
    for serial in revoked:
        entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(ISSUED)
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign(key, hashes.SHA256())


# -- one reason per way to fail -------------------------------------------------------------


def _reason(verifier: Verifier, cert: x509.Certificate, now: datetime) -> str:
    with pytest.raises(VerificationError) as info:
        verifier.verify_certificate(cert, now=now)
    return info.value.reason


def test_unknown_issuer(shared_pki):
    verifier = verifier_from_pki(shared_pki, "bridge_g2")
    assert _reason(verifier, _foreign_leaf(), NOW) == "unknown-issuer"


def test_path_length_zero_allows_no_ca_below_it():
    # root -> sub (pathLen 0) -> rogue CA -> leaf: the rogue CA breaks the sub-CA's limit
    keys = {n: ec.generate_private_key(ec.SECP256R1()) for n in ("root", "sub", "rogue", "leaf")}
    root = _ca_cert("root", keys["root"], "root", keys["root"])
    sub = _ca_cert("sub", keys["sub"], "root", keys["root"], path_length=0)
    rogue = _ca_cert("rogue", keys["rogue"], "sub", keys["sub"])
    verifier = Verifier(
        anchors=[root],
        intermediates=[sub, rogue],
        revocation=RevocationStore(),
        policy=AlgorithmPolicy(legacy_until=None),
    )
    below_rogue = _ca_cert("leaf", keys["leaf"], "rogue", keys["rogue"], ca=False)
    with pytest.raises(VerificationError) as info:
        verifier.build_path(below_rogue, now=NOW)
    assert info.value.reason == "path-length"
    # a leaf straight under the sub-CA is within the limit
    below_sub = _ca_cert("leaf", keys["leaf"], "sub", keys["sub"], ca=False)
    assert verifier.build_path(below_sub, now=NOW).length == 3


def test_expired_and_not_yet_valid_on_both_sides_of_the_boundary(shared_pki, world: World):
    cert = world.g2["mun-13-101"].certificate
    verifier = verifier_from_pki(shared_pki, "bridge_g2")
    assert (
        _reason(verifier, cert, cert.not_valid_before_utc - timedelta(seconds=1)) == "not-yet-valid"
    )
    # RFC 5280 4.1.2.5: notAfter is inclusive, so the certificate expires one second later
    assert _reason(verifier, cert, cert.not_valid_after_utc + timedelta(seconds=1)) == "expired"
    # at notAfter itself the path is fine; only the CRLs are out of date
    assert _reason(verifier, cert, cert.not_valid_after_utc) == "crl-stale"


def test_revoked_leaf(pki: Pki, world: World):
    leaf = world.g2["mun-13-101"]
    pki.revoke(leaf.issuer_ca, leaf.serial, reason="key_compromise", now=NOW)
    pki.publish_crls(now=NOW)
    assert _reason(verifier_from_pki(pki, "bridge_g2"), leaf.certificate, NOW) == "revoked"


def test_revoked_intermediate_through_the_arl(pki: Pki, world: World):
    cross = next(
        c
        for c in pki.certificates(issuer_ca="bridge_g2", kind=CertKind.CROSS)
        if c.holder == "org_g2"
    )
    pki.revoke("bridge_g2", cross.serial, reason="ca_compromise", now=NOW)
    pki.publish_crls(now=NOW, ca_ids=["bridge_g2"])
    verifier = verifier_from_pki(pki, "bridge_g2")
    assert _reason(verifier, world.g2["mun-13-101"].certificate, NOW) == "ca-revoked"
    # the Application CA side of the bridge is untouched
    verifier.verify_certificate(world.g2["asp-jlis-east"].certificate, now=NOW)


def test_stale_crl_fails_closed(shared_pki, world: World):
    next_update = CRL_AT + timedelta(hours=shared_pki.hierarchy.revocation.next_update_hours)
    verifier = verifier_from_pki(shared_pki, "bridge_g2")
    cert = world.g2["pref-13"].certificate
    verifier.verify_certificate(cert, now=next_update - timedelta(seconds=1))
    assert _reason(verifier, cert, next_update) == "crl-stale"


def test_missing_crl_fails_closed(shared_pki, world: World):
    verifier = Verifier(
        anchors=[shared_pki.anchor("bridge_g2")],
        intermediates=shared_pki.bundle("bridge_g2"),
        revocation=RevocationStore(),
        policy=AlgorithmPolicy.from_plan(shared_pki.plan),
    )
    assert _reason(verifier, world.g2["pref-13"].certificate, NOW) == "crl-missing"


def test_crl_number_going_back_is_refused(pki: Pki):
    old = pki.publish_crls(now=NOW, ca_ids=["org_g2"])
    new = pki.publish_crls(now=NOW + timedelta(hours=1), ca_ids=["org_g2"])
    assert [i.number for i in new] > [i.number for i in old]
    store = RevocationStore()
    issuer = pki.anchor("org_g2")
    store.add(new[0].crl, issuer)
    with pytest.raises(VerificationError) as info:
        store.add(old[0].crl, issuer)
    assert info.value.reason == "crl-rollback"


def test_crl_of_another_issuer_is_refused(shared_pki):
    crl = next(
        c for c in shared_pki.latest_crls() if c.issuer == shared_pki.anchor("org_g2").subject
    )
    with pytest.raises(VerificationError) as info:
        RevocationStore().add(crl, shared_pki.anchor("org_g1"))
    assert info.value.reason == "crl-issuer"


def test_crl_signed_by_another_key_is_refused():
    # same name and key identifier as the issuer, but another key signed the list
    real_key, other_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(2))
    issuer = _ca_cert("root", real_key, "root", real_key)
    key_id = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    forged = _ca_cert("root", other_key, "root", other_key, key_id=key_id)
    with pytest.raises(VerificationError) as info:
        RevocationStore().add(_crl(other_key, "root", 1), issuer)
    assert info.value.reason == "crl-signature"
    assert RevocationStore().add(_crl(other_key, "root", 1), forged) == "full"


@pytest.mark.parametrize(
    ("curve", "digest", "reason"),
    [
        (ec.SECP384R1(), hashes.SHA256(), "weak-key"),  # only P-256 is allowed
        (ec.SECP256R1(), hashes.SHA224(), "weak-hash"),  # only SHA-1 (before the cut-over)/2
    ],
)
def test_algorithms_outside_the_policy_are_refused_at_any_date(curve, digest, reason):
    root_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(curve)
    root = _ca_cert("root", root_key, "root", root_key)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leaf")]))
        .issuer_name(root.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(ISSUED)
        .not_valid_after(ISSUED + timedelta(days=30))
        .sign(root_key, digest)
    )
    store = RevocationStore()
    store.add(_crl(root_key, "root", 1), root)
    # even a relying party that still accepts legacy algorithms
    legacy = AlgorithmPolicy(legacy_until=NOW + timedelta(days=365))
    verifier = Verifier(anchors=[root], revocation=store, policy=legacy)
    with pytest.raises(VerificationError) as info:
        verifier.recheck(verifier.build_path(leaf, now=NOW), now=NOW)
    assert info.value.reason == reason


def test_a_crl_counts_only_for_the_key_that_signed_it():
    # An impostor copies the anchor's name and key identifier but has its own key; its
    # CRL (newer number, nothing revoked) must not vouch for certificates of the real CA.
    root_key, fake_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _ca_cert("root", root_key, "root", root_key)
    key_id = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    impostor = _ca_cert("root", fake_key, "root", fake_key, key_id=key_id)
    leaf = _ca_cert("leaf", leaf_key, "root", root_key, ca=False)

    store = RevocationStore()
    store.add(_crl(root_key, "root", 1, (leaf.serial_number,)), root)
    store.add(_crl(fake_key, "root", 2), impostor)
    verifier = Verifier(anchors=[root], revocation=store, policy=AlgorithmPolicy(legacy_until=None))
    with pytest.raises(VerificationError) as info:
        verifier.recheck(verifier.build_path(leaf, now=NOW), now=NOW)
    assert info.value.reason == "revoked"
    # add_all picks, among look-alike issuers, the one whose key signed the list
    store = RevocationStore()
    assert store.add_all([_crl(root_key, "root", 1, (leaf.serial_number,))], [impostor, root]) == 1


def test_a_cached_path_that_runs_out_is_rebuilt_and_fully_rechecked():
    # the CA "mid" holds two certificates from the root: one ends early, the other is
    # revoked. Once the first ends, no path is left, whatever was cached.
    root_key, mid_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _ca_cert("root", root_key, "root", root_key, days=60)
    short = _ca_cert("mid", mid_key, "root", root_key, days=10)
    revoked = _ca_cert("mid", mid_key, "root", root_key, days=60)
    leaf = _ca_cert("leaf", leaf_key, "mid", mid_key, ca=False, days=60)
    store = RevocationStore()
    store.add(_crl(root_key, "root", 1, (revoked.serial_number,)), root)
    store.add(_crl(mid_key, "mid", 1), revoked)
    verifier = Verifier(
        anchors=[root],
        intermediates=[short, revoked],
        revocation=store,
        policy=AlgorithmPolicy(legacy_until=None),
    )
    cached = verifier.build_path(leaf, now=NOW)
    verifier.recheck(cached, now=NOW)  # through the short-lived certificate
    with pytest.raises(VerificationError) as info:
        verifier.recheck(cached, now=ISSUED + timedelta(days=20))
    assert info.value.reason == "ca-revoked"


def test_a_delta_arl_does_not_replace_its_base():
    root_key, mid_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _ca_cert("root", root_key, "root", root_key)
    mid = _ca_cert("mid", mid_key, "root", root_key)
    leaf = _ca_cert("leaf", leaf_key, "mid", mid_key, ca=False)
    cas_only = x509.IssuingDistributionPoint(
        full_name=None,
        relative_name=None,
        only_contains_user_certs=False,
        only_contains_ca_certs=True,
        only_some_reasons=None,
        indirect_crl=False,
        only_contains_attribute_certs=False,
    )
    store = RevocationStore()
    assert (
        store.add(_crl(root_key, "root", 1, (mid.serial_number,), extensions=(cas_only,)), root)
        == "arl"
    )
    delta = _crl(root_key, "root", 2, extensions=(cas_only, x509.DeltaCRLIndicator(1)))
    assert store.add(delta, root) == "delta-arl"
    # and the other way round: the delta ARL revokes what the base does not
    late = RevocationStore()
    late.add(_crl(root_key, "root", 1, extensions=(cas_only,)), root)
    delta = _crl(
        root_key, "root", 2, (mid.serial_number,), extensions=(cas_only, x509.DeltaCRLIndicator(1))
    )
    late.add(delta, root)
    for revocation in (store, late):
        revocation.add(_crl(mid_key, "mid", 1), mid)
        verifier = Verifier(
            anchors=[root],
            intermediates=[mid],
            revocation=revocation,
            policy=AlgorithmPolicy(legacy_until=None),
        )
        with pytest.raises(VerificationError) as info:
            verifier.recheck(verifier.build_path(leaf, now=NOW), now=NOW)
        assert info.value.reason == "ca-revoked"


def test_sha1_accepted_before_the_cut_over_and_refused_after(pki: Pki, world: World):
    stop = pki.plan.weak_algorithms_until
    cert = world.g1["mun-13-101"].certificate
    for when, expected in ((stop - timedelta(hours=1), None), (stop, "weak-hash")):
        pki.publish_crls(now=when - timedelta(hours=1))
        verifier = verifier_from_pki(pki, "bridge_g2")
        if expected is None:
            assert verifier.verify_certificate(cert, now=when).uses_sha1
        else:
            assert _reason(verifier, cert, when) == expected


def test_rsa1024_leaf_refused_after_the_cut_over(pki: Pki, world: World):
    stop = pki.plan.weak_algorithms_until
    pki.publish_crls(now=stop)
    verifier = verifier_from_pki(pki, "bridge_g2")
    leaf = world.weak_leaf.certificate
    assert leaf.signature_hash_algorithm is not None
    assert leaf.signature_hash_algorithm.name == "sha256"
    assert _reason(verifier, leaf, stop + timedelta(hours=1)) == "weak-key"


def test_missing_key_usage_for_the_requested_purpose(shared_pki, world: World):
    verifier = verifier_from_pki(shared_pki, "bridge_g2")
    server_auth = "1.3.6.1.5.5.7.3.1"
    with pytest.raises(VerificationError) as info:
        verifier.verify_certificate(
            world.g2["mun-13-101"].certificate, now=NOW, required_ekus=[server_auth]
        )
    assert info.value.reason == "key-usage"


def test_a_ca_certificate_is_not_an_end_entity(shared_pki):
    verifier = verifier_from_pki(shared_pki, "bridge_g2")
    sub = shared_pki.certificates(kind=CertKind.SUB_CA, issuer_ca="app_root_g2")[0]
    assert _reason(verifier, sub.certificate, NOW) == "not-end-entity"


def test_naive_time_is_refused(shared_pki, world: World):
    verifier = verifier_from_pki(shared_pki, "bridge_g2")
    with pytest.raises(Exception, match="timezone-aware"):
        verifier.verify_certificate(world.g2["pref-13"].certificate, now=datetime(2014, 5, 2))


def test_delta_crl_reports_a_late_revocation(pki: Pki, world: World):
    leaf = world.g2["pref-13"]
    pki.revoke(leaf.issuer_ca, leaf.serial, reason="affiliation_changed", now=NOW)
    verifier = verifier_from_pki(pki, "bridge_g2")
    verifier.verify_certificate(leaf.certificate, now=NOW)  # the base CRL predates it
    (delta,) = pki.publish_crls(now=NOW, ca_ids=["org_g2"], delta=True)
    assert delta.entries == 1
    verifier = verifier_from_pki(pki, "bridge_g2")
    assert _reason(verifier, leaf.certificate, NOW + timedelta(minutes=1)) == "revoked"


def test_time_zones_other_than_utc_are_refused(shared_pki, world: World):
    from datetime import timezone

    jst = datetime(2014, 5, 2, 9, tzinfo=timezone(timedelta(hours=9)))
    with pytest.raises(Exception, match="UTC"):
        verifier_from_pki(shared_pki, "bridge_g2").verify_certificate(
            world.g2["pref-13"].certificate, now=jst
        )
    assert UTC is not None


@pytest.fixture(scope="module")
def crl_series(world: World):
    """Six successive CRLs of the Organisation CA G2, made once."""
    home = world.home.parent / "crl-series"
    if not home.exists():
        shutil.copytree(world.home, home, ignore=shutil.ignore_patterns("lock"))
    with Pki.open(home, passphrase=PASSPHRASE) as pki:
        infos = [
            next(
                i
                for i in pki.publish_crls(now=NOW + timedelta(minutes=k), ca_ids=["org_g2"])
                if i.scope == "crl"
            )
            for k in range(6)
        ]
        return [i.crl for i in infos], pki.anchor("org_g2"), [i.number for i in infos]


@settings(max_examples=50)
@given(order=st.permutations(range(6)))
def test_crl_numbers_never_go_back_whatever_the_arrival_order(crl_series, order):
    crls, issuer, numbers = crl_series
    store = RevocationStore()
    highest = None
    for index in order:
        if highest is not None and numbers[index] < highest:
            with pytest.raises(VerificationError) as info:
                store.add(crls[index], issuer)
            assert info.value.reason == "crl-rollback"
        else:
            store.add(crls[index], issuer)
            highest = numbers[index]
    assert highest == max(numbers)
