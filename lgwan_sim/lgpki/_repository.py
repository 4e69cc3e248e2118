"""The published repository (``<home>/repo``): what relying parties read, written from the store.

::

    repo/
      anchors/<ca>.pem     self-signed CA certificates
      bundles/<ca>.pem     forward-only intermediates towards that anchor
      certs/<issuer>/<serial>.pem       CA, cross and link certificates
      issued/<issuer>/<batch>.pem       end-entity certificates, one file per batch
      crl/<ca>.crl  arl/<ca>.arl  delta/<ca>.crl    (PEM)

Every file is written atomically and only after the rows it shows are committed. The store
journals each publication in the transaction that commits its rows and strikes it off once
the files are in place, so a writer killed in between leaves a note :meth:`Repository.recover`
finishes from.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from lgwan_sim._files import TMP_PREFIX, atomic_write_many
from lgwan_sim.lgpki._crl_plan import CrlHistory, CrlRecord
from lgwan_sim.lgpki._hierarchy import forward_bundle
from lgwan_sim.lgpki._model import CertKind, Hierarchy, IssuedCertificate
from lgwan_sim.lgpki._store import Store

__all__ = ["CrlInfo", "IntegrityReport", "Recovery", "Repository"]

log = logging.getLogger(__name__)

#: Folder and suffix of each kind of list.
LIST_FILES = {"crl": ("crl", "crl"), "arl": ("arl", "arl"), "delta": ("delta", "crl")}


@dataclass(frozen=True, slots=True, kw_only=True)
class CrlInfo:
    """A published CRL, ARL or delta CRL."""

    ca: str
    scope: str
    number: int
    entries: int
    this_update: datetime
    next_update: datetime
    path: Path
    crl: x509.CertificateRevocationList = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class IntegrityReport:
    """The result of ``Pki.check_integrity``; ``ok`` when ``problems`` is empty."""

    problems: tuple[str, ...]
    certificates: int
    published_files: int
    unpublished: int
    audit_records: int
    stale_temp_files: int

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True, kw_only=True)
class Recovery:
    """What opening a store did about a publication its writer did not finish."""

    publications: int
    certificates: int
    lists: int
    temp_files: int
    orphan_keys: int

    def describe(self) -> str:
        """One line for the operator."""

        def n(count: int, what: str) -> str:
            return f"{count} {what}{'' if count == 1 else 's'}"

        line = (
            f"recovered after a crash: republished {n(self.certificates, 'certificate')} and"
            f" {n(self.lists, 'list')} ({n(self.publications, 'unfinished publication')}),"
            f" removed {n(self.temp_files, 'temporary file')}"
        )
        if self.orphan_keys:
            line += f" and {n(self.orphan_keys, 'key file')} of issuances never committed"
        return line


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.PEM)


class Repository:
    """The files of ``<home>/repo``, written from and checked against ``store``."""

    def __init__(self, home: Path, store: Store, hierarchy: Hierarchy) -> None:
        self.home = home
        self.root = home / "repo"
        self.store = store
        self.hierarchy = hierarchy

    # -- where things go ---------------------------------------------------------------------
    def cert_path(self, issuer_ca: str, serial: int) -> Path:
        return self.root / "certs" / issuer_ca / f"{serial:x}.pem"

    def list_path(self, ca_id: str, scope: str) -> Path:
        folder, suffix = LIST_FILES[scope]
        return self.root / folder / f"{ca_id}.{suffix}"

    def batch_path(self, issuer_ca: str, batch: str) -> Path:
        return self.root / "issued" / issuer_ca / f"{batch}.pem"

    def published_path(self, cert: IssuedCertificate) -> Path:
        if cert.kind is CertKind.EE and cert.batch is not None:
            return self.batch_path(cert.issuer_ca, cert.batch)
        return self.cert_path(cert.issuer_ca, cert.serial)

    def _rel(self, path: Path) -> str:
        return str(path.relative_to(self.home))

    # -- publication -------------------------------------------------------------------------
    def publish_certs(self, issued: Sequence[IssuedCertificate]) -> int:
        """CA certificates one file each; end-entity certificates one file per batch.

        A batch file costs one fsync instead of one per certificate: a national issuance
        publishes a handful of files rather than 1,800.
        """
        items: list[tuple[Path, bytes]] = []
        batches: dict[tuple[str, str], list[bytes]] = {}
        for c in issued:
            if c.kind is CertKind.EE and c.batch is not None:
                batches.setdefault((c.issuer_ca, c.batch), []).append(_pem(c.certificate))
            else:
                items.append((self.cert_path(c.issuer_ca, c.serial), _pem(c.certificate)))
        items += [(self.batch_path(i, b), b"".join(pems)) for (i, b), pems in batches.items()]
        atomic_write_many(items)
        return len(issued)

    def anchor_der(self, ca_id: str) -> bytes | None:
        return self.store.self_signed(ca_id)

    def bundle_ders(self, anchor_ca: str) -> list[bytes]:
        return forward_bundle(anchor_ca, self.store.ca_edges())

    def publish_trust(self) -> None:
        """Every self-signed CA's anchor file and forward bundle."""
        items: list[tuple[Path, bytes]] = []
        edges = self.store.ca_edges()
        for ca_id in self.store.ca_ids():
            der = self.store.self_signed(ca_id)
            if der is None or not self.hierarchy.ca(ca_id).self_signed:
                continue
            items.append((self.root / "anchors" / f"{ca_id}.pem", _pem_der(der)))
            bundle = b"".join(_pem_der(d) for d in forward_bundle(ca_id, edges))
            items.append((self.root / "bundles" / f"{ca_id}.pem", bundle))
        atomic_write_many(items)

    def publish_lists(self, records: Iterable[CrlRecord]) -> int:
        items = [
            (
                self.list_path(r.ca, r.scope),
                x509.load_der_x509_crl(r.der).public_bytes(Encoding.PEM),
            )
            for r in records
        ]
        return atomic_write_many(items)

    def republish(self) -> int:
        """Rewrite every published file from the store; return the certificates and lists."""
        certs = self.store.certificates()
        self.publish_certs(certs)
        self.publish_trust()
        return len(certs) + self.publish_lists(self.store.latest_crls())

    # -- recovery ------------------------------------------------------------------------------
    def temp_files(self) -> list[Path]:
        return sorted(self.home.rglob(f"{TMP_PREFIX}*"))

    def finish_pending(self) -> tuple[int, int, int]:
        """Publish what the journal says is committed but unpublished, then strike it off;
        (publications, certificates, lists). Call under the writer lock."""
        pending = self.store.pending()
        certs = lists = 0
        for _, what, ref in pending:
            if what == "batch":
                certs += self.publish_certs(self.store.certificates(batch=ref))
            elif what == "generation":
                issued = [c for c in self.store.certificates() if c.kind.is_ca]
                certs += self.publish_certs([c for c in issued if c.generation == ref])
                self.publish_trust()
                lists += self.publish_lists(self.store.latest_crls())
            else:  # "lists": the newest of every kind of the CAs named
                wanted = set(ref.split(","))
                lists += self.publish_lists(r for r in self.store.latest_crls() if r.ca in wanted)
        self.store.published(p[0] for p in pending)
        return len(pending), certs, lists

    # -- checks --------------------------------------------------------------------------------
    def list_files(self) -> list[tuple[Path, str]]:
        """Every list file in the repository, with the kind its folder holds."""
        out: list[tuple[Path, str]] = []
        for scope, (folder, _) in LIST_FILES.items():
            for path in sorted((self.root / folder).glob("*")):
                if path.is_file() and not path.name.startswith(TMP_PREFIX):
                    out.append((path, scope))
        return out

    def judge_lists(self, history: CrlHistory) -> list[str]:
        """Each list file the store's history refuses (unreadable, forged, never issued,
        rolled back, misplaced), and each newest list that is missing: one line each."""
        problems: list[str] = []
        found: set[tuple[str, str]] = set()
        for path, scope in self.list_files():
            verdict = history.judge(path.read_bytes(), scope=scope)
            if verdict.ok and verdict.record is not None:
                found.add((verdict.record.ca, verdict.record.scope))
            else:
                problems.append(f"{self._rel(path)}: refused: {verdict.problem}")
        for record in history.newest_lists():
            if (record.ca, record.scope) not in found:
                path = self.list_path(record.ca, record.scope)
                problems.append(
                    f"{self._rel(path)}: the newest list #{record.number} of {record.ca}"
                    " is not published"
                )
        return problems

    def check(self, history: CrlHistory) -> IntegrityReport:
        """The store's own checks, then every published file against its row."""
        problems = self.store.integrity_problems()
        rows = self.store.certificate_ders()
        all_der = set(rows.values())
        published = 0
        seen: set[tuple[str, str]] = set()
        for path in sorted((self.root / "certs").glob("*/*.pem")):
            published += 1
            key = (path.parent.name, path.stem)
            seen.add(key)
            try:
                der = x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(Encoding.DER)
            except ValueError:
                problems.append(f"published file {self._rel(path)} is not a certificate")
                continue
            if rows.get(key) != der:
                problems.append(f"published certificate {self._rel(path)} has no matching row")
        by_batch = self.store.batches()
        for path in sorted((self.root / "issued").glob("*/*.pem")):
            published += 1
            members = by_batch.get((path.parent.name, path.stem), {})
            try:
                certs = x509.load_pem_x509_certificates(path.read_bytes())
            except ValueError:
                problems.append(f"published file {self._rel(path)} is unreadable")
                continue
            for cert in certs:
                serial = f"{cert.serial_number:x}"
                if members.get(serial) != cert.public_bytes(Encoding.DER):
                    problems.append(
                        f"{self._rel(path)} holds certificate {serial} with no matching row"
                    )
                else:
                    seen.add((path.parent.name, serial))
        for folder in ("anchors", "bundles"):
            for path in sorted((self.root / folder).glob("*.pem")):
                published += 1
                data = path.read_bytes()
                try:
                    listed = x509.load_pem_x509_certificates(data) if data.strip() else []
                except ValueError:
                    problems.append(f"published file {self._rel(path)} is unreadable")
                    continue
                if any(c.public_bytes(Encoding.DER) not in all_der for c in listed):
                    problems.append(f"{self._rel(path)} holds a certificate with no row")
        for path, _ in self.list_files():
            published += 1
            try:
                x509.load_pem_x509_crl(path.read_bytes())
            except ValueError:
                problems.append(f"published file {self._rel(path)} is unreadable")
        problems += self.judge_lists(history)
        unpublished = len(set(rows) - seen)
        if unpublished:
            problems.append(
                f"{unpublished} committed certificates are not published"
                " (`pki republish` writes them)"
            )
        stale = len(self.temp_files())
        if stale:
            problems.append(f"{stale} temporary files left by an interrupted writer")
        return IntegrityReport(
            problems=tuple(problems),
            certificates=len(rows),
            published_files=published,
            unpublished=unpublished,
            audit_records=self.store.audit_count(),
            stale_temp_files=stale,
        )


def _pem_der(der: bytes) -> bytes:
    return _pem(x509.load_der_x509_certificate(der))
