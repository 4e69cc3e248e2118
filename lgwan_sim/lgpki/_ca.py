"""The certification authority: hierarchy set-up, issuance, revocation, CRLs, renewal.

One :class:`Pki` object owns one CA home folder::

    home/
      pki.sqlite3            the single source of truth (WAL, synchronous=FULL)
      lock                   flock: one writer at a time
      config/                the hierarchy, profiles and migration plan it was created with
      keys/                  private keys, AES-256-GCM encrypted, mode 0600
      repo/                  the published repository (atomic files)
        anchors/<ca>.pem     self-signed CA certificates
        bundles/<ca>.pem     forward-only intermediates towards that anchor
        certs/<issuer>/<serial>.pem
        crl/<ca>.crl  arl/<ca>.arl  delta/<ca>.crl    (PEM)

Every operation follows the same order: build and sign in memory, write new private keys to
the vault, record rows plus audit entries in one transaction and commit, then publish files.
Nothing is returned or published before the commit.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import secrets
import shutil
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from lgwan_sim._files import TMP_PREFIX, atomic_write, atomic_write_many, remove_stale_tmp
from lgwan_sim.errors import PkiError
from lgwan_sim.lgpki._build import (
    SITE_URI_PREFIX,
    Signer,
    build_ca_certificate,
    build_crl,
    build_ee_certificate,
    ca_name,
    subject_name,
)
from lgwan_sim.lgpki._config import load_hierarchy, load_migration_plan
from lgwan_sim.lgpki._crypto import PrivateKey, PublicKey, generate_key, key_type_of, spki_sha256
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
from lgwan_sim.lgpki._store import Store
from lgwan_sim.lgpki._vault import KeyVault

__all__ = [
    "REVOCATION_REASONS",
    "CaStatus",
    "CrlInfo",
    "IntegrityReport",
    "Pki",
]

log = logging.getLogger(__name__)

#: Revocation reasons accepted by :meth:`Pki.revoke`, by their RFC 5280 names.
REVOCATION_REASONS: Mapping[str, x509.ReasonFlags] = {
    flag.name: flag for flag in x509.ReasonFlags if flag is not x509.ReasonFlags.remove_from_crl
}

_ACTOR = "ca"
_CONFIG_FILES = ("hierarchy.yaml", "profiles.yaml", "migration.yaml")


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
class IntegrityReport:
    """The result of :meth:`Pki.check_integrity`; ``ok`` when ``problems`` is empty."""

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


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.PEM)


def _iso(value: datetime) -> str:
    return value.isoformat()


def _utc(value: datetime) -> str:
    """A moment for messages, to the second: ``2020-04-02T01:00:00Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


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
                now=now, actor=_ACTOR, action="init", obj=str(home.name), detail={"source": "pki"}
            )
        wanted = list(hierarchy.generations) if generations is None else list(generations)
        for gen in pki._generation_order(wanted):
            pki.add_generation(gen, now=now)
        return pki

    @classmethod
    def open(cls, home: str | Path, *, passphrase: bytes) -> Pki:
        """Open an existing CA home.

        After a crash, :meth:`republish` rewrites files the writer had not published yet and
        :meth:`clean_temp_files` removes its temporary files; :meth:`check_integrity` says
        whether either is needed.
        """
        home = Path(home)
        if not (home / "pki.sqlite3").exists():
            raise PkiError(f"{home} holds no CA store (run `lgwan-sim pki init` first)")
        hierarchy = load_hierarchy(home / "config")
        plan = load_migration_plan(home / "config" / "migration.yaml")
        store = Store(home / "pki.sqlite3", lock_path=home / "lock")
        try:
            store.check_schema()
        except PkiError:
            store.close()
            raise
        vault = KeyVault(home / "keys", passphrase)
        return cls(home, store=store, vault=vault, hierarchy=hierarchy, plan=plan)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Pki:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _generation_order(self, wanted: Sequence[str]) -> list[str]:
        """Generations in dependency order (a CA's cross partners and link source come first)."""
        h = self.hierarchy
        for gen in wanted:
            if gen not in h.generations:
                raise PkiError(f"unknown generation {gen!r}; known: {', '.join(h.generations)}")
        deps: dict[str, set[str]] = {g: set() for g in h.generations}
        for ca in h.cas.values():
            others = [*ca.cross_with, *([ca.link_from] if ca.link_from else [])]
            for other in others:
                g = h.cas[other].generation
                if g != ca.generation and ca.generation in deps:
                    deps[ca.generation].add(g)
        order: list[str] = []

        def visit(g: str) -> None:
            if g in order:
                return
            for d in sorted(deps[g]):
                visit(d)
            order.append(g)

        for g in wanted:
            visit(g)
        existing = self._existing_generations()
        return [g for g in order if g not in existing]

    def _existing_generations(self) -> set[str]:
        return {r[0] for r in self.store.db.execute("SELECT DISTINCT generation FROM ca")}

    # -- signers -------------------------------------------------------------------------------
    def _signer(self, ca_id: str) -> Signer:
        signer = self._signers.get(ca_id)
        if signer is not None:
            return signer
        row = self.store.db.execute(
            "SELECT c.not_after FROM ca JOIN certificate c ON c.id = ca.cert_id WHERE ca.id = ?",
            (ca_id,),
        ).fetchone()
        if row is None:
            raise PkiError(f"CA {ca_id!r} is not set up in this store")
        spec = self.hierarchy.ca(ca_id)
        signer = Signer(
            spec=spec,
            name=ca_name(spec),
            key=self.vault.ca_key(ca_id),
            hash=self.hierarchy.generations[spec.generation].hash,
            not_after=_dt(row[0]),
        )
        self._signers[ca_id] = signer
        return signer

    def _issuing_signer(self, ca_id: str, now: datetime) -> Signer:
        row = self.store.db.execute(
            "SELECT ca.status, ca.issuance_stopped_at, ca.generation, c.not_before"
            " FROM ca JOIN certificate c ON c.id = ca.cert_id WHERE ca.id = ?",
            (ca_id,),
        ).fetchone()
        if row is None:
            raise PkiError(f"CA {ca_id!r} is not set up in this store")
        status, stopped, generation, not_before = row
        if now < _dt(not_before):
            raise PkiError(f"CA {ca_id!r} is not valid before {not_before}")
        if status != "active":
            raise PkiError(f"CA {ca_id!r} is {status} and issues nothing")
        if stopped is not None and _dt(stopped) <= now:
            raise PkiError(f"CA {ca_id!r} stopped issuing on {stopped}")
        if generation == "G1" and now >= self.plan.g1_issuance_stop:
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
        if generation in self._existing_generations():
            raise PkiError(f"generation {generation} is already set up")
        gspec = h.generations[generation]
        specs = list(h.cas_of(generation))
        ordered: list[CaSpec] = []
        while len(ordered) < len(specs):
            progressed = False
            for spec in specs:
                if spec in ordered:
                    continue
                if spec.self_signed or any(o.id == spec.issuer for o in ordered):
                    ordered.append(spec)
                    progressed = True
            if not progressed:
                raise PkiError(f"generation {generation}: CA issuers form a cycle or leave it")
        known = {r[0] for r in self.store.db.execute("SELECT id FROM ca")}
        for spec in specs:
            for other in [*spec.cross_with, *([spec.link_from] if spec.link_from else [])]:
                if other not in known and h.cas[other].generation != generation:
                    raise PkiError(
                        f"CA {spec.id!r} needs {other!r} (generation {h.cas[other].generation})"
                        " to be set up first"
                    )
        keys = {spec.id: generate_key(gspec.ca_key) for spec in ordered}
        for spec in ordered:
            orphan = self.home / "keys" / "ca" / f"{spec.id}.key"
            if orphan.exists():  # left by a crash before the commit below
                orphan.unlink()
            self.vault.put_ca_key(spec.id, keys[spec.id])
        made: list[tuple[x509.Certificate, str, CertKind, str, str]] = []
        signers: dict[str, Signer] = {}
        validity = timedelta(days=gspec.ca_validity_days)
        for spec in ordered:
            key = keys[spec.id]
            if spec.self_signed:
                signer = Signer(
                    spec=spec,
                    name=ca_name(spec),
                    key=key,
                    hash=gspec.hash,
                    not_after=now + validity,
                )
                cert = build_ca_certificate(
                    h,
                    issuer=signer,
                    subject=spec,
                    subject_key=key.public_key(),
                    now=now,
                    not_after=now + validity,
                    path_length=None,
                )
                made.append((cert, spec.id, CertKind.SELF, spec.id, generation))
            else:
                parent = signers[spec.issuer]
                not_after = min(parent.not_after, now + validity)
                cert = build_ca_certificate(
                    h,
                    issuer=parent,
                    subject=spec,
                    subject_key=key.public_key(),
                    now=now,
                    not_after=not_after,
                    path_length=0,
                )
                signer = Signer(
                    spec=spec, name=ca_name(spec), key=key, hash=gspec.hash, not_after=not_after
                )
                made.append((cert, parent.spec.id, CertKind.SUB_CA, spec.id, generation))
            signers[spec.id] = signer

        def signer_of(ca_id: str) -> Signer:
            return signers[ca_id] if ca_id in signers else self._signer(ca_id)

        def cross(issuer_id: str, subject_id: str, kind: CertKind) -> None:
            issuer, subject = signer_of(issuer_id), signer_of(subject_id)
            cert = build_ca_certificate(
                h,
                issuer=issuer,
                subject=subject.spec,
                subject_key=subject.public_key,
                now=now,
                not_after=min(issuer.not_after, subject.not_after),
                path_length=None,
            )
            made.append((cert, issuer_id, kind, subject_id, issuer.spec.generation))

        for spec in ordered:
            for partner in spec.cross_with:
                cross(partner, spec.id, CertKind.CROSS)
                cross(spec.id, partner, CertKind.CROSS)
            if spec.link_from:
                cross(spec.link_from, spec.id, CertKind.LINK)  # NewWithOld
                cross(spec.id, spec.link_from, CertKind.LINK)  # OldWithNew
        issued: list[IssuedCertificate] = []
        with self.store.write() as db:
            for spec in ordered:
                key = keys[spec.id]
                db.execute(
                    "INSERT INTO ca(id, role, generation, subject, key_type, hash, spki_sha256,"
                    " status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?)",
                    (
                        spec.id,
                        spec.role.value,
                        generation,
                        ca_name(spec).rfc4514_string(),
                        key_type_of(key).value,
                        gspec.hash.value,
                        spki_sha256(key.public_key()),
                        _iso(now),
                    ),
                )
            for cert, issuer_id, kind, subject_id, gen in made:
                row_id = self._insert(
                    db,
                    cert=cert,
                    issuer_ca=issuer_id,
                    kind=kind,
                    profile=kind.value,
                    holder=subject_id,
                    subject_ca=subject_id,
                    generation=gen,
                    key_ref=None,
                    now=now,
                )
                if kind in (CertKind.SELF, CertKind.SUB_CA):
                    db.execute("UPDATE ca SET cert_id = ? WHERE id = ?", (row_id, subject_id))
                issued.append(
                    IssuedCertificate(
                        row_id=row_id,
                        issuer_ca=issuer_id,
                        serial=cert.serial_number,
                        kind=kind,
                        profile=kind.value,
                        holder=subject_id,
                        generation=gen,
                        certificate=cert,
                    )
                )
            self.store.audit(
                now=now,
                actor=_ACTOR,
                action="generation",
                obj=generation,
                detail={"cas": [s.id for s in ordered]},
            )
        self._signers.update(signers)
        log.info(
            "stood up generation %s: %d CAs, %d CA certificates",
            generation,
            len(ordered),
            len(made),
        )
        self._publish_certs(issued)
        self._publish_trust()
        self.publish_crls(now=now, ca_ids=[s.id for s in ordered])
        return issued

    def _insert(
        self,
        db: sqlite3.Connection,
        *,
        cert: x509.Certificate,
        issuer_ca: str,
        kind: CertKind,
        profile: str,
        holder: str,
        subject_ca: str | None,
        generation: str,
        key_ref: str | None,
        now: datetime,
        batch: str | None = None,
        spki: str | None = None,
    ) -> int:
        if spki is None:
            pub = cert.public_key()
            assert isinstance(pub, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
            spki = spki_sha256(pub)
        serial = f"{cert.serial_number:x}"
        der = cert.public_bytes(Encoding.DER)
        cur = db.execute(
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
                _iso(cert.not_valid_before_utc),
                _iso(cert.not_valid_after_utc),
                der,
                key_ref,
                _iso(now),
                batch,
            ),
        )
        self.store.audit(
            now=now,
            actor=_ACTOR,
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

    # -- issuance ------------------------------------------------------------------------------
    def current_generation(self, now: datetime) -> str:
        """The newest generation whose Organisation CA is set up and still issuing at ``now``."""
        rows = self.store.db.execute(
            "SELECT generation, issuance_stopped_at, status FROM ca WHERE role = 'org'"
        ).fetchall()
        usable = {
            gen
            for gen, stopped, status in rows
            if status == "active"
            and (stopped is None or _dt(stopped) > now)
            and not (gen == "G1" and now >= self.plan.g1_issuance_stop)
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

    def _blocked(self, spkis: Iterable[str]) -> set[str]:
        wanted = list(set(spkis))
        found: set[str] = set()
        for i in range(0, len(wanted), 500):
            part = wanted[i : i + 500]
            marks = ",".join("?" * len(part))
            found.update(
                r[0]
                for r in self.store.db.execute(
                    f"SELECT spki_sha256 FROM blocked_key WHERE spki_sha256 IN ({marks})", part
                )
            )
        return found

    def _check_key(self, key: PublicKey, now: datetime, holder: str) -> None:
        kt = key_type_of(key)
        if kt is KeyType.RSA1024 and now >= self.plan.weak_algorithms_until:
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
        """Issue the bulk profile (``profiles.yaml: bulk``) to every eligible site.

        Local bodies get role certificates, data centres and LGWAN-ASP services
        message-signing certificates; other kinds are skipped. Keys are generated here
        (``key_type`` overrides the profile's) unless ``keys`` maps site ids to keys.
        ``progress`` is called with the running count after each committed chunk.
        """
        require_utc(now)
        gen = generation or self.current_generation(now)
        requests: list[tuple[SiteLike, Profile]] = []
        for site in sites:
            name = self.hierarchy.bulk.get(str(site.kind))
            if name is not None:
                requests.append((site, self.hierarchy.profile(name)))
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
        issuer = self.hierarchy.issuing_ca(profile.issuer_role, generation)
        subject, san = self._subject_for(site, profile)
        return _Request(
            holder=site.id,
            profile=profile,
            issuer=issuer,
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
        blocked = self._blocked(spkis)
        built: list[tuple[_Request, x509.Certificate, str]] = []
        for req, spki in zip(requests, spkis, strict=True):
            if spki in blocked:
                raise PkiError(
                    f"refusing to certify a blocked key for {req.holder!r}: it was reported"
                    " compromised"
                )
            self._check_key(req.public_key, now, req.holder)
            signer = self._issuing_signer(req.issuer.id, now)
            not_after = min(signer.not_after, now + timedelta(days=req.profile.validity_days))
            cert = build_ee_certificate(
                self.hierarchy,
                issuer=signer,
                profile=req.profile,
                subject=req.subject,
                san=req.san,
                public_key=req.public_key,
                now=now,
                not_after=not_after,
                key_encipherment_ok=isinstance(req.public_key, rsa.RSAPublicKey),
            )
            built.append((req, cert, spki))
        to_store = {spki: req.private_key for req, _, spki in built if req.private_key is not None}
        batch = f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(6)}"
        key_ref = self.vault.put_batch(batch, to_store) if to_store else None
        issued: list[IssuedCertificate] = []
        with self.store.write() as db:
            for req, cert, spki in built:
                ref = key_ref if req.private_key is not None else None
                row_id = self._insert(
                    db,
                    cert=cert,
                    issuer_ca=req.issuer.id,
                    kind=CertKind.EE,
                    profile=req.profile.name,
                    holder=req.holder,
                    subject_ca=None,
                    generation=req.issuer.generation,
                    key_ref=ref,
                    now=now,
                    batch=batch,
                    spki=spki,
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
        self._publish_certs(issued)
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
        old = [c for c in self.certificates(holder=holder, status="V") if c.kind is CertKind.EE]
        old = [c for c in old if c.certificate.not_valid_after_utc > now]
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
                if self._status_of(cert.row_id) == "V":
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
        with self.store.write() as db:
            row = db.execute(
                "SELECT id, status, spki_sha256 FROM certificate WHERE issuer_ca = ? AND serial = ?",
                (issuer_ca, f"{serial:x}"),
            ).fetchone()
            if row is None:
                raise PkiError(f"no certificate {serial:x} from CA {issuer_ca!r}")
            cert_id, status, spki = row
            if status == "R":
                raise PkiError(f"certificate {serial:x} from {issuer_ca!r} is already revoked")
            targets = [cert_id]
            if reason == "key_compromise":
                db.execute(
                    "INSERT OR IGNORE INTO blocked_key(spki_sha256, reason, blocked_at, certificate_id)"
                    " VALUES (?, ?, ?, ?)",
                    (spki, reason, _iso(now), cert_id),
                )
                self.store.audit(
                    now=now,
                    actor=_ACTOR,
                    action="block-key",
                    obj=spki,
                    detail={"certificate": cert_id},
                )
                targets += [
                    r[0]
                    for r in db.execute(
                        "SELECT id FROM certificate WHERE spki_sha256 = ? AND status = 'V' AND id != ?",
                        (spki, cert_id),
                    )
                ]
            for target in targets:
                db.execute(
                    "UPDATE certificate SET status = 'R', revoked_at = ?, reason = ? WHERE id = ?",
                    (_iso(now), reason, target),
                )
                found = self._by_id(target)
                self.store.audit(
                    now=now,
                    actor=_ACTOR,
                    action="revoke",
                    obj=f"{found.issuer_ca}/{found.serial:x}",
                    detail={"reason": reason, "holder": found.holder},
                )
                revoked.append(found)
        log.info("revoked %d certificates (%s)", len(revoked), reason)
        return revoked

    def revoke_holder(self, holder: str, *, reason: str, now: datetime) -> list[IssuedCertificate]:
        """Revoke every valid certificate of ``holder``."""
        out: list[IssuedCertificate] = []
        for cert in self.certificates(holder=holder, status="V"):
            if cert.kind is CertKind.EE and self._status_of(cert.row_id) == "V":
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
        with self.store.write() as db:
            cur = db.execute(
                "UPDATE ca SET issuance_stopped_at = ? WHERE generation = ? AND issuance_stopped_at IS NULL",
                (_iso(now), generation),
            )
            if cur.rowcount == 0 and generation not in self._existing_generations():
                raise PkiError(f"generation {generation!r} is not set up")
            self.store.audit(
                now=now, actor=_ACTOR, action="stop-issuance", obj=generation, detail={}
            )

    def compromise_generation(self, generation: str, *, now: datetime) -> list[IssuedCertificate]:
        """Algorithm compromise: revoke (cACompromise) every certificate that another
        generation's CA issued to a CA of ``generation`` (the bridges' cross and link
        certificates), so paths into ``generation`` fail through the ARLs; then publish."""
        require_utc(now)
        rows = self.store.db.execute(
            "SELECT c.issuer_ca, c.serial FROM certificate c JOIN ca s ON s.id = c.subject_ca"
            " WHERE s.generation = ? AND c.generation != ? AND c.status = 'V'",
            (generation, generation),
        ).fetchall()
        out: list[IssuedCertificate] = []
        for issuer, serial in rows:
            out += self.revoke(issuer, int(serial, 16), reason="ca_compromise", now=now)
        with self.store.write() as db:
            db.execute("UPDATE ca SET status = 'compromised' WHERE generation = ?", (generation,))
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
        h = self.hierarchy
        ids = (
            ca_ids
            if ca_ids is not None
            else [r[0] for r in self.store.db.execute("SELECT id FROM ca ORDER BY id")]
        )
        made: list[CrlInfo] = []
        with self.store.write() as db:
            for ca_id in ids:
                signer = self._signer(ca_id)
                scopes: list[tuple[str, str]]
                if delta:
                    base = db.execute(
                        "SELECT number, der FROM crl WHERE ca = ? AND scope = 'crl'"
                        " ORDER BY number DESC LIMIT 1",
                        (ca_id,),
                    ).fetchone()
                    if base is None:
                        raise PkiError(f"CA {ca_id!r} has no base CRL to publish a delta against")
                    scopes = [("delta", "ee")]
                else:
                    base = None
                    scopes = [("crl", "ee"), ("arl", "ca")]
                for scope, wanted in scopes:
                    number = db.execute(
                        "SELECT next_crl_number FROM ca WHERE id = ?", (ca_id,)
                    ).fetchone()[0]
                    db.execute(
                        "UPDATE ca SET next_crl_number = ? WHERE id = ?", (number + 1, ca_id)
                    )
                    sql = (
                        "SELECT serial, revoked_at, reason FROM certificate"
                        " WHERE issuer_ca = ? AND status = 'R' AND kind {op} 'ee'"
                    ).format(op="=" if wanted == "ee" else "!=")
                    args: list[object] = [ca_id]
                    entries = [
                        (int(s, 16), _dt(at), REVOCATION_REASONS.get(r))
                        for s, at, r in db.execute(sql + " ORDER BY id", args)
                    ]
                    if scope == "delta":
                        # what the base lacks, whatever the revocation's own date: a
                        # revocation dated before the base but recorded after it counts
                        assert base is not None
                        listed = {r.serial_number for r in x509.load_der_x509_crl(base[1])}
                        entries = [e for e in entries if e[0] not in listed]
                    hours = (
                        h.revocation.delta_next_update_hours
                        if scope == "delta"
                        else h.revocation.next_update_hours
                    )
                    next_update = now + timedelta(hours=hours)
                    crl = build_crl(
                        h,
                        issuer=signer,
                        scope=scope,
                        number=number,
                        base_number=None if base is None else int(base[0]),
                        entries=entries,
                        this_update=now,
                        next_update=next_update,
                    )
                    db.execute(
                        "INSERT INTO crl(ca, scope, number, base_number, this_update, next_update,"
                        " entries, der) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            ca_id,
                            scope,
                            number,
                            None if base is None else base[0],
                            _iso(now),
                            _iso(next_update),
                            len(entries),
                            crl.public_bytes(Encoding.DER),
                        ),
                    )
                    self.store.audit(
                        now=now,
                        actor=_ACTOR,
                        action=f"publish-{scope}",
                        obj=f"{ca_id}#{number}",
                        detail={"entries": len(entries), "next_update": _iso(next_update)},
                    )
                    made.append(
                        CrlInfo(
                            ca=ca_id,
                            scope=scope,
                            number=number,
                            entries=len(entries),
                            this_update=now,
                            next_update=next_update,
                            path=self._crl_path(ca_id, scope),
                            crl=crl,
                        )
                    )
        atomic_write_many((i.path, i.crl.public_bytes(Encoding.PEM)) for i in made)
        return made

    def run_schedule(self, *, now: datetime) -> list[CrlInfo]:
        """Publish whatever is due at ``now``: base CRL/ARL every ``publish_every_hours``,
        otherwise a delta CRL every ``delta_every_hours``."""
        require_utc(now)
        timing = self.hierarchy.revocation
        due_base: list[str] = []
        due_delta: list[str] = []
        for (ca_id,) in self.store.db.execute("SELECT id FROM ca ORDER BY id").fetchall():
            last = self.store.db.execute(
                "SELECT scope, this_update FROM crl WHERE ca = ? ORDER BY number DESC", (ca_id,)
            ).fetchall()
            base = next((_dt(t) for s, t in last if s == "crl"), None)
            latest = max((_dt(t) for _, t in last), default=None)
            if base is None or now - base >= timedelta(hours=timing.publish_every_hours):
                due_base.append(ca_id)
            elif latest is None or now - latest >= timedelta(hours=timing.delta_every_hours):
                due_delta.append(ca_id)
        out = self.publish_crls(now=now, ca_ids=due_base) if due_base else []
        if due_delta:
            out += self.publish_crls(now=now, ca_ids=due_delta, delta=True)
        return out

    # -- queries -------------------------------------------------------------------------------
    _COLS = "id, issuer_ca, serial, kind, profile, holder, generation, der, key_ref, batch"

    @staticmethod
    def _from_row(row: tuple[object, ...]) -> IssuedCertificate:
        rid, issuer, serial, kind, profile, holder, gen, der, key_ref, batch = row
        assert isinstance(der, bytes)
        return IssuedCertificate(
            row_id=int(str(rid)),
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

    def _by_id(self, row_id: int) -> IssuedCertificate:
        row = self.store.db.execute(
            f"SELECT {self._COLS} FROM certificate WHERE id = ?", (row_id,)
        ).fetchone()
        return self._from_row(row)

    def _status_of(self, row_id: int) -> str:
        return str(
            self.store.db.execute(
                "SELECT status FROM certificate WHERE id = ?", (row_id,)
            ).fetchone()[0]
        )

    def explain_holder(self, holder: str, *, now: datetime, limit: int = 3) -> str:
        """Why ``holder``'s end-entity certificates may not serve at ``now``, for an error
        message: ``": it has none"``, or ``"; its newest: <profile> <issuer>/<serial> expired
        <date> (valid <from> to <to>); ..."`` for the newest ``limit`` of them."""
        rows = self.store.db.execute(
            "SELECT id, status, revoked_at, reason FROM certificate"
            " WHERE holder = ? AND kind = ? ORDER BY id",
            (holder, CertKind.EE.value),
        ).fetchall()
        if not rows:
            return ": it has none"
        state = {int(r[0]): (str(r[1]), r[2], r[3]) for r in rows}
        certs = self.certificates(holder=holder, kind=CertKind.EE)[::-1]
        parts = []
        for cert in certs[:limit]:
            status, revoked_at, reason = state[cert.row_id]
            start = cert.certificate.not_valid_before_utc
            end = cert.certificate.not_valid_after_utc
            span = f"valid {_utc(start)} to {_utc(end)}"
            if status == "R":
                when = _utc(_dt(str(revoked_at))) if revoked_at is not None else "?"
                verdict = f"revoked {when} ({reason}), {span}"
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
        sql = f"SELECT {self._COLS} FROM certificate WHERE 1=1"
        args: list[object] = []
        for column, value in (("holder", holder), ("status", status), ("issuer_ca", issuer_ca)):
            if value is not None:
                sql += f" AND {column} = ?"
                args.append(value)
        if kind is not None:
            sql += " AND kind = ?"
            args.append(kind.value)
        return [self._from_row(r) for r in self.store.db.execute(sql + " ORDER BY id", args)]

    def find(self, issuer_ca: str, serial: int) -> IssuedCertificate:
        row = self.store.db.execute(
            f"SELECT {self._COLS} FROM certificate WHERE issuer_ca = ? AND serial = ?",
            (issuer_ca, f"{serial:x}"),
        ).fetchone()
        if row is None:
            raise PkiError(f"no certificate {serial:x} from CA {issuer_ca!r}")
        return self._from_row(row)

    def find_certificate(self, cert: x509.Certificate) -> IssuedCertificate | None:
        """The stored record of ``cert`` (same serial and the same bytes), if it is ours."""
        der = cert.public_bytes(Encoding.DER)
        for row in self.store.db.execute(
            f"SELECT {self._COLS} FROM certificate WHERE serial = ?",
            (f"{cert.serial_number:x}",),
        ):
            if row[7] == der:
                return self._from_row(row)
        return None

    def private_key(self, cert: IssuedCertificate) -> PrivateKey:
        """The end-entity private key the CA generated for ``cert`` (decrypted)."""
        if cert.key_ref is None:
            raise PkiError(f"the CA holds no private key for {cert.holder!r} (issued from a CSR?)")
        pub = cert.certificate.public_key()
        assert isinstance(pub, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
        return self.vault.ee_key(cert.key_ref, spki_sha256(pub))

    def is_blocked(self, key: PublicKey) -> bool:
        return bool(self._blocked([spki_sha256(key)]))

    def ca_ids(self) -> list[str]:
        return [r[0] for r in self.store.db.execute("SELECT id FROM ca ORDER BY rowid")]

    def anchor(self, ca_id: str) -> x509.Certificate:
        """The self-signed certificate of ``ca_id`` (a trust anchor to pin)."""
        row = self.store.db.execute(
            "SELECT der FROM certificate WHERE holder = ? AND kind = 'self' ORDER BY id DESC LIMIT 1",
            (ca_id,),
        ).fetchone()
        if row is None:
            raise PkiError(f"CA {ca_id!r} has no self-signed certificate in this store")
        return x509.load_der_x509_certificate(row[0])

    def bundle(self, anchor_ca: str) -> list[x509.Certificate]:
        """Forward-only intermediates towards ``anchor_ca``: breadth-first from the anchor
        along issuer -> subject edges, never back towards it (no loops for path builders)."""
        edges = self.store.db.execute(
            "SELECT issuer_ca, subject_ca, der FROM certificate"
            " WHERE kind IN ('sub_ca', 'cross', 'link') ORDER BY id"
        ).fetchall()
        reached = {anchor_ca}
        frontier = {anchor_ca}
        out: list[x509.Certificate] = []
        while frontier:
            layer = [(i, s, d) for i, s, d in edges if i in frontier and s not in reached]
            frontier = {s for _, s, _ in layer}
            reached |= frontier
            out += [x509.load_der_x509_certificate(d) for _, _, d in layer]
        return out

    def latest_crls(self) -> list[x509.CertificateRevocationList]:
        """The newest CRL, ARL and delta CRL of every CA."""
        rows = self.store.db.execute(
            "SELECT der FROM crl c WHERE number = (SELECT MAX(number) FROM crl d"
            " WHERE d.ca = c.ca AND d.scope = c.scope) ORDER BY ca, scope"
        ).fetchall()
        return [x509.load_der_x509_crl(r[0]) for r in rows]

    def holders_by_generation(self, now: datetime) -> dict[str, set[str]]:
        """Holders of end-entity certificates valid (unrevoked, in date) at ``now``."""
        iso = _iso(now)
        out: dict[str, set[str]] = {}
        for gen, holder in self.store.db.execute(
            "SELECT generation, holder FROM certificate WHERE kind = 'ee' AND status = 'V'"
            " AND not_before <= ? AND not_after > ?",
            (iso, iso),
        ):
            out.setdefault(gen, set()).add(holder)
        return out

    def status(self, *, now: datetime) -> list[CaStatus]:
        require_utc(now)
        out = []
        for ca_id, gen, role, status, stopped in self.store.db.execute(
            "SELECT id, generation, role, status, issuance_stopped_at FROM ca ORDER BY rowid"
        ).fetchall():
            issued, revoked = self.store.db.execute(
                "SELECT COUNT(*), COALESCE(SUM(status = 'R'), 0) FROM certificate WHERE issuer_ca = ?",
                (ca_id,),
            ).fetchone()
            crl = self.store.db.execute(
                "SELECT number, next_update FROM crl WHERE ca = ? AND scope = 'crl' ORDER BY number DESC LIMIT 1",
                (ca_id,),
            ).fetchone()
            halted = (stopped is not None and _dt(stopped) <= now) or (
                gen == "G1" and now >= self.plan.g1_issuance_stop
            )
            out.append(
                CaStatus(
                    ca=ca_id,
                    generation=gen,
                    role=role,
                    status=status,
                    issuance_stopped=halted,
                    issued=issued,
                    revoked=revoked,
                    last_crl_number=None if crl is None else crl[0],
                    crl_next_update=None if crl is None else _dt(crl[1]),
                )
            )
        return out

    # -- publication and integrity ---------------------------------------------------------
    def _cert_path(self, issuer_ca: str, serial: int) -> Path:
        return self.repo / "certs" / issuer_ca / f"{serial:x}.pem"

    def _crl_path(self, ca_id: str, scope: str) -> Path:
        suffix = {"crl": ("crl", "crl"), "arl": ("arl", "arl"), "delta": ("delta", "crl")}[scope]
        return self.repo / suffix[0] / f"{ca_id}.{suffix[1]}"

    def _batch_path(self, issuer_ca: str, batch: str) -> Path:
        return self.repo / "issued" / issuer_ca / f"{batch}.pem"

    def published_path(self, cert: IssuedCertificate) -> Path:
        """The repository file that holds ``cert`` (with the rest of its batch for an
        end-entity certificate)."""
        if cert.kind is CertKind.EE and cert.batch is not None:
            return self._batch_path(cert.issuer_ca, cert.batch)
        return self._cert_path(cert.issuer_ca, cert.serial)

    def _publish_certs(self, issued: Sequence[IssuedCertificate]) -> None:
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
                items.append((self._cert_path(c.issuer_ca, c.serial), _pem(c.certificate)))
        items += [(self._batch_path(i, b), b"".join(pems)) for (i, b), pems in batches.items()]
        atomic_write_many(items)

    def _publish_trust(self) -> None:
        items: list[tuple[Path, bytes]] = []
        for ca_id in self.ca_ids():
            spec = self.hierarchy.ca(ca_id)
            if spec.self_signed:
                items.append((self.repo / "anchors" / f"{ca_id}.pem", _pem(self.anchor(ca_id))))
                items.append(
                    (
                        self.repo / "bundles" / f"{ca_id}.pem",
                        b"".join(_pem(c) for c in self.bundle(ca_id)),
                    )
                )
        atomic_write_many(items)

    @_under_lock
    def republish(self) -> int:
        """Rewrite every published file from the database (after a crash, or on demand)."""
        certs = self.certificates()
        self._publish_certs(certs)
        self._publish_trust()
        rows = self.store.db.execute(
            "SELECT ca, scope, der FROM crl c WHERE number = (SELECT MAX(number) FROM crl d"
            " WHERE d.ca = c.ca AND d.scope = c.scope)"
        ).fetchall()
        atomic_write_many(
            (self._crl_path(ca, scope), x509.load_der_x509_crl(der).public_bytes(Encoding.PEM))
            for ca, scope, der in rows
        )
        return len(certs) + len(rows)

    def check_integrity(self) -> IntegrityReport:
        """Check the store: SQLite integrity, the audit chain, unique serials, and that every
        published certificate and CRL has its row with identical bytes."""
        db = self.store.db
        problems: list[str] = []
        result = db.execute("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            problems.append(f"sqlite: {result}")
        problems += self.store.verify_audit_chain()
        for issuer, serial, n in db.execute(
            "SELECT issuer_ca, serial, COUNT(*) FROM certificate GROUP BY issuer_ca, serial HAVING COUNT(*) > 1"
        ):
            problems.append(f"serial {serial} of {issuer} appears {n} times")
        issued_audit = {r[0] for r in db.execute("SELECT object FROM audit WHERE action = 'issue'")}
        rows: dict[tuple[str, str], bytes] = {}
        for issuer, serial, der in db.execute("SELECT issuer_ca, serial, der FROM certificate"):
            rows[(issuer, serial)] = der
            if f"{issuer}/{serial}" not in issued_audit:
                problems.append(f"certificate {issuer}/{serial} has no audit record")
        all_der = set(rows.values())
        published = 0
        seen: set[tuple[str, str]] = set()
        certs_dir = self.repo / "certs"
        if certs_dir.exists():
            for path in sorted(certs_dir.glob("*/*.pem")):
                published += 1
                key = (path.parent.name, path.stem)
                seen.add(key)
                try:
                    der = x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(
                        Encoding.DER
                    )
                except ValueError:
                    problems.append(
                        f"published file {path.relative_to(self.home)} is not a certificate"
                    )
                    continue
                if rows.get(key) != der:
                    problems.append(
                        f"published certificate {path.relative_to(self.home)} has no matching row"
                    )
        by_batch: dict[tuple[str, str], dict[str, bytes]] = {}
        for issuer, batch, serial, der in db.execute(
            "SELECT issuer_ca, batch, serial, der FROM certificate WHERE batch IS NOT NULL"
        ):
            by_batch.setdefault((issuer, batch), {})[serial] = der
        for path in sorted((self.repo / "issued").glob("*/*.pem")):
            published += 1
            members = by_batch.get((path.parent.name, path.stem), {})
            try:
                certs = x509.load_pem_x509_certificates(path.read_bytes())
            except ValueError:
                problems.append(f"published file {path.relative_to(self.home)} is unreadable")
                continue
            for cert in certs:
                serial = f"{cert.serial_number:x}"
                if members.get(serial) != cert.public_bytes(Encoding.DER):
                    problems.append(
                        f"{path.relative_to(self.home)} holds certificate {serial} with no"
                        " matching row"
                    )
                else:
                    seen.add((path.parent.name, serial))
        for folder in ("anchors", "bundles"):
            for path in sorted((self.repo / folder).glob("*.pem")):
                published += 1
                data = path.read_bytes()
                try:
                    certs = x509.load_pem_x509_certificates(data) if data.strip() else []
                except ValueError:
                    problems.append(f"published file {path.relative_to(self.home)} is unreadable")
                    continue
                for cert in certs:
                    if cert.public_bytes(Encoding.DER) not in all_der:
                        problems.append(
                            f"{path.relative_to(self.home)} holds a certificate with no row"
                        )
        crl_der = {r[0] for r in db.execute("SELECT der FROM crl")}
        for folder in ("crl", "arl", "delta"):
            for path in sorted((self.repo / folder).glob("*.*")):
                if path.name.startswith(TMP_PREFIX):
                    continue
                published += 1
                try:
                    der = x509.load_pem_x509_crl(path.read_bytes()).public_bytes(Encoding.DER)
                except ValueError:
                    problems.append(f"published file {path.relative_to(self.home)} is unreadable")
                    continue
                if der not in crl_der:
                    problems.append(
                        f"published CRL {path.relative_to(self.home)} has no matching row"
                    )
        stale = sum(1 for _ in self.home.rglob(f"{TMP_PREFIX}*"))
        n_audit = db.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
        return IntegrityReport(
            problems=tuple(problems),
            certificates=len(rows),
            published_files=published,
            unpublished=len(set(rows) - seen),
            audit_records=n_audit,
            stale_temp_files=stale,
        )

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
