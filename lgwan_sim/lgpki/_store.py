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
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from lgwan_sim.errors import PkiError

__all__ = ["AuditRecord", "Store", "audit_hash"]

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

    def create_schema(self) -> None:
        with self.write():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self.db.execute(statement)
            self.db.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
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
