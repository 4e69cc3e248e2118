"""The store's CRL history against a repository that lies: rolled back, forged, or read at T.

Each test is an attack on the published repository (``repo/crl/``) of a CA home that knows
better, run through the command line as a relying party would (``pki verify``, ``pki
audit``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding

from lgwan_sim.lgpki import Pki
from tests.lgpki.support import CRL_AT, NOW, PASSPHRASE, World
from tests.support import CliResult


def _cli(cli: Callable[..., CliResult], pki: Pki, *args: str) -> CliResult:
    passphrase = pki.home.parent / "passphrase"
    passphrase.write_bytes(PASSPHRASE + b"\n")
    return cli("pki", "--home", pki.home, "--passphrase-file", passphrase, *args)


def _at(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%MZ")  # an explicit UTC offset: no offset means JST


def _pem_file(tmp_path: Path, cert: x509.Certificate, name: str) -> str:
    path = tmp_path / name
    path.write_bytes(cert.public_bytes(Encoding.PEM))
    return str(path)


def _number(crl: x509.CertificateRevocationList) -> int:
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


def test_an_old_genuine_crl_copied_back_is_refused(pki: Pki, world: World, tmp_path, cli):
    """Rollback: the CRL from before a revocation, still inside its validity window, is put
    back into ``repo/crl/``; the store knows the newer number, so verify rejects the revoked
    certificate and audit names the rolled-back file."""
    published = pki.repo / "crl" / "org_g2.crl"
    old = published.read_bytes()
    leaf = world.g2["pref-13"]
    pki.revoke(leaf.issuer_ca, leaf.serial, reason="key_compromise", now=NOW)
    pki.publish_crls(now=NOW, ca_ids=["org_g2"])
    newer = _number(x509.load_pem_x509_crl(published.read_bytes()))
    published.write_bytes(old)  # genuine, signed by org_g2, valid until CRL_AT + 48 h
    stale = _number(x509.load_pem_x509_crl(old))
    assert stale < newer
    cert = _pem_file(tmp_path, leaf.certificate, "leaf.pem")

    result = _cli(cli, pki, "verify", cert, "--at", _at(NOW + timedelta(minutes=30)))
    assert result.code == 1
    err = result.err
    assert "REJECTED: revoked:" in err
    assert f"repo/crl/org_g2.crl: refused: CRL #{stale} of org_g2 is rolled back" in err

    result = _cli(cli, pki, "audit")
    assert result.code == 1
    out = result
    assert "integrity OK" not in out.out
    assert f"repo/crl/org_g2.crl: refused: CRL #{stale} of org_g2 is rolled back" in out.err
    assert f"the store issued #{newer}" in out.err


def _forged_like(genuine: x509.CertificateRevocationList) -> x509.CertificateRevocationList:
    """A CRL that copies a real one's issuer, key identifier and a higher number, but is
    signed by a key of the forger's own."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    aki = genuine.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(genuine.issuer)
        .last_update(genuine.last_update_utc)
        .next_update(genuine.last_update_utc + timedelta(days=30))
        .add_extension(x509.CRLNumber(_number(genuine) + 100), critical=False)
        .add_extension(aki, critical=False)
    )
    return builder.sign(key, hashes.SHA256())


def test_a_forged_crl_does_not_stop_verification(pki: Pki, world: World, tmp_path, cli):
    """One forged list in ``repo/crl/`` is refused by name; every verification goes on with
    the valid lists (exit 0 or 1, never 2), and audit reports the forgery."""
    target = pki.repo / "crl" / "app_sub_g2.crl"
    genuine = x509.load_pem_x509_crl(target.read_bytes())
    target.write_bytes(_forged_like(genuine).public_bytes(Encoding.PEM))
    at = _at(NOW)

    org_leaf = _pem_file(tmp_path, world.g2["pref-13"].certificate, "org.pem")
    result = _cli(cli, pki, "verify", org_leaf, "--at", at)
    assert result.code == 0
    err = result.err
    assert "repo/crl/app_sub_g2.crl: refused: its signature is not app_sub_g2's" in err

    # a leaf of the CA whose list was forged: still judged, by the list the CA issued
    app_leaf = _pem_file(tmp_path, world.g2["asp-jlis-east"].certificate, "app.pem")
    result = _cli(cli, pki, "verify", app_leaf, "--at", at)
    assert result.code == 0
    leaf = world.g2["asp-jlis-east"]
    pki.revoke(leaf.issuer_ca, leaf.serial, reason="superseded", now=NOW)
    pki.publish_crls(now=NOW, ca_ids=["app_sub_g2"])
    target.write_bytes(_forged_like(genuine).public_bytes(Encoding.PEM))
    result = _cli(cli, pki, "verify", app_leaf, "--at", _at(NOW + timedelta(minutes=1)))
    assert result.code == 1
    assert "REJECTED: revoked:" in result.err

    result = _cli(cli, pki, "audit")
    assert result.code == 1
    assert "repo/crl/app_sub_g2.crl: refused: its signature is not app_sub_g2's" in (result.err)


def test_an_unreadable_crl_is_refused_and_verification_goes_on(
    pki: Pki, world: World, tmp_path, cli
):
    (pki.repo / "crl" / "app_sub_g2.crl").write_text("junk")
    leaf = _pem_file(tmp_path, world.g2["pref-13"].certificate, "org.pem")
    result = _cli(cli, pki, "verify", leaf, "--at", _at(NOW))
    assert result.code == 0
    assert "repo/crl/app_sub_g2.crl: refused: not a PEM CRL" in result.err


def test_verify_at_a_past_moment_uses_the_lists_current_then(pki: Pki, world: World, tmp_path, cli):
    """``--at T`` takes, per CA, the newest list issued at or before T: a list issued after
    T is not yet valid at T, never "stale"."""
    leaf = world.g2["pref-13"]
    later = NOW + timedelta(days=1)
    pki.revoke(leaf.issuer_ca, leaf.serial, reason="key_compromise", now=later)
    pki.publish_crls(now=later)
    cert = _pem_file(tmp_path, leaf.certificate, "leaf.pem")
    # before the revocation: the lists of CRL_AT were current and say good
    result = _cli(cli, pki, "verify", cert, "--at", _at(NOW))
    assert result.code == 0
    assert result.out.startswith("OK:")
    # after it: the newer lists say revoked
    result = _cli(cli, pki, "verify", cert, "--at", _at(later + timedelta(minutes=5)))
    assert result.code == 1
    assert "REJECTED: revoked:" in result.err
    # just before CRL_AT the list current then is the set-up's (#1), which had run out:
    # stale is said of that list, never of one issued after T
    result = _cli(cli, pki, "verify", cert, "--at", _at(CRL_AT - timedelta(minutes=5)))
    assert result.code == 1
    err = result.err
    assert "REJECTED: crl-stale: CRL #1 of LGPKI Organisation CA G2 is valid 2014-04-01" in err


def test_the_store_refuses_a_lower_number_from_the_library_too(pki: Pki, world: World):
    """``verifier_from_pki`` at a moment takes the store's lists current then; the repository
    folder, read by ``check_integrity``, is judged by the same history."""
    published = pki.repo / "crl" / "org_g2.crl"
    old = published.read_bytes()
    pki.publish_crls(now=NOW, ca_ids=["org_g2"])
    assert pki.check_integrity().ok
    published.write_bytes(old)
    problems = pki.check_integrity().problems
    assert any("repo/crl/org_g2.crl" in p and "rolled back" in p for p in problems), problems


@pytest.mark.parametrize("folder", ["crl", "arl", "delta"])
def test_a_stray_list_file_is_judged_too(pki: Pki, folder):
    """A genuine list copied under another name is still judged: an old ARL in ``crl/``."""
    old_arl = (pki.repo / "arl" / "org_g2.arl").read_bytes()
    pki.publish_crls(now=NOW, ca_ids=["org_g2"])
    suffix = "arl" if folder == "arl" else "crl"
    (pki.repo / folder).mkdir(exist_ok=True)
    (pki.repo / folder / f"copy.{suffix}").write_bytes(old_arl)
    problems = pki.check_integrity().problems
    assert any(f"repo/{folder}/copy.{suffix}" in p for p in problems), problems


@pytest.mark.parametrize(
    ("offset", "says"),
    [(5, "was never issued by this store"), (0, "differs from the list")],
)
def test_a_list_signed_by_the_real_key_but_not_recorded_is_refused(
    pki: Pki, offset: int, says: str
):
    """Even the CA's own key cannot slip in a list the store did not record: a number above
    the highest (a store rolled back, or a leaked key), or another list under a used number."""
    from lgwan_sim.lgpki._build import build_crl

    newest = pki.store.latest_crl("org_g2", "crl")
    assert newest is not None
    forged = build_crl(
        pki.hierarchy,
        issuer=pki.signers.get("org_g2"),
        scope="crl",
        number=pki.crl_history().highest("org_g2") + offset,
        base_number=None,
        entries=[],
        this_update=NOW,
        next_update=NOW + timedelta(hours=48),
    )
    (pki.repo / "crl" / "org_g2.crl").write_bytes(forged.public_bytes(Encoding.PEM))
    problems = pki.check_integrity().problems
    assert any(p.startswith("repo/crl/org_g2.crl: refused:") and says in p for p in problems), (
        problems
    )
