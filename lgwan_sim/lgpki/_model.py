"""Frozen records of the LGPKI model: key types, CA and profile specifications, results."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from lgwan_sim.errors import PkiError

__all__ = [
    "CaRole",
    "CaSpec",
    "CertKind",
    "GenerationSpec",
    "Hierarchy",
    "IssuedCertificate",
    "KeyType",
    "Profile",
    "RevocationTiming",
    "SiteInfo",
    "SiteLike",
    "require_utc",
]


class KeyType(StrEnum):
    """Key algorithms that the simulated LGPKI issues for."""

    RSA1024 = "rsa1024"
    RSA2048 = "rsa2048"
    P256 = "p256"


class HashName(StrEnum):
    """Signature hash of a generation."""

    SHA1 = "sha1"
    SHA256 = "sha256"


class CaRole(StrEnum):
    """What a CA is in the hierarchy."""

    GPKI_BRIDGE = "gpki_bridge"
    BRIDGE = "bridge"
    ORG = "org"
    APP_ROOT = "app_root"
    APP_SUB = "app_sub"


class CertKind(StrEnum):
    """Kinds of certificate rows in the store."""

    SELF = "self"
    """A self-signed CA certificate (a trust anchor)."""
    SUB_CA = "sub_ca"
    """A subordinate CA certificate (Application Root -> Sub1)."""
    CROSS = "cross"
    """A cross-certificate between PKI domains or between a bridge and a CA."""
    LINK = "link"
    """A link certificate between two generations of the same CA (NewWithOld, OldWithNew)."""
    EE = "ee"
    """An end-entity certificate."""

    @property
    def is_ca(self) -> bool:
        return self is not CertKind.EE


class SiteLike(Protocol):
    """What bulk issuance needs from a site; ``lgwan_sim.network.Site`` satisfies it."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def name_ja(self) -> str: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteInfo:
    """A plain site record for issuing outside a topology (CSR requests, tests, the CLI)."""

    id: str
    kind: str
    name: str
    name_ja: str = ""

    def __post_init__(self) -> None:
        if not self.id or any(c.isspace() for c in self.id):
            raise PkiError(f"site id must be non-empty without spaces, got {self.id!r}")


def require_utc(value: datetime, what: str = "now") -> datetime:
    """Return ``value`` if it is timezone-aware UTC; raise :class:`PkiError` otherwise."""
    offset = value.utcoffset()
    if offset is None:
        raise PkiError(f"{what} must be a timezone-aware UTC datetime, got naive {value!r}")
    if offset != timedelta(0):
        raise PkiError(f"{what} must be in UTC, got offset {offset}")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerationSpec:
    """Algorithms of one CA generation."""

    name: str
    ca_key: KeyType
    hash: HashName
    ca_validity_days: int

    def __post_init__(self) -> None:
        if self.ca_validity_days <= 0:
            raise PkiError(f"ca_validity_days must be > 0, got {self.ca_validity_days!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class CaSpec:
    """One certification authority of one generation."""

    id: str
    name: str
    organisation: str
    role: CaRole
    generation: str
    issuer: str
    """``"self"`` for a self-signed CA, otherwise the id of the issuing CA."""
    domain: str
    cross_with: tuple[str, ...] = ()
    link_from: str | None = None

    @property
    def self_signed(self) -> bool:
        return self.issuer == "self"


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """An end-entity certificate profile."""

    name: str
    issuer_role: CaRole
    keys: Mapping[str, KeyType]
    validity_days: int
    key_usage: tuple[str, ...]
    extended_key_usage: tuple[ObjectIdentifier, ...]
    roles: tuple[str, ...]
    subject_cn: str
    dns_names: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()

    def key_for(self, generation: str) -> KeyType:
        try:
            return self.keys[generation]
        except KeyError:
            raise PkiError(
                f"profile {self.name!r} defines no key type for generation {generation!r}"
            ) from None


@dataclass(frozen=True, slots=True, kw_only=True)
class RevocationTiming:
    """How often revocation lists are published and how long they stay fresh."""

    next_update_hours: float
    publish_every_hours: float
    delta_next_update_hours: float
    delta_every_hours: float

    def __post_init__(self) -> None:
        for name in (
            "next_update_hours",
            "publish_every_hours",
            "delta_next_update_hours",
            "delta_every_hours",
        ):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise PkiError(f"{name} must be a positive number of hours, got {value!r}")
        if self.publish_every_hours >= self.next_update_hours:
            raise PkiError("publish_every_hours must be shorter than next_update_hours")


@dataclass(frozen=True, slots=True, kw_only=True)
class CrossDomainConstraints:
    """What a cross-certificate into a policy domain carries when its issuer belongs to
    another domain: policyConstraints, inhibitAnyPolicy and name constraints (RFC 5280
    §4.2.1.10-11, §4.2.1.14). ``None`` leaves a field out of the certificate."""

    require_explicit_policy: int | None = None
    inhibit_policy_mapping: int | None = None
    inhibit_any_policy: int | None = None
    permitted: tuple[x509.GeneralName, ...] = ()
    excluded: tuple[x509.GeneralName, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Hierarchy:
    """The whole LGPKI description: OIDs, generations, CAs, profiles, revocation timing."""

    oid_arc: str
    policies: Mapping[str, ObjectIdentifier]
    generations: Mapping[str, GenerationSpec]
    cas: Mapping[str, CaSpec]
    profiles: Mapping[str, Profile]
    role_oids: Mapping[str, ObjectIdentifier]
    message_signing_oid: ObjectIdentifier
    bulk: Mapping[str, str]
    titles: Mapping[str, str]
    repository_url: str
    revocation: RevocationTiming
    source: str = field(default="", compare=False)
    cross_domain: Mapping[str, CrossDomainConstraints] = field(default_factory=dict)
    """Per policy domain: the constraints of cross-certificates into it."""

    def ca(self, ca_id: str) -> CaSpec:
        try:
            return self.cas[ca_id]
        except KeyError:
            raise PkiError(f"unknown CA {ca_id!r}; known: {', '.join(sorted(self.cas))}") from None

    def profile(self, name: str) -> Profile:
        try:
            return self.profiles[name]
        except KeyError:
            known = ", ".join(sorted(self.profiles))
            raise PkiError(f"unknown profile {name!r}; known: {known}") from None

    def cas_of(self, generation: str) -> tuple[CaSpec, ...]:
        return tuple(ca for ca in self.cas.values() if ca.generation == generation)

    def issuing_ca(self, role: CaRole, generation: str) -> CaSpec:
        for ca in self.cas.values():
            if ca.role is role and ca.generation == generation:
                return ca
        raise PkiError(f"no {role} CA in generation {generation!r}")

    def role_name(self, oid: ObjectIdentifier) -> str | None:
        for name, role_oid in self.role_oids.items():
            if role_oid == oid:
                return name
        return None


STANDARD_EKUS: Mapping[str, ObjectIdentifier] = {
    "server_auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client_auth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "email_protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "code_signing": ExtendedKeyUsageOID.CODE_SIGNING,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuedCertificate:
    """A certificate that is durably recorded in the store."""

    row_id: int
    issuer_ca: str
    serial: int
    kind: CertKind
    profile: str
    holder: str
    generation: str
    certificate: x509.Certificate = field(repr=False)
    key_ref: str | None = None
    batch: str | None = None
    """The issuance batch of an end-entity certificate; it is published in
    ``repo/issued/<issuer>/<batch>.pem`` with the rest of its batch."""

    @property
    def not_after(self) -> datetime:
        return self.certificate.not_valid_after_utc
