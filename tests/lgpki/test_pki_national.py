"""National scale: every local body and service of the LGWAN topology in one go."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lgwan_sim.lgpki import CertKind, KeyType, Pki, verifier_from_pki
from lgwan_sim.network import SiteKind
from tests.lgpki.support import PASSPHRASE, SCRYPT_N

START = datetime(2020, 4, 1, tzinfo=UTC)


@pytest.mark.slow
def test_issue_for_every_site_of_the_national_topology(national, tmp_path: Path):
    topology = national
    sites = [topology.sites[k] for k in sorted(topology.sites)]
    with Pki.create(
        tmp_path / "home", passphrase=PASSPHRASE, now=START, generations=["G2"], scrypt_n=SCRYPT_N
    ) as pki:
        # P-256 subject keys keep key generation out of the way; the CA keys are RSA-2048
        issued = pki.issue_for_sites(sites, now=START + timedelta(days=1), key_type=KeyType.P256)
        by_profile = Counter(c.profile for c in issued)
        local_bodies = sum(
            1 for s in sites if s.kind in (SiteKind.PREFECTURE, SiteKind.MUNICIPALITY)
        )
        services = sum(
            1 for s in sites if s.kind in (SiteKind.DATA_CENTRE, SiteKind.ASP, SiteKind.CENTRAL)
        )
        assert local_bodies == 1788
        assert by_profile == {"role": 1788, "message": services}
        assert len({(c.issuer_ca, c.serial) for c in issued}) == len(issued)
        report = pki.check_integrity()
        assert report.ok, report.problems
        assert report.unpublished == 0
        assert len(pki.certificates(kind=CertKind.EE)) == len(issued)
        now = START + timedelta(days=1, hours=2)
        pki.publish_crls(now=now - timedelta(hours=1))
        verifier = verifier_from_pki(pki, "bridge_g2")
        for cert in issued[:: len(issued) // 7]:
            path = verifier.verify_certificate(cert.certificate, now=now)
            assert path.site_ids == {cert.holder}
