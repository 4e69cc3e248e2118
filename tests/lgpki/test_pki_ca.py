"""The CA: hierarchy set-up, issuance, key blocking, CRL numbering, renewal, storage."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cryptography.x509.oid import NameOID

from lgwan_sim.errors import PkiError
from lgwan_sim.lgpki import CertKind, KeyType, Pki, SiteInfo, spki_sha256
from tests.lgpki.support import G2_START, ISSUED, NOW, PASSPHRASE, SITES, World


def test_hierarchy_has_anchors_cross_and_link_certificates(shared_pki):
    kinds = {}
    for cert in shared_pki.certificates():
        kinds.setdefault(cert.kind, []).append((cert.issuer_ca, cert.holder))
    assert sorted(kinds[CertKind.SELF]) == sorted(
        (c, c)
        for c in (
            "gpki_bridge",
            "bridge_g1",
            "org_g1",
            "app_root_g1",
            "bridge_g2",
            "org_g2",
            "app_root_g2",
        )
    )
    assert sorted(kinds[CertKind.SUB_CA]) == [
        ("app_root_g1", "app_sub_g1"),
        ("app_root_g2", "app_sub_g2"),
    ]
    assert sorted(kinds[CertKind.LINK]) == [("bridge_g1", "bridge_g2"), ("bridge_g2", "bridge_g1")]
    cross = set(kinds[CertKind.CROSS])
    for a, b in [
        ("gpki_bridge", "bridge_g1"),
        ("bridge_g1", "org_g1"),
        ("bridge_g2", "app_root_g2"),
    ]:
        assert (a, b) in cross
        assert (b, a) in cross


def test_generations_use_their_algorithms(shared_pki, world: World):
    g1, g2 = world.g1["mun-13-101"].certificate, world.g2["mun-13-101"].certificate
    assert g1.signature_hash_algorithm.name == "sha1"
    assert g1.public_key().key_size == 1024
    assert g2.signature_hash_algorithm.name == "sha256"
    assert g2.public_key().key_size == 2048
    assert isinstance(world.g2["asp-jlis-east"].certificate.public_key(), ec.EllipticCurvePublicKey)


def test_bulk_issuance_follows_the_profiles(world: World):
    assert sorted(world.g2) == ["asp-jlis-east", "dc-kanto", "mun-13-101", "pref-13"]  # no router
    role = world.g2["pref-13"]
    assert (role.profile, role.issuer_ca) == ("role", "org_g2")
    assert (
        role.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
        == "東京都"
    )
    assert role.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "知事"
    assert (world.g2["dc-kanto"].profile, world.g2["dc-kanto"].issuer_ca) == (
        "message",
        "app_sub_g2",
    )


def _csr(key, cn="anything") -> x509.CertificateSigningRequest:
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .sign(key, hashes.SHA256())
    )


def test_issue_from_csr_sets_subject_itself_and_keeps_no_key(pki: Pki):
    key = ec.generate_private_key(ec.SECP256R1())
    site = SiteInfo(id="asp-new", kind="asp", name="New ASP")
    issued = pki.issue_from_csr(_csr(key, "evil"), site=site, profile="message", now=NOW)
    assert issued.certificate.public_key() == key.public_key()
    assert "evil" not in issued.certificate.subject.rfc4514_string()
    assert issued.key_ref is None
    with pytest.raises(PkiError, match="no private key"):
        pki.private_key(issued)


def test_key_compromise_blocks_the_key_and_revokes_its_other_certificates(pki: Pki):
    key = ec.generate_private_key(ec.SECP256R1())
    site = SiteInfo(id="asp-new", kind="asp", name="New ASP")
    first = pki.issue_from_csr(_csr(key), site=site, profile="message", now=NOW)
    second = pki.issue_from_csr(_csr(key), site=site, profile="code_signing", now=NOW)
    revoked = pki.revoke(first.issuer_ca, first.serial, reason="key_compromise", now=NOW)
    assert {c.serial for c in revoked} == {first.serial, second.serial}
    assert pki.is_blocked(key.public_key())
    with pytest.raises(PkiError, match="blocked key"):
        pki.issue_from_csr(_csr(key), site=site, profile="message", now=NOW + timedelta(days=1))
    with pytest.raises(PkiError, match="already revoked"):
        pki.revoke(first.issuer_ca, first.serial, reason="superseded", now=NOW)


def test_other_reasons_do_not_block_the_key(pki: Pki):
    key = ec.generate_private_key(ec.SECP256R1())
    site = SiteInfo(id="asp-new", kind="asp", name="New ASP")
    first = pki.issue_from_csr(_csr(key), site=site, profile="message", now=NOW)
    pki.revoke(first.issuer_ca, first.serial, reason="affiliation_changed", now=NOW)
    assert not pki.is_blocked(key.public_key())
    pki.issue_from_csr(_csr(key), site=site, profile="message", now=NOW)


def test_unknown_reason_and_unknown_certificate_are_refused(pki: Pki, world: World):
    leaf = world.g2["pref-13"]
    with pytest.raises(PkiError, match="unknown revocation reason"):
        pki.revoke(leaf.issuer_ca, leaf.serial, reason="bored", now=NOW)
    with pytest.raises(PkiError, match="no certificate"):
        pki.revoke(leaf.issuer_ca, leaf.serial + 1, reason="superseded", now=NOW)


def test_crl_numbers_grow_and_are_shared_by_crl_arl_and_delta(pki: Pki, world: World):
    first = pki.publish_crls(now=NOW, ca_ids=["org_g2"])
    delta = pki.publish_crls(now=NOW, ca_ids=["org_g2"], delta=True)
    second = pki.publish_crls(now=NOW + timedelta(hours=6), ca_ids=["org_g2"])
    numbers = [i.number for i in [*first, *delta, *second]]
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == len(numbers)
    assert [i.scope for i in first] == ["crl", "arl"]
    (d,) = delta
    assert (
        d.crl.extensions.get_extension_for_class(x509.DeltaCRLIndicator).value.crl_number
        == first[0].number
    )


def test_delta_holds_only_revocations_since_the_base(pki: Pki, world: World):
    a, b = world.g2["mun-13-101"], world.g2["pref-13"]
    pki.revoke(a.issuer_ca, a.serial, reason="superseded", now=NOW)
    pki.publish_crls(now=NOW + timedelta(minutes=1), ca_ids=["org_g2"])
    pki.revoke(b.issuer_ca, b.serial, reason="superseded", now=NOW + timedelta(minutes=2))
    (delta,) = pki.publish_crls(now=NOW + timedelta(minutes=3), ca_ids=["org_g2"], delta=True)
    assert [r.serial_number for r in delta.crl] == [b.serial]


def test_delta_holds_a_revocation_dated_before_the_base_but_made_after_it(pki: Pki, world: World):
    leaf = world.g2["pref-13"]
    pki.publish_crls(now=NOW + timedelta(hours=1), ca_ids=["org_g2"])
    pki.revoke(leaf.issuer_ca, leaf.serial, reason="key_compromise", now=NOW)  # backdated
    (delta,) = pki.publish_crls(now=NOW + timedelta(hours=2), ca_ids=["org_g2"], delta=True)
    assert [r.serial_number for r in delta.crl] == [leaf.serial]


def test_schedule_publishes_base_lists_then_deltas(pki: Pki):
    every = pki.hierarchy.revocation.publish_every_hours
    start = NOW + timedelta(hours=every)
    base = pki.run_schedule(now=start)
    assert {i.scope for i in base} == {"crl", "arl"}
    assert pki.run_schedule(now=start + timedelta(minutes=10)) == []
    deltas = pki.run_schedule(now=start + timedelta(hours=1))
    assert {i.scope for i in deltas} == {"delta"}
    again = pki.run_schedule(now=start + timedelta(hours=every))
    assert {i.scope for i in again} == {"crl", "arl"}


def test_renew_rekeys_into_g2_and_supersedes_g1(pki: Pki, world: World):
    old = world.g1["dc-kanto"]
    (new,) = [
        c
        for c in pki.renew("dc-kanto", now=NOW, generation="G2", key_type=KeyType.P256)
        if c.profile == "message"
    ][:1]
    assert new.generation == "G2"
    assert new.certificate.subject == old.certificate.subject
    assert new.certificate.public_key() != old.certificate.public_key()
    statuses = {c.serial: c for c in pki.certificates(holder="dc-kanto", status="R")}
    assert old.serial in statuses


def test_g1_issuance_stops_on_its_date(pki: Pki):
    stop = pki.plan.g1_issuance_stop
    site = SiteInfo(id="mun-x", kind="municipality", name="X")
    pki.issue(site, profile="role", now=stop - timedelta(seconds=1), generation="G1")
    with pytest.raises(PkiError, match="G1 issuance stopped"):
        pki.issue(site, profile="role", now=stop, generation="G1")
    assert pki.current_generation(stop) == "G2"


def test_explicit_stop_and_compromise(pki: Pki):
    pki.stop_issuance("G2", now=NOW)
    with pytest.raises(PkiError, match="stopped issuing"):
        pki.issue(SITES[0], profile="role", now=NOW, generation="G2", key_type=KeyType.P256)
    revoked = pki.compromise_generation("G1", now=NOW)
    assert sorted((c.issuer_ca, c.holder) for c in revoked) == [
        ("bridge_g2", "bridge_g1"),
        ("gpki_bridge", "bridge_g1"),
    ]
    assert {c.certificate.extensions is not None for c in revoked} == {True}
    with pytest.raises(PkiError, match="compromised"):
        pki.issue(SITES[0], profile="role", now=NOW, generation="G1")


def test_rsa1024_keys_refused_after_the_cut_over(pki: Pki):
    when = pki.plan.weak_algorithms_until
    with pytest.raises(PkiError, match="RSA-1024"):
        pki.issue(SITES[0], profile="role", now=when, generation="G2", key_type=KeyType.RSA1024)


def test_naive_now_is_refused(pki: Pki):
    from datetime import datetime

    with pytest.raises(PkiError, match="timezone-aware"):
        pki.publish_crls(now=datetime(2014, 5, 2))


def test_private_keys_are_encrypted_at_rest_with_mode_0600(shared_pki, world: World):
    issued = world.g2["mun-13-101"]
    key = shared_pki.private_key(issued)
    raw = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    files = [p for p in (shared_pki.home / "keys").rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert raw[-64:] not in path.read_bytes()
    db = (shared_pki.home / "pki.sqlite3").read_bytes()
    assert raw[-64:] not in db
    assert spki_sha256(key.public_key()) == spki_sha256(issued.certificate.public_key())


def test_wrong_passphrase_is_refused(world: World):
    with pytest.raises(PkiError, match="wrong passphrase"):
        Pki.open(world.home, passphrase=b"not it")


@pytest.mark.parametrize(
    ("version", "says"),
    [("2", "schema_version is 2, but this lgwan-sim reads only version 1"), (None, "is missing")],
)
def test_a_store_of_another_schema_version_is_not_opened(
    world: World, tmp_path, version: str | None, says: str
):
    copy = tmp_path / "home"
    shutil.copytree(world.home, copy, ignore=shutil.ignore_patterns("lock"))
    with sqlite3.connect(copy / "pki.sqlite3") as db:
        if version is None:
            db.execute("DELETE FROM meta WHERE key = 'schema_version'")
        else:
            db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (version,))
    before = (copy / "pki.sqlite3").read_bytes()
    with pytest.raises(PkiError, match=says):
        Pki.open(copy, passphrase=PASSPHRASE)
    assert (copy / "pki.sqlite3").read_bytes() == before  # refused before touching anything


def test_a_file_that_is_not_a_store_is_refused(world: World, tmp_path):
    copy = tmp_path / "home"
    shutil.copytree(world.home, copy, ignore=shutil.ignore_patterns("lock"))
    for name in ("pki.sqlite3-wal", "pki.sqlite3-shm"):
        (copy / name).unlink(missing_ok=True)
    (copy / "pki.sqlite3").write_bytes(b"certainly not SQLite " * 100)
    with pytest.raises(PkiError, match="not a CA store"):
        Pki.open(copy, passphrase=PASSPHRASE)


def test_init_refuses_an_existing_home(world: World):
    with pytest.raises(PkiError, match="already holds"):
        Pki.create(world.home, passphrase=PASSPHRASE, now=ISSUED)


def test_store_passes_its_integrity_check(shared_pki):
    report = shared_pki.check_integrity()
    assert report.ok, report.problems
    assert report.unpublished == 0
    assert report.certificates == len(shared_pki.certificates())


def test_tampering_with_the_audit_log_is_detected(pki: Pki):
    db = sqlite3.connect(pki.home / "pki.sqlite3")
    db.execute("UPDATE audit SET detail = '{}' WHERE seq = 3")
    db.commit()
    db.close()
    report = pki.check_integrity()
    assert "audit: record 3 was altered (hash mismatch)" in report.problems


def test_a_published_certificate_without_its_row_is_detected(pki: Pki, world: World):
    stray = pki.repo / "certs" / "org_g2" / "abcdef.pem"
    stray.write_bytes(world.g2["pref-13"].certificate.public_bytes(Encoding.PEM))
    report = pki.check_integrity()
    assert any("abcdef.pem has no matching row" in p for p in report.problems)


def test_unreadable_published_files_are_reported_not_raised(pki: Pki):
    (pki.repo / "crl" / "org_g2.crl").write_text("junk")
    (pki.repo / "anchors" / "bridge_g2.pem").write_text("junk")
    report = pki.check_integrity()
    assert "published file repo/crl/org_g2.crl is unreadable" in report.problems
    assert "published file repo/anchors/bridge_g2.pem is unreadable" in report.problems


def test_republish_restores_missing_files(pki: Pki, world: World):
    leaf = world.g2["pref-13"]
    assert leaf.batch is not None
    path = pki.repo / "issued" / leaf.issuer_ca / f"{leaf.batch}.pem"
    members = len(x509.load_pem_x509_certificates(path.read_bytes()))
    os.remove(path)
    assert pki.check_integrity().unpublished == members
    pki.republish()
    assert path.exists()
    assert pki.check_integrity().unpublished == 0


def test_every_state_change_is_audited(pki: Pki, world: World):
    before = len(pki.store.audit_records())
    leaf = world.g2["pref-13"]
    pki.revoke(leaf.issuer_ca, leaf.serial, reason="superseded", now=NOW)
    actions = [r.action for r in pki.store.audit_records()[before:]]
    assert actions == ["revoke"]


def test_no_issuance_before_the_ca_exists(pki: Pki):
    with pytest.raises(PkiError, match="not valid before"):
        pki.issue(SITES[0], profile="role", now=G2_START - timedelta(days=1), generation="G2")


def test_export_copy_is_a_complete_home(pki: Pki, tmp_path):
    pki.issue(SITES[0], profile="user", now=NOW, generation="G2", key_type=KeyType.P256)
    copy = pki.export_copy(tmp_path / "backup")
    with Pki.open(copy, passphrase=PASSPHRASE) as backup:
        assert [c.certificate for c in backup.certificates()] == [
            c.certificate for c in pki.certificates()
        ]
        assert backup.check_integrity().ok
    with pytest.raises(PkiError, match="already exists"):
        pki.export_copy(copy)


def test_no_revocation_before_its_certificate_and_no_list_before_the_last(pki: Pki):
    key = ec.generate_private_key(ec.SECP256R1())
    site = SiteInfo(id="asp-new", kind="asp", name="New ASP")
    later = NOW + timedelta(hours=2)
    leaf = pki.issue_from_csr(_csr(key), site=site, profile="message", now=later)
    # before the certificate existed
    with pytest.raises(PkiError, match="cannot be revoked at"):
        pki.revoke(leaf.issuer_ca, leaf.serial, reason="superseded", now=later - timedelta(hours=1))
    # a list dated before the issuer's last one would give a higher number an earlier date
    pki.publish_crls(now=later + timedelta(hours=1), ca_ids=[leaf.issuer_ca])
    with pytest.raises(PkiError, match="would be dated before it"):
        pki.publish_crls(now=later + timedelta(minutes=30), ca_ids=[leaf.issuer_ca])
    with pytest.raises(PkiError, match="would be dated before it"):
        pki.check_publication_time(later + timedelta(minutes=30))
    # a backdated revocation is recorded, and the next list, dated after the last, holds it
    pki.revoke(leaf.issuer_ca, leaf.serial, reason="superseded", now=later + timedelta(minutes=30))
    (crl, *_rest) = pki.publish_crls(now=later + timedelta(hours=2), ca_ids=[leaf.issuer_ca])
    assert leaf.serial in [r.serial_number for r in crl.crl]
