"""Small helpers shared by the verifier modules: keys, signatures, extensions, messages."""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from lgwan_sim.errors import VerificationError
from lgwan_sim.lgpki._crypto import PublicKey, spki_sha256

#: What ``cryptography`` raises when a lazily parsed part of a certificate or CRL is bad.
PARSE_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    TypeError,
    KeyError,  # a name attribute whose OID ``rfc4514_string`` cannot look up
    UnsupportedAlgorithm,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)

#: Everything a check may raise on bad input: a verdict, or a parse error to turn into one.
REJECTIONS: tuple[type[Exception], ...] = (VerificationError, *PARSE_ERRORS)

#: (issuer name DER, SHA-256 of the issuer's public key). The key itself, not the key
#: identifier extension, which anyone can copy into a look-alike certificate.
IssuerKey = tuple[bytes, bytes]


def fail(reason: str, message: str) -> VerificationError:
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


def who(cert: x509.Certificate) -> str:
    try:
        subject = cert.subject.rfc4514_string()
    except PARSE_ERRORS:
        subject = "unreadable subject"
    return f"certificate {cert.serial_number:x} ({subject})"


def public_key(cert: x509.Certificate) -> PublicKey:
    try:
        key = cert.public_key()
    except PARSE_ERRORS as exc:
        # explicit curve parameters end here too: RFC 5480 allows named curves only
        raise fail("unsupported-key", f"{who(cert)} has a key that does not parse: {exc}") from None
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise fail(
            "unsupported-key", f"{who(cert)} has an unsupported key type {type(key).__name__}"
        )
    return key


def spki_hash(cert: x509.Certificate) -> bytes:
    return bytes.fromhex(spki_sha256(public_key(cert)))


def when(moment: datetime) -> str:
    """A UTC moment to the second: ``2020-04-02T01:00:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def short_name(name: x509.Name) -> str:
    """A CA's common name (``LGPKI Bridge CA G2``), else its whole RFC 4514 name."""
    cns = name.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(cns[0].value) if cns else name.rfc4514_string()


def ext(
    obj: x509.Certificate | x509.CertificateRevocationList, cls: type[x509.ExtensionType]
) -> x509.ExtensionType | None:
    try:
        return obj.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None


def ski(cert: x509.Certificate) -> bytes | None:
    """The subject key identifier the certificate states, if any."""
    value = ext(cert, x509.SubjectKeyIdentifier)
    return value.digest if isinstance(value, x509.SubjectKeyIdentifier) else None


def aki(obj: x509.Certificate | x509.CertificateRevocationList) -> bytes | None:
    value = ext(obj, x509.AuthorityKeyIdentifier)
    return value.key_identifier if isinstance(value, x509.AuthorityKeyIdentifier) else None


def issuer_key(issuer: x509.Certificate) -> IssuerKey:
    """How the lists of ``issuer`` are told apart: its name and its key."""
    return issuer.subject.public_bytes(), spki_hash(issuer)
