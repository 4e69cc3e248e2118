"""Issuing certificates: who may sign, the bulk and single issuance rules, renewal.

:class:`Signers` keeps one signer per CA and says whether a CA may issue at a moment;
:class:`Issuance` turns sites and profiles into signed certificates, records them with
their keys and publishes them (sign in memory -> keys to the vault -> commit with a
publication note -> publish -> strike the note off).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from lgwan_sim.errors import PkiError
from lgwan_sim.lgpki._build import (
    SITE_URI_PREFIX,
    Signer,
    build_ee_certificate,
    ca_name,
    subject_name,
)
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
from lgwan_sim.lgpki._repository import Repository
from lgwan_sim.lgpki._store import Store
from lgwan_sim.lgpki._vault import KeyVault

__all__ = ["ACTOR", "Issuance", "Signers", "explain_holder"]

log = logging.getLogger(__name__)

#: The actor of the CA's audit records.
ACTOR = "ca"


def _utc(value: datetime) -> str:
    """A moment for messages, to the second: ``2020-04-02T01:00:00Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Request:
    holder: str
    profile: Profile
    issuer: CaSpec
    subject: x509.Name
    san: tuple[x509.GeneralName, ...]
    public_key: PublicKey
    private_key: PrivateKey | None


class Signers:
    """One :class:`Signer` per CA of the store, made on first use."""

    def __init__(
        self, store: Store, vault: KeyVault, hierarchy: Hierarchy, plan: MigrationPlan
    ) -> None:
        self.store = store
        self.vault = vault
        self.hierarchy = hierarchy
        self.plan = plan
        self._signers: dict[str, Signer] = {}

    def add(self, signers: Mapping[str, Signer]) -> None:
        """Signers of CAs just set up (their keys are at hand)."""
        self._signers.update(signers)

    def get(self, ca_id: str) -> Signer:
        """The signer of ``ca_id`` (its key decrypted once)."""
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

    def issuing(self, ca_id: str, now: datetime) -> Signer:
        """The signer of ``ca_id`` if it may issue at ``now``, else why not."""
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
        signer = self.get(ca_id)
        if now >= signer.not_after:
            raise PkiError(f"CA {ca_id!r} certificate expired on {signer.not_after}")
        return signer


class RevokeFn(Protocol):
    """How renewal revokes what it supersedes (``Revocation.revoke``)."""

    def __call__(
        self, issuer_ca: str, serial: int, *, reason: str, now: datetime
    ) -> list[IssuedCertificate]: ...


class Issuance:
    """Issues end-entity certificates for one CA home."""

    def __init__(
        self,
        *,
        store: Store,
        vault: KeyVault,
        hierarchy: Hierarchy,
        plan: MigrationPlan,
        signers: Signers,
        repository: Repository,
        revoke: RevokeFn,
    ) -> None:
        self.store = store
        self.vault = vault
        self.hierarchy = hierarchy
        self.plan = plan
        self.signers = signers
        self.repository = repository
        self._revoke = revoke

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

    def _issue_many(
        self, requests: Sequence[_Request], *, now: datetime
    ) -> list[IssuedCertificate]:
        with self.store.locked():  # its commit and its publication
            return self._issue_locked(requests, now=now)

    def _issue_locked(
        self, requests: Sequence[_Request], *, now: datetime
    ) -> list[IssuedCertificate]:
        if not requests:
            return []
        spkis = [spki_sha256(r.public_key) for r in requests]
        blocked = self.store.blocked(spkis)
        built: list[tuple[_Request, x509.Certificate, str]] = []
        issuing: dict[str, Signer] = {}
        for req, spki in zip(requests, spkis, strict=True):
            if spki in blocked:
                raise PkiError(
                    f"refusing to certify a blocked key for {req.holder!r}: it was reported"
                    " compromised"
                )
            self._check_key(req.public_key, now, req.holder)
            signer = issuing.get(req.issuer.id)
            if signer is None:  # once per issuer and chunk: whether it may issue now
                signer = issuing[req.issuer.id] = self.signers.issuing(req.issuer.id, now)
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
                    actor=ACTOR,
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
            for c in self.store.certificates(holder=holder, status="V", kind=CertKind.EE)
            if c.certificate.not_valid_after_utc > now
        ]
        if not old:
            raise PkiError(
                f"{holder!r} holds no valid end-entity certificate to renew at {_utc(now)}"
                + explain_holder(self.store, holder, now=now)
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
                    self._revoke(cert.issuer_ca, cert.serial, reason="superseded", now=now)
        return new


def explain_holder(store: Store, holder: str, *, now: datetime, limit: int = 3) -> str:
    """Why ``holder``'s end-entity certificates may not serve at ``now``, for an error
    message: ``": it has none"``, or ``"; its newest: <profile> <issuer>/<serial> expired
    <date> (valid <from> to <to>); ..."`` for the newest ``limit`` of them."""
    state = store.states(holder, CertKind.EE)
    if not state:
        return ": it has none"
    certs = store.certificates(holder=holder, kind=CertKind.EE)[::-1]
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
