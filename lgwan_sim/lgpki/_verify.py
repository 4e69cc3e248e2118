"""The relying party's verifier: paths to pinned anchors, revocation, policies, names.

``cryptography``'s own verifier checks no revocation, rejects critical policyMappings and
directoryName constraints, builds bridge paths without loop detection and refuses
SHA-1/RSA-1024 outright (so G1 objects cannot be checked at all). This module supplies
RFC 5280 path validation with those parts:

* :class:`AlgorithmPolicy`: SHA-1 and RSA keys under 2048 bits are accepted only before a
  cut-over instant; after it every certificate, CRL and message signature must use SHA-256
  and every key (anchor and leaf included) RSA-2048+ or P-256.
* :class:`~lgwan_sim.lgpki._revocation.RevocationStore`: CRLs, ARLs and delta CRLs, each
  checked once on load and kept apart by scope (``_revocation.py``).
* :class:`Verifier`: a depth-first path builder with loop detection over a forward bundle
  (names compared per RFC 5280 §7.1, ``_names.py``); every certificate judged, the anchor
  too (signature, validity with notAfter inclusive, basicConstraints, pathLen, keyUsage,
  unknown critical extensions, key identifiers); certificate policies with the valid
  policy tree (§6.1, ``_policy.py``) and name constraints; then revocation of every
  non-anchor certificate by the lists whose scope covers it (§6.3), with lists signed by
  another key of the CA validated on their own path; and the algorithm policy. Paths may
  be cached by the caller (:class:`VerifiedPath`); revocation never is.

No input makes the verifier raise anything but :class:`VerificationError`: a certificate
whose extensions, names or key do not parse is rejected as ``malformed``.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtensionOID

from lgwan_sim.errors import VerificationError
from lgwan_sim.lgpki._build import SITE_URI_PREFIX
from lgwan_sim.lgpki._certutil import (
    PARSE_ERRORS,
    REJECTIONS,
    IssuerKey,
    aki,
    ext,
    fail,
    issuer_key,
    public_key,
    ski,
    spki_hash,
    verify_raw_signature,
    when,
    who,
)
from lgwan_sim.lgpki._crypto import PublicKey
from lgwan_sim.lgpki._migration_plan import MigrationPlan
from lgwan_sim.lgpki._model import require_utc
from lgwan_sim.lgpki._names import NameKey, check_name_constraints, name_key, subject_names
from lgwan_sim.lgpki._policy import ANY_POLICY, POLICY_MAPPINGS_OID, PolicyError, process_policies
from lgwan_sim.lgpki._revocation import (
    ALL_REASONS,
    Candidate,
    CertScope,
    CrlRecord,
    RevocationStore,
    candidates,
    cert_scope,
    judge,
)

__all__ = [
    "AlgorithmPolicy",
    "IssuerKey",
    "RevocationStore",
    "VerifiedPath",
    "Verifier",
    "issuer_key",
    "verify_raw_signature",
]

log = logging.getLogger(__name__)

_KNOWN_CRITICAL = frozenset(
    {
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.CERTIFICATE_POLICIES,
        ExtensionOID.NAME_CONSTRAINTS,
        ExtensionOID.POLICY_CONSTRAINTS,
        ExtensionOID.INHIBIT_ANY_POLICY,
        ExtensionOID.CRL_DISTRIBUTION_POINTS,
        POLICY_MAPPINGS_OID,
    }
)
#: RFC 5280 §4.2.1.1-2: conforming CAs mark these non-critical; a critical one is refused.
_NEVER_CRITICAL = frozenset(
    {ExtensionOID.AUTHORITY_KEY_IDENTIFIER, ExtensionOID.SUBJECT_KEY_IDENTIFIER}
)
_HASHES = frozenset({"sha1", "sha256", "sha384", "sha512"})
_ANY = ANY_POLICY

_who = who
_when = when
_fail = fail


@dataclass(frozen=True, slots=True, kw_only=True)
class AlgorithmPolicy:
    """Which algorithms are acceptable at a given instant.

    ``legacy_until``: SHA-1 signatures and RSA keys of 1024..2047 bits are acceptable strictly
    before this instant (``None``: never). RSA keys must always be at least 1024 bits; the
    only curve is P-256.
    """

    legacy_until: datetime | None

    @classmethod
    def from_plan(cls, plan: MigrationPlan) -> AlgorithmPolicy:
        return cls(legacy_until=plan.weak_algorithms_until)

    def legacy_allowed(self, now: datetime) -> bool:
        return self.legacy_until is not None and now < self.legacy_until

    @staticmethod
    def check_always(path: Sequence[x509.Certificate], keys: Sequence[PublicKey]) -> None:
        """The part of the policy that holds at every instant: hashes of the SHA family
        (the anchor's self-signature aside), RSA keys of 1024 bits or more, curve P-256."""
        for cert in path[:-1]:
            alg = cert.signature_hash_algorithm
            if alg is None or alg.name not in _HASHES:
                raise _fail("weak-hash", f"{_who(cert)} uses an unsupported signature hash")
        for cert, key in zip(path, keys, strict=True):
            if isinstance(key, rsa.RSAPublicKey):
                if key.key_size < 1024:
                    raise _fail("weak-key", f"{_who(cert)} has an RSA-{key.key_size} key")
            elif not isinstance(key.curve, ec.SECP256R1):
                raise _fail(
                    "weak-key", f"{_who(cert)} uses curve {key.curve.name}, which is not allowed"
                )

    def check_hash(self, algorithm: hashes.HashAlgorithm | None, now: datetime, what: str) -> None:
        if algorithm is None or algorithm.name not in _HASHES:
            raise _fail("weak-hash", f"{what} uses an unsupported signature hash")
        if algorithm.name == "sha1" and not self.legacy_allowed(now):
            raise _fail("weak-hash", f"{what} is signed with SHA-1, refused at {now.isoformat()}")

    def check_key(self, key: PublicKey, now: datetime, what: str) -> None:
        if isinstance(key, rsa.RSAPublicKey):
            if key.key_size < 1024 or (key.key_size < 2048 and not self.legacy_allowed(now)):
                raise _fail(
                    "weak-key",
                    f"{what} has an RSA-{key.key_size} key, refused at {now.isoformat()}",
                )
        elif not isinstance(key.curve, ec.SECP256R1):
            raise _fail("weak-key", f"{what} uses curve {key.curve.name}, which is not allowed")


#: The usual case, checked without the general loop: the newest list covering the
#: certificate covers every reason and is signed by the certificate's issuer; with the
#: newest delta that may complete it. (list, its entries, delta or None, delta entries)
_Entries = dict[int, x509.ReasonFlags | None]
_Fast = tuple[CrlRecord, _Entries, CrlRecord | None, _Entries]


class _RevRef:
    """One certificate of a path as revocation sees it, with the lists chosen for it.

    The choice (:func:`candidates`) depends only on the store's contents, so it is made
    again only when the store changed; freshness and status are judged on every use.
    """

    __slots__ = ("anchor", "cached", "fast", "generation", "issuer_id", "scope", "store_id")

    def __init__(self, scope: CertScope, issuer_id: tuple[NameKey, bytes], anchor: bytes) -> None:
        self.scope = scope
        self.issuer_id = issuer_id
        self.anchor = anchor
        self.generation = -1
        self.store_id = 0
        self.cached: list[Candidate] = []
        self.fast: _Fast | None = None

    @property
    def serial(self) -> int:
        return self.scope.serial

    @property
    def is_ca(self) -> bool:
        return self.scope.is_ca


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedPath:
    """A path from a leaf to a pinned anchor whose signatures and structure were checked.

    Everything time- or revocation-dependent is re-checked on use (:meth:`Verifier.recheck`).
    """

    certificates: tuple[x509.Certificate, ...] = field(repr=False)
    not_before: datetime
    not_after: datetime
    uses_sha1: bool
    weak_rsa: bool
    revocation_refs: tuple[_RevRef, ...] = field(repr=False)
    leaf_key: PublicKey = field(repr=False)
    key_kind: str
    """``"rsa"`` or ``"ec"``: lets hot paths dispatch without ABC ``isinstance`` checks."""
    leaf_key_id: bytes
    site_ids: frozenset[str]
    ekus: frozenset[str]
    digital_signature: bool
    anchor_subject: str

    @property
    def leaf(self) -> x509.Certificate:
        return self.certificates[0]

    @property
    def length(self) -> int:
        return len(self.certificates)


@dataclass(frozen=True, slots=True)
class _Pooled:
    cert: x509.Certificate
    is_anchor: bool
    ident: tuple[NameKey, bytes]
    ski: bytes | None


def _is_ca(cert: x509.Certificate) -> bool:
    bc = ext(cert, x509.BasicConstraints)
    return isinstance(bc, x509.BasicConstraints) and bc.ca


def _self_issued(cert: x509.Certificate) -> bool:
    return name_key(cert.subject) == name_key(cert.issuer)


class Verifier:
    """Validate certificates against pinned anchors, a forward bundle and a revocation store.

    Policy processing (RFC 5280 §6.1) always runs. ``acceptable_policies`` (dotted OIDs in
    the anchor's domain) is the user-initial-policy-set; given, it also sets
    initial-explicit-policy unless ``explicit_policy`` says otherwise. ``None`` stands for
    anyPolicy. ``inhibit_policy_mapping`` and ``inhibit_any_policy`` are the other two
    initial inputs of §6.1.1.
    """

    def __init__(
        self,
        *,
        anchors: Sequence[x509.Certificate],
        intermediates: Sequence[x509.Certificate] = (),
        revocation: RevocationStore,
        policy: AlgorithmPolicy,
        acceptable_policies: Iterable[str] | None = None,
        max_depth: int = 6,
        explicit_policy: bool | None = None,
        inhibit_policy_mapping: bool = False,
        inhibit_any_policy: bool = False,
    ) -> None:
        if not anchors:
            raise VerificationError("no trust anchor pinned", reason="no-anchor")
        self.anchors = tuple(anchors)
        self.revocation = revocation
        self.policy = policy
        self.max_depth = max_depth
        self.acceptable_policies = (
            None if acceptable_policies is None else frozenset(acceptable_policies)
        )
        self.explicit_policy = (
            self.acceptable_policies is not None if explicit_policy is None else explicit_policy
        )
        self.inhibit_policy_mapping = inhibit_policy_mapping
        self.inhibit_any_policy = inhibit_any_policy
        self._anchor_der = {a.public_bytes(Encoding.DER) for a in self.anchors}
        self._by_subject: dict[NameKey, list[_Pooled]] = {}
        for cert, is_anchor in [(a, True) for a in self.anchors] + [
            (c, False) for c in intermediates
        ]:
            if not is_anchor and cert.public_bytes(Encoding.DER) in self._anchor_der:
                continue
            try:
                pooled = _Pooled(
                    cert, is_anchor, (name_key(cert.subject), spki_hash(cert)), ski(cert)
                )
            except REJECTIONS as exc:
                if is_anchor:
                    raise VerificationError(
                        f"trust anchor {who(cert)} does not parse: {exc}", reason="malformed"
                    ) from None
                log.info("ignoring an unreadable certificate in the bundle: %s", exc)
                continue
            self._by_subject.setdefault(pooled.ident[0], []).append(pooled)
        for pooled_list in self._by_subject.values():
            pooled_list.sort(key=lambda p: not p.is_anchor)  # anchors first: shortest paths
        self._signer_paths: dict[tuple[int, bytes, bytes], VerifiedPath | VerificationError] = {}
        self._signer_stack: set[bytes] = set()

    # -- building --------------------------------------------------------------------------
    def build_path(
        self, leaf: x509.Certificate, *, now: datetime, require_end_entity: bool = True
    ) -> VerifiedPath:
        """Find and check a path from ``leaf`` to a pinned anchor at ``now``.

        Checks signatures, validity, CA flags, pathLen, keyUsage, unknown critical
        extensions, policies, name constraints, the end-entity profile (unless
        ``require_end_entity`` is false) and the date-independent algorithm rules
        (:meth:`AlgorithmPolicy.check_always`); *not* revocation or the SHA-1/RSA-1024
        cut-over (see :meth:`recheck`).
        """
        require_utc(now)
        try:
            return self._build(leaf, now, require_end_entity, policies=True)
        except PARSE_ERRORS as exc:
            raise _fail("malformed", f"{who(leaf)} does not parse: {exc}") from None

    def _build(
        self, leaf: x509.Certificate, now: datetime, end_entity: bool, *, policies: bool
    ) -> VerifiedPath:
        self._check_validity(leaf, now)
        self._check_critical(leaf)
        if end_entity:
            self._check_end_entity(leaf)
        errors: list[VerificationError] = []
        path = self._extend([leaf], set(), now, errors, policies)
        if path is None:
            if errors:
                raise max(errors, key=lambda e: _PRIORITY.get(e.reason, 0))
            raise _fail(
                "unknown-issuer",
                f"no path from {who(leaf)} to a pinned anchor"
                f" (issuer {leaf.issuer.rfc4514_string()} unknown)",
            )
        return self._summarise(path)

    def _check_end_entity(self, leaf: x509.Certificate) -> None:
        if _is_ca(leaf):
            raise _fail("not-end-entity", f"{who(leaf)} is a CA certificate, not an end entity")
        ku = ext(leaf, x509.KeyUsage)
        if isinstance(ku, x509.KeyUsage) and ku.key_cert_sign:
            raise _fail("not-end-entity", f"{who(leaf)} may sign certificates (keyCertSign)")
        if not leaf.subject.rdns:
            try:
                san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
            except x509.ExtensionNotFound:
                san = None
            if san is None or not san.critical:
                raise _fail(
                    "malformed", f"{who(leaf)} has an empty subject and no critical subjectAltName"
                )

    def _extend(
        self,
        path: list[x509.Certificate],
        visited: set[tuple[NameKey, bytes]],
        now: datetime,
        errors: list[VerificationError],
        policies: bool,
    ) -> list[x509.Certificate] | None:
        cert = path[-1]
        if len(path) > self.max_depth:
            errors.append(_fail("path-too-long", f"no path within {self.max_depth} certificates"))
            return None
        key_id = aki(cert)
        # RFC 5280 6.1.4 (l): pathLen counts the CA certificates below the issuer,
        # leaving out self-issued ones (subject == issuer)
        below = sum(1 for c in path[1:] if not _self_issued(c))
        for pooled in self._by_subject.get(name_key(cert.issuer), ()):
            if key_id is not None and pooled.ski is not None and pooled.ski != key_id:
                continue
            if pooled.ident in visited:
                continue  # a loop through cross-certificates
            issuer = pooled.cert
            try:
                self._check_issued_by(cert, issuer, below, now)
                if pooled.is_anchor:
                    full = [*path, issuer]
                    self._check_path(full, policies)
                    return full
            except VerificationError as exc:
                errors.append(exc)
                continue
            except PARSE_ERRORS as exc:
                errors.append(_fail("malformed", f"{who(issuer)} does not parse: {exc}"))
                continue
            found = self._extend([*path, issuer], visited | {pooled.ident}, now, errors, policies)
            if found is not None:
                return found
        return None

    def _check_validity(self, cert: x509.Certificate, now: datetime) -> None:
        if now < cert.not_valid_before_utc:
            raise _fail(
                "not-yet-valid",
                f"{who(cert)} is valid from {cert.not_valid_before_utc.isoformat()}",
            )
        if now > cert.not_valid_after_utc:  # RFC 5280 4.1.2.5: notAfter is inclusive
            raise _fail("expired", f"{who(cert)} expired at {cert.not_valid_after_utc.isoformat()}")

    def _check_critical(self, cert: x509.Certificate) -> None:
        for e in cert.extensions:
            if e.critical and e.oid not in _KNOWN_CRITICAL:
                if e.oid in _NEVER_CRITICAL:
                    raise _fail("malformed", f"{who(cert)} marks {e.oid.dotted_string} critical")
                raise _fail(
                    "unknown-critical-extension",
                    f"{who(cert)} has critical {e.oid.dotted_string}",
                )

    def _check_issued_by(
        self, cert: x509.Certificate, issuer: x509.Certificate, below: int, now: datetime
    ) -> None:
        if not verify_raw_signature(
            public_key(issuer),
            cert.signature,
            cert.tbs_certificate_bytes,
            cert.signature_hash_algorithm,
        ):
            raise _fail("bad-certificate-signature", f"{who(cert)} is not signed by {who(issuer)}")
        bc = ext(issuer, x509.BasicConstraints)
        if not isinstance(bc, x509.BasicConstraints) or not bc.ca:
            raise _fail("not-a-ca", f"{who(issuer)} is not a CA")
        ku = ext(issuer, x509.KeyUsage)
        if isinstance(ku, x509.KeyUsage) and not ku.key_cert_sign:
            raise _fail("not-a-ca", f"{who(issuer)} may not sign certificates")
        if bc.path_length is not None and below > bc.path_length:
            raise _fail("path-length", f"{who(issuer)} allows {bc.path_length} CAs below it")
        # the anchor too: an expired anchor, or one with a critical extension this
        # verifier does not know, is refused like any other certificate
        self._check_validity(issuer, now)
        self._check_critical(issuer)

    def _check_path(self, path: list[x509.Certificate], policies: bool) -> None:
        """Policies (§6.1) and name constraints over a complete path, anchor last."""
        below_anchor = path[-2::-1]  # from the certificate the anchor issued down to the leaf
        if policies:
            try:
                process_policies(
                    below_anchor,
                    initial_policies=self.acceptable_policies,
                    explicit=self.explicit_policy,
                    inhibit_mapping=self.inhibit_policy_mapping,
                    inhibit_any=self.inhibit_any_policy,
                )
            except PolicyError as exc:
                raise _fail("policy", f"{who(path[0])}: {exc}") from None
        constraints: list[x509.NameConstraints] = []
        n = len(below_anchor)
        for i, cert in enumerate(below_anchor, start=1):
            if constraints and not (i < n and _self_issued(cert)):
                problem = check_name_constraints(subject_names(cert), constraints)
                if problem is not None:
                    raise _fail("name-constraints", f"{who(cert)}: {problem}")
            if i < n:
                nc = ext(cert, x509.NameConstraints)
                if isinstance(nc, x509.NameConstraints):
                    constraints.append(nc)

    def _summarise(self, path: list[x509.Certificate]) -> VerifiedPath:
        leaf = path[0]
        keys = [public_key(c) for c in path]
        AlgorithmPolicy.check_always(path, keys)
        anchor_fp = path[-1].fingerprint(hashes.SHA256())
        refs = [
            _RevRef(
                cert_scope(cert, _is_ca(cert)),
                (name_key(issuer.subject), spki_hash(issuer)),
                anchor_fp,
            )
            for cert, issuer in itertools.pairwise(path)
        ]
        san = ext(leaf, x509.SubjectAlternativeName)
        sites = frozenset(
            uri[len(SITE_URI_PREFIX) :]
            for uri in (
                san.get_values_for_type(x509.UniformResourceIdentifier)
                if isinstance(san, x509.SubjectAlternativeName)
                else []
            )
            if uri.startswith(SITE_URI_PREFIX)
        )
        eku = ext(leaf, x509.ExtendedKeyUsage)
        ku = ext(leaf, x509.KeyUsage)
        return VerifiedPath(
            certificates=tuple(path),
            not_before=max(c.not_valid_before_utc for c in path),
            not_after=min(c.not_valid_after_utc for c in path),
            uses_sha1=any(
                c.signature_hash_algorithm is not None and c.signature_hash_algorithm.name == "sha1"
                for c in path[:-1]
            ),
            weak_rsa=any(isinstance(k, rsa.RSAPublicKey) and k.key_size < 2048 for k in keys),
            revocation_refs=tuple(refs),
            leaf_key=keys[0],
            key_kind="rsa" if isinstance(keys[0], rsa.RSAPublicKey) else "ec",
            leaf_key_id=spki_hash(leaf),
            site_ids=sites,
            ekus=frozenset(o.dotted_string for o in eku)
            if isinstance(eku, x509.ExtendedKeyUsage)
            else frozenset(),
            digital_signature=isinstance(ku, x509.KeyUsage) and ku.digital_signature,
            anchor_subject=path[-1].subject.rfc4514_string(),
        )

    # -- per use ---------------------------------------------------------------------------
    def recheck(self, vp: VerifiedPath, *, now: datetime) -> VerifiedPath:
        """The checks that depend on time and revocation; run on every use of a cached path.

        Returns the path that was checked: ``vp`` itself, or a new path when one of its
        certificates is out of date at ``now`` (callers that cache paths keep the new one).
        """
        return self._recheck(vp, now)

    def _recheck(self, vp: VerifiedPath, now: datetime) -> VerifiedPath:
        if not vp.not_before <= now <= vp.not_after:
            # another path may still be valid (raises expired / not-yet-valid if none is);
            # everything below is then checked on that path, not on the cached one
            vp = self._build(vp.leaf, now, False, policies=True)
        policy = self.policy
        if (vp.uses_sha1 or vp.weak_rsa) and not policy.legacy_allowed(now):
            for cert in vp.certificates[:-1]:
                policy.check_hash(cert.signature_hash_algorithm, now, who(cert))
            for cert in vp.certificates:
                policy.check_key(public_key(cert), now, who(cert))
        for ref in vp.revocation_refs:
            self._check_revocation(ref, now)
        return vp

    def validate(self, cert: x509.Certificate, *, now: datetime) -> VerifiedPath:
        """RFC 5280 path validation of any certificate (a CA's too) with revocation."""
        return self.recheck(self.build_path(cert, now=now, require_end_entity=False), now=now)

    def verify_certificate(
        self,
        cert: x509.Certificate,
        *,
        now: datetime,
        required_ekus: Iterable[str] = (),
    ) -> VerifiedPath:
        """Full check of one end-entity certificate at ``now``; returns the path."""
        vp = self.recheck(self.build_path(cert, now=now), now=now)
        if not vp.digital_signature:
            raise _fail("key-usage", f"{who(cert)} lacks the digitalSignature key usage")
        for eku in required_ekus:
            if eku not in vp.ekus:
                raise _fail("key-usage", f"{who(cert)} lacks extended key usage {eku}")
        return vp

    # -- revocation ------------------------------------------------------------------------
    def _check_revocation(self, ref: _RevRef, now: datetime) -> None:
        """RFC 5280 §6.3.3 for one certificate: judged only by lists whose scope covers
        it, rejected unless fresh lists cover every reason."""
        store = self.revocation
        if ref.generation != store.generation or ref.store_id != id(store):
            ref.cached = candidates(store, ref.scope)
            ref.generation = store.generation
            ref.store_id = id(store)
            ref.fast = _fast_plan(ref.cached, ref.issuer_id)
        fast = ref.fast
        if fast is not None:
            # only a "known good" verdict is taken here; anything else goes to judge()
            rec, entries, delta, delta_entries = fast
            if rec.this_update <= now < rec.next_update and (
                not rec.sha1 or self.policy.legacy_allowed(now)
            ):
                serial = ref.scope.serial
                status: object = _NOT_LISTED
                if delta is not None and delta.this_update <= now:
                    if now >= delta.next_update or (
                        delta.sha1 and not self.policy.legacy_allowed(now)
                    ):
                        status = _UNSURE  # stale or refused delta: judge() says which
                    else:
                        status = delta_entries.get(serial, _NOT_LISTED)
                if status is _NOT_LISTED:
                    status = entries.get(serial, _NOT_LISTED)
                if status is _NOT_LISTED or status is x509.ReasonFlags.remove_from_crl:
                    return
        issuer_id = ref.issuer_id

        def signer_ok(rec: CrlRecord) -> VerificationError | None:
            if rec.signer_id == issuer_id:
                return None
            return self._check_signer(rec, ref.anchor, now)

        judge(
            ref.cached,
            ref.scope.serial,
            ref.scope.is_ca,
            now,
            self.policy.legacy_allowed(now),
            signer_ok,
        )

    def _check_signer(
        self, rec: CrlRecord, anchor: bytes, now: datetime
    ) -> VerificationError | None:
        """§6.3.3 (f): a list signed by another key (or another CRL issuer) counts only if
        its signer's certificate validates, revocation included, to the same anchor."""
        signer = rec.signer
        fp = signer.fingerprint(hashes.SHA256())
        if fp in self._signer_stack:
            # the signer's own status is being judged by a list it signed (PKITS 4.14.30):
            # its path is being validated one level up
            return None
        key = (self.revocation.generation, fp, anchor)
        cached = self._signer_paths.get(key)
        self._signer_stack.add(fp)
        try:
            if cached is None:
                try:
                    cached = self._build(signer, now, False, policies=False)
                except VerificationError as exc:
                    cached = exc
                except PARSE_ERRORS as exc:
                    cached = _fail("malformed", f"{who(signer)} does not parse: {exc}")
                self._signer_paths[key] = cached
            if isinstance(cached, VerificationError):
                return _fail("crl-signer", f"{rec.label}: no valid path for its signer: {cached}")
            if cached.certificates[-1].fingerprint(hashes.SHA256()) != anchor:
                return _fail("crl-signer", f"{rec.label}: its signer chains to another anchor")
            try:
                self._recheck(cached, now)
            except VerificationError as exc:
                return _fail("crl-signer", f"{rec.label}: its signer is not valid: {exc}")
        finally:
            self._signer_stack.discard(fp)
        return None


_NOT_LISTED = object()
_UNSURE = object()


def _fast_plan(cands: Sequence[Candidate], issuer_id: tuple[NameKey, bytes]) -> _Fast | None:
    if not cands:
        return None
    first = cands[0]
    rec = first.record
    if first.reasons != ALL_REASONS or rec.signer_id != issuer_id:
        return None
    for delta, entries in first.deltas:  # newest first, as judge() reads them
        if delta.number <= rec.number or (delta.base or 0) > rec.number:
            continue
        return rec, first.entries, delta, entries
    return rec, first.entries, None, {}


_PRIORITY = {
    "expired": 5,
    "not-yet-valid": 5,
    "policy": 4,
    "name-constraints": 4,
    "path-length": 4,
    "not-a-ca": 4,
    "bad-certificate-signature": 3,
    "unknown-critical-extension": 3,
    "malformed": 3,
    "path-too-long": 1,
}
