"""Shared LGPKI fixtures: one CA home built per session, copied for tests that change it.

Key generation is the slow part (RSA-2048 about 60 ms), so the hierarchy and a few
certificates are made once; tests that revoke or issue work on a copy of that home.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from lgwan_sim.lgpki import KeyType, Pki
from tests.lgpki.support import (
    CRL_AT,
    G1_START,
    G2_START,
    ISSUED,
    PASSPHRASE,
    SCRYPT_N,
    SITES,
    World,
)


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    home = tmp_path_factory.mktemp("lgpki") / "home"
    with Pki.create(
        home, passphrase=PASSPHRASE, now=G1_START, generations=["G1"], scrypt_n=SCRYPT_N
    ) as pki:
        pki.add_generation("G2", now=G2_START)
        g1 = pki.issue_for_sites(SITES, now=ISSUED, generation="G1")
        g2 = pki.issue_for_sites(SITES, now=ISSUED, generation="G2")
        weak = pki.issue(
            SITES[0], profile="role", now=ISSUED, generation="G2", key_type=KeyType.RSA1024
        )
        pki.publish_crls(now=CRL_AT)
        return World(
            home=home,
            g1={c.holder: c for c in g1},
            g2={c.holder: c for c in g2},
            weak_leaf=weak,
        )


@pytest.fixture
def pki(world: World, tmp_path: Path) -> Iterator[Pki]:
    """A private, writable copy of the session's CA home."""
    copy = tmp_path / "home"
    shutil.copytree(world.home, copy, ignore=shutil.ignore_patterns("lock"))
    with Pki.open(copy, passphrase=PASSPHRASE) as opened:
        yield opened


@pytest.fixture
def shared_pki(world: World) -> Iterator[Pki]:
    """The session's CA home, opened read-only by convention (do not change it)."""
    with Pki.open(world.home, passphrase=PASSPHRASE) as opened:
        yield opened
