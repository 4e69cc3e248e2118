"""SIGKILL in the middle of a bulk issuance leaves a store that opens, repairs its repository
and checks clean, and a rerun of the issuance serves nobody twice."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import lgwan_sim
from lgwan_sim.lgpki import CertKind, KeyType, Pki, SiteInfo
from tests.lgpki.support import NOW, PASSPHRASE, World

CHUNK = 20
SITES = 2_000

_CHILD = textwrap.dedent(
    """
    import sys
    from datetime import datetime
    from lgwan_sim.lgpki import KeyType, Pki, SiteInfo

    home, passphrase, now, chunk, count = sys.argv[1:]
    sites = [SiteInfo(id=f"mun-{i:05d}", kind="municipality", name=f"M{i}") for i in range(int(count))]

    def progress(done):
        print(done, flush=True)

    with Pki.open(home, passphrase=passphrase.encode()) as pki:
        pki.issue_for_sites(
            sites,
            now=datetime.fromisoformat(now),
            generation="G2",
            key_type=KeyType.P256,
            chunk_size=int(chunk),
            progress=progress,
        )
    print("finished", flush=True)
    """
)


def test_sigkill_during_bulk_issuance_leaves_a_consistent_store(world: World, tmp_path: Path):
    home = tmp_path / "home"
    shutil.copytree(world.home, home, ignore=shutil.ignore_patterns("lock"))
    with Pki.open(home, passphrase=PASSPHRASE) as pki:
        before = len(pki.certificates(kind=CertKind.EE))
    env = {**os.environ, "PYTHONPATH": str(Path(lgwan_sim.__file__).resolve().parent.parent)}
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _CHILD,
            str(home),
            PASSPHRASE.decode(),
            NOW.isoformat(),
            str(CHUNK),
            str(SITES),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None
        seen = 0
        while seen < 5 * CHUNK:  # let a few chunks commit, then kill it while it works
            line = child.stdout.readline()
            assert line, "the child exited before it was killed"
            seen = int(line)
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)
        if child.stdout is not None:
            child.stdout.close()

    with Pki.open(home, passphrase=PASSPHRASE) as pki:
        # opening finished whatever the kill cut short: every committed certificate is
        # published and no temporary file is left, before anything else was called
        report = pki.check_integrity()
        assert report.ok, report.problems
        assert report.unpublished == 0
        assert report.stale_temp_files == 0
        issued = len(pki.certificates(kind=CertKind.EE)) - before
        # chunks commit whole or not at all
        assert issued % CHUNK == 0
        assert 5 * CHUNK <= issued < SITES
        # every committed end-entity certificate's private key made it to the vault first
        for cert in pki.certificates(kind=CertKind.EE)[-3:]:
            assert pki.private_key(cert).public_key() == cert.certificate.public_key()
        # a rerun issues only to the sites the killed run had not reached: nobody twice
        sites = [
            SiteInfo(id=f"mun-{i:05d}", kind="municipality", name=f"M{i}") for i in range(SITES)
        ]
        again = pki.issue_for_sites(sites, now=NOW, generation="G2", key_type=KeyType.P256)
        assert len(again) == SITES - issued
        holders = [
            c.holder
            for c in pki.certificates(status="V", kind=CertKind.EE, issuer_ca="org_g2")
            if c.holder.startswith("mun-0") and c.profile == "role"
        ]
        assert sorted(holders) == sorted(s.id for s in sites)
        after = pki.check_integrity()
        assert after.ok, after.problems
        # and the CA carries on
        pki.publish_crls(now=NOW)
