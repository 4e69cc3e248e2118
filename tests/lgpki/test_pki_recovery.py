"""A writer killed between a chunk's commit and its publication, and what opening does next.

The child issues in chunks of 256; once the first chunk is published, the next publication
writes its temporary files and then the process SIGKILLs itself: 256 certificates are
committed but not published, and temporary files lie in the repository. Opening the store
must finish that publication and clean up before anything else, and say so in one line;
rerunning the bulk issuance must issue only to the sites that have no certificate yet.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import lgwan_sim
from lgwan_sim._files import TMP_PREFIX
from lgwan_sim.lgpki import CertKind, KeyType, Pki, SiteInfo
from tests.lgpki.support import NOW, PASSPHRASE, World

CHUNK = 256
SITES = 600
#: The module whose file writer publishes the repository (the seam the child cuts).
PUBLISHER = "lgwan_sim.lgpki._repository"

_CHILD = textwrap.dedent(
    """
    import importlib, os, signal, sys
    from datetime import datetime
    from lgwan_sim import _files
    from lgwan_sim.lgpki import KeyType, Pki, SiteInfo

    home, passphrase, now, chunk, count, publisher = sys.argv[1:]
    module = importlib.import_module(publisher)
    real = module.atomic_write_many
    armed = False

    def dying(items, **kwargs):
        if not armed:
            return real(items, **kwargs)
        for path, data in items:  # durable temporary files, never renamed into place
            path.parent.mkdir(parents=True, exist_ok=True)
            _files._write_tmp(path, data, 0o644)
        os.kill(os.getpid(), signal.SIGKILL)

    module.atomic_write_many = dying

    def progress(done):
        global armed
        armed = True
        print(done, flush=True)

    sites = [SiteInfo(id=f"mun-{i:05d}", kind="municipality", name=f"M{i}") for i in range(int(count))]
    with Pki.open(home, passphrase=passphrase.encode()) as pki:
        pki.issue_for_sites(
            sites, now=datetime.fromisoformat(now), generation="G2",
            key_type=KeyType.P256, chunk_size=int(chunk), progress=progress,
        )
    print("finished", flush=True)
    """
)


def _sites() -> list[SiteInfo]:
    return [SiteInfo(id=f"mun-{i:05d}", kind="municipality", name=f"M{i}") for i in range(SITES)]


def _kill_between_commit_and_publication(home: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(lgwan_sim.__file__).resolve().parent.parent)}
    args = [home, PASSPHRASE.decode(), NOW.isoformat(), CHUNK, SITES, PUBLISHER]
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert child.stdout.split() == [str(CHUNK)]  # one chunk published, then the kill


def _valid_g2_roles(pki: Pki) -> dict[str, int]:
    counts: dict[str, int] = {}
    for cert in pki.certificates(status="V", kind=CertKind.EE, issuer_ca="org_g2"):
        if cert.holder.startswith("mun-0") and cert.profile == "role":
            counts[cert.holder] = counts.get(cert.holder, 0) + 1
    return counts


def test_opening_finishes_a_publication_cut_by_sigkill(world: World, tmp_path: Path, cli):
    home = tmp_path / "home"
    shutil.copytree(world.home, home, ignore=shutil.ignore_patterns("lock"))
    _kill_between_commit_and_publication(home)
    left = list(home.rglob(f"{TMP_PREFIX}*"))
    assert left, "the kill left no temporary file"
    # the second chunk is committed: its 256 rows are there, its batch file is not
    passphrase = tmp_path / "passphrase"
    passphrase.write_bytes(PASSPHRASE + b"\n")

    # the first command to open the store finishes the publication, then does its work
    out = cli("pki", "--home", home, "--passphrase-file", passphrase, "audit")
    assert out.code == 0
    recovery = [line for line in out.err.splitlines() if "recovered" in line]
    assert len(recovery) == 1, out.err
    assert "republished 256 certificates" in recovery[0]
    assert f"removed {len(left)} temporary file" in recovery[0]
    assert "0 unpublished" in out.out
    assert "integrity OK" in out.out
    assert not list(home.rglob(f"{TMP_PREFIX}*"))

    with Pki.open(home, passphrase=PASSPHRASE) as pki:
        assert pki.recovery is None  # nothing left to recover a second time
        report = pki.check_integrity()
        assert report.ok, report.problems
        assert report.unpublished == 0
        assert len(_valid_g2_roles(pki)) == 2 * CHUNK
        # a rerun issues only to the sites the killed run had not reached
        again = pki.issue_for_sites(_sites(), now=NOW, generation="G2", key_type=KeyType.P256)
        assert len(again) == SITES - 2 * CHUNK
        counts = _valid_g2_roles(pki)
        assert len(counts) == SITES
        assert set(counts.values()) == {1}
        assert pki.issue_for_sites(_sites(), now=NOW, generation="G2") == []
        assert pki.check_integrity().ok


def test_a_live_writers_files_are_left_alone(pki: Pki):
    """Recovery needs the writer lock at once: while another handle holds it, its temporary
    files are work in progress, not debris, and opening touches nothing."""
    tmp = pki.repo / "issued" / f"{TMP_PREFIX}batch.pem.123.abcd"
    with pki.store.locked():
        tmp.write_bytes(b"half written")
        with Pki.open(pki.home, passphrase=PASSPHRASE) as other:
            assert other.recovery is None
        assert tmp.exists()
    with Pki.open(pki.home, passphrase=PASSPHRASE) as later:
        assert later.recovery is not None
        assert later.recovery.temp_files == 1
    assert not tmp.exists()


def test_audit_fails_on_unpublished_certificates_and_republish_repairs(
    pki: Pki, world: World, tmp_path: Path, cli
):
    """Committed certificates missing from the repository are a problem (exit 1), not a
    count printed beside "integrity OK"; ``pki republish`` writes them again."""
    passphrase = tmp_path / "passphrase"
    passphrase.write_bytes(PASSPHRASE + b"\n")
    home = ("pki", "--home", pki.home, "--passphrase-file", passphrase)

    batch = pki.published_path(world.g2["pref-13"])
    members = batch.read_bytes().count(b"-----BEGIN CERTIFICATE")
    batch.unlink()
    out = cli(*home, "audit")
    assert out.code == 1
    assert "integrity OK" not in out.out
    assert f"PROBLEM: {members} committed certificates are not published" in out.err
    assert cli(*home, "republish").code == 0
    again = cli(*home, "audit")
    assert again.code == 0
    assert "0 unpublished" in again.out
