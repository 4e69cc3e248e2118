"""Revocation: revoking certificates, key blocking, and publishing CRLs, ARLs and deltas.

What a list contains and when it is due is decided in ``_crl_plan``; this module reads the
store, signs, records the lists with their numbers in one transaction and publishes them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from lgwan_sim.errors import PkiError
from lgwan_sim.lgpki._build import build_crl
from lgwan_sim.lgpki._crl_plan import REVOCATION_REASONS, CrlRecord, due_lists, plan_lists
from lgwan_sim.lgpki._issuance import ACTOR, Signers, explain_holder
from lgwan_sim.lgpki._model import CertKind, Hierarchy, IssuedCertificate, require_utc
from lgwan_sim.lgpki._repository import CrlInfo, Repository
from lgwan_sim.lgpki._store import Store

__all__ = ["Revocation"]

log = logging.getLogger(__name__)


class Revocation:
    """Revokes certificates and publishes the lists of one CA home."""

    def __init__(
        self, *, store: Store, hierarchy: Hierarchy, signers: Signers, repository: Repository
    ) -> None:
        self.store = store
        self.hierarchy = hierarchy
        self.signers = signers
        self.repository = repository

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
            issued = found[0].certificate.not_valid_before_utc
            if now < issued:
                raise PkiError(
                    f"certificate {serial:x} from {issuer_ca!r} was issued at "
                    f"{issued:%Y-%m-%dT%H:%MZ}; it cannot be revoked at {now:%Y-%m-%dT%H:%MZ}"
                )
            targets = [state.row_id]
            if reason == "key_compromise":
                self.store.block_key(state.spki_sha256, reason=reason, now=now, row_id=state.row_id)
                self.store.audit(
                    now=now,
                    actor=ACTOR,
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
                    actor=ACTOR,
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
        for cert in self.store.certificates(holder=holder, status="V", kind=CertKind.EE):
            if self.store.state(cert.row_id).status == "V":
                out += self.revoke(cert.issuer_ca, cert.serial, reason=reason, now=now)
        if not out:
            raise PkiError(
                f"{holder!r} holds no valid certificate to revoke"
                + explain_holder(self.store, holder, now=now)
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
                now=now, actor=ACTOR, action="stop-issuance", obj=generation, detail={}
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
                actor=ACTOR,
                action="compromise",
                obj=generation,
                detail={"revoked": len(out)},
            )
        self.publish_crls(now=now, ca_ids=sorted({c.issuer_ca for c in out}))
        return out

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
        The writer lock covers the commit and the publication.
        """
        require_utc(now)
        with self.store.locked():
            return self._publish(now, ca_ids, delta)

    def _publish(self, now: datetime, ca_ids: Sequence[str] | None, delta: bool) -> list[CrlInfo]:
        ids = list(ca_ids) if ca_ids is not None else self.store.ca_ids(by_id=True)
        made: list[tuple[CrlRecord, x509.CertificateRevocationList]] = []
        with self.store.write():
            for ca_id in ids:
                # a list's number and its date go up together: never publish before the last
                newest = self.store.latest_crls_of(ca_id)
                if newest is not None and now < newest.this_update:
                    raise PkiError(
                        f"CA {ca_id!r} published {newest.scope} #{newest.number} at "
                        f"{newest.this_update:%Y-%m-%dT%H:%MZ}; a list at "
                        f"{now:%Y-%m-%dT%H:%MZ} would be dated before it"
                    )
                signer = self.signers.get(ca_id)
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
                        actor=ACTOR,
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
