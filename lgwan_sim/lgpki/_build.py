"""Certificate and CRL construction for the LGPKI profiles (pure functions, time injected)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from lgwan_sim.lgpki._crypto import PrivateKey, PublicKey, policy_mappings_der, resign_sha1
from lgwan_sim.lgpki._model import CaSpec, CrossDomainConstraints, HashName, Hierarchy, Profile

_DER = Encoding.DER

__all__ = [
    "POLICY_MAPPINGS_OID",
    "SITE_URI_PREFIX",
    "Signer",
    "build_ca_certificate",
    "build_crl",
    "build_ee_certificate",
    "ca_name",
]

#: SAN URI that binds a certificate to a site or service of the emulator.
SITE_URI_PREFIX = "urn:lgwan-sim:site:"
POLICY_MAPPINGS_OID = x509.ObjectIdentifier("2.5.29.33")

_KU_FIELDS = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Signer:
    """What signing needs to know about an issuing CA."""

    spec: CaSpec
    name: x509.Name
    key: PrivateKey
    hash: HashName
    not_after: datetime

    @property
    def public_key(self) -> PublicKey:
        return self.key.public_key()

    def sign_cert(self, builder: x509.CertificateBuilder) -> x509.Certificate:
        cert = builder.sign(self.key, hashes.SHA256())
        if self.hash is HashName.SHA1:
            return x509.load_der_x509_certificate(
                resign_sha1(cert.public_bytes(_DER), self.key, what="certificate")
            )
        return cert

    def sign_crl(
        self, builder: x509.CertificateRevocationListBuilder
    ) -> x509.CertificateRevocationList:
        crl = builder.sign(self.key, hashes.SHA256())
        if self.hash is HashName.SHA1:
            return x509.load_der_x509_crl(resign_sha1(crl.public_bytes(_DER), self.key, what="crl"))
        return crl


def ca_name(spec: CaSpec) -> x509.Name:
    """The distinguished name of a CA: C=JP, O=<organisation>, CN=<name>."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, spec.organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, spec.name),
        ]
    )


def crl_url(h: Hierarchy, ca_id: str) -> str:
    return f"{h.repository_url}/crl/{ca_id}.crl"


def arl_url(h: Hierarchy, ca_id: str) -> str:
    return f"{h.repository_url}/arl/{ca_id}.arl"


def delta_url(h: Hierarchy, ca_id: str) -> str:
    return f"{h.repository_url}/delta/{ca_id}.crl"


def _cdp(url: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints(
        [x509.DistributionPoint([x509.UniformResourceIdentifier(url)], None, None, None)]
    )


def _policies(oids: Sequence[x509.ObjectIdentifier]) -> x509.CertificatePolicies:
    return x509.CertificatePolicies([x509.PolicyInformation(oid, None) for oid in oids])


def build_ca_certificate(
    h: Hierarchy,
    *,
    issuer: Signer,
    subject: CaSpec,
    subject_key: PublicKey,
    now: datetime,
    not_after: datetime,
    path_length: int | None,
) -> x509.Certificate:
    """A self-signed, subordinate, cross or link certificate (all are CA certificates)."""
    self_signed = issuer.spec.id == subject.id
    builder = (
        x509.CertificateBuilder()
        .subject_name(ca_name(subject))
        .issuer_name(issuer.name)
        .public_key(subject_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key), critical=False)
    )
    if not self_signed:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key), critical=False
        ).add_extension(_cdp(arl_url(h, issuer.spec.id)), critical=False)
        issuer_policy = h.policies[issuer.spec.domain]
        subject_policy = h.policies[subject.domain]
        builder = builder.add_extension(_policies([issuer_policy]), critical=False)
        if issuer_policy != subject_policy:
            builder = builder.add_extension(
                x509.UnrecognizedExtension(
                    POLICY_MAPPINGS_OID, policy_mappings_der([(issuer_policy, subject_policy)])
                ),
                critical=True,
            )
            constraints = h.cross_domain.get(subject.domain)
            if constraints is not None:
                builder = _add_cross_domain(builder, constraints)
    return issuer.sign_cert(builder)


def _add_cross_domain(
    builder: x509.CertificateBuilder, c: CrossDomainConstraints
) -> x509.CertificateBuilder:
    """The constraints a bridge puts on the domain it cross-certifies (all critical, as
    RFC 5280 §4.2.1.10-11 and §4.2.1.14 require)."""
    if c.require_explicit_policy is not None or c.inhibit_policy_mapping is not None:
        builder = builder.add_extension(
            x509.PolicyConstraints(
                require_explicit_policy=c.require_explicit_policy,
                inhibit_policy_mapping=c.inhibit_policy_mapping,
            ),
            critical=True,
        )
    if c.inhibit_any_policy is not None:
        builder = builder.add_extension(x509.InhibitAnyPolicy(c.inhibit_any_policy), critical=True)
    if c.permitted or c.excluded:
        builder = builder.add_extension(
            x509.NameConstraints(
                permitted_subtrees=list(c.permitted) or None,
                excluded_subtrees=list(c.excluded) or None,
            ),
            critical=True,
        )
    return builder


def build_ee_certificate(
    h: Hierarchy,
    *,
    issuer: Signer,
    profile: Profile,
    subject: x509.Name,
    san: Sequence[x509.GeneralName],
    public_key: PublicKey,
    now: datetime,
    not_after: datetime,
    key_encipherment_ok: bool,
) -> x509.Certificate:
    """An end-entity certificate of ``profile``; ``not_after`` is already capped by the CA."""
    flags = {name: name in profile.key_usage for name in _KU_FIELDS}
    if not key_encipherment_ok:
        flags["key_encipherment"] = False
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                **flags,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(list(profile.extended_key_usage)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key), critical=False
        )
        .add_extension(x509.SubjectAlternativeName(list(san)), critical=False)
        .add_extension(_cdp(crl_url(h, issuer.spec.id)), critical=False)
        .add_extension(
            x509.FreshestCRL(
                [
                    x509.DistributionPoint(
                        [x509.UniformResourceIdentifier(delta_url(h, issuer.spec.id))],
                        None,
                        None,
                        None,
                    )
                ]
            ),
            critical=False,
        )
        .add_extension(_policies([h.policies[issuer.spec.domain]]), critical=False)
    )
    return issuer.sign_cert(builder)


def build_crl(
    h: Hierarchy,
    *,
    issuer: Signer,
    scope: str,
    number: int,
    base_number: int | None,
    entries: Sequence[tuple[int, datetime, x509.ReasonFlags | None]],
    this_update: datetime,
    next_update: datetime,
) -> x509.CertificateRevocationList:
    """A CRL (scope ``crl``), ARL (``arl``) or delta CRL (``delta``), entries passed at once.

    The revoked list goes to the builder's constructor: the fluent ``add_revoked_certificate``
    copies the list on every call, which is quadratic for large CRLs.
    """
    revoked = []
    for serial, when, reason in entries:
        rb = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
        if reason is not None and reason is not x509.ReasonFlags.unspecified:
            rb = rb.add_extension(x509.CRLReason(reason), critical=False)
        revoked.append(rb.build())
    if scope == "arl":
        idp = x509.IssuingDistributionPoint(
            full_name=None,
            relative_name=None,
            only_contains_user_certs=False,
            only_contains_ca_certs=True,
            only_some_reasons=None,
            indirect_crl=False,
            only_contains_attribute_certs=False,
        )
    else:
        idp = x509.IssuingDistributionPoint(
            full_name=[x509.UniformResourceIdentifier(crl_url(h, issuer.spec.id))],
            relative_name=None,
            only_contains_user_certs=True,
            only_contains_ca_certs=False,
            only_some_reasons=None,
            indirect_crl=False,
            only_contains_attribute_certs=False,
        )
    builder = x509.CertificateRevocationListBuilder(
        issuer_name=issuer.name,
        last_update=this_update,
        next_update=next_update,
        revoked_certificates=revoked,
    )
    builder = (
        builder.add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key), critical=False
        )
        .add_extension(idp, critical=True)
    )
    if scope == "delta":
        assert base_number is not None
        builder = builder.add_extension(x509.DeltaCRLIndicator(base_number), critical=True)
    return issuer.sign_crl(builder)


def subject_name(*, organisation: str, unit: str, common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
