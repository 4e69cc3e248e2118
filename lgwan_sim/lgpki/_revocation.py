"""Revocation lists as RFC 5280 §6.3 reads them: scope, reasons, indirect and delta CRLs.

:class:`RevocationStore` checks each list once when it is added (issuer name, key
identifier, cRLSign, unknown critical extensions in the list and in its entries, the
signature, a CRL number and a nextUpdate) and keeps every scope apart: a list replaces
only an older list of the *same* scope (issuer, signing key, issuing distribution point,
complete or delta), and a list older than one already seen of an overlapping scope is
refused (``crl-rollback``).

:func:`candidates` picks, for one certificate, the complete lists whose scope covers it
(§6.3.3 (b): the certificate's distribution points against the list's issuing
distribution point, ``cRLIssuer`` and ``indirectCRL``, ``onlyContainsUserCerts`` /
``CACerts`` / ``AttributeCerts``, ``onlySomeReasons``) with the delta lists that may
complete each. The verifier then judges the certificate by those lists only, and
rejects it unless fresh lists cover every reason (fail closed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from cryptography import x509
from cryptography.x509.oid import CRLEntryExtensionOID, ExtensionOID

from lgwan_sim.errors import VerificationError
from lgwan_sim.lgpki._certutil import (
    PARSE_ERRORS,
    REJECTIONS,
    IssuerKey,
    aki,
    ext,
    fail,
    issuer_key,
    public_key,
    short_name,
    ski,
    spki_hash,
    verify_raw_signature,
    when,
    who,
)
from lgwan_sim.lgpki._names import NameKey, name_key

__all__ = ["ALL_REASONS", "CertScope", "CrlRecord", "RevocationStore", "candidates", "cert_scope"]

ReasonFlags = x509.ReasonFlags
ALL_REASONS = frozenset(
    r for r in ReasonFlags if r not in (ReasonFlags.unspecified, ReasonFlags.remove_from_crl)
)
_KNOWN_CRITICAL_CRL = frozenset(
    {ExtensionOID.ISSUING_DISTRIBUTION_POINT, ExtensionOID.DELTA_CRL_INDICATOR}
)
_KNOWN_CRITICAL_ENTRY = frozenset({CRLEntryExtensionOID.CERTIFICATE_ISSUER})


class _Policy(Protocol):
    def legacy_allowed(self, now: datetime) -> bool: ...


#: A general name reduced for comparison (distinguished names by RFC 5280 §7.1).
NameToken = tuple[str, object]
#: (issuer name, SHA-256 of the signing key): who signed a list.
SignerId = tuple[NameKey, bytes]


def _token(name: x509.GeneralName) -> NameToken:
    if isinstance(name, x509.DirectoryName):
        return ("dn", name_key(name.value))
    return (type(name).__name__, name.value)


def _dp_names(
    full: Sequence[x509.GeneralName] | None,
    relative: x509.RelativeDistinguishedName | None,
    base: x509.Name | None,
) -> frozenset[NameToken] | None:
    if full:
        return frozenset(_token(n) for n in full)
    if relative is not None and base is not None:
        return frozenset({("dn", name_key(x509.Name([*base.rdns, relative])))})
    return None


@dataclass(eq=False, slots=True, kw_only=True)
class CrlRecord:
    """One list, checked and indexed."""

    crl: x509.CertificateRevocationList = field(repr=False)
    issuer: NameKey
    label: str
    signer: x509.Certificate = field(repr=False)
    signer_id: SignerId
    number: int
    base: int | None
    this_update: datetime
    next_update: datetime
    idp_der: bytes
    dp_names: frozenset[NameToken] | None
    reasons: frozenset[ReasonFlags] | None
    only_user: bool
    only_ca: bool
    only_attr: bool
    indirect: bool
    entries: dict[NameKey, dict[int, ReasonFlags | None]] = field(repr=False)
    sha1: bool

    @property
    def is_delta(self) -> bool:
        return self.base is not None

    def overlaps(self, other: CrlRecord) -> bool:
        """Could a certificate be in the scope of both lists?"""
        if (self.only_user and other.only_ca) or (self.only_ca and other.only_user):
            return False
        if self.only_attr != other.only_attr:
            return False
        if self.reasons is not None and other.reasons is not None:
            return bool(self.reasons & other.reasons) and self._names_overlap(other)
        return self._names_overlap(other)

    def _names_overlap(self, other: CrlRecord) -> bool:
        if self.dp_names is None or other.dp_names is None:
            return True
        return bool(self.dp_names & other.dp_names)


def _number(crl: x509.CertificateRevocationList, cls: type[x509.ExtensionType]) -> int | None:
    value = ext(crl, cls)
    if isinstance(value, x509.CRLNumber | x509.DeltaCRLIndicator):
        return value.crl_number
    return None


_REASON_CODES = {
    0: ReasonFlags.unspecified,
    1: ReasonFlags.key_compromise,
    2: ReasonFlags.ca_compromise,
    3: ReasonFlags.affiliation_changed,
    4: ReasonFlags.superseded,
    5: ReasonFlags.cessation_of_operation,
    6: ReasonFlags.certificate_hold,
    8: ReasonFlags.remove_from_crl,
    9: ReasonFlags.privilege_withdrawn,
    10: ReasonFlags.aa_compromise,
}
_REASON_OID = b"\x06\x03\x55\x1d\x15"


class _UnusualError(Exception):
    """The quick reader met something it leaves to ``cryptography``."""


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of contents, end of contents) of the DER element at ``pos``."""
    tag = data[pos]
    n = data[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        if not 1 <= k <= 4:
            raise _UnusualError
        n = int.from_bytes(data[pos : pos + k], "big")
        pos += k
    end = pos + n
    if end > len(data):
        raise _UnusualError
    return tag, pos, end


def _quick_entries(tbs: bytes) -> dict[int, ReasonFlags | None]:
    """Serials and reasons of a CRL straight from its DER, about 30 times faster than one
    ``RevokedCertificate`` object per entry (a 100,000-entry list in well under a second).

    Raises :class:`_UnusualError` for anything but plain entries with non-critical reason codes
    (other extensions, critical ones, odd encodings): those lists take the slow path."""
    tag, pos, end = _tlv(tbs, 0)
    if tag != 0x30:
        raise _UnusualError
    tag, _, nxt = _tlv(tbs, pos)
    if tag == 0x02:  # version
        pos = nxt
    for expected in (0x30, 0x30):  # signature algorithm, issuer
        tag, _, pos = _tlv(tbs, pos)
        if tag != expected:
            raise _UnusualError
    tag, _, pos = _tlv(tbs, pos)  # thisUpdate
    if tag not in (0x17, 0x18):
        raise _UnusualError
    out: dict[int, ReasonFlags | None] = {}
    if pos < end:
        tag, _, nxt = _tlv(tbs, pos)
        if tag in (0x17, 0x18):  # nextUpdate
            pos = nxt
    if pos >= end:
        return out
    tag, start, stop = _tlv(tbs, pos)
    if tag != 0x30:
        return out  # crlExtensions only: no entries
    pos = start
    while pos < stop:
        tag, e_start, e_end = _tlv(tbs, pos)
        if tag != 0x30:
            raise _UnusualError
        tag, s_start, s_end = _tlv(tbs, e_start)
        if tag != 0x02:
            raise _UnusualError
        serial = int.from_bytes(tbs[s_start:s_end], "big", signed=True)
        tag, _, p = _tlv(tbs, s_end)
        if tag not in (0x17, 0x18):
            raise _UnusualError
        reason: ReasonFlags | None = None
        if p < e_end:
            tag, x_start, x_end = _tlv(tbs, p)
            if tag != 0x30 or x_end != e_end:
                raise _UnusualError
            q = x_start
            while q < x_end:
                _, one_start, one_end = _tlv(tbs, q)
                body = tbs[one_start:one_end]
                # exactly: OID 2.5.29.21, OCTET STRING { ENUMERATED code }
                if len(body) != 10 or not body.startswith(_REASON_OID + b"\x04\x03\x0a\x01"):
                    raise _UnusualError
                code = _REASON_CODES.get(body[9])
                if code is None:
                    raise _UnusualError
                reason = None if code is ReasonFlags.unspecified else code
                q = one_end
        if serial in out:
            raise _UnusualError
        out[serial] = reason
        pos = e_end
    return out


def _entries(
    crl: x509.CertificateRevocationList, tbs: bytes, issuer: NameKey, indirect: bool
) -> dict[NameKey, dict[int, ReasonFlags | None]]:
    if not indirect:
        try:
            return {issuer: _quick_entries(tbs)}
        except (_UnusualError, IndexError):
            pass
    out: dict[NameKey, dict[int, ReasonFlags | None]] = {}
    current = out.setdefault(issuer, {})
    for entry in crl:
        reason: ReasonFlags | None = None
        for e in entry.extensions:
            if e.critical and e.oid not in _KNOWN_CRITICAL_ENTRY:
                raise fail(
                    "crl-unknown-critical",
                    f"CRL entry {entry.serial_number:x} has unknown critical extension"
                    f" {e.oid.dotted_string}",
                )
            if isinstance(e.value, x509.CRLReason):
                reason = e.value.reason
            elif isinstance(e.value, x509.CertificateIssuer) and indirect:
                dns = [n for n in e.value if isinstance(n, x509.DirectoryName)]
                if dns:
                    current = out.setdefault(name_key(dns[0].value), {})
        current[entry.serial_number] = reason
    return out


class RevocationStore:
    """CRLs, ARLs and delta CRLs known to one relying party, each scope kept apart.

    ``add`` verifies a list once against the certificate of its signer; ``add_all`` picks
    the signer among many certificates. ``rejected`` keeps the lists ``add_all`` refused
    when called with ``strict=False``.
    """

    def __init__(self) -> None:
        self._by_issuer: dict[NameKey, dict[tuple[SignerId, bytes, bool], CrlRecord]] = {}
        self.generation = 0
        """Bumped on every change; cached look-ups compare it."""
        self.rejected: list[tuple[x509.CertificateRevocationList, Exception]] = []
        self._compat: dict[tuple[IssuerKey, bool], list[Candidate]] = {}
        self._compat_generation = -1

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_issuer.values())

    def records(self, issuer: NameKey) -> Iterable[CrlRecord]:
        return self._by_issuer.get(issuer, {}).values()

    def __iter__(self) -> Iterator[CrlRecord]:
        for scopes in self._by_issuer.values():
            yield from scopes.values()

    def add(self, crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> str:
        """Verify ``crl`` against the certificate of its signer and index it; return its
        scope: ``full`` (no issuing distribution point), ``crl`` (a scoped list),
        ``arl`` (CA certificates only), ``delta`` or ``delta-arl``."""
        try:
            return self._add(crl, issuer)
        except PARSE_ERRORS as exc:
            raise fail("crl-malformed", f"CRL does not parse: {exc}") from None

    def _add(self, crl: x509.CertificateRevocationList, signer: x509.Certificate) -> str:
        issuer = name_key(crl.issuer)
        if issuer != name_key(signer.subject):
            raise fail(
                "crl-issuer", f"CRL issuer {crl.issuer.rfc4514_string()} is not {who(signer)}"
            )
        key_id = aki(crl)
        signer_ski = ski(signer)
        if key_id is not None and signer_ski is not None and key_id != signer_ski:
            raise fail("crl-issuer", f"CRL key identifier does not match {who(signer)}")
        ku = ext(signer, x509.KeyUsage)
        if not isinstance(ku, x509.KeyUsage) or not ku.crl_sign:
            raise fail("crl-issuer", f"{who(signer)} may not sign CRLs (no cRLSign)")
        for e in crl.extensions:
            if e.critical and e.oid not in _KNOWN_CRITICAL_CRL:
                raise fail(
                    "crl-unknown-critical",
                    f"CRL has unknown critical extension {e.oid.dotted_string}",
                )
        tbs = crl.tbs_certlist_bytes  # re-encoded on every access: read it once
        if not verify_raw_signature(
            public_key(signer), crl.signature, tbs, crl.signature_hash_algorithm
        ):
            raise fail(
                "crl-signature", f"CRL from {crl.issuer.rfc4514_string()} has a bad signature"
            )
        number = _number(crl, x509.CRLNumber)
        if number is None:
            raise fail("crl-number", "CRL carries no CRL number")
        base = _number(crl, x509.DeltaCRLIndicator)
        next_update = crl.next_update_utc
        if next_update is None:
            raise fail("crl-stale", "CRL has no nextUpdate")
        idp = ext(crl, x509.IssuingDistributionPoint)
        idp_der = b""
        if isinstance(idp, x509.IssuingDistributionPoint):
            idp_der = idp.public_bytes()
            dp_names = _dp_names(idp.full_name, idp.relative_name, crl.issuer)
            reasons = idp.only_some_reasons
            flags = (
                idp.only_contains_user_certs,
                idp.only_contains_ca_certs,
                idp.only_contains_attribute_certs,
                idp.indirect_crl,
            )
        else:
            idp, dp_names, reasons, flags = None, None, None, (False, False, False, False)
        if base is not None:
            scope = "delta-arl" if flags[1] else "delta"
        elif idp is None:
            scope = "full"
        else:
            scope = "arl" if flags[1] else "crl"
        kind = {"full": "CRL", "crl": "CRL", "arl": "ARL", "delta": "delta CRL"}.get(
            scope, "delta ARL"
        )
        alg = crl.signature_hash_algorithm
        record = CrlRecord(
            crl=crl,
            issuer=issuer,
            label=f"{kind} #{number} of {short_name(crl.issuer)}",
            signer=signer,
            signer_id=(issuer, spki_hash(signer)),
            number=number,
            base=base,
            this_update=crl.last_update_utc,
            next_update=next_update,
            idp_der=idp_der,
            dp_names=dp_names,
            reasons=frozenset(reasons) if reasons else None,
            only_user=flags[0],
            only_ca=flags[1],
            only_attr=flags[2],
            indirect=flags[3],
            entries=_entries(crl, tbs, issuer, flags[3]),
            sha1=alg is not None and alg.name == "sha1",
        )
        scopes = self._by_issuer.setdefault(issuer, {})
        slot = (record.signer_id, idp_der, base is not None)
        for other in scopes.values():
            if (
                other.signer_id == record.signer_id
                and other.is_delta == record.is_delta
                and other.number > number
                and other.overlaps(record)
            ):
                raise fail(
                    "crl-rollback",
                    f"{scope} number {number} from {crl.issuer.rfc4514_string()} is lower than"
                    f" {other.number} already seen for an overlapping scope",
                )
        held = scopes.get(slot)
        if held is not None and held.number == number:
            return scope
        scopes[slot] = record
        self.generation += 1
        return scope

    def add_all(
        self,
        crls: Iterable[x509.CertificateRevocationList],
        issuers: Iterable[x509.Certificate],
        *,
        strict: bool = True,
    ) -> int:
        """Add every CRL whose signer is among ``issuers`` (matched by name and key id;
        among look-alikes, one with cRLSign whose key signed the list). With
        ``strict=False`` a list that fails its checks goes to :attr:`rejected`."""
        by_name: dict[NameKey, list[x509.Certificate]] = {}
        for cert in issuers:
            try:
                by_name.setdefault(name_key(cert.subject), []).append(cert)
            except PARSE_ERRORS:
                continue
        added = 0
        for crl in crls:
            try:
                match = self._signer_for(crl, by_name)
                if match is None:
                    continue
                self.add(crl, match)
            except REJECTIONS as exc:
                if strict:
                    raise
                self.rejected.append((crl, exc))
                continue
            added += 1
        return added

    def check(
        self, issuer: IssuerKey, serial: int, is_ca: bool, now: datetime, policy: _Policy
    ) -> None:
        """Raise unless ``serial`` is known good by fresh lists signed by ``issuer`` (its
        name and key), for a certificate without distribution points of its own: any list
        of that issuer for users (or CAs) counts. Certificates on a path are judged by
        :class:`~lgwan_sim.lgpki._verify.Verifier`, which also matches their scope."""
        key = (issuer, is_ca)
        if self._compat_generation != self.generation:
            self._compat.clear()
            self._compat_generation = self.generation
        cands = self._compat.get(key)
        if cands is None:
            cands = []
            for rec in self:
                if rec.is_delta or issuer_key(rec.signer) != issuer or rec.only_attr:
                    continue
                if (rec.only_user and is_ca) or (rec.only_ca and not is_ca) or rec.indirect:
                    continue
                deltas = sorted(
                    (
                        d
                        for d in self.records(rec.issuer)
                        if d.is_delta and d.signer_id == rec.signer_id and d.idp_der == rec.idp_der
                    ),
                    key=lambda d: -d.number,
                )
                cands.append(
                    Candidate(
                        record=rec,
                        reasons=rec.reasons or ALL_REASONS,
                        entries=rec.entries.get(rec.issuer, {}),
                        deltas=tuple((d, d.entries.get(d.issuer, {})) for d in deltas),
                    )
                )
            cands.sort(key=lambda c: -c.record.number)
            self._compat[key] = cands
        judge(cands, serial, is_ca, now, policy.legacy_allowed(now), lambda rec: None)

    @staticmethod
    def _signer_for(
        crl: x509.CertificateRevocationList, by_name: dict[NameKey, list[x509.Certificate]]
    ) -> x509.Certificate | None:
        key_id = aki(crl)
        candidates = by_name.get(name_key(crl.issuer), [])
        match = [c for c in candidates if key_id is None or ski(c) in (None, key_id)]
        if len(match) > 1:

            def good(c: x509.Certificate) -> bool:
                ku = ext(c, x509.KeyUsage)
                try:
                    return (
                        isinstance(ku, x509.KeyUsage)
                        and ku.crl_sign
                        and verify_raw_signature(
                            public_key(c),
                            crl.signature,
                            crl.tbs_certlist_bytes,
                            crl.signature_hash_algorithm,
                        )
                    )
                except REJECTIONS:
                    return False

            match = [c for c in match if good(c)] or match
        return match[0] if match else None


@dataclass(frozen=True, slots=True)
class _Dp:
    names: frozenset[NameToken] | None
    crl_issuers: tuple[NameKey, ...]
    reasons: frozenset[ReasonFlags]


@dataclass(frozen=True, slots=True, kw_only=True)
class CertScope:
    """What revocation needs to know about one certificate of a path."""

    serial: int
    is_ca: bool
    issuer: NameKey
    dps: tuple[_Dp, ...]


def cert_scope(cert: x509.Certificate, is_ca: bool) -> CertScope:
    """The distribution points of ``cert``; none stated: one with no name (§6.3.3)."""
    cdp = ext(cert, x509.CRLDistributionPoints)
    dps: list[_Dp] = []
    if isinstance(cdp, x509.CRLDistributionPoints):
        for dp in cdp:
            crl_issuers = tuple(
                name_key(n.value) for n in dp.crl_issuer or () if isinstance(n, x509.DirectoryName)
            )
            base = dp.crl_issuer[0].value if crl_issuers and dp.crl_issuer else cert.issuer
            if not isinstance(base, x509.Name):
                base = cert.issuer
            dps.append(
                _Dp(
                    names=_dp_names(dp.full_name, dp.relative_name, base),
                    crl_issuers=crl_issuers,
                    reasons=frozenset(dp.reasons) if dp.reasons else ALL_REASONS,
                )
            )
    if not dps:
        dps.append(_Dp(names=None, crl_issuers=(), reasons=ALL_REASONS))
    return CertScope(
        serial=cert.serial_number, is_ca=is_ca, issuer=name_key(cert.issuer), dps=tuple(dps)
    )


@dataclass(frozen=True, slots=True)
class Candidate:
    """A complete list that covers a certificate, with the deltas that may complete it."""

    record: CrlRecord
    reasons: frozenset[ReasonFlags]
    entries: dict[int, ReasonFlags | None]
    deltas: tuple[tuple[CrlRecord, dict[int, ReasonFlags | None]], ...]


def candidates(store: RevocationStore, scope: CertScope) -> list[Candidate]:
    """The complete lists whose scope covers the certificate, §6.3.3 (b)-(c)."""
    out: list[Candidate] = []
    seen: set[int] = set()
    # newest first: where the scopes of two lists overlap, the higher CRL number (one
    # sequence per CA) speaks, and an older list adds nothing once its reasons are covered
    for dp in scope.dps:
        for issuer in dp.crl_issuers or (scope.issuer,):
            records = list(store.records(issuer))
            for rec in records:
                if rec.is_delta or id(rec) in seen:
                    continue
                if dp.crl_issuers and not rec.indirect:
                    continue  # (b)(1): a cRLIssuer's list must say it is indirect
                if rec.dp_names is not None:  # (b)(2)(i)
                    if dp.names is not None:
                        if not rec.dp_names & dp.names:
                            continue
                    elif not any(("dn", ci) in rec.dp_names for ci in dp.crl_issuers):
                        continue
                if (rec.only_user and scope.is_ca) or (rec.only_ca and not scope.is_ca):
                    continue  # (b)(2)(ii)-(iii)
                if rec.only_attr:
                    continue  # (b)(2)(iv)
                seen.add(id(rec))
                reasons = dp.reasons & (rec.reasons or ALL_REASONS)
                deltas = sorted(
                    (
                        d
                        for d in records
                        if d.is_delta and d.signer_id == rec.signer_id and d.idp_der == rec.idp_der
                    ),
                    key=lambda d: -d.number,
                )
                out.append(
                    Candidate(
                        record=rec,
                        reasons=reasons,
                        entries=rec.entries.get(scope.issuer, {}),
                        deltas=tuple((d, d.entries.get(scope.issuer, {})) for d in deltas),
                    )
                )
    out.sort(key=lambda c: -c.record.number)
    return out


_MISSING = object()
_CRL_PRIORITY = {"crl-stale": 3, "crl-not-yet-valid": 3, "weak-hash": 2, "crl-signer": 1}


def _usable(
    rec: CrlRecord,
    now: datetime,
    legacy_ok: bool,
    signer_ok: Callable[[CrlRecord], VerificationError | None],
) -> VerificationError | None:
    if now < rec.this_update:
        return fail(
            "crl-not-yet-valid",
            f"{rec.label} is valid from {when(rec.this_update)}, not yet at {when(now)}",
        )
    if now >= rec.next_update:
        return fail(
            "crl-stale",
            f"{rec.label} is valid {when(rec.this_update)} to {when(rec.next_update)},"
            f" not at {when(now)}",
        )
    if rec.sha1 and not legacy_ok:
        return fail("weak-hash", f"{rec.label} is signed with SHA-1")
    return signer_ok(rec)


def judge(
    cands: Sequence[Candidate],
    serial: int,
    is_ca: bool,
    now: datetime,
    legacy_ok: bool,
    signer_ok: Callable[[CrlRecord], VerificationError | None],
) -> None:
    """§6.3.3 (a)-(k) over the lists chosen by :func:`candidates`; raise unless the
    certificate is known good for every reason (fail closed).

    ``signer_ok`` says whether a list's signer may speak for the certificate (§6.3.3 (f));
    ``legacy_ok`` whether SHA-1 lists are still acceptable at ``now``.
    """
    mask: frozenset[ReasonFlags] = frozenset()
    problems: list[VerificationError] = []
    for cand in cands:
        rec = cand.record
        if not cand.reasons - mask:
            continue  # (d): nothing new to learn from this list
        problem = _usable(rec, now, legacy_ok, signer_ok)
        if problem is not None:
            problems.append(problem)
            continue
        status: object = _MISSING
        source = rec
        delta_problem = None
        for delta, entries in cand.deltas:  # newest first; only the newest counts
            if delta.number <= rec.number or (delta.base or 0) > rec.number:
                continue
            if delta.this_update <= now < delta.next_update:
                delta_problem = _usable(delta, now, legacy_ok, signer_ok)
                if delta_problem is None:
                    status = entries.get(serial, _MISSING)
                    source = delta
            elif delta.this_update > rec.this_update and now >= delta.next_update:
                # a newer delta that ran out: what it said since the base is unknown
                delta_problem = fail(
                    "crl-stale",
                    f"{delta.label} is valid {when(delta.this_update)} to"
                    f" {when(delta.next_update)}, not at {when(now)}",
                )
            break
        if delta_problem is not None:
            problems.append(delta_problem)
            continue
        if status is _MISSING:  # (j): the delta said nothing, the complete list speaks
            status = cand.entries.get(serial, _MISSING)
            source = rec
        if status is not _MISSING and status is not ReasonFlags.remove_from_crl:
            if is_ca:
                raise fail("ca-revoked", f"CA certificate {serial:x} is revoked ({source.label})")
            raise fail("revoked", f"certificate {serial:x} is revoked ({source.label})")
        mask |= cand.reasons
    if mask != ALL_REASONS:
        if problems:
            raise max(problems, key=lambda e: _CRL_PRIORITY.get(e.reason, 0))
        what = "ARL" if is_ca else "CRL"
        if mask:
            missing = ", ".join(sorted(r.name for r in ALL_REASONS - mask))
            raise fail(
                "crl-missing",
                f"no {what} covers serial {serial:x} for the reasons {missing}: status unknown",
            )
        raise fail("crl-missing", f"no {what} for serial {serial:x}'s issuer: status unknown")
