"""The SQLite store: the single source of truth of the CA.

WAL journal, ``synchronous=FULL``; every state change runs in one ``BEGIN IMMEDIATE``
transaction together with its audit records, so a crash leaves either all of it or none.
The audit log is a hash chain: ``hash = SHA-256(prev_hash || canonical JSON of the record)``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509

from lgwan_sim.errors import PkiError
from lgwan_sim.lgpki._crl_plan import CrlRecord
from lgwan_sim.lgpki._model import CertKind, IssuedCertificate

__all__ = ["AuditRecord", "CaRow", "CertState", "Store", "audit_hash"]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
GENESIS = "0" * 64

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ca (
    id TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    generation TEXT NOT NULL,
    subject TEXT NOT NULL,
    key_type TEXT NOT NULL,
    hash TEXT NOT NULL,
    spki_sha256 TEXT NOT NULL,
    status TEXT NOT NULL,
    cert_id INTEGER,
    next_crl_number INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    issuance_stopped_at TEXT
);
CREATE TABLE IF NOT EXISTS certificate (
    id INTEGER PRIMARY KEY,
    issuer_ca TEXT NOT NULL REFERENCES ca(id),
    serial TEXT NOT NULL,
    kind TEXT NOT NULL,
    profile TEXT NOT NULL,
    holder TEXT NOT NULL,
    subject_ca TEXT,
    generation TEXT NOT NULL,
    subject TEXT NOT NULL,
    spki_sha256 TEXT NOT NULL,
    not_before TEXT NOT NULL,
    not_after TEXT NOT NULL,
    der BLOB NOT NULL,
    key_ref TEXT,
    batch TEXT,
    status TEXT NOT NULL DEFAULT 'V',
    revoked_at TEXT,
    reason TEXT,
    issued_at TEXT NOT NULL,
    UNIQUE (issuer_ca, serial)
);
CREATE INDEX IF NOT EXISTS certificate_spki ON certificate(spki_sha256);
CREATE INDEX IF NOT EXISTS certificate_holder ON certificate(holder);
CREATE INDEX IF NOT EXISTS certificate_revoked ON certificate(issuer_ca, status);
CREATE TABLE IF NOT EXISTS crl (
    id INTEGER PRIMARY KEY,
    ca TEXT NOT NULL REFERENCES ca(id),
    scope TEXT NOT NULL,
    number INTEGER NOT NULL,
    base_number INTEGER,
    this_update TEXT NOT NULL,
    next_update TEXT NOT NULL,
    entries INTEGER NOT NULL,
    der BLOB NOT NULL,
    UNIQUE (ca, number)
);
CREATE TABLE IF NOT EXISTS blocked_key (
    spki_sha256 TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    blocked_at TEXT NOT NULL,
    certificate_id INTEGER
);
CREATE TABLE IF NOT EXISTS publication (
    id INTEGER PRIMARY KEY,
    what TEXT NOT NULL,
    ref TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    object TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditRecord:
    """One entry of the hash-chained audit log."""

    seq: int
    ts: str
    actor: str
    action: str
    object: str
    detail: str
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CaRow:
    """A CA as the store knows it, with the validity of its own certificate."""

    id: str
    role: str
    generation: str
    status: str
    issuance_stopped_at: datetime | None
    not_before: datetime | None
    not_after: datetime | None

    def halted(self, now: datetime) -> bool:
        """Whether issuance was stopped for this CA at or before ``now``."""
        return self.issuance_stopped_at is not None and self.issuance_stopped_at <= now


@dataclass(frozen=True, slots=True, kw_only=True)
class CertState:
    """The mutable part of a certificate row."""

    row_id: int
    status: str
    spki_sha256: str
    revoked_at: datetime | None
    reason: str | None


def _dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


_COLS = "id, issuer_ca, serial, kind, profile, holder, generation, der, key_ref, batch"
_CRL_COLS = "ca, scope, number, base_number, this_update, next_update, entries, der"


def _issued(row: tuple[Any, ...]) -> IssuedCertificate:
    rid, issuer, serial, kind, profile, holder, gen, der, key_ref, batch = row
    return IssuedCertificate(
        row_id=int(rid),
        issuer_ca=str(issuer),
        serial=int(str(serial), 16),
        kind=CertKind(str(kind)),
        profile=str(profile),
        holder=str(holder),
        generation=str(gen),
        certificate=x509.load_der_x509_certificate(der),
        key_ref=None if key_ref is None else str(key_ref),
        batch=None if batch is None else str(batch),
    )


def _crl_record(row: tuple[Any, ...]) -> CrlRecord:
    ca, scope, number, base, this_update, next_update, entries, der = row
    return CrlRecord(
        ca=ca,
        scope=scope,
        number=int(number),
        base_number=None if base is None else int(base),
        this_update=datetime.fromisoformat(this_update),
        next_update=datetime.fromisoformat(next_update),
        entries=int(entries),
        der=bytes(der),
    )


def audit_hash(
    prev_hash: str, seq: int, ts: str, actor: str, action: str, obj: str, detail: str
) -> str:
    body = json.dumps(
        [seq, ts, actor, action, obj, detail], ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


class Store:
    """A connection to ``pki.sqlite3`` plus the writer lock of the CA home."""

    def __init__(self, path: Path, *, lock_path: Path) -> None:
        self.path = path
        self.lock_path = lock_path
        self.db = sqlite3.connect(path, isolation_level=None, timeout=30.0)
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise PkiError(f"{path}: not a CA store ({exc})") from None
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self._lock_fd: int | None = None
        self._lock_depth = 0
        self._depth = 0
        self._last_hash: str | None = None
        self._last_seq = 0

    def close(self) -> None:
        self.db.close()

    def backup_to(self, path: Path) -> None:
        """Copy the database, WAL included, through SQLite's backup API."""
        copy = sqlite3.connect(path)
        try:
            self.db.backup(copy)
        finally:
            copy.close()

    def create_schema(self) -> None:
        with self.write():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self.db.execute(statement)
            self.db.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )

    def ensure_publication_table(self) -> None:
        """Add the publication journal to a store made before it existed (additive: older
        readers ignore it)."""
        found = self.db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'publication'"
        ).fetchone()
        if found is None:
            with self.write():
                self.db.execute(
                    "CREATE TABLE IF NOT EXISTS publication"
                    " (id INTEGER PRIMARY KEY, what TEXT NOT NULL, ref TEXT NOT NULL)"
                )

    def check_schema(self) -> None:
        """Refuse a store this version does not read: not a CA store, or another schema.

        A store written by a newer lgwan-sim may hold tables or meanings this one would
        silently misread, and an older one would need migrating; neither is opened.
        """
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise PkiError(f"{self.path}: not a CA store ({exc})") from None
        found = "missing" if row is None else str(row[0])
        if found != str(SCHEMA_VERSION):
            raise PkiError(
                f"{self.path}: schema_version is {found}, but this lgwan-sim reads only "
                f"version {SCHEMA_VERSION}"
            )

    # -- transactions ------------------------------------------------------------------------
    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the home's writer lock (``flock`` on ``lock``); re-entrant.

        Operations hold it across their commit *and* the publication that follows, so
        published files always reflect the newest committed state.
        """
        if self._lock_fd is not None:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        self._lock_fd = fd
        self._lock_depth = 1
        try:
            yield
        finally:
            self._lock_fd = None
            self._lock_depth = 0
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @contextmanager
    def try_locked(self) -> Iterator[bool]:
        """Hold the writer lock if no one else does (yield True), else yield False at once.

        A lock held by nobody while the journal lists pending publications means the writer
        that wrote them died: ``flock`` is released with its process.
        """
        if self._lock_fd is not None:
            with self.locked():
                yield True
            return
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            yield False
            return
        self._lock_fd = fd
        self._lock_depth = 1
        try:
            yield True
        finally:
            self._lock_fd = None
            self._lock_depth = 0
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One writer transaction under the lock: ``BEGIN IMMEDIATE`` ... ``COMMIT``.

        The commit is durable (WAL + synchronous FULL) when the block ends without error.
        Nested use joins the outer transaction.
        """
        if self._depth:
            self._depth += 1
            try:
                yield self.db
            finally:
                self._depth -= 1
            return
        with self.locked():
            self._depth = 1
            try:
                self.db.execute("BEGIN IMMEDIATE")
                self._last_hash = None
                try:
                    yield self.db
                except BaseException:
                    self.db.execute("ROLLBACK")
                    raise
                self.db.execute("COMMIT")
            finally:
                self._depth = 0
                self._last_hash = None

    def _require_tx(self) -> None:
        if not self._depth:
            raise PkiError("internal error: store write outside a transaction")

    # -- audit -------------------------------------------------------------------------------
    def audit(
        self, *, now: datetime, actor: str, action: str, obj: str, detail: Mapping[str, Any]
    ) -> None:
        """Append one record to the audit chain inside the current transaction."""
        self._require_tx()
        if self._last_hash is None:
            row = self.db.execute(
                "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            self._last_seq, self._last_hash = (0, GENESIS) if row is None else (row[0], row[1])
        seq = self._last_seq + 1
        ts = now.isoformat()
        text = json.dumps(dict(detail), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        digest = audit_hash(self._last_hash, seq, ts, actor, action, obj, text)
        self.db.execute(
            "INSERT INTO audit(seq, ts, actor, action, object, detail, prev_hash, hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, ts, actor, action, obj, text, self._last_hash, digest),
        )
        self._last_seq, self._last_hash = seq, digest

    def audit_records(self) -> list[AuditRecord]:
        rows = self.db.execute(
            "SELECT seq, ts, actor, action, object, detail, prev_hash, hash FROM audit ORDER BY seq"
        ).fetchall()
        return [
            AuditRecord(
                seq=r[0],
                ts=r[1],
                actor=r[2],
                action=r[3],
                object=r[4],
                detail=r[5],
                prev_hash=r[6],
                hash=r[7],
            )
            for r in rows
        ]

    def verify_audit_chain(self) -> list[str]:
        """Recompute the chain; return the problems found (empty when intact)."""
        problems: list[str] = []
        prev = GENESIS
        expected_seq = 1
        for rec in self.audit_records():
            if rec.seq != expected_seq:
                problems.append(f"audit: sequence gap before record {rec.seq}")
            if rec.prev_hash != prev:
                problems.append(f"audit: record {rec.seq} does not link to its predecessor")
            digest = audit_hash(
                rec.prev_hash, rec.seq, rec.ts, rec.actor, rec.action, rec.object, rec.detail
            )
            if digest != rec.hash:
                problems.append(f"audit: record {rec.seq} was altered (hash mismatch)")
            prev = rec.hash
            expected_seq = rec.seq + 1
        return problems

    # -- meta --------------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    # -- CAs -------------------------------------------------------------------------------
    def generations(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT DISTINCT generation FROM ca")}

    def ca_ids(self, *, by_id: bool = False) -> list[str]:
        """CA ids in set-up order (or sorted by id)."""
        order = "id" if by_id else "rowid"
        return [r[0] for r in self.db.execute(f"SELECT id FROM ca ORDER BY {order}")]

    def ca_rows(self, ca_id: str | None = None) -> list[CaRow]:
        sql = (
            "SELECT ca.id, ca.role, ca.generation, ca.status, ca.issuance_stopped_at,"
            " c.not_before, c.not_after FROM ca LEFT JOIN certificate c ON c.id = ca.cert_id"
        )
        rows = (
            self.db.execute(sql + " WHERE ca.id = ?", (ca_id,))
            if ca_id is not None
            else self.db.execute(sql + " ORDER BY ca.rowid")
        )
        return [
            CaRow(
                id=r[0],
                role=r[1],
                generation=r[2],
                status=r[3],
                issuance_stopped_at=_dt(r[4]),
                not_before=_dt(r[5]),
                not_after=_dt(r[6]),
            )
            for r in rows
        ]

    def ca_row(self, ca_id: str) -> CaRow | None:
        rows = self.ca_rows(ca_id)
        return rows[0] if rows and rows[0].not_after is not None else None

    def insert_ca(
        self,
        *,
        ca_id: str,
        role: str,
        generation: str,
        subject: str,
        key_type: str,
        hash_name: str,
        spki: str,
        now: datetime,
    ) -> None:
        self._require_tx()
        self.db.execute(
            "INSERT INTO ca(id, role, generation, subject, key_type, hash, spki_sha256,"
            " status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?)",
            (ca_id, role, generation, subject, key_type, hash_name, spki, now.isoformat()),
        )

    def set_ca_certificate(self, ca_id: str, row_id: int) -> None:
        self._require_tx()
        self.db.execute("UPDATE ca SET cert_id = ? WHERE id = ?", (row_id, ca_id))

    def stop_issuance(self, generation: str, now: datetime) -> int:
        self._require_tx()
        return self.db.execute(
            "UPDATE ca SET issuance_stopped_at = ? WHERE generation = ?"
            " AND issuance_stopped_at IS NULL",
            (now.isoformat(), generation),
        ).rowcount

    def set_generation_status(self, generation: str, status: str) -> None:
        self._require_tx()
        self.db.execute("UPDATE ca SET status = ? WHERE generation = ?", (status, generation))

    def counts(self, ca_id: str) -> tuple[int, int]:
        """Certificates issued by ``ca_id`` and how many of them are revoked."""
        issued, revoked = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(status = 'R'), 0) FROM certificate WHERE issuer_ca = ?",
            (ca_id,),
        ).fetchone()
        return int(issued), int(revoked)

    # -- certificates ------------------------------------------------------------------------
    def insert_certificate(
        self,
        *,
        cert: x509.Certificate,
        der: bytes,
        issuer_ca: str,
        kind: CertKind,
        profile: str,
        holder: str,
        subject_ca: str | None,
        generation: str,
        spki: str,
        key_ref: str | None,
        batch: str | None,
        now: datetime,
        actor: str,
    ) -> int:
        """Record one certificate and its ``issue`` audit entry; return its row id."""
        self._require_tx()
        serial = f"{cert.serial_number:x}"
        cur = self.db.execute(
            "INSERT INTO certificate(issuer_ca, serial, kind, profile, holder, subject_ca,"
            " generation, subject, spki_sha256, not_before, not_after, der, key_ref, issued_at,"
            " batch) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                issuer_ca,
                serial,
                kind.value,
                profile,
                holder,
                subject_ca,
                generation,
                cert.subject.rfc4514_string(),
                spki,
                cert.not_valid_before_utc.isoformat(),
                cert.not_valid_after_utc.isoformat(),
                der,
                key_ref,
                now.isoformat(),
                batch,
            ),
        )
        self.audit(
            now=now,
            actor=actor,
            action="issue",
            obj=f"{issuer_ca}/{serial}",
            detail={
                "kind": kind.value,
                "profile": profile,
                "holder": holder,
                "spki_sha256": spki,
                "sha256": hashlib.sha256(der).hexdigest(),
            },
        )
        row_id = cur.lastrowid
        assert row_id is not None
        return row_id

    def certificates(
        self,
        *,
        holder: str | None = None,
        status: str | None = None,
        kind: CertKind | None = None,
        issuer_ca: str | None = None,
        serial: int | None = None,
        row_id: int | None = None,
        batch: str | None = None,
    ) -> list[IssuedCertificate]:
        """Certificates in issuance order, filtered by any of the given columns."""
        sql = f"SELECT {_COLS} FROM certificate WHERE 1=1"
        args: list[object] = []
        filters = (
            ("holder", holder),
            ("status", status),
            ("kind", None if kind is None else kind.value),
            ("issuer_ca", issuer_ca),
            ("serial", None if serial is None else f"{serial:x}"),
            ("id", row_id),
            ("batch", batch),
        )
        for column, value in filters:
            if value is not None:
                sql += f" AND {column} = ?"
                args.append(value)
        return [_issued(r) for r in self.db.execute(sql + " ORDER BY id", args)]

    def state(self, row_id: int) -> CertState:
        r = self.db.execute(
            "SELECT id, status, spki_sha256, revoked_at, reason FROM certificate WHERE id = ?",
            (row_id,),
        ).fetchone()
        return CertState(
            row_id=r[0], status=r[1], spki_sha256=r[2], revoked_at=_dt(r[3]), reason=r[4]
        )

    def states(self, holder: str, kind: CertKind) -> dict[int, CertState]:
        rows = self.db.execute(
            "SELECT id, status, spki_sha256, revoked_at, reason FROM certificate"
            " WHERE holder = ? AND kind = ?",
            (holder, kind.value),
        )
        return {
            r[0]: CertState(
                row_id=r[0], status=r[1], spki_sha256=r[2], revoked_at=_dt(r[3]), reason=r[4]
            )
            for r in rows
        }

    def valid_holders(self, issuer_ca: str, profile: str, now: datetime) -> set[str]:
        """Holders of an unrevoked certificate of ``profile`` from ``issuer_ca`` in date at
        ``now``."""
        iso = now.isoformat()
        return {
            r[0]
            for r in self.db.execute(
                "SELECT holder FROM certificate WHERE issuer_ca = ? AND profile = ?"
                " AND kind = 'ee' AND status = 'V' AND not_before <= ? AND not_after > ?",
                (issuer_ca, profile, iso, iso),
            )
        }

    def valid_ee_holders(self, now: datetime) -> list[tuple[str, str]]:
        """(generation, holder) of every end-entity certificate unrevoked and in date."""
        iso = now.isoformat()
        return self.db.execute(
            "SELECT generation, holder FROM certificate WHERE kind = 'ee' AND status = 'V'"
            " AND not_before <= ? AND not_after > ?",
            (iso, iso),
        ).fetchall()

    def ca_edges(self) -> list[tuple[str, str, bytes]]:
        """(issuer, subject CA, DER) of every certificate issued to a CA by another."""
        return self.db.execute(
            "SELECT issuer_ca, subject_ca, der FROM certificate"
            " WHERE kind IN ('sub_ca', 'cross', 'link') ORDER BY id"
        ).fetchall()

    def self_signed(self, ca_id: str) -> bytes | None:
        row = self.db.execute(
            "SELECT der FROM certificate WHERE holder = ? AND kind = 'self' ORDER BY id DESC LIMIT 1",
            (ca_id,),
        ).fetchone()
        return None if row is None else bytes(row[0])

    def own_certificates(self) -> dict[str, bytes]:
        """Each CA's own certificate (self-signed or from its parent), by CA id."""
        return {
            r[0]: bytes(r[1])
            for r in self.db.execute(
                "SELECT ca.id, c.der FROM ca JOIN certificate c ON c.id = ca.cert_id"
            )
        }

    def valid_into_generation(self, generation: str) -> list[tuple[str, int]]:
        """(issuer, serial) of valid certificates other generations issued to its CAs."""
        return [
            (r[0], int(r[1], 16))
            for r in self.db.execute(
                "SELECT c.issuer_ca, c.serial FROM certificate c JOIN ca s ON s.id = c.subject_ca"
                " WHERE s.generation = ? AND c.generation != ? AND c.status = 'V'",
                (generation, generation),
            )
        ]

    def key_refs(self) -> set[str]:
        return {
            r[0]
            for r in self.db.execute(
                "SELECT DISTINCT key_ref FROM certificate WHERE key_ref IS NOT NULL"
            )
        }

    # -- revocation ---------------------------------------------------------------------------
    def blocked(self, spkis: Iterable[str]) -> set[str]:
        wanted = list(set(spkis))
        found: set[str] = set()
        for i in range(0, len(wanted), 500):
            part = wanted[i : i + 500]
            marks = ",".join("?" * len(part))
            found.update(
                r[0]
                for r in self.db.execute(
                    f"SELECT spki_sha256 FROM blocked_key WHERE spki_sha256 IN ({marks})", part
                )
            )
        return found

    def block_key(self, spki: str, *, reason: str, now: datetime, row_id: int) -> None:
        self._require_tx()
        self.db.execute(
            "INSERT OR IGNORE INTO blocked_key(spki_sha256, reason, blocked_at, certificate_id)"
            " VALUES (?, ?, ?, ?)",
            (spki, reason, now.isoformat(), row_id),
        )

    def valid_with_key(self, spki: str) -> list[int]:
        return [
            r[0]
            for r in self.db.execute(
                "SELECT id FROM certificate WHERE spki_sha256 = ? AND status = 'V' ORDER BY id",
                (spki,),
            )
        ]

    def mark_revoked(self, row_id: int, *, now: datetime, reason: str) -> None:
        self._require_tx()
        self.db.execute(
            "UPDATE certificate SET status = 'R', revoked_at = ?, reason = ? WHERE id = ?",
            (now.isoformat(), reason, row_id),
        )

    def revoked(self, ca_id: str, *, ca_certificates: bool) -> list[tuple[int, str, str | None]]:
        """(serial, revocation date, reason) of the revoked certificates ``ca_id`` issued to
        end entities (or to CAs), in revocation order."""
        op = "!=" if ca_certificates else "="
        return [
            (int(s, 16), at, r)
            for s, at, r in self.db.execute(
                "SELECT serial, revoked_at, reason FROM certificate"
                f" WHERE issuer_ca = ? AND status = 'R' AND kind {op} 'ee' ORDER BY id",
                (ca_id,),
            )
        ]

    # -- CRL history ----------------------------------------------------------------------------
    def take_crl_numbers(self, ca_id: str, count: int) -> int:
        """Reserve ``count`` numbers of ``ca_id``'s one sequence (CRL, ARL, delta); the first."""
        self._require_tx()
        number = int(
            self.db.execute("SELECT next_crl_number FROM ca WHERE id = ?", (ca_id,)).fetchone()[0]
        )
        self.db.execute("UPDATE ca SET next_crl_number = ? WHERE id = ?", (number + count, ca_id))
        return number

    def insert_crl(self, record: CrlRecord) -> None:
        self._require_tx()
        self.db.execute(
            f"INSERT INTO crl({_CRL_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.ca,
                record.scope,
                record.number,
                record.base_number,
                record.this_update.isoformat(),
                record.next_update.isoformat(),
                record.entries,
                record.der,
            ),
        )

    def crl_records(self, ca_id: str | None = None) -> list[CrlRecord]:
        """Every list issued (by ``ca_id``), in number order: the CRL history."""
        sql = f"SELECT {_CRL_COLS} FROM crl"
        rows = (
            self.db.execute(sql + " WHERE ca = ? ORDER BY number", (ca_id,))
            if ca_id is not None
            else self.db.execute(sql + " ORDER BY ca, number")
        )
        return [_crl_record(r) for r in rows]

    def latest_crl(self, ca_id: str, scope: str) -> CrlRecord | None:
        row = self.db.execute(
            f"SELECT {_CRL_COLS} FROM crl WHERE ca = ? AND scope = ? ORDER BY number DESC LIMIT 1",
            (ca_id, scope),
        ).fetchone()
        return None if row is None else _crl_record(row)

    def latest_crls_of(self, ca_id: str) -> CrlRecord | None:
        """The list ``ca_id`` issued last, of any scope (numbers grow with dates)."""
        row = self.db.execute(
            f"SELECT {_CRL_COLS} FROM crl WHERE ca = ? ORDER BY number DESC LIMIT 1", (ca_id,)
        ).fetchone()
        return None if row is None else _crl_record(row)

    def latest_crls(self) -> list[CrlRecord]:
        """The newest CRL, ARL and delta CRL of every CA."""
        rows = self.db.execute(
            f"SELECT {_CRL_COLS} FROM crl c WHERE number = (SELECT MAX(number) FROM crl d"
            " WHERE d.ca = c.ca AND d.scope = c.scope) ORDER BY ca, scope"
        )
        return [_crl_record(r) for r in rows]

    # -- publication journal ----------------------------------------------------------------------
    def journal(self, what: str, ref: str) -> int:
        """Note, in the transaction that commits them, rows still to be published."""
        self._require_tx()
        cur = self.db.execute("INSERT INTO publication(what, ref) VALUES (?, ?)", (what, ref))
        assert cur.lastrowid is not None
        return cur.lastrowid

    def pending(self) -> list[tuple[int, str, str]]:
        """Publications committed but not known to be done: (id, what, ref)."""
        return self.db.execute("SELECT id, what, ref FROM publication ORDER BY id").fetchall()

    def published(self, ids: Iterable[int]) -> None:
        """Strike publications off the journal once their files are in place."""
        ids = list(ids)
        if ids:
            with self.write():
                marks = ",".join("?" * len(ids))
                self.db.execute(f"DELETE FROM publication WHERE id IN ({marks})", ids)

    # -- integrity ----------------------------------------------------------------------------------
    def integrity_problems(self) -> list[str]:
        """SQLite's own check, the audit chain, unique serials, an audit record per row."""
        problems: list[str] = []
        result = self.db.execute("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            problems.append(f"sqlite: {result}")
        problems += self.verify_audit_chain()
        for issuer, serial, n in self.db.execute(
            "SELECT issuer_ca, serial, COUNT(*) FROM certificate GROUP BY issuer_ca, serial"
            " HAVING COUNT(*) > 1"
        ):
            problems.append(f"serial {serial} of {issuer} appears {n} times")
        audited = {r[0] for r in self.db.execute("SELECT object FROM audit WHERE action = 'issue'")}
        for issuer, serial in self.db.execute("SELECT issuer_ca, serial FROM certificate"):
            if f"{issuer}/{serial}" not in audited:
                problems.append(f"certificate {issuer}/{serial} has no audit record")
        return problems

    def certificate_ders(self) -> dict[tuple[str, str], bytes]:
        """Every certificate's DER by (issuer, serial in hex)."""
        return {
            (r[0], r[1]): bytes(r[2])
            for r in self.db.execute("SELECT issuer_ca, serial, der FROM certificate")
        }

    def batches(self) -> dict[tuple[str, str], dict[str, bytes]]:
        """End-entity certificates by (issuer, batch), then serial in hex."""
        out: dict[tuple[str, str], dict[str, bytes]] = {}
        for issuer, batch, serial, der in self.db.execute(
            "SELECT issuer_ca, batch, serial, der FROM certificate WHERE batch IS NOT NULL"
        ):
            out.setdefault((issuer, batch), {})[serial] = bytes(der)
        return out

    def audit_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM audit").fetchone()[0])
