"""The certification authority: hierarchy set-up, issuance, revocation, CRLs, renewal.

One :class:`Pki` object owns one CA home folder::

    home/
      pki.sqlite3            the single source of truth (WAL, synchronous=FULL)
      lock                   flock: one writer at a time
      config/                the hierarchy, profiles and migration plan it was created with
      keys/                  private keys, AES-256-GCM encrypted, mode 0600
      repo/                  the published repository (see ``_repository``)

Every operation follows the same order: build and sign in memory, write new private keys to
the vault, record rows plus audit entries (and a note of what to publish) in one transaction
and commit, then publish files and strike the note off. Nothing is returned or published
before the commit; opening a store finishes a publication a crash cut short.

The façade decides policy; SQL lives in ``_store``, the generation's certificates in
``_hierarchy``, the lists' contents in ``_crl_plan``, the files in ``_repository``.
"""

from __future__ import annotations

import functools
import logging
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from lgwan_sim._files import atomic_write, remove_stale_tmp
from lgwan_sim.errors import PkiError
from lgwan_sim.lgpki._build import ca_name
from lgwan_sim.lgpki._config import load_hierarchy, load_migration_plan
from lgwan_sim.lgpki._crl_plan import REVOCATION_REASONS, CrlHistory
from lgwan_sim.lgpki._crypto import PrivateKey, PublicKey, generate_key, key_type_of, spki_sha256
from lgwan_sim.lgpki._hierarchy import (
    build_generation,
    generation_order,
    issuing_order,
    partners_missing,
)
from lgwan_sim.lgpki._issuance import ACTOR, Issuance, Signers, explain_holder
from lgwan_sim.lgpki._migration_plan import MigrationPlan
from lgwan_sim.lgpki._model import (
    CertKind,
    Hierarchy,
    IssuedCertificate,
    KeyType,
    SiteLike,
    require_utc,
)
from lgwan_sim.lgpki._repository import CrlInfo, IntegrityReport, Recovery, Repository
from lgwan_sim.lgpki._revoking import Revocation
from lgwan_sim.lgpki._store import Store
from lgwan_sim.lgpki._vault import KeyVault

__all__ = ["REVOCATION_REASONS", "CaStatus", "CrlInfo", "IntegrityReport", "Pki", "Recovery"]

log = logging.getLogger(__name__)

_CONFIG_FILES = ("hierarchy.yaml", "profiles.yaml", "migration.yaml")


@dataclass(frozen=True, slots=True, kw_only=True)
class CaStatus:
    """One line of ``pki status``."""

    ca: str
    generation: str
    role: str
    status: str
    issuance_stopped: bool
    issued: int
    revoked: int
    last_crl_number: int | None
    crl_next_update: datetime | None


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _under_lock(method: Callable[Concatenate[Pki, _P], _R]) -> Callable[Concatenate[Pki, _P], _R]:
    """Run ``method`` holding the home's writer lock: its commit and its publication."""

    def wrapper(self: Pki, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self.store.locked():
            return method(self, *args, **kwargs)

    return functools.update_wrapper(wrapper, method)  # type: ignore[return-value]


def _spki(cert: x509.Certificate) -> str:
    pub = cert.public_key()
    assert isinstance(pub, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
    return spki_sha256(pub)


class Pki:
    """The simulated LGPKI certification authorities living in one home folder.

    Create with :meth:`create` or open with :meth:`open`; use as a context manager.
    Every method that changes state takes ``now`` (timezone-aware UTC).
    """

    def __init__(
        self,
        home: Path,
        *,
        store: Store,
        vault: KeyVault,
        hierarchy: Hierarchy,
        plan: MigrationPlan,
    ) -> None:
        self.home = home
        self.store = store
        self.vault = vault
        self.hierarchy = hierarchy
        self.plan = plan
        self.repo = home / "repo"
        self.repository = Repository(home, store, hierarchy)
        self.recovery: Recovery | None = None
        """What :meth:`open` finished or undid after a crash (None: nothing to do)."""
        self.signers = Signers(store, vault, hierarchy, plan)
        self.revocation = Revocation(
            store=store, hierarchy=hierarchy, signers=self.signers, repository=self.repository
        )
        self.issuance = Issuance(
            store=store,
            vault=vault,
            hierarchy=hierarchy,
            plan=plan,
            signers=self.signers,
            repository=self.repository,
            revoke=self.revocation.revoke,
        )

    # -- life cycle ----------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        home: str | Path,
        *,
        passphrase: bytes,
        now: datetime,
        generations: Sequence[str] | None = None,
        pki_dir: str | Path | None = None,
        migration: str | Path | None = None,
        scrypt_n: int = 2**15,
    ) -> Pki:
        """Initialise a new CA home and stand up the given generations (default: all).

        ``pki_dir`` holds ``hierarchy.yaml``, ``profiles.yaml`` and ``migration.yaml`` (the
        bundled ones by default); ``migration`` names another migration plan file to use.
        """
        require_utc(now)
        home = Path(home)
        if (home / "pki.sqlite3").exists():
            raise PkiError(f"{home} already holds a CA store; refusing to initialise it again")
        from lgwan_sim.lgpki._config import default_pki_dir

        source = default_pki_dir() if pki_dir is None else Path(pki_dir)
        hierarchy = load_hierarchy(source)
        plan_file = source / "migration.yaml" if migration is None else Path(migration)
        plan = load_migration_plan(plan_file)
        unknown = [g for g in generations or () if g not in hierarchy.generations]
        if unknown:  # before anything is written: a typo must not leave a half-made home
            raise PkiError(
                f"unknown generation {unknown[0]!r}; known: {', '.join(hierarchy.generations)}"
            )
        home.mkdir(parents=True, exist_ok=True)
        for name in _CONFIG_FILES:
            origin = plan_file if name == "migration.yaml" else source / name
            atomic_write(home / "config" / name, origin.read_bytes())
        vault = KeyVault.create(home / "keys", passphrase, scrypt_n=scrypt_n)
        store = Store(home / "pki.sqlite3", lock_path=home / "lock")
        store.create_schema()
        pki = cls(home, store=store, vault=vault, hierarchy=hierarchy, plan=plan)
        with store.write():
            store.audit(
                now=now, actor=ACTOR, action="init", obj=home.name, detail={"source": "pki"}
            )
        wanted = list(hierarchy.generations) if generations is None else list(generations)
        for gen in generation_order(hierarchy, wanted, store.generations()):
            pki.add_generation(gen, now=now)
        return pki

    @classmethod
    def open(cls, home: str | Path, *, passphrase: bytes) -> Pki:
        """Open an existing CA home, first finishing or undoing what a crashed writer left
        half done (see :meth:`recover`; the result is in :attr:`recovery`)."""
        home = Path(home)
        if not (home / "pki.sqlite3").exists():
            raise PkiError(f"{home} holds no CA store (run `lgwan-sim pki init` first)")
        hierarchy = load_hierarchy(home / "config")
        plan = load_migration_plan(home / "config" / "migration.yaml")
        store = Store(home / "pki.sqlite3", lock_path=home / "lock")
        try:
            store.check_schema()
            vault = KeyVault(home / "keys", passphrase)
            store.ensure_publication_table()
        except PkiError:
            store.close()
            raise
        pki = cls(home, store=store, vault=vault, hierarchy=hierarchy, plan=plan)
        pki.recovery = pki.recover()
        return pki

    def recover(self) -> Recovery | None:
        """Finish publications that were committed but not published (the journal says which),
        remove temporary files and key files of issuances that never committed.

        Runs only if no other writer holds the lock: a live writer's work is not half done.
        """
        with self.store.try_locked() as held:
            if not held:
                return None
            pending = self.store.pending()
            temps = self.repository.temp_files()
            if not pending and not temps and not self._orphan_keys_possible():
                return None
            publications, certs, lists = self.repository.finish_pending()
            removed = remove_stale_tmp(self.home)
            orphans = self.vault.remove_orphans(self.store.key_refs())
        if not (publications or removed or orphans):
            return None
        recovery = Recovery(
            publications=publications,
            certificates=certs,
            lists=lists,
            temp_files=removed,
            orphan_keys=orphans,
        )
        log.warning("%s: %s", self.home, recovery.describe())
        return recovery

    def _orphan_keys_possible(self) -> bool:
        files = sum(1 for _ in (self.vault.root / "ee").glob("*.keys"))
        return files > len(self.store.key_refs())

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Pki:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- signers -------------------------------------------------------------------------------
    # -- hierarchy -----------------------------------------------------------------------------
    @_under_lock
    def add_generation(self, generation: str, *, now: datetime) -> list[IssuedCertificate]:
        """Stand up the CAs of ``generation`` with their cross and link certificates.

        This is 新局立ち上げ: new CAs with new names and keys. Returns the CA certificates made.
        """
        require_utc(now)
        h = self.hierarchy
        if generation not in h.generations:
            raise PkiError(f"unknown generation {generation!r}")
        if generation in self.store.generations():
            raise PkiError(f"generation {generation} is already set up")
        gspec = h.generations[generation]
        ordered = issuing_order(h, generation)
        missing = partners_missing(h, generation, set(self.store.ca_ids()))
        if missing is not None:
            raise PkiError(missing)
        keys = {spec.id: generate_key(gspec.ca_key) for spec in ordered}
        for spec in ordered:
            orphan = self.home / "keys" / "ca" / f"{spec.id}.key"
            if orphan.exists():  # left by a crash before the commit below
                orphan.unlink()
            self.vault.put_ca_key(spec.id, keys[spec.id])
        built = build_generation(h, generation, keys=keys, now=now, signer_of=self.signers.get)
        issued: list[IssuedCertificate] = []
        with self.store.write():
            for spec in ordered:
                key = keys[spec.id]
                self.store.insert_ca(
                    ca_id=spec.id,
                    role=spec.role.value,
                    generation=generation,
                    subject=ca_name(spec).rfc4514_string(),
                    key_type=key_type_of(key).value,
                    hash_name=gspec.hash.value,
                    spki=spki_sha256(key.public_key()),
                    now=now,
                )
            for m in built.made:
                der = m.certificate.public_bytes(Encoding.DER)
                row_id = self.store.insert_certificate(
                    cert=m.certificate,
                    der=der,
                    issuer_ca=m.issuer_ca,
                    kind=m.kind,
                    profile=m.kind.value,
                    holder=m.subject_ca,
                    subject_ca=m.subject_ca,
                    generation=m.generation,
                    spki=_spki(m.certificate),
                    key_ref=None,
                    batch=None,
                    now=now,
                    actor=ACTOR,
                )
                if m.kind in (CertKind.SELF, CertKind.SUB_CA):
                    self.store.set_ca_certificate(m.subject_ca, row_id)
                issued.append(
                    IssuedCertificate(
                        row_id=row_id,
                        issuer_ca=m.issuer_ca,
                        serial=m.certificate.serial_number,
                        kind=m.kind,
                        profile=m.kind.value,
                        holder=m.subject_ca,
                        generation=m.generation,
                        certificate=m.certificate,
                    )
                )
            self.store.audit(
                now=now,
                actor=ACTOR,
                action="generation",
                obj=generation,
                detail={"cas": [s.id for s in ordered]},
            )
            note = self.store.journal("generation", generation)
        self.signers.add(built.signers)
        log.info(
            "stood up generation %s: %d CAs, %d CA certificates",
            generation,
            len(ordered),
            len(issued),
        )
        self.repository.publish_certs(issued)
        self.repository.publish_trust()
        self.store.published([note])
        self.publish_crls(now=now, ca_ids=[s.id for s in ordered])
        return issued

    # -- issuance and revocation (see ``_issuance`` and ``_revoking``) -------------------------
    def current_generation(self, now: datetime) -> str:
        """The newest generation whose Organisation CA is set up and still issuing at ``now``."""
        return self.issuance.current_generation(now)

    def issue_for_sites(
        self,
        sites: Iterable[SiteLike],
        *,
        now: datetime,
        generation: str | None = None,
        key_type: KeyType | None = None,
        keys: Mapping[str, PrivateKey] | None = None,
        chunk_size: int = 256,
        progress: Callable[[int], None] | None = None,
    ) -> list[IssuedCertificate]:
        """Issue the bulk profile to every eligible site that holds no valid certificate of
        it from that generation yet (a rerun never issues twice); see
        :meth:`Issuance.issue_for_sites`."""
        return self.issuance.issue_for_sites(
            sites,
            now=now,
            generation=generation,
            key_type=key_type,
            keys=keys,
            chunk_size=chunk_size,
            progress=progress,
        )

    def issue(
        self,
        site: SiteLike,
        *,
        profile: str,
        now: datetime,
        generation: str | None = None,
        key: PrivateKey | None = None,
        key_type: KeyType | None = None,
    ) -> IssuedCertificate:
        """Issue one certificate of ``profile`` to ``site``; the key is generated unless given."""
        return self.issuance.issue(
            site, profile=profile, now=now, generation=generation, key=key, key_type=key_type
        )

    def issue_from_csr(
        self,
        csr: x509.CertificateSigningRequest,
        *,
        site: SiteLike,
        profile: str,
        now: datetime,
        generation: str | None = None,
    ) -> IssuedCertificate:
        """Issue for a CSR. The CA checks its signature and sets subject and SAN itself."""
        return self.issuance.issue_from_csr(
            csr, site=site, profile=profile, now=now, generation=generation
        )

    def renew(
        self,
        holder: str,
        *,
        now: datetime,
        generation: str | None = None,
        supersede: bool = True,
        key_type: KeyType | None = None,
    ) -> list[IssuedCertificate]:
        """Re-key and re-issue ``holder``'s newest valid certificate per profile; with
        ``supersede`` the old ones are revoked as superseded."""
        return self.issuance.renew(
            holder, now=now, generation=generation, supersede=supersede, key_type=key_type
        )

    def revoke(
        self, issuer_ca: str, serial: int, *, reason: str, now: datetime
    ) -> list[IssuedCertificate]:
        """Revoke one certificate (``key_compromise`` also blocks its key and revokes every
        certificate that carries it); return every certificate revoked."""
        return self.revocation.revoke(issuer_ca, serial, reason=reason, now=now)

    def revoke_holder(self, holder: str, *, reason: str, now: datetime) -> list[IssuedCertificate]:
        """Revoke every valid certificate of ``holder``."""
        return self.revocation.revoke_holder(holder, reason=reason, now=now)

    def stop_issuance(self, generation: str, *, now: datetime) -> None:
        """Stop every CA of ``generation`` from issuing (they keep publishing CRLs)."""
        self.revocation.stop_issuance(generation, now=now)

    def compromise_generation(self, generation: str, *, now: datetime) -> list[IssuedCertificate]:
        """Revoke every certificate other generations issued to ``generation``'s CAs."""
        return self.revocation.compromise_generation(generation, now=now)

    def check_publication_time(self, now: datetime) -> None:
        """Refuse ``now`` if it is before a list some CA already published (PkiError)."""
        for record in self.store.latest_crls():
            if now < record.this_update:
                raise PkiError(
                    f"CA {record.ca!r} published {record.scope} #{record.number} at "
                    f"{record.this_update:%Y-%m-%dT%H:%MZ}; lists published at "
                    f"{now:%Y-%m-%dT%H:%MZ} would be dated before it (record the revocation "
                    "with --no-publish, then publish later)"
                )

    def publish_crls(
        self, *, now: datetime, ca_ids: Sequence[str] | None = None, delta: bool = False
    ) -> list[CrlInfo]:
        """Produce and publish the CRL and ARL (or the delta CRL) of each CA."""
        return self.revocation.publish_crls(now=now, ca_ids=ca_ids, delta=delta)

    def run_schedule(self, *, now: datetime) -> list[CrlInfo]:
        """Publish whatever lists are due at ``now``."""
        return self.revocation.run_schedule(now=now)

    # -- queries -------------------------------------------------------------------------------
    def explain_holder(self, holder: str, *, now: datetime, limit: int = 3) -> str:
        """Why ``holder``'s end-entity certificates may not serve at ``now`` (for messages)."""
        return explain_holder(self.store, holder, now=now, limit=limit)

    def certificates(
        self,
        *,
        holder: str | None = None,
        status: str | None = None,
        kind: CertKind | None = None,
        issuer_ca: str | None = None,
    ) -> list[IssuedCertificate]:
        """Certificates in issuance order, filtered by holder, status (V/R), kind, issuer."""
        return self.store.certificates(holder=holder, status=status, kind=kind, issuer_ca=issuer_ca)

    def find(self, issuer_ca: str, serial: int) -> IssuedCertificate:
        found = self.store.certificates(issuer_ca=issuer_ca, serial=serial)
        if not found:
            raise PkiError(f"no certificate {serial:x} from CA {issuer_ca!r}")
        return found[0]

    def find_certificate(self, cert: x509.Certificate) -> IssuedCertificate | None:
        """The stored record of ``cert`` (same serial and the same bytes), if it is ours."""
        for issued in self.store.certificates(serial=cert.serial_number):
            if issued.certificate == cert:
                return issued
        return None

    def private_key(self, cert: IssuedCertificate) -> PrivateKey:
        """The end-entity private key the CA generated for ``cert`` (decrypted)."""
        if cert.key_ref is None:
            raise PkiError(f"the CA holds no private key for {cert.holder!r} (issued from a CSR?)")
        return self.vault.ee_key(cert.key_ref, _spki(cert.certificate))

    def is_blocked(self, key: PublicKey) -> bool:
        return bool(self.store.blocked([spki_sha256(key)]))

    def ca_ids(self) -> list[str]:
        return self.store.ca_ids()

    def anchor(self, ca_id: str) -> x509.Certificate:
        """The self-signed certificate of ``ca_id`` (a trust anchor to pin)."""
        der = self.repository.anchor_der(ca_id)
        if der is None:
            raise PkiError(f"CA {ca_id!r} has no self-signed certificate in this store")
        return x509.load_der_x509_certificate(der)

    def bundle(self, anchor_ca: str) -> list[x509.Certificate]:
        """Forward-only intermediates towards ``anchor_ca`` (no loops for path builders)."""
        return [x509.load_der_x509_certificate(d) for d in self.repository.bundle_ders(anchor_ca)]

    def crl_history(self) -> CrlHistory:
        """Every list the CAs issued, with the CA certificates that sign them."""
        cas = {
            ca: x509.load_der_x509_certificate(d) for ca, d in self.store.own_certificates().items()
        }
        return CrlHistory(self.store.crl_records(), cas)

    def latest_crls(self, *, at: datetime | None = None) -> list[x509.CertificateRevocationList]:
        """The newest CRL, ARL and delta CRL of every CA (with ``at``: those current then)."""
        records = self.store.latest_crls() if at is None else self.crl_history().current_at(at)
        return [x509.load_der_x509_crl(r.der) for r in records]

    def holders_by_generation(self, now: datetime) -> dict[str, set[str]]:
        """Holders of end-entity certificates valid (unrevoked, in date) at ``now``."""
        out: dict[str, set[str]] = {}
        for gen, holder in self.store.valid_ee_holders(now):
            out.setdefault(gen, set()).add(holder)
        return out

    def status(self, *, now: datetime) -> list[CaStatus]:
        require_utc(now)
        out = []
        for row in self.store.ca_rows():
            issued, revoked = self.store.counts(row.id)
            crl = self.store.latest_crl(row.id, "crl")
            halted = row.halted(now) or (
                row.generation == "G1" and now >= self.plan.g1_issuance_stop
            )
            out.append(
                CaStatus(
                    ca=row.id,
                    generation=row.generation,
                    role=row.role,
                    status=row.status,
                    issuance_stopped=halted,
                    issued=issued,
                    revoked=revoked,
                    last_crl_number=None if crl is None else crl.number,
                    crl_next_update=None if crl is None else crl.next_update,
                )
            )
        return out

    # -- publication and integrity ---------------------------------------------------------
    def published_path(self, cert: IssuedCertificate) -> Path:
        """The repository file that holds ``cert`` (with the rest of its batch for an
        end-entity certificate)."""
        return self.repository.published_path(cert)

    @_under_lock
    def republish(self) -> int:
        """Rewrite every published file from the database (after damage, or on demand)."""
        return self.repository.republish()

    def check_integrity(self) -> IntegrityReport:
        """Check the store (SQLite integrity, the audit chain, unique serials) and that the
        repository shows it: every published certificate has its row with identical bytes,
        every committed one is published, every list is one the CA issued and the newest of
        its kind (not rolled back, not forged), no temporary file is left."""
        return self.repository.check(self.crl_history())

    def clean_temp_files(self) -> int:
        """Remove temporary files left by a writer that crashed; takes the writer lock."""
        with self.store.write():
            return remove_stale_tmp(self.home)

    def export_copy(self, target: str | Path) -> Path:
        """Copy the whole home (e.g. for a backup or a test fixture) under the writer lock.

        Files are copied as they are; the database through SQLite's backup API, which
        includes what is still in the WAL (a checkpoint cannot run inside a transaction).
        """
        target = Path(target)
        if target.exists():
            raise PkiError(f"{target} already exists; refusing to copy a CA home over it")
        with self.store.locked():
            shutil.copytree(
                self.home, target, ignore=shutil.ignore_patterns("lock", "pki.sqlite3*")
            )
            self.store.backup_to(target / "pki.sqlite3")
        return target
