"""One writer at a time: two CA handles on one home interleave without losing anything."""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta

from lgwan_sim.lgpki import CertKind, KeyType, Pki, SiteInfo
from tests.lgpki.support import NOW, PASSPHRASE


def test_two_writers_on_one_home_keep_the_store_consistent(pki: Pki):
    home = pki.home
    before = len(pki.certificates(kind=CertKind.EE))
    errors: list[BaseException] = []
    # one CA, one clock: a list may not be dated before the CA's last one, so each handle
    # reads the next minute under the writer lock it publishes under
    minutes = itertools.count()

    def work(tag: str) -> None:
        try:
            with Pki.open(home, passphrase=PASSPHRASE) as mine:
                for i in range(10):
                    site = SiteInfo(id=f"asp-{tag}-{i}", kind="asp", name=f"{tag} {i}")
                    mine.issue(site, profile="message", now=NOW, key_type=KeyType.P256)
                    with mine.store.locked():
                        at = NOW + timedelta(minutes=next(minutes))
                        mine.publish_crls(now=at, ca_ids=["app_sub_g2"])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(tag,)) for tag in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert len(pki.certificates(kind=CertKind.EE)) == before + 20
    report = pki.check_integrity()
    assert report.ok, report.problems
    numbers = [
        r[0]
        for r in pki.store.db.execute("SELECT number FROM crl WHERE ca = 'app_sub_g2' ORDER BY id")
    ]
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == len(numbers)
