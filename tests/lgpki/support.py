"""Constants and records shared by the LGPKI tests (imported by conftest and tests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lgwan_sim.lgpki import IssuedCertificate, SiteInfo

PASSPHRASE = b"correct horse battery staple"
SCRYPT_N = 2**10  # cheap for tests; the default is 2**15

G1_START = datetime(2008, 4, 1, tzinfo=UTC)
G2_START = datetime(2014, 4, 1, tzinfo=UTC)
ISSUED = datetime(2014, 5, 1, tzinfo=UTC)
NOW = datetime(2014, 5, 2, tzinfo=UTC)
CRL_AT = NOW - timedelta(hours=1)

SITES = (
    SiteInfo(id="mun-13-101", kind="municipality", name="Chiyoda", name_ja="千代田区"),
    SiteInfo(id="pref-13", kind="prefecture", name="Tokyo", name_ja="東京都"),
    SiteInfo(id="asp-jlis-east", kind="asp", name="J-LIS platform (East)", name_ja="J-LIS基盤(東)"),
    SiteInfo(id="dc-kanto", kind="data_centre", name="Kanto data centre"),
    SiteInfo(id="node-13", kind="prefecture_node", name="Tokyo node"),
)


@dataclass(frozen=True)
class World:
    """The session's CA home and what was issued in it."""

    home: Path
    g1: dict[str, IssuedCertificate]
    g2: dict[str, IssuedCertificate]
    weak_leaf: IssuedCertificate
    """A G2-signed role certificate with an RSA-1024 key (allowed before the cut-over)."""
