"""Name comparison (RFC 5280 §7.1) and name constraints (§4.2.1.10, §6.1.3 (b)-(c), §6.1.4 (g)).

Distinguished names are compared attribute by attribute after the RFC 4518 string
preparation that matters in practice: Unicode NFKC, case folding, leading and trailing
white space removed and inner runs of white space collapsed to one space. The attribute
types, their order and the grouping into RDNs must still agree, so ``CN=a,O=b`` never
equals ``O=b,CN=a`` (PKITS 4.3.2), while ``O=Test  Certificates`` equals
``o=test certificates`` (4.3.3 to 4.3.5, 4.3.9 to 4.3.11).
"""

from __future__ import annotations

import ipaddress
import unicodedata
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.x509.oid import NameOID

__all__ = ["NameKey", "check_name_constraints", "dn_within", "name_key", "normalise"]

#: A distinguished name ready for comparison: one frozenset of (OID, value) per RDN.
NameKey = tuple[frozenset[tuple[str, str]], ...]


def normalise(value: object) -> str:
    """RFC 4518 §2 in short: NFKC, case fold, collapse white space."""
    if not isinstance(value, str):
        return repr(value)
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


def name_key(name: x509.Name) -> NameKey:
    """The comparison form of ``name`` (equal keys: equal names per RFC 5280 §7.1)."""
    return tuple(
        frozenset((a.oid.dotted_string, normalise(a.value)) for a in rdn) for rdn in name.rdns
    )


def dn_within(subtree: NameKey, name: NameKey) -> bool:
    """True when ``name`` lies in the directory subtree rooted at ``subtree``."""
    return len(subtree) <= len(name) and name[: len(subtree)] == subtree


def _dns_within(constraint: str, name: str) -> bool:
    c, n = constraint.lower().rstrip("."), name.lower().rstrip(".")
    if not c:
        return True
    if c.startswith("."):
        return n.endswith(c)
    return n == c or n.endswith("." + c)


def _mail_within(constraint: str, mailbox: str) -> bool:
    if "@" not in mailbox:
        return False
    local, _, host = mailbox.rpartition("@")
    c = constraint
    if "@" in c:  # one particular mailbox
        c_local, _, c_host = c.rpartition("@")
        return local == c_local and host.lower() == c_host.lower()
    if c.startswith("."):  # any host in the domain, not the domain itself
        return host.lower().endswith(c.lower())
    return host.lower() == c.lower()


def _uri_within(constraint: str, uri: str) -> bool:
    try:
        host = urlsplit(uri).hostname
    except ValueError:
        return False
    if not host:
        return False  # a URI without a host cannot be within any host constraint
    c = constraint.lower()
    if c.startswith("."):
        return host.lower().endswith(c)
    return host.lower() == c


def _ip_within(constraint: object, address: object) -> bool:
    if isinstance(constraint, ipaddress.IPv4Network | ipaddress.IPv6Network) and isinstance(
        address, ipaddress.IPv4Address | ipaddress.IPv6Address
    ):
        return address.version == constraint.version and address in constraint
    return False


def _within(constraint: x509.GeneralName, name: x509.GeneralName) -> bool | None:
    """``None`` when the constraint is not of the name's type."""
    if type(constraint) is not type(name):
        return None
    if isinstance(name, x509.DirectoryName):
        assert isinstance(constraint, x509.DirectoryName)
        return dn_within(name_key(constraint.value), name_key(name.value))
    if isinstance(name, x509.DNSName):
        return _dns_within(str(constraint.value), name.value)
    if isinstance(name, x509.RFC822Name):
        return _mail_within(str(constraint.value), name.value)
    if isinstance(name, x509.UniformResourceIdentifier):
        return _uri_within(str(constraint.value), name.value)
    if isinstance(name, x509.IPAddress):
        return _ip_within(constraint.value, name.value)
    return None  # other forms are not constrained here


def subject_names(cert: x509.Certificate) -> list[x509.GeneralName]:
    """The names a certificate's subject goes by, for name constraints (§6.1.3 (b))."""
    names: list[x509.GeneralName] = []
    if cert.subject.rdns:
        names.append(x509.DirectoryName(cert.subject))
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    if san is not None:
        names.extend(san)
    else:  # §4.2.1.10: emailAddress in the subject stands for an rfc822Name
        for attr in cert.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS):
            names.append(x509.RFC822Name(str(attr.value)))
    return names


def check_name_constraints(
    names: Iterable[x509.GeneralName], constraints: Sequence[x509.NameConstraints]
) -> str | None:
    """Check ``names`` against every NameConstraints above it; return the first violation.

    Each CA's constraints are kept apart, so a name must satisfy all of them: the
    intersection of permitted subtrees of §6.1.4 (g) without computing it.
    """
    for name in names:
        for nc in constraints:
            for sub in nc.excluded_subtrees or ():
                if _within(sub, name):
                    return f"{_show(name)} is in the excluded subtree {_show(sub)}"
            permitted = nc.permitted_subtrees
            if permitted:
                verdicts = [_within(sub, name) for sub in permitted]
                if any(v is not None for v in verdicts) and not any(verdicts):
                    return f"{_show(name)} is outside the permitted subtrees"
    return None


def _show(name: x509.GeneralName) -> str:
    if isinstance(name, x509.DirectoryName):
        return f"DN {name.value.rfc4514_string()}"
    return f"{type(name).__name__} {name.value}"
