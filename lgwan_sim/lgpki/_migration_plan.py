"""The dates of the G1 -> G2 migration and the algorithm policy they imply."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime

from lgwan_sim.errors import PkiError
from lgwan_sim.lgpki._model import require_utc

__all__ = ["MigrationPlan"]


@dataclass(frozen=True, slots=True, kw_only=True)
class MigrationPlan:
    """When each step of the migration happens (all timezone-aware UTC).

    ``g1_start`` stands up the G1 world; ``g2_start`` the new G2 CAs and link certificates;
    after ``g1_issuance_stop`` G1 CAs issue nothing (they keep publishing CRLs); from
    ``g1_acceptance_stop`` relying parties refuse SHA-1 signatures and RSA keys under 2048
    bits; ``algorithm_compromise`` (optional) revokes the bridges' certificates to G1.
    """

    g1_start: datetime
    g2_start: datetime
    g1_issuance_stop: datetime
    g1_acceptance_stop: datetime
    algorithm_compromise: datetime | None = None
    laggard_ratio: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        order = [
            ("g1_start", self.g1_start),
            ("g2_start", self.g2_start),
            ("g1_issuance_stop", self.g1_issuance_stop),
            ("g1_acceptance_stop", self.g1_acceptance_stop),
        ]
        for name, when in order:
            require_utc(when, name)
        for (a_name, a), (b_name, b) in itertools.pairwise(order):
            if not a < b:
                raise PkiError(f"{a_name} ({a.date()}) must come before {b_name} ({b.date()})")
        if self.algorithm_compromise is not None:
            require_utc(self.algorithm_compromise, "algorithm_compromise")
            if self.algorithm_compromise <= self.g2_start:
                raise PkiError("algorithm_compromise must come after g2_start")
        if not 0.0 <= self.laggard_ratio <= 1.0:
            raise PkiError(f"laggard_ratio must be within [0, 1], got {self.laggard_ratio!r}")

    @property
    def weak_algorithms_until(self) -> datetime:
        """The instant from which SHA-1 and RSA-1024 are refused by relying parties."""
        if self.algorithm_compromise is not None:
            return min(self.g1_acceptance_stop, self.algorithm_compromise)
        return self.g1_acceptance_stop
