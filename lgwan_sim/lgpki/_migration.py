"""The G1 -> G2 migration, driven by the dates of a :class:`MigrationPlan`.

Starting from a G1 world (every site holds a G1 certificate), the run stands up the G2 CAs
with link certificates (新局立ち上げ), lets sites move to G2 on seeded per-site dates during
the parallel period, stops G1 issuance, stops G1 acceptance (the relying parties'
algorithm policy) and, optionally, revokes the bridges' certificates to G1 after an
algorithm compromise. At every step it records which sites still hold G1 certificates and
whether a relying party pinned to the G2 Bridge CA still accepts a G1 certificate.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lgwan_sim.errors import PkiError, VerificationError
from lgwan_sim.lgpki._ca import Pki
from lgwan_sim.lgpki._migration_plan import MigrationPlan
from lgwan_sim.lgpki._model import CertKind, KeyType, SiteLike
from lgwan_sim.lgpki._relying import verifier_from_pki
from lgwan_sim.lgpki._verify import AlgorithmPolicy

__all__ = ["MigrationReport", "MigrationStep", "run_migration"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class MigrationStep:
    """The state of the migration at one date."""

    when: datetime
    events: tuple[str, ...]
    g1_holders: tuple[str, ...]
    g2_holders: int
    renewed: int
    g1_verdict: str
    """``"accepted"`` if a G2-anchored relying party accepts a G1 certificate, else the
    rejection reason (``weak-hash``, ``ca-revoked``, ...), or ``"-"`` with no G1 left."""
    g1_verdict_old_software: str
    """The same for a relying party that never updated its algorithm policy: after the
    algorithm compromise only the revoked bridge certificates stop it (``ca-revoked``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MigrationReport:
    """Every step of a run, in date order."""

    plan: MigrationPlan
    steps: tuple[MigrationStep, ...]

    def g1_holders_at(self, when: datetime) -> tuple[str, ...]:
        """Sites holding a valid G1 certificate at the last step on or before ``when``."""
        before = [s for s in self.steps if s.when <= when]
        if not before:
            raise PkiError(f"the migration report starts after {when.isoformat()}")
        return before[-1].g1_holders

    @property
    def stranded(self) -> tuple[str, ...]:
        """Sites that still held G1 certificates when G1 stopped being accepted."""
        return self.g1_holders_at(self.plan.g1_acceptance_stop)


def _dates(plan: MigrationPlan) -> tuple[datetime | None, ...]:
    return (
        plan.g1_start,
        plan.g2_start,
        plan.g1_issuance_stop,
        plan.g1_acceptance_stop,
        plan.algorithm_compromise,
    )


def _ticks(plan: MigrationPlan, step: timedelta, until: datetime) -> list[datetime]:
    out = []
    t = plan.g1_start + step
    while t < until:
        out.append(t)
        t += step
    return out


def run_migration(
    pki: Pki,
    sites: Iterable[SiteLike],
    *,
    plan: MigrationPlan | None = None,
    step_days: int = 182,
    until: datetime | None = None,
    g1_key_type: KeyType | None = None,
    g2_key_type: KeyType | None = None,
    probe_anchor: str = "bridge_g2",
) -> MigrationReport:
    """Run the migration on ``pki`` (which holds only G1, created at ``plan.g1_start``).

    ``g1_key_type`` / ``g2_key_type`` override the profiles' end-entity key types (tests
    use them to keep key generation cheap). Returns one :class:`MigrationStep` per event
    date and per ``step_days`` tick up to ``until`` (default: a year after the last event).
    """
    plan = plan or pki.plan
    if _dates(plan) != _dates(pki.plan):  # the CA stops G1 and refuses RSA-1024 by its own
        raise PkiError(
            "the plan's dates differ from those the CA home was created with"
            " (create it with Pki.create(..., migration=FILE)); only laggard_ratio and seed"
            " may change per run"
        )
    if not any(s.generation == "G1" for s in pki.status(now=plan.g1_start)):
        raise PkiError("the migration starts from a store that holds the G1 CAs")
    if any(s.generation == "G2" for s in pki.status(now=plan.g1_start)):
        raise PkiError("the migration needs a store without G2 CAs (they are stood up on g2_start)")
    eligible = [s for s in sites if str(s.kind) in pki.hierarchy.bulk]
    last_event = plan.algorithm_compromise or plan.g1_acceptance_stop
    end = until or last_event + timedelta(days=365)
    step = timedelta(days=step_days)
    events: dict[datetime, list[str]] = {plan.g1_start: ["g1_start"]}
    named = [
        ("g2_start", plan.g2_start),
        ("g1_issuance_stop", plan.g1_issuance_stop),
        ("g1_acceptance_stop", plan.g1_acceptance_stop),
        ("algorithm_compromise", plan.algorithm_compromise),
    ]
    for name, when in named:
        if when is not None:
            events.setdefault(when, []).append(name)
    migrate_at: dict[str, datetime] = {}
    laggards: set[str] = set()
    span = plan.g1_acceptance_stop - plan.g2_start - timedelta(days=30)
    for site in eligible:
        rng = random.Random(f"{plan.seed}:{site.id}")
        if rng.random() < plan.laggard_ratio:
            laggards.add(site.id)
            migrate_at[site.id] = plan.g1_acceptance_stop + timedelta(days=90)
        else:
            migrate_at[site.id] = plan.g2_start + span * rng.random()
    # the last day of G1 issuance is a step of its own: laggards renew in G1 on it
    last_day = plan.g1_issuance_stop - timedelta(days=1)
    dates = sorted(set(events) | set(_ticks(plan, step, end)) | {last_day})
    migrated: set[str] = set()
    steps: list[MigrationStep] = []
    for index, when in enumerate(dates):
        last_g1_chance = when < plan.g1_issuance_stop and (
            index + 1 == len(dates) or dates[index + 1] >= plan.g1_issuance_stop
        )
        happening = tuple(events.get(when, []))
        renewed = 0
        if "g1_start" in happening:
            pki.issue_for_sites(eligible, now=when, generation="G1", key_type=g1_key_type)
        if "g2_start" in happening:
            pki.add_generation("G2", now=when)
        if "g1_issuance_stop" in happening:
            pki.stop_issuance("G1", now=when)
        if "algorithm_compromise" in happening:
            pki.compromise_generation("G1", now=when)
        g2_open = when >= plan.g2_start
        horizon = when + step  # renew what would lapse before the next step
        for holder, gen, not_after in _valid_ee(pki, when):
            if g2_open and holder not in migrated and (migrate_at[holder] <= when or gen == "G2"):
                if gen == "G1":
                    pki.renew(holder, now=when, generation="G2", key_type=g2_key_type)
                    renewed += 1
                migrated.add(holder)
            elif last_g1_chance and holder in laggards and gen == "G1":
                # a laggard grabs one last G1 certificate just before G1 issuance stops
                pki.renew(holder, now=when, generation="G1", key_type=g1_key_type)
                renewed += 1
            elif not_after < horizon:
                to_g2 = holder in migrated or when >= plan.g1_issuance_stop
                pki.renew(
                    holder,
                    now=when,
                    generation="G2" if to_g2 else "G1",
                    key_type=g2_key_type if to_g2 else g1_key_type,
                )
                renewed += 1
                if to_g2:
                    migrated.add(holder)
        covered = {holder for holder, _, _ in _valid_ee(pki, when)}
        for site in eligible:  # certificates that lapsed between steps: enrol again
            if site.id in covered or "g1_start" in happening:
                continue
            to_g2 = g2_open and (
                site.id in migrated or when >= plan.g1_issuance_stop or migrate_at[site.id] <= when
            )
            pki.issue(
                site,
                profile=pki.hierarchy.bulk[str(site.kind)],
                now=when,
                generation="G2" if to_g2 else "G1",
                key_type=g2_key_type if to_g2 else g1_key_type,
            )
            renewed += 1
            if to_g2:
                migrated.add(site.id)
        pki.publish_crls(now=when)
        holders = pki.holders_by_generation(when)
        g1 = tuple(sorted(holders.get("G1", set())))
        steps.append(
            MigrationStep(
                when=when,
                events=happening,
                g1_holders=g1,
                g2_holders=len(holders.get("G2", set())),
                renewed=renewed,
                g1_verdict=_probe(pki, g1, when, probe_anchor, None) if g2_open else "-",
                g1_verdict_old_software=(
                    _probe(pki, g1, when, probe_anchor, _OLD_SOFTWARE) if g2_open else "-"
                ),
            )
        )
        log.info("migration %s: %d G1 holders, %d renewed", when.date(), len(g1), renewed)
    return MigrationReport(plan=plan, steps=tuple(steps))


def _valid_ee(pki: Pki, when: datetime) -> list[tuple[str, str, datetime]]:
    latest: dict[str, tuple[str, str, datetime]] = {}
    for cert in pki.certificates(status="V", kind=CertKind.EE):
        c = cert.certificate
        if c.not_valid_before_utc <= when < c.not_valid_after_utc:
            latest[cert.holder] = (cert.holder, cert.generation, c.not_valid_after_utc)
    return sorted(latest.values())


#: A relying party whose algorithm policy was never updated.
_OLD_SOFTWARE = AlgorithmPolicy(legacy_until=datetime.max.replace(tzinfo=UTC))


def _probe(
    pki: Pki,
    g1_holders: Sequence[str],
    when: datetime,
    anchor: str,
    policy: AlgorithmPolicy | None,
) -> str:
    if not g1_holders:
        return "-"
    cert = next(
        c
        for c in pki.certificates(holder=g1_holders[0], status="V", kind=CertKind.EE)
        if c.generation == "G1"
        and c.certificate.not_valid_before_utc <= when < c.certificate.not_valid_after_utc
    )
    try:
        verifier_from_pki(pki, anchor, policy=policy).verify_certificate(cert.certificate, now=when)
    except VerificationError as exc:
        return exc.reason
    return "accepted"
