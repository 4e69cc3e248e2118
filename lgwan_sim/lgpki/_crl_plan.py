"""What goes into a CRL, when lists are due, and which list counts at a moment: no I/O.

The store records every list a CA issued (:class:`CrlRecord`): that record is the CRL
history. CRL, ARL and delta CRL of one CA draw their numbers from one sequence, so the
history orders them all; a list from any other source (the repository folder, a file a
relying party was handed) is accepted only if it is one of them, byte for byte, and not
older than the newest of its kind (:meth:`CrlHistory.judge`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from lgwan_sim.lgpki._model import RevocationTiming

__all__ = [
    "REVOCATION_REASONS",
    "CrlHistory",
    "CrlRecord",
    "PlannedList",
    "Verdict",
    "due_lists",
    "plan_lists",
]

#: Revocation reasons accepted by ``Pki.revoke``, by their RFC 5280 names.
REVOCATION_REASONS: Mapping[str, x509.ReasonFlags] = {
    flag.name: flag for flag in x509.ReasonFlags if flag is not x509.ReasonFlags.remove_from_crl
}

#: How each kind of list is called in messages.
KIND = {"crl": "CRL", "arl": "ARL", "delta": "delta CRL"}

Entry = tuple[int, datetime, x509.ReasonFlags | None]
"""One revoked certificate: serial, revocation date, reason."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CrlRecord:
    """One list as the store recorded it when the CA issued it."""

    ca: str
    scope: str
    """``crl`` (end-entity certificates), ``arl`` (CA certificates) or ``delta``."""
    number: int
    base_number: int | None
    this_update: datetime
    next_update: datetime
    entries: int
    der: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedList:
    """A list to build and sign: its scope, number, entries and dates."""

    scope: str
    number: int
    base_number: int | None
    entries: tuple[Entry, ...]
    this_update: datetime
    next_update: datetime


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def plan_lists(
    *,
    timing: RevocationTiming,
    first_number: int,
    now: datetime,
    revoked_ee: Sequence[tuple[int, str, str | None]],
    revoked_ca: Sequence[tuple[int, str, str | None]],
    delta_base: CrlRecord | None = None,
    base_serials: Iterable[int] = (),
) -> list[PlannedList]:
    """The lists one CA publishes now: CRL and ARL, or (with ``delta_base``) a delta CRL.

    ``revoked_ee`` and ``revoked_ca`` are the revoked rows (serial, ISO date, reason name)
    in revocation order; numbers are taken from ``first_number`` on. A delta CRL lists
    what its base lacks, whatever the revocation's own date: a revocation dated before the
    base but recorded after it counts.
    """

    def entries(rows: Sequence[tuple[int, str, str | None]]) -> tuple[Entry, ...]:
        return tuple(
            (serial, datetime.fromisoformat(at), None if r is None else REVOCATION_REASONS.get(r))
            for serial, at, r in rows
        )

    if delta_base is not None:
        listed = set(base_serials)
        return [
            PlannedList(
                scope="delta",
                number=first_number,
                base_number=delta_base.number,
                entries=tuple(e for e in entries(revoked_ee) if e[0] not in listed),
                this_update=now,
                next_update=now + timedelta(hours=timing.delta_next_update_hours),
            )
        ]
    next_update = now + timedelta(hours=timing.next_update_hours)
    return [
        PlannedList(
            scope=scope,
            number=first_number + i,
            base_number=None,
            entries=entries(rows),
            this_update=now,
            next_update=next_update,
        )
        for i, (scope, rows) in enumerate((("crl", revoked_ee), ("arl", revoked_ca)))
    ]


def due_lists(
    timing: RevocationTiming, history: Mapping[str, Sequence[CrlRecord]], now: datetime
) -> tuple[list[str], list[str]]:
    """The CAs whose base lists are due at ``now`` (every ``publish_every_hours``) and those
    due only a delta CRL (every ``delta_every_hours`` since their newest list)."""
    due_base: list[str] = []
    due_delta: list[str] = []
    for ca_id in sorted(history):
        lists = history[ca_id]
        base = max((r.this_update for r in lists if r.scope == "crl"), default=None)
        latest = max((r.this_update for r in lists), default=None)
        if base is None or now - base >= timedelta(hours=timing.publish_every_hours):
            due_base.append(ca_id)
        elif latest is None or now - latest >= timedelta(hours=timing.delta_every_hours):
            due_delta.append(ca_id)
    return due_base, due_delta


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """What :meth:`CrlHistory.judge` says of one list: its record, or why it is refused."""

    record: CrlRecord | None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _signed_by(crl: x509.CertificateRevocationList, cert: x509.Certificate) -> bool:
    key = cert.public_key()
    algorithm = crl.signature_hash_algorithm
    if algorithm is None:
        return False
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(crl.signature, crl.tbs_certlist_bytes, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(crl.signature, crl.tbs_certlist_bytes, ec.ECDSA(algorithm))
        else:
            return False
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


class CrlHistory:
    """Every list the CAs of one store issued, and the CA certificates that sign them."""

    def __init__(self, records: Iterable[CrlRecord], cas: Mapping[str, x509.Certificate]) -> None:
        self._by_number: dict[tuple[str, int], CrlRecord] = {}
        self._newest: dict[tuple[str, str], CrlRecord] = {}
        self._highest: dict[str, int] = {}
        for r in records:
            self._by_number[(r.ca, r.number)] = r
            newest = self._newest.get((r.ca, r.scope))
            if newest is None or r.number > newest.number:
                self._newest[(r.ca, r.scope)] = r
            self._highest[r.ca] = max(self._highest.get(r.ca, 0), r.number)
        self._cas = dict(cas)
        self._by_name: dict[bytes, list[str]] = {}
        for ca_id, cert in self._cas.items():
            self._by_name.setdefault(cert.subject.public_bytes(), []).append(ca_id)

    def highest(self, ca_id: str) -> int:
        """The highest number ``ca_id`` has used for any list (0 before its first)."""
        return self._highest.get(ca_id, 0)

    def newest(self, ca_id: str, scope: str) -> CrlRecord | None:
        return self._newest.get((ca_id, scope))

    def newest_lists(self) -> list[CrlRecord]:
        """The newest CRL, ARL and delta CRL of every CA, ordered by CA and scope."""
        return [self._newest[k] for k in sorted(self._newest)]

    def current_at(self, at: datetime) -> list[CrlRecord]:
        """The lists a relying party uses at ``at``: per CA and kind, the newest issued at or
        before ``at`` (a list issued later did not exist yet); a delta CRL only if it is
        newer than the CRL chosen."""
        chosen: dict[tuple[str, str], CrlRecord] = {}
        for r in self._by_number.values():
            if r.this_update > at:
                continue
            best = chosen.get((r.ca, r.scope))
            if best is None or r.number > best.number:
                chosen[(r.ca, r.scope)] = r
        out = []
        for (ca_id, scope), r in sorted(chosen.items()):
            base = chosen.get((ca_id, "crl"))
            if scope == "delta" and (base is None or r.number < base.number):
                continue
            out.append(r)
        return out

    def judge(self, data: bytes, *, scope: str | None = None) -> Verdict:
        """Accept a PEM list only if a CA of the store signed it, the store recorded it with
        the same bytes, and (with ``scope``, the kind of file it was found as) it is the
        newest list of that kind: anything older is a rollback."""
        try:
            crl = x509.load_pem_x509_crl(data)
        except ValueError:
            return Verdict(record=None, problem="not a PEM CRL")
        candidates = self._by_name.get(crl.issuer.public_bytes(), [])
        if not candidates:
            return Verdict(
                record=None, problem=f"issued by {crl.issuer.rfc4514_string()}, no CA of this store"
            )
        signers = [c for c in candidates if _signed_by(crl, self._cas[c])]
        if not signers:
            return Verdict(record=None, problem=f"its signature is not {candidates[0]}'s")
        ca_id = signers[0]
        try:
            number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
        except x509.ExtensionNotFound:
            return Verdict(record=None, problem=f"a list signed by {ca_id} without a CRL number")
        record = self._by_number.get((ca_id, number))
        if record is None:
            return Verdict(
                record=None,
                problem=f"#{number} signed by {ca_id}'s key was never issued by this store"
                f" (its highest is #{self.highest(ca_id)})",
            )
        if record.der != crl.public_bytes(Encoding.DER):
            return Verdict(record=None, problem=f"differs from the list #{number} {ca_id} issued")
        kind = KIND[record.scope]
        if scope is not None and scope != record.scope:
            return Verdict(
                record=record,
                problem=f"holds {kind} #{number} of {ca_id} where its {KIND[scope]} belongs",
            )
        newest = self.newest(ca_id, record.scope)
        if newest is not None and newest.number > number:
            return Verdict(
                record=record,
                problem=f"{kind} #{number} of {ca_id} is rolled back: the store issued"
                f" #{newest.number} at {_when(newest.this_update)}",
            )
        return Verdict(record=record)
