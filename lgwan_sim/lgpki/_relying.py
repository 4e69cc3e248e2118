"""Assemble a relying party (anchor, forward bundle, CRLs, policy) from a CA or a repository."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from cryptography import x509

from lgwan_sim.errors import PkiError
from lgwan_sim.lgpki._ca import Pki
from lgwan_sim.lgpki._migration_plan import MigrationPlan
from lgwan_sim.lgpki._verify import AlgorithmPolicy, RevocationStore, Verifier

__all__ = ["verifier_from_pki", "verifier_from_repository"]


def verifier_from_pki(
    pki: Pki,
    anchor_ca: str,
    *,
    acceptable_policies: Iterable[str] | None = None,
    policy: AlgorithmPolicy | None = None,
) -> Verifier:
    """A verifier pinned to ``anchor_ca`` with its forward bundle and the latest CRLs."""
    anchor = pki.anchor(anchor_ca)
    bundle = pki.bundle(anchor_ca)
    revocation = RevocationStore()
    revocation.add_all(pki.latest_crls(), [anchor, *bundle])
    return Verifier(
        anchors=[anchor],
        intermediates=bundle,
        revocation=revocation,
        policy=policy or AlgorithmPolicy.from_plan(pki.plan),
        acceptable_policies=acceptable_policies,
    )


def _certs(path: Path) -> list[x509.Certificate]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise PkiError(f"{path} is missing from the repository") from None
    try:
        return x509.load_pem_x509_certificates(data) if data.strip() else []
    except ValueError:
        raise PkiError(f"{path} in the repository is not PEM certificates") from None


def _crl(path: Path) -> x509.CertificateRevocationList:
    try:
        return x509.load_pem_x509_crl(path.read_bytes())
    except ValueError:
        raise PkiError(f"{path} in the repository is not a PEM CRL") from None


def verifier_from_repository(
    repo: str | Path, anchor_ca: str, *, plan: MigrationPlan, extra_crls: Iterable[Path] = ()
) -> Verifier:
    """A verifier built only from published files: ``anchors/``, ``bundles/`` and CRLs."""
    repo = Path(repo)
    anchors = _certs(repo / "anchors" / f"{anchor_ca}.pem")
    bundle = _certs(repo / "bundles" / f"{anchor_ca}.pem")
    revocation = RevocationStore()
    crls = []
    for folder, pattern in (("crl", "*.crl"), ("arl", "*.arl"), ("delta", "*.crl")):
        for path in sorted((repo / folder).glob(pattern)):
            crls.append(_crl(path))
    crls += [_crl(p) for p in extra_crls]
    revocation.add_all(crls, [*anchors, *bundle])
    return Verifier(
        anchors=anchors,
        intermediates=bundle,
        revocation=revocation,
        policy=AlgorithmPolicy.from_plan(plan),
    )
