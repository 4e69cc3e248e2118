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
import secrets
import shutil
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from lgwan_sim._files import atomic_write, remove_stale_tmp
from lgwan_sim.errors import PkiError
from lgwan_sim.lgpki._build import (
    SITE_URI_PREFIX,
    Signer,
    build_crl,
    build_ee_certificate,
    ca_name,
    subject_name,
)
from lgwan_sim.lgpki._config import load_hierarchy, load_migration_plan
from lgwan_sim.lgpki._crl_plan import (
    REVOCATION_REASONS,
    CrlHistory,
    CrlRecord,
    due_lists,
    plan_lists,
)
from lgwan_sim.lgpki._crypto import PrivateKey, PublicKey, generate_key, key_type_of, spki_sha256
from lgwan_sim.lgpki._hierarchy import (
    build_generation,
    generation_order,
    issuing_order,
    partners_missing,
)
from lgwan_sim.lgpki._migration_plan import MigrationPlan
from lgwan_sim.lgpki._model import (
    CaSpec,
    CertKind,
    Hierarchy,
    IssuedCertificate,
    KeyType,
    Profile,
    SiteLike,
    require_utc,
)
from lgwan_sim.lgpki._repository import CrlInfo, IntegrityReport, Recovery, Repository
from lgwan_sim.lgpki._store import Store
from lgwan_sim.lgpki._vault import KeyVault

__all__ = ["REVOCATION_REASONS", "CaStatus", "CrlInfo", "IntegrityReport", "Pki", "Recovery"]

log = logging.getLogger(__name__)

_ACTOR = "ca"
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


@dataclass(frozen=True, slots=True, kw_only=True)
class _Request:
    holder: str
    profile: Profile
    issuer: CaSpec
    subject: x509.Name
    san: tuple[x509.GeneralName, ...]
    public_key: PublicKey
    private_key: PrivateKey | None


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _under_lock(method: Callable[Concatenate[Pki, _P], _R]) -> Callable[Concatenate[Pki, _P], _R]:
    """Run ``method`` holding the home's writer lock: its commit and its publication."""

    def wrapper(self: Pki, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self.store.locked():
            return method(self, *args, **kwargs)

    return functools.update_wrapper(wrapper, method)  # type: ignore[return-value]


def _utc(value: datetime) -> str:
    """A moment for messages, to the second: ``2020-04-02T01:00:00Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
        self._signers: dict[str, Signer] = {}

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
                now=now, actor=_ACTOR, action="init", obj=home.name, detail={"source": "pki"}
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
    def _signer(self, ca_id: str) -> Signer:
        signer = self._signers.get(ca_id)
        if signer is not None:
            return signer
        row = self.store.ca_row(ca_id)
        if row is None or row.not_after is None:
            raise PkiError(f"CA {ca_id!r} is not set up in this store")
        spec = self.hierarchy.ca(ca_id)
        signer = Signer(
            spec=spec,
            name=ca_name(spec),
            key=self.vault.ca_key(ca_id),
            hash=self.hierarchy.generations[spec.generation].hash,
            not_after=row.not_after,
        )
        self._signers[ca_id] = signer
        return signer

    def _issuing_signer(self, ca_id: str, now: datetime) -> Signer:
        row = self.store.ca_row(ca_id)
        if row is None or row.not_before is None:
            raise PkiError(f"CA {ca_id!r} is not set up in this store")
        if now < row.not_before:
            raise PkiError(f"CA {ca_id!r} is not valid before {row.not_before.isoformat()}")
        if row.status != "active":
            raise PkiError(f"CA {ca_id!r} is {row.status} and issues nothing")
        if row.halted(now):
            assert row.issuance_stopped_at is not None
            raise PkiError(f"CA {ca_id!r} stopped issuing on {row.issuance_stopped_at.isoformat()}")
        if row.generation == "G1" and now >= self.plan.g1_issuance_stop:
            raise PkiError(
                f"CA {ca_id!r} is G1 and G1 issuance stopped on {self.plan.g1_issuance_stop.date()}"
            )
        signer = self._signer(ca_id)
        if now >= signer.not_after:
            raise PkiError(f"CA {ca_id!r} certificate expired on {signer.not_after}")
        return signer

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
        built = build_generation(h, generation, keys=keys, now=now, signer_of=self._signer)
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
                    actor=_ACTOR,
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
                actor=_ACTOR,
                action="generation",
                obj=generation,
                detail={"cas": [s.id for s in ordered]},
            )
            note = self.store.journal("generation", generation)
        self._signers.update(built.signers)
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

    # -- issuance ------------------------------------------------------------------------------
    def current_generation(self, now: datetime) -> str:
        """The newest generation whose Organisation CA is set up and still issuing at ``now``."""
        usable = {
            row.generation
            for row in self.store.ca_rows()
            if row.role == "org"
            and row.status == "active"
            and not row.halted(now)
            and not (row.generation == "G1" and now >= self.plan.g1_issuance_stop)
        }
        for gen in reversed(list(self.hierarchy.generations)):
            if gen in usable:
                return gen
        raise PkiError(f"no generation is issuing at {now.isoformat()}")

    def _subject_for(
        self, site: SiteLike, profile: Profile
    ) -> tuple[x509.Name, tuple[x509.GeneralName, ...]]:
        titles = self.hierarchy.titles
        kind = str(site.kind)
        title = titles.get(kind, titles.get("default", "head"))
        fields = {"id": site.id, "name": site.name, "title": title}
        subject = subject_name(
            organisation=site.name_ja or site.name,
            unit=kind,
            common_name=profile.subject_cn.format(**fields),
        )
        san: list[x509.GeneralName] = [
            x509.UniformResourceIdentifier(f"{SITE_URI_PREFIX}{site.id}")
        ]
        san += [x509.DNSName(d.format(**fields)) for d in profile.dns_names]
        san += [x509.RFC822Name(e.format(**fields)) for e in profile.emails]
        return subject, tuple(san)

    def _check_key(self, key: PublicKey, now: datetime, holder: str) -> None:
        if key_type_of(key) is KeyType.RSA1024 and now >= self.plan.weak_algorithms_until:
            raise PkiError(
                f"refusing an RSA-1024 key for {holder!r}: RSA keys under 2048 bits are not"
                f" accepted after {self.plan.weak_algorithms_until.date()}"
            )

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
        """Issue the bulk profile (``profiles.yaml: bulk``) to every eligible site that does
        not already hold a valid certificate of that profile from that generation.

        Local bodies get role certificates, data centres and LGWAN-ASP services
        message-signing certificates; other kinds are skipped. A rerun after a crash (or at
        any time) issues only to the sites still without one. Keys are generated here
        (``key_type`` overrides the profile's) unless ``keys`` maps site ids to keys.
        ``progress`` is called with the running count after each committed chunk.
        """
        require_utc(now)
        gen = generation or self.current_generation(now)
        served: dict[tuple[str, str], set[str]] = {}
        requests: list[tuple[SiteLike, Profile]] = []
        for site in sites:
            name = self.hierarchy.bulk.get(str(site.kind))
            if name is None:
                continue
            profile = self.hierarchy.profile(name)
            issuer = self.hierarchy.issuing_ca(profile.issuer_role, gen).id
            if (issuer, name) not in served:
                served[(issuer, name)] = self.store.valid_holders(issuer, name, now)
            if site.id not in served[(issuer, name)]:
                requests.append((site, profile))
        out: list[IssuedCertificate] = []
        for start in range(0, len(requests), chunk_size):
            chunk = []
            for site, profile in requests[start : start + chunk_size]:
                if keys is not None and site.id in keys:
                    key = keys[site.id]
                else:
                    key = generate_key(key_type or profile.key_for(gen))
                chunk.append(self._request(site, profile, gen, key.public_key(), key))
            out.extend(self._issue_many(chunk, now=now))
            if progress is not None:
                progress(len(out))
        return out

    def _request(
        self,
        site: SiteLike,
        profile: Profile,
        generation: str,
        public_key: PublicKey,
        private_key: PrivateKey | None,
    ) -> _Request:
        subject, san = self._subject_for(site, profile)
        return _Request(
            holder=site.id,
            profile=profile,
            issuer=self.hierarchy.issuing_ca(profile.issuer_role, generation),
            subject=subject,
            san=san,
            public_key=public_key,
            private_key=private_key,
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
        require_utc(now)
        prof = self.hierarchy.profile(profile)
        gen = generation or self.current_generation(now)
        if key is None:
            key = generate_key(key_type or prof.key_for(gen))
        return self._issue_many([self._request(site, prof, gen, key.public_key(), key)], now=now)[0]

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
        require_utc(now)
        if not csr.is_signature_valid:
            raise PkiError(f"the CSR for {site.id!r} has an invalid signature")
        pub = csr.public_key()
        if not isinstance(pub, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            raise PkiError(f"unsupported key type in the CSR: {type(pub).__name__}")
        key_type_of(pub)
        prof = self.hierarchy.profile(profile)
        gen = generation or self.current_generation(now)
        return self._issue_many([self._request(site, prof, gen, pub, None)], now=now)[0]

    @_under_lock
    def _issue_many(
        self, requests: Sequence[_Request], *, now: datetime
    ) -> list[IssuedCertificate]:
        if not requests:
            return []
        spkis = [spki_sha256(r.public_key) for r in requests]
        blocked = self.store.blocked(spkis)
        built: list[tuple[_Request, x509.Certificate, str]] = []
        for req, spki in zip(requests, spkis, strict=True):
            if spki in blocked:
                raise PkiError(
                    f"refusing to certify a blocked key for {req.holder!r}: it was reported"
                    " compromised"
                )
            self._check_key(req.public_key, now, req.holder)
            signer = self._issuing_signer(req.issuer.id, now)
            cert = build_ee_certificate(
                self.hierarchy,
                issuer=signer,
                profile=req.profile,
                subject=req.subject,
                san=req.san,
                public_key=req.public_key,
                now=now,
                not_after=min(signer.not_after, now + timedelta(days=req.profile.validity_days)),
                key_encipherment_ok=isinstance(req.public_key, rsa.RSAPublicKey),
            )
            built.append((req, cert, spki))
        to_store = {spki: req.private_key for req, _, spki in built if req.private_key is not None}
        batch = f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(6)}"
        key_ref = self.vault.put_batch(batch, to_store) if to_store else None
        issued: list[IssuedCertificate] = []
        with self.store.write():
            for req, cert, spki in built:
                ref = key_ref if req.private_key is not None else None
                row_id = self.store.insert_certificate(
                    cert=cert,
                    der=cert.public_bytes(Encoding.DER),
                    issuer_ca=req.issuer.id,
                    kind=CertKind.EE,
                    profile=req.profile.name,
                    holder=req.holder,
                    subject_ca=None,
                    generation=req.issuer.generation,
                    spki=spki,
                    key_ref=ref,
                    batch=batch,
                    now=now,
                    actor=_ACTOR,
                )
                issued.append(
                    IssuedCertificate(
                        row_id=row_id,
                        issuer_ca=req.issuer.id,
                        serial=cert.serial_number,
                        kind=CertKind.EE,
                        profile=req.profile.name,
                        holder=req.holder,
                        generation=req.issuer.generation,
                        certificate=cert,
                        key_ref=ref,
                        batch=batch,
                    )
                )
            note = self.store.journal("batch", batch)
        self.repository.publish_certs(issued)
        self.store.published([note])
        log.info("issued %d certificates", len(issued))
        return issued

    def renew(
        self,
        holder: str,
        *,
        now: datetime,
        generation: str | None = None,
        supersede: bool = True,
        key_type: KeyType | None = None,
    ) -> list[IssuedCertificate]:
        """Re-key and re-issue ``holder``'s newest valid end-entity certificate per profile.

        The new certificates keep subject and SAN, use fresh keys and the target generation
        (default: the current one); with ``supersede`` the old ones are revoked as superseded.
        """
        require_utc(now)
        gen = generation or self.current_generation(now)
        old = [
            c
            for c in self.certificates(holder=holder, status="V", kind=CertKind.EE)
            if c.certificate.not_valid_after_utc > now
        ]
        if not old:
            raise PkiError(
                f"{holder!r} holds no valid end-entity certificate to renew at {_utc(now)}"
                + self.explain_holder(holder, now=now)
            )
        newest = {c.profile: c for c in old}  # issuance order: the last one per profile wins
        requests = []
        for cert in newest.values():
            prof = self.hierarchy.profile(cert.profile)
            key = generate_key(key_type or prof.key_for(gen))
            san = cert.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
            requests.append(
                _Request(
                    holder=holder,
                    profile=prof,
                    issuer=self.hierarchy.issuing_ca(prof.issuer_role, gen),
                    subject=cert.certificate.subject,
                    san=tuple(san.value),
                    public_key=key.public_key(),
                    private_key=key,
                )
            )
        new = self._issue_many(requests, now=now)
        if supersede:
            for cert in old:
                if self.store.state(cert.row_id).status == "V":
                    self.revoke(cert.issuer_ca, cert.serial, reason="superseded", now=now)
        return new

    # -- revocation ----------------------------------------------------------------------------
    def revoke(
        self, issuer_ca: str, serial: int, *, reason: str, now: datetime
    ) -> list[IssuedCertificate]:
        """Revoke one certificate; return every certificate revoked as a consequence.

        ``reason`` is an RFC 5280 name (``key_compromise``, ``ca_compromise``, ``superseded``,
        ...). ``key_compromise`` blocks the public key for all future issuance and revokes
        every other certificate that carries it.
        """
        require_utc(now)
        if reason not in REVOCATION_REASONS:
            raise PkiError(
                f"unknown revocation reason {reason!r}; known: {', '.join(REVOCATION_REASONS)}"
            )
        revoked: list[IssuedCertificate] = []
        with self.store.write():
            found = self.store.certificates(issuer_ca=issuer_ca, serial=serial)
            if not found:
                raise PkiError(f"no certificate {serial:x} from CA {issuer_ca!r}")
            state = self.store.state(found[0].row_id)
            if state.status == "R":
                raise PkiError(f"certificate {serial:x} from {issuer_ca!r} is already revoked")
            targets = [state.row_id]
            if reason == "key_compromise":
                self.store.block_key(state.spki_sha256, reason=reason, now=now, row_id=state.row_id)
                self.store.audit(
                    now=now,
                    actor=_ACTOR,
                    action="block-key",
                    obj=state.spki_sha256,
                    detail={"certificate": state.row_id},
                )
                targets += [
                    i for i in self.store.valid_with_key(state.spki_sha256) if i != state.row_id
                ]
            for target in targets:
                self.store.mark_revoked(target, now=now, reason=reason)
                cert = self.store.certificates(row_id=target)[0]
                self.store.audit(
                    now=now,
                    actor=_ACTOR,
                    action="revoke",
                    obj=f"{cert.issuer_ca}/{cert.serial:x}",
                    detail={"reason": reason, "holder": cert.holder},
                )
                revoked.append(cert)
        log.info("revoked %d certificates (%s)", len(revoked), reason)
        return revoked

    def revoke_holder(self, holder: str, *, reason: str, now: datetime) -> list[IssuedCertificate]:
        """Revoke every valid certificate of ``holder``."""
        out: list[IssuedCertificate] = []
        for cert in self.certificates(holder=holder, status="V", kind=CertKind.EE):
            if self.store.state(cert.row_id).status == "V":
                out += self.revoke(cert.issuer_ca, cert.serial, reason=reason, now=now)
        if not out:
            raise PkiError(
                f"{holder!r} holds no valid certificate to revoke"
                + self.explain_holder(holder, now=now)
            )
        return out

    def stop_issuance(self, generation: str, *, now: datetime) -> None:
        """Stop every CA of ``generation`` from issuing (they keep publishing CRLs)."""
        require_utc(now)
        with self.store.write():
            changed = self.store.stop_issuance(generation, now)
            if changed == 0 and generation not in self.store.generations():
                raise PkiError(f"generation {generation!r} is not set up")
            self.store.audit(
                now=now, actor=_ACTOR, action="stop-issuance", obj=generation, detail={}
            )

    def compromise_generation(self, generation: str, *, now: datetime) -> list[IssuedCertificate]:
        """Algorithm compromise: revoke (cACompromise) every certificate that another
        generation's CA issued to a CA of ``generation`` (the bridges' cross and link
        certificates), so paths into ``generation`` fail through the ARLs; then publish."""
        require_utc(now)
        out: list[IssuedCertificate] = []
        for issuer, serial in self.store.valid_into_generation(generation):
            out += self.revoke(issuer, serial, reason="ca_compromise", now=now)
        with self.store.write():
            self.store.set_generation_status(generation, "compromised")
            self.store.audit(
                now=now,
                actor=_ACTOR,
                action="compromise",
                obj=generation,
                detail={"revoked": len(out)},
            )
        self.publish_crls(now=now, ca_ids=sorted({c.issuer_ca for c in out}))
        return out

    @_under_lock
    def publish_crls(
        self,
        *,
        now: datetime,
        ca_ids: Sequence[str] | None = None,
        delta: bool = False,
    ) -> list[CrlInfo]:
        """Produce and publish the CRL and ARL (or, with ``delta``, the delta CRL) of each CA.

        Lists are built from the certificate table, never patched; numbers come from one
        counter per CA shared by CRL, ARL and delta CRL and grow in the same transaction.
        """
        require_utc(now)
        ids = list(ca_ids) if ca_ids is not None else self.store.ca_ids(by_id=True)
        made: list[tuple[CrlRecord, x509.CertificateRevocationList]] = []
        with self.store.write():
            for ca_id in ids:
                signer = self._signer(ca_id)
                base = self.store.latest_crl(ca_id, "crl") if delta else None
                if delta and base is None:
                    raise PkiError(f"CA {ca_id!r} has no base CRL to publish a delta against")
                plans = plan_lists(
                    timing=self.hierarchy.revocation,
                    first_number=self.store.take_crl_numbers(ca_id, 1 if delta else 2),
                    now=now,
                    revoked_ee=self.store.revoked(ca_id, ca_certificates=False),
                    revoked_ca=[] if delta else self.store.revoked(ca_id, ca_certificates=True),
                    delta_base=base,
                    base_serials=(
                        ()
                        if base is None
                        else (r.serial_number for r in x509.load_der_x509_crl(base.der))
                    ),
                )
                for p in plans:
                    crl = build_crl(
                        self.hierarchy,
                        issuer=signer,
                        scope=p.scope,
                        number=p.number,
                        base_number=p.base_number,
                        entries=p.entries,
                        this_update=p.this_update,
                        next_update=p.next_update,
                    )
                    record = CrlRecord(
                        ca=ca_id,
                        scope=p.scope,
                        number=p.number,
                        base_number=p.base_number,
                        this_update=p.this_update,
                        next_update=p.next_update,
                        entries=len(p.entries),
                        der=crl.public_bytes(Encoding.DER),
                    )
                    self.store.insert_crl(record)
                    self.store.audit(
                        now=now,
                        actor=_ACTOR,
                        action=f"publish-{p.scope}",
                        obj=f"{ca_id}#{p.number}",
                        detail={
                            "entries": len(p.entries),
                            "next_update": p.next_update.isoformat(),
                        },
                    )
                    made.append((record, crl))
            note = self.store.journal("lists", ",".join(ids)) if made else None
        self.repository.publish_lists(r for r, _ in made)
        if note is not None:
            self.store.published([note])
        return [
            CrlInfo(
                ca=r.ca,
                scope=r.scope,
                number=r.number,
                entries=r.entries,
                this_update=r.this_update,
                next_update=r.next_update,
                path=self.repository.list_path(r.ca, r.scope),
                crl=crl,
            )
            for r, crl in made
        ]

    def run_schedule(self, *, now: datetime) -> list[CrlInfo]:
        """Publish whatever is due at ``now``: base CRL/ARL every ``publish_every_hours``,
        otherwise a delta CRL every ``delta_every_hours``."""
        require_utc(now)
        history = {ca: self.store.crl_records(ca) for ca in self.store.ca_ids(by_id=True)}
        due_base, due_delta = due_lists(self.hierarchy.revocation, history, now)
        out = self.publish_crls(now=now, ca_ids=due_base) if due_base else []
        if due_delta:
            out += self.publish_crls(now=now, ca_ids=due_delta, delta=True)
        return out

    # -- queries -------------------------------------------------------------------------------
    def explain_holder(self, holder: str, *, now: datetime, limit: int = 3) -> str:
        """Why ``holder``'s end-entity certificates may not serve at ``now``, for an error
        message: ``": it has none"``, or ``"; its newest: <profile> <issuer>/<serial> expired
        <date> (valid <from> to <to>); ..."`` for the newest ``limit`` of them."""
        state = self.store.states(holder, CertKind.EE)
        if not state:
            return ": it has none"
        certs = self.certificates(holder=holder, kind=CertKind.EE)[::-1]
        parts = []
        for cert in certs[:limit]:
            s = state[cert.row_id]
            start = cert.certificate.not_valid_before_utc
            end = cert.certificate.not_valid_after_utc
            span = f"valid {_utc(start)} to {_utc(end)}"
            if s.status == "R":
                when = _utc(s.revoked_at) if s.revoked_at is not None else "?"
                verdict = f"revoked {when} ({s.reason}), {span}"
            elif now < start:
                verdict = f"not yet valid: {span}"
            elif now >= end:
                verdict = f"expired: {span}"
            else:
                verdict = span
            if cert.key_ref is None:
                verdict += ", key not held by the CA"
            parts.append(f"{cert.profile} {cert.issuer_ca}/{cert.serial:x} {verdict}")
        more = f"; and {len(certs) - limit} older" if len(certs) > limit else ""
        return f"; its newest: {'; '.join(parts)}{more}"

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
            copy = sqlite3.connect(target / "pki.sqlite3")
            try:
                self.store.db.backup(copy)
            finally:
                copy.close()
        return target
