"""The relying party's verifier: paths to pinned anchors, revocation, algorithm policy.

``cryptography``'s own verifier checks no revocation, rejects critical policyMappings,
builds bridge paths without loop detection, refuses SHA-1/RSA-1024 outright (so G1 objects
cannot be checked at all) and ignores the leaf's key size. This module supplies those parts:

* :class:`AlgorithmPolicy`: SHA-1 and RSA keys under 2048 bits are accepted only before a
  cut-over instant; after it every certificate, CRL and message signature must use SHA-256
  and every key (anchor and leaf included) RSA-2048+ or P-256.
* :class:`RevocationStore`: CRLs, ARLs and delta CRLs, each checked once on load (issuer,
  cRLSign, signature, scope, CRL number never going back) and indexed as serial sets.
  Status is looked up on every use and fails closed: missing or stale lists reject.
* :class:`Verifier`: a depth-first path builder with loop detection over a forward bundle,
  RFC 5280 subset checks (signatures, validity, basicConstraints, pathLen, keyUsage,
  unknown critical extensions, certificate policies with policy mappings), then revocation
  of every non-anchor certificate and the algorithm policy. Paths may be cached by the
  caller (:class:`VerifiedPath`); revocation never is.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtensionOID

from lgwan_sim.errors import VerificationError
from lgwan_sim.lgpki._build import POLICY_MAPPINGS_OID, SITE_URI_PREFIX
from lgwan_sim.lgpki._crypto import PublicKey, parse_policy_mappings, spki_sha256
from lgwan_sim.lgpki._migration_plan import MigrationPlan
from lgwan_sim.lgpki._model import require_utc

__all__ = [
    "AlgorithmPolicy",
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
        POLICY_MAPPINGS_OID,
    }
)
_KNOWN_CRITICAL_CRL = frozenset(
    {ExtensionOID.ISSUING_DISTRIBUTION_POINT, ExtensionOID.DELTA_CRL_INDICATOR}
)
_ANY_POLICY = "2.5.29.32.0"
_HASHES = frozenset({"sha1", "sha256", "sha384", "sha512"})


def _fail(reason: str, message: str) -> VerificationError:
    return VerificationError(message, reason=reason)


def verify_raw_signature(
    key: PublicKey, signature: bytes, data: bytes, algorithm: hashes.HashAlgorithm | None
) -> bool:
    """Check a PKCS#1 v1.5 or ECDSA signature; SHA-1 included (policy is checked elsewhere)."""
    if algorithm is None:
        return False
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        else:
            key.verify(signature, data, ec.ECDSA(algorithm))
    except InvalidSignature:
        return False
    return True


def _public_key(cert: x509.Certificate) -> PublicKey:
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise _fail(
            "unsupported-key", f"{_who(cert)} has an unsupported key type {type(key).__name__}"
        )
    return key


def _who(cert: x509.Certificate) -> str:
    return f"certificate {cert.serial_number:x} ({cert.subject.rfc4514_string()})"


def _when(moment: datetime) -> str:
    """A UTC moment to the second: ``2020-04-02T01:00:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _short_name(name: x509.Name) -> str:
    """A CA's common name (``LGPKI Bridge CA G2``), else its whole RFC 4514 name."""
    cns = name.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(cns[0].value) if cns else name.rfc4514_string()


def _ext(cert: x509.Certificate, cls: type[x509.ExtensionType]) -> x509.ExtensionType | None:
    try:
        return cert.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None


def _ski(cert: x509.Certificate) -> bytes:
    ski = _ext(cert, x509.SubjectKeyIdentifier)
    if isinstance(ski, x509.SubjectKeyIdentifier):
        return ski.digest
    return x509.SubjectKeyIdentifier.from_public_key(_public_key(cert)).digest


def _aki(obj: x509.Certificate | x509.CertificateRevocationList) -> bytes | None:
    try:
        aki = obj.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound:
        return None
    return aki.key_identifier


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


@dataclass(slots=True, kw_only=True)
class _CrlState:
    number: int
    this_update: datetime
    next_update: datetime
    serials: frozenset[int]
    sha1: bool
    base_number: int | None = None
    issuer: str = ""
    """The issuing CA's name, for messages (its common name, else the whole name)."""


#: (issuer name DER, SHA-256 of the issuer's public key). The key itself, not the key
#: identifier extension, which anyone can copy into a look-alike certificate.
IssuerKey = tuple[bytes, bytes]


def issuer_key(issuer: x509.Certificate) -> IssuerKey:
    """How :class:`RevocationStore` names the lists of ``issuer``."""
    return issuer.subject.public_bytes(), bytes.fromhex(spki_sha256(_public_key(issuer)))


def _signed_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    return verify_raw_signature(
        _public_key(issuer), crl.signature, crl.tbs_certlist_bytes, crl.signature_hash_algorithm
    )


class RevocationStore:
    """CRLs, ARLs and delta CRLs known to one relying party, indexed for fast look-up.

    ``add`` verifies a list once and refuses a CRL number lower than one already seen for
    the same issuer and scope (``crl-rollback``); ``check`` is called for every certificate
    of every path and fails closed.
    """

    def __init__(self) -> None:
        self._states: dict[tuple[IssuerKey, str], _CrlState] = {}
        self._highest: dict[tuple[IssuerKey, str], int] = {}

    def __len__(self) -> int:
        return len(self._states)

    def add(self, crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> str:
        """Verify ``crl`` against its ``issuer`` certificate and index it; return its scope."""
        if crl.issuer.public_bytes() != issuer.subject.public_bytes():
            raise _fail(
                "crl-issuer", f"CRL issuer {crl.issuer.rfc4514_string()} is not {_who(issuer)}"
            )
        ski = _ski(issuer)
        aki = _aki(crl)
        if aki is not None and aki != ski:
            raise _fail("crl-issuer", f"CRL key identifier does not match {_who(issuer)}")
        ku = _ext(issuer, x509.KeyUsage)
        if not isinstance(ku, x509.KeyUsage) or not ku.crl_sign:
            raise _fail("crl-issuer", f"{_who(issuer)} may not sign CRLs (no cRLSign)")
        for ext in crl.extensions:
            if ext.critical and ext.oid not in _KNOWN_CRITICAL_CRL:
                raise _fail(
                    "crl-unknown-critical",
                    f"CRL has unknown critical extension {ext.oid.dotted_string}",
                )
        if not _signed_by(crl, issuer):
            raise _fail(
                "crl-signature", f"CRL from {crl.issuer.rfc4514_string()} has a bad signature"
            )
        try:
            number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
        except x509.ExtensionNotFound:
            raise _fail("crl-number", "CRL carries no CRL number") from None
        base_number: int | None = None
        scope = "crl"
        try:
            base_number = crl.extensions.get_extension_for_class(
                x509.DeltaCRLIndicator
            ).value.crl_number
            scope = "delta"
        except x509.ExtensionNotFound:
            pass
        try:
            idp = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
            if idp.only_contains_ca_certs:  # a delta ARL completes the ARL, never replaces it
                scope = "delta-arl" if scope == "delta" else "arl"
        except x509.ExtensionNotFound:
            if scope != "delta":
                scope = "full"
        next_update = crl.next_update_utc
        if next_update is None:
            raise _fail("crl-stale", "CRL has no nextUpdate")
        key = (issuer_key(issuer), scope)
        highest = self._highest.get(key)
        if highest is not None and number < highest:
            raise _fail(
                "crl-rollback",
                f"{scope} number {number} from {crl.issuer.rfc4514_string()} is lower than"
                f" {highest} already seen",
            )
        if highest is not None and number == highest:
            return scope
        sha1 = (
            crl.signature_hash_algorithm is not None and crl.signature_hash_algorithm.name == "sha1"
        )
        state = _CrlState(
            number=number,
            this_update=crl.last_update_utc,
            next_update=next_update,
            serials=frozenset(r.serial_number for r in crl),
            sha1=sha1,
            base_number=base_number,
            issuer=_short_name(crl.issuer),
        )
        self._highest[key] = number
        self._states[key] = state
        if scope == "full":  # covers both users and CAs
            for sub in ("crl", "arl"):
                self._states[(key[0], sub)] = state
        return scope

    def add_all(
        self, crls: Iterable[x509.CertificateRevocationList], issuers: Iterable[x509.Certificate]
    ) -> int:
        """Add every CRL whose issuer is among ``issuers`` (matched by name and key id;
        among look-alikes, the one whose key signed the list)."""
        by_name: dict[bytes, list[x509.Certificate]] = {}
        for cert in issuers:
            by_name.setdefault(cert.subject.public_bytes(), []).append(cert)
        added = 0
        for crl in crls:
            aki = _aki(crl)
            candidates = by_name.get(crl.issuer.public_bytes(), [])
            match = [c for c in candidates if aki is None or _ski(c) == aki]
            if not match:
                continue
            if len(match) > 1:
                match = [c for c in match if _signed_by(crl, c)] or match
            self.add(crl, match[0])
            added += 1
        return added

    def check(
        self, issuer: IssuerKey, serial: int, is_ca: bool, now: datetime, policy: AlgorithmPolicy
    ) -> None:
        """Raise unless ``serial`` is known good by a fresh list of ``issuer`` (fail closed)."""
        scope = "arl" if is_ca else "crl"
        state = self._states.get((issuer, scope))
        if state is None:
            raise _fail(
                "crl-missing", f"no {scope.upper()} for serial {serial:x}'s issuer: status unknown"
            )
        if not state.this_update <= now < state.next_update:
            raise _fail(
                "crl-stale",
                f"{scope.upper()} #{state.number} of {state.issuer} is valid"
                f" {_when(state.this_update)} to {_when(state.next_update)}, not at {_when(now)}",
            )
        if state.sha1 and not policy.legacy_allowed(now):
            raise _fail("weak-hash", f"{scope.upper()} #{state.number} is signed with SHA-1")
        revoked = serial in state.serials
        if not revoked:
            delta = self._states.get((issuer, "delta-arl" if is_ca else "delta"))
            if delta is not None and (delta.base_number or 0) <= state.number:
                if delta.this_update <= now < delta.next_update:
                    revoked = serial in delta.serials
                elif delta.this_update > state.this_update:
                    raise _fail(
                        "crl-stale",
                        f"delta CRL #{delta.number} of {delta.issuer} is valid"
                        f" {_when(delta.this_update)} to {_when(delta.next_update)},"
                        f" not at {_when(now)}",
                    )
        if revoked:
            if is_ca:
                raise _fail(
                    "ca-revoked",
                    f"CA certificate {serial:x} is revoked (ARL #{state.number} of {state.issuer})",
                )
            raise _fail(
                "revoked",
                f"certificate {serial:x} is revoked (CRL #{state.number} of {state.issuer})",
            )


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
    revocation_refs: tuple[tuple[IssuerKey, int, bool], ...] = field(repr=False)
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


class Verifier:
    """Validate certificates against pinned anchors, a forward bundle and a revocation store.

    ``acceptable_policies`` (dotted OIDs in the anchor's domain) turns on certificate-policy
    processing with policy mappings; ``None`` skips it.
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
        self._anchor_der = {a.public_bytes(Encoding.DER) for a in self.anchors}
        self._by_subject: dict[bytes, list[tuple[x509.Certificate, bool]]] = {}
        for anchor in self.anchors:
            self._by_subject.setdefault(anchor.subject.public_bytes(), []).append((anchor, True))
        for cert in intermediates:
            if cert.public_bytes(Encoding.DER) in self._anchor_der:
                continue
            self._by_subject.setdefault(cert.subject.public_bytes(), []).append((cert, False))

    # -- building --------------------------------------------------------------------------
    def build_path(self, leaf: x509.Certificate, *, now: datetime) -> VerifiedPath:
        """Find and check a path from ``leaf`` to a pinned anchor at ``now``.

        Checks signatures, validity, CA flags, pathLen, keyUsage, unknown critical extensions,
        policies and the date-independent algorithm rules (:meth:`AlgorithmPolicy.check_always`);
        *not* revocation or the SHA-1/RSA-1024 cut-over (see :meth:`recheck`).
        """
        require_utc(now)
        self._check_validity(leaf, now)
        self._check_critical(leaf)
        bc = _ext(leaf, x509.BasicConstraints)
        if isinstance(bc, x509.BasicConstraints) and bc.ca:
            raise _fail("not-end-entity", f"{_who(leaf)} is a CA certificate, not an end entity")
        errors: list[VerificationError] = []
        path = self._extend([leaf], set(), now, errors)
        if path is None:
            if errors:
                raise max(errors, key=lambda e: _PRIORITY.get(e.reason, 0))
            raise _fail(
                "unknown-issuer",
                f"no path from {_who(leaf)} to a pinned anchor (issuer {leaf.issuer.rfc4514_string()} unknown)",
            )
        self._check_policies(path)
        return self._summarise(path)

    def _extend(
        self,
        path: list[x509.Certificate],
        visited: set[tuple[bytes, str]],
        now: datetime,
        errors: list[VerificationError],
    ) -> list[x509.Certificate] | None:
        cert = path[-1]
        if len(path) > self.max_depth:
            errors.append(_fail("path-too-long", f"no path within {self.max_depth} certificates"))
            return None
        candidates = self._by_subject.get(cert.issuer.public_bytes(), [])
        aki = _aki(cert)
        # anchors first, so the shortest trusted path wins
        for issuer, is_anchor in sorted(candidates, key=lambda c: not c[1]):
            if aki is not None and _ski(issuer) != aki:
                continue
            ident = (issuer.subject.public_bytes(), spki_sha256(_public_key(issuer)))
            if ident in visited:
                continue  # a loop through cross-certificates
            # RFC 5280 6.1.4 (l): pathLen counts the CA certificates below the issuer,
            # leaving out self-issued ones (subject == issuer)
            below = sum(1 for c in path[1:] if c.subject != c.issuer)
            try:
                self._check_issued_by(cert, issuer, below, now, is_anchor)
            except VerificationError as exc:
                errors.append(exc)
                continue
            if is_anchor:
                return [*path, issuer]
            found = self._extend([*path, issuer], visited | {ident}, now, errors)
            if found is not None:
                return found
        return None

    def _check_validity(self, cert: x509.Certificate, now: datetime) -> None:
        if now < cert.not_valid_before_utc:
            raise _fail(
                "not-yet-valid",
                f"{_who(cert)} is valid from {cert.not_valid_before_utc.isoformat()}",
            )
        if now >= cert.not_valid_after_utc:
            raise _fail(
                "expired", f"{_who(cert)} expired at {cert.not_valid_after_utc.isoformat()}"
            )

    def _check_critical(self, cert: x509.Certificate) -> None:
        for ext in cert.extensions:
            if ext.critical and ext.oid not in _KNOWN_CRITICAL:
                raise _fail(
                    "unknown-critical-extension",
                    f"{_who(cert)} has critical {ext.oid.dotted_string}",
                )

    def _check_issued_by(
        self,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        below: int,
        now: datetime,
        is_anchor: bool,
    ) -> None:
        if not verify_raw_signature(
            _public_key(issuer),
            cert.signature,
            cert.tbs_certificate_bytes,
            cert.signature_hash_algorithm,
        ):
            raise _fail(
                "bad-certificate-signature", f"{_who(cert)} is not signed by {_who(issuer)}"
            )
        bc = _ext(issuer, x509.BasicConstraints)
        if not isinstance(bc, x509.BasicConstraints) or not bc.ca:
            raise _fail("not-a-ca", f"{_who(issuer)} is not a CA")
        ku = _ext(issuer, x509.KeyUsage)
        if isinstance(ku, x509.KeyUsage) and not ku.key_cert_sign:
            raise _fail("not-a-ca", f"{_who(issuer)} may not sign certificates")
        if bc.path_length is not None and below > bc.path_length:
            raise _fail("path-length", f"{_who(issuer)} allows {bc.path_length} CAs below it")
        if not is_anchor:
            self._check_validity(issuer, now)
            self._check_critical(issuer)

    def _check_policies(self, path: list[x509.Certificate]) -> None:
        if self.acceptable_policies is None:
            return
        valid = set(self.acceptable_policies)
        for cert in reversed(path[:-1]):  # from below the anchor down to the leaf
            pols = _ext(cert, x509.CertificatePolicies)
            asserted = (
                set()
                if not isinstance(pols, x509.CertificatePolicies)
                else {p.policy_identifier.dotted_string for p in pols}
            )
            if _ANY_POLICY not in asserted:
                valid &= asserted
            if not valid:
                raise _fail("policy", f"{_who(cert)} asserts none of the acceptable policies")
            try:
                raw = cert.extensions.get_extension_for_oid(POLICY_MAPPINGS_OID).value
            except x509.ExtensionNotFound:
                continue
            assert isinstance(raw, x509.UnrecognizedExtension)
            mappings = parse_policy_mappings(raw.value)
            mapped_from = {a for a, _ in mappings}
            valid = {b for a, b in mappings if a in valid} | (valid - mapped_from)

    def _summarise(self, path: list[x509.Certificate]) -> VerifiedPath:
        leaf = path[0]
        keys = [_public_key(c) for c in path]
        AlgorithmPolicy.check_always(path, keys)
        refs = []
        for cert, issuer in itertools.pairwise(path):
            bc = _ext(cert, x509.BasicConstraints)
            is_ca = isinstance(bc, x509.BasicConstraints) and bc.ca
            refs.append((issuer_key(issuer), cert.serial_number, is_ca))
        san = _ext(leaf, x509.SubjectAlternativeName)
        sites = frozenset(
            uri[len(SITE_URI_PREFIX) :]
            for uri in (
                san.get_values_for_type(x509.UniformResourceIdentifier)
                if isinstance(san, x509.SubjectAlternativeName)
                else []
            )
            if uri.startswith(SITE_URI_PREFIX)
        )
        eku = _ext(leaf, x509.ExtendedKeyUsage)
        ku = _ext(leaf, x509.KeyUsage)
        return VerifiedPath(
            certificates=tuple(path),
            not_before=max(c.not_valid_before_utc for c in path[:-1]),
            not_after=min(c.not_valid_after_utc for c in path[:-1]),
            uses_sha1=any(
                c.signature_hash_algorithm is not None and c.signature_hash_algorithm.name == "sha1"
                for c in path[:-1]
            ),
            weak_rsa=any(isinstance(k, rsa.RSAPublicKey) and k.key_size < 2048 for k in keys),
            revocation_refs=tuple(refs),
            leaf_key=keys[0],
            key_kind="rsa" if isinstance(keys[0], rsa.RSAPublicKey) else "ec",
            leaf_key_id=bytes.fromhex(spki_sha256(keys[0])),
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
        if not vp.not_before <= now < vp.not_after:
            # another path may still be valid (raises expired / not-yet-valid if none is);
            # everything below is then checked on that path, not on the cached one
            vp = self.build_path(vp.leaf, now=now)
        policy = self.policy
        if (vp.uses_sha1 or vp.weak_rsa) and not policy.legacy_allowed(now):
            for cert in vp.certificates[:-1]:
                policy.check_hash(cert.signature_hash_algorithm, now, _who(cert))
            for cert in vp.certificates:
                policy.check_key(_public_key(cert), now, _who(cert))
        revocation = self.revocation
        for issuer, serial, is_ca in vp.revocation_refs:
            revocation.check(issuer, serial, is_ca, now, policy)  # positional: hot path
        return vp

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
            raise _fail("key-usage", f"{_who(cert)} lacks the digitalSignature key usage")
        for eku in required_ekus:
            if eku not in vp.ekus:
                raise _fail("key-usage", f"{_who(cert)} lacks extended key usage {eku}")
        return vp


_PRIORITY = {
    "expired": 5,
    "not-yet-valid": 5,
    "path-length": 4,
    "not-a-ca": 4,
    "bad-certificate-signature": 3,
    "unknown-critical-extension": 3,
    "path-too-long": 1,
}
