"""Interoperability: ``openssl verify`` accepts our chains and CRLs and rejects what it must.

The tests run the openssl command (CI installs it if missing) at the simulated date with
``-attime``, the anchor as ``-CAfile``, the anchor's forward bundle as ``-untrusted`` and
every published CRL and ARL.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from lgwan_sim.lgpki import IssuedCertificate, Pki
from tests.lgpki.support import NOW, World

pytestmark = [
    pytest.mark.openssl,
    pytest.mark.skipif(
        shutil.which("openssl") is None, reason="the openssl command is not installed"
    ),
]


def _openssl_verify(
    pki: Pki,
    leaf: IssuedCertificate,
    tmp: Path,
    *,
    anchor: str,
    now: datetime,
    extra: tuple[str, ...] = ("-crl_check_all",),
    crl_folders: tuple[str, ...] = ("crl", "arl"),
) -> subprocess.CompletedProcess[str]:
    crls = tmp / "crls.pem"
    crls.write_bytes(
        b"".join(
            p.read_bytes()
            for folder in crl_folders
            for p in sorted((pki.repo / folder).glob("*.*"))
        )
    )
    leaf_file = tmp / "leaf.pem"
    leaf_file.write_bytes(leaf.certificate.public_bytes(Encoding.PEM))
    args = [
        "openssl",
        "verify",
        "-attime",
        str(int(now.timestamp())),
        "-CAfile",
        str(pki.repo / "anchors" / f"{anchor}.pem"),
        "-untrusted",
        str(pki.repo / "bundles" / f"{anchor}.pem"),
        *extra,
        "-CRLfile",
        str(crls),
        str(leaf_file),
    ]
    return subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.parametrize("check", ["-crl_check", "-crl_check_all"])
@pytest.mark.parametrize(
    ("anchor", "holder"),
    [("bridge_g2", "mun-13-101"), ("bridge_g2", "asp-jlis-east"), ("gpki_bridge", "dc-kanto")],
)
def test_openssl_accepts_g2_chains_and_crls(
    shared_pki, world: World, tmp_path, anchor, holder, check
):
    done = _openssl_verify(
        shared_pki, world.g2[holder], tmp_path, anchor=anchor, now=NOW, extra=(check,)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith(": OK")


def test_openssl_reports_a_revoked_leaf_as_revoked(pki: Pki, world: World, tmp_path):
    leaf = world.g2["pref-13"]
    pki.revoke(leaf.issuer_ca, leaf.serial, reason="key_compromise", now=NOW)
    pki.publish_crls(now=NOW)
    done = _openssl_verify(pki, leaf, tmp_path, anchor="bridge_g2", now=NOW + timedelta(minutes=1))
    assert done.returncode != 0
    assert "error 23" in done.stdout + done.stderr
    assert "certificate revoked" in done.stdout + done.stderr


def test_openssl_reports_a_revoked_cross_certificate_through_the_arl(
    pki: Pki, world: World, tmp_path
):
    cross = next(
        c
        for c in pki.certificates(issuer_ca="bridge_g2")
        if c.holder == "org_g2" and c.kind.value == "cross"
    )
    pki.revoke("bridge_g2", cross.serial, reason="ca_compromise", now=NOW)
    pki.publish_crls(now=NOW)
    done = _openssl_verify(
        pki, world.g2["pref-13"], tmp_path, anchor="bridge_g2", now=NOW + timedelta(minutes=1)
    )
    assert "error 23 at 1 depth" in done.stdout + done.stderr


def test_openssl_without_the_arl_cannot_complete_crl_check_all(shared_pki, world: World, tmp_path):
    done = _openssl_verify(
        shared_pki, world.g2["pref-13"], tmp_path, anchor="bridge_g2", now=NOW, crl_folders=("crl",)
    )
    assert done.returncode != 0
    # the bridge's only list in reach is its user CRL, whose scope excludes CA certificates
    out = done.stdout + done.stderr
    assert "different CRL scope" in out or "unable to get certificate CRL" in out


@pytest.mark.parametrize("holder", ["mun-13-101", "asp-jlis-east"])
def test_openssl_g1_accepted_at_auth_level_0_rejected_at_1(
    shared_pki, world: World, tmp_path, holder
):
    leaf = world.g1[holder]
    assert leaf.certificate.signature_hash_algorithm is not None
    assert leaf.certificate.signature_hash_algorithm.name == "sha1"
    ok = _openssl_verify(
        shared_pki,
        leaf,
        tmp_path,
        anchor="bridge_g1",
        now=NOW,
        extra=("-crl_check_all", "-auth_level", "0"),
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    weak = _openssl_verify(
        shared_pki,
        leaf,
        tmp_path,
        anchor="bridge_g1",
        now=NOW,
        extra=("-crl_check_all", "-auth_level", "1"),
    )
    assert weak.returncode != 0
    assert "too weak" in weak.stdout + weak.stderr


def test_openssl_follows_the_link_certificate_from_g2_to_a_g1_leaf(
    shared_pki, world: World, tmp_path
):
    done = _openssl_verify(
        shared_pki,
        world.g1["pref-13"],
        tmp_path,
        anchor="bridge_g2",
        now=NOW,
        extra=("-crl_check_all", "-auth_level", "0"),
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_openssl_honours_the_policy_mapping_of_the_gpki_cross_certificate(
    shared_pki, world: World, tmp_path
):
    gpki = shared_pki.hierarchy.policies["gpki"].dotted_string
    lgpki = shared_pki.hierarchy.policies["lgpki"].dotted_string
    args = ("-crl_check_all", "-policy_check", "-explicit_policy", "-policy")
    ok = _openssl_verify(
        shared_pki,
        world.g2["pref-13"],
        tmp_path,
        anchor="gpki_bridge",
        now=NOW,
        extra=(*args, gpki),
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = _openssl_verify(
        shared_pki,
        world.g2["pref-13"],
        tmp_path,
        anchor="gpki_bridge",
        now=NOW,
        extra=(*args, lgpki),
    )
    assert bad.returncode != 0


def test_openssl_sees_a_late_revocation_through_the_delta_crl(pki: Pki, world: World, tmp_path):
    leaf = world.g2["mun-13-101"]
    pki.revoke(leaf.issuer_ca, leaf.serial, reason="key_compromise", now=NOW)
    pki.publish_crls(now=NOW, ca_ids=[leaf.issuer_ca], delta=True)
    later = NOW + timedelta(minutes=1)
    extra = ("-crl_check_all", "-extended_crl", "-use_deltas")
    base_only = _openssl_verify(pki, leaf, tmp_path, anchor="bridge_g2", now=later, extra=extra)
    assert base_only.returncode == 0, base_only.stdout + base_only.stderr
    with_delta = _openssl_verify(
        pki,
        leaf,
        tmp_path,
        anchor="bridge_g2",
        now=later,
        extra=extra,
        crl_folders=("crl", "arl", "delta"),
    )
    assert "certificate revoked" in with_delta.stdout + with_delta.stderr


def test_openssl_checks_our_crl_signatures(shared_pki, tmp_path):
    for ca in ("org_g2", "org_g1"):
        done = subprocess.run(
            [
                "openssl",
                "crl",
                "-noout",
                "-in",
                str(shared_pki.repo / "crl" / f"{ca}.crl"),
                "-CAfile",
                str(shared_pki.repo / "anchors" / f"{ca}.pem"),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert "verify OK" in done.stdout + done.stderr, done.stderr
