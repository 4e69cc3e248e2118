"""The bridge between LGPKI and GPKI: policy mappings and constraints on cross-certificates.

The constraints are data (``pki/hierarchy.yaml: cross_domain``, labelled there as an
assumption); these tests check that the certificates carry them and that the verifier
enforces them on paths that cross from one domain to the other.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509

from lgwan_sim.errors import VerificationError
from lgwan_sim.lgpki import CertKind, Pki, SiteInfo, verifier_from_pki
from lgwan_sim.lgpki._build import POLICY_MAPPINGS_OID
from tests.lgpki.support import CRL_AT, NOW, World


def _cross(pki: Pki, issuer: str, subject_name: str) -> x509.Certificate:
    return next(
        c.certificate
        for c in pki.certificates()
        if c.kind is CertKind.CROSS
        and c.issuer_ca == issuer
        and subject_name in c.certificate.subject.rfc4514_string()
    )


def test_cross_certificates_between_the_domains_carry_mappings_and_constraints(shared_pki):
    into_lgpki = _cross(shared_pki, "gpki_bridge", "LGPKI Bridge CA G2")
    into_gpki = _cross(shared_pki, "bridge_g2", "GPKI Bridge CA")
    for cert in (into_lgpki, into_gpki):
        exts = {e.oid: e for e in cert.extensions}
        for oid in (
            POLICY_MAPPINGS_OID,
            x509.oid.ExtensionOID.POLICY_CONSTRAINTS,
            x509.oid.ExtensionOID.INHIBIT_ANY_POLICY,
            x509.oid.ExtensionOID.NAME_CONSTRAINTS,
        ):
            assert exts[oid].critical
        pc = cert.extensions.get_extension_for_class(x509.PolicyConstraints).value
        assert (pc.require_explicit_policy, pc.inhibit_policy_mapping) == (0, 0)
        assert cert.extensions.get_extension_for_class(x509.InhibitAnyPolicy).value.skip_certs == 0
    nc = into_lgpki.extensions.get_extension_for_class(x509.NameConstraints).value
    assert x509.DNSName("lg.jp") in nc.permitted_subtrees
    # inside one domain (bridge to its CAs) there is nothing to map or constrain
    inside = _cross(shared_pki, "bridge_g2", "LGPKI Organisation CA G2")
    assert POLICY_MAPPINGS_OID not in {e.oid for e in inside.extensions}
    assert x509.oid.ExtensionOID.NAME_CONSTRAINTS not in {e.oid for e in inside.extensions}


def test_a_name_outside_lgpki_s_namespace_is_refused_across_the_bridge(pki: Pki):
    # a local body's certificate whose subject claims the government's organisation name:
    # fine for an LGPKI relying party, refused by a GPKI one (excluded subtree)
    site = SiteInfo(id="asp-gov", kind="asp", name="Government of Japan (simulated)")
    issued = pki.issue(site, profile="message", now=CRL_AT - timedelta(hours=1), generation="G2")
    pki.publish_crls(now=CRL_AT)
    cert = issued.certificate
    assert pki.hierarchy.policies["lgpki"]
    lgpki = verifier_from_pki(pki, "bridge_g2")
    assert lgpki.verify_certificate(cert, now=NOW).length == 4
    gpki = verifier_from_pki(pki, "gpki_bridge")
    with pytest.raises(VerificationError) as info:
        gpki.verify_certificate(cert, now=NOW)
    assert info.value.reason == "name-constraints"


def test_the_gpki_relying_party_still_reaches_every_lgpki_leaf(shared_pki, world: World):
    gpki = verifier_from_pki(
        shared_pki,
        "gpki_bridge",
        acceptable_policies=[shared_pki.hierarchy.policies["gpki"].dotted_string],
    )
    for issued in [*world.g1.values(), *world.g2.values()]:
        assert gpki.verify_certificate(issued.certificate, now=NOW).length >= 4
