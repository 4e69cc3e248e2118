"""The G1 -> G2 migration, driven by dates, with its report."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from lgwan_sim.errors import PkiError
from lgwan_sim.lgpki import (
    KeyType,
    MigrationReport,
    Pki,
    SiteInfo,
    load_migration_plan,
    run_migration,
)
from tests.lgpki.support import PASSPHRASE, SCRYPT_N

SITES = [SiteInfo(id=f"mun-{i:03d}", kind="municipality", name=f"Town {i}") for i in range(12)] + [
    SiteInfo(id="asp-a", kind="asp", name="ASP A"),
    SiteInfo(id="gw", kind="gov_gateway", name="gateway"),
]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[MigrationReport, Path]:
    plan = replace(load_migration_plan(), laggard_ratio=0.25)
    home = tmp_path_factory.mktemp("migration") / "home"
    with Pki.create(
        home, passphrase=PASSPHRASE, now=plan.g1_start, generations=["G1"], scrypt_n=SCRYPT_N
    ) as pki:
        result = run_migration(pki, SITES, plan=plan, g2_key_type=KeyType.P256)
        assert pki.check_integrity().ok
    return result, home


def _step(report: MigrationReport, event: str):
    return next(s for s in report.steps if event in s.events)


def test_everyone_starts_in_g1_and_nobody_ends_there(report):
    result, _ = report
    first, last = result.steps[0], result.steps[-1]
    assert len(first.g1_holders) == 13  # the gateway gets nothing
    assert first.g2_holders == 0
    assert last.g1_holders == ()
    assert last.g2_holders == 13


def test_g1_holders_only_shrink_during_the_parallel_period(report):
    result, _ = report
    start = _step(result, "g2_start").when
    counts = [len(s.g1_holders) for s in result.steps if s.when >= start]
    assert counts == sorted(counts, reverse=True)
    assert counts[0] > counts[-1]


def test_verdicts_follow_the_dates(report):
    result, _ = report
    assert _step(result, "g2_start").g1_verdict == "accepted"
    assert _step(result, "g1_issuance_stop").g1_verdict == "accepted"
    stop = _step(result, "g1_acceptance_stop")
    assert stop.g1_holders, "laggards should still hold G1 at the acceptance stop"
    assert stop.g1_verdict == "weak-hash"
    assert stop.g1_verdict_old_software == "accepted"
    compromise = _step(result, "algorithm_compromise")
    assert compromise.g1_verdict_old_software == "ca-revoked"


def test_stranded_sites_are_the_laggards(report):
    result, _ = report
    assert set(result.stranded) == set(_step(result, "g1_acceptance_stop").g1_holders)
    assert (
        result.g1_holders_at(result.plan.g1_acceptance_stop + timedelta(days=1)) == result.stranded
    )
    with pytest.raises(PkiError, match="starts after"):
        result.g1_holders_at(result.plan.g1_start - timedelta(days=1))


def test_migration_needs_a_g1_only_store(report):
    _, home = report
    with Pki.open(home, passphrase=PASSPHRASE) as pki, pytest.raises(PkiError, match="without G2"):
        run_migration(pki, SITES)


def test_plan_dates_must_be_in_order():
    plan = load_migration_plan()
    with pytest.raises(PkiError, match="must come before"):
        replace(plan, g1_issuance_stop=plan.g2_start - timedelta(days=1))


def test_a_plan_with_other_dates_than_the_home_is_refused(report):
    _, home = report
    with Pki.open(home, passphrase=PASSPHRASE) as pki:
        other = replace(pki.plan, g1_issuance_stop=pki.plan.g1_issuance_stop + timedelta(days=1))
        with pytest.raises(PkiError, match="differ from those the CA home was created with"):
            run_migration(pki, SITES, plan=other)
