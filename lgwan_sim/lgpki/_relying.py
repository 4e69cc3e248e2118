"""Assemble a relying party (anchor, forward bundle, CRLs, policy) from a CA or a repository."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from cryptography import x509

from lgwan_sim.errors import PkiError, VerificationError
from lgwan_sim.lgpki._ca import Pki
from lgwan_sim.lgpki._migration_plan import MigrationPlan
from lgwan_sim.lgpki._verify import AlgorithmPolicy, RevocationStore, Verifier

__all__ = ["verifier_from_pki", "verifier_from_repository", "verifier_from_store"]


def verifier_from_pki(
    pki: Pki,
    anchor_ca: str,
    *,
    acceptable_policies: Iterable[str] | None = None,
    policy: AlgorithmPolicy | None = None,
    at: datetime | None = None,
) -> Verifier:
    """A verifier pinned to ``anchor_ca`` with its forward bundle and the latest CRLs (with
    ``at``: the lists that were current at that moment)."""
    anchor = pki.anchor(anchor_ca)
    bundle = pki.bundle(anchor_ca)
    revocation = RevocationStore()
    revocation.add_all(pki.latest_crls(at=at), [anchor, *bundle])
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


def verifier_from_store(pki: Pki, anchor_ca: str, *, at: datetime) -> tuple[Verifier, list[str]]:
    """A relying party of the repository that remembers the store's CRL history.

    Anchor and bundle come from the repository. Each list in the repository is judged by
    the history (:meth:`CrlHistory.judge`): one the CAs never issued (forged, unreadable)
    or older than the newest of its kind (rolled back) is refused, and named in the
    returned messages; verification goes on with the valid lists. At ``at`` those are, per
    CA and kind, the newest issued at or before ``at`` (from the history when the
    repository holds a newer one), so a list issued later is not yet valid rather than
    stale.
    """
    repo = pki.repo
    anchors = _certs(repo / "anchors" / f"{anchor_ca}.pem")
    bundle = _certs(repo / "bundles" / f"{anchor_ca}.pem")
    history = pki.crl_history()
    refused = pki.repository.judge_lists(history)
    revocation = RevocationStore()
    issuers = [*anchors, *bundle]
    for record in history.current_at(at):
        try:
            revocation.add_all([x509.load_der_x509_crl(record.der)], issuers)
        except VerificationError as exc:  # the verifier's own rules refuse it
            refused.append(f"{record.scope} #{record.number} of {record.ca}: refused: {exc}")
    verifier = Verifier(
        anchors=anchors,
        intermediates=bundle,
        revocation=revocation,
        policy=AlgorithmPolicy.from_plan(pki.plan),
    )
    return verifier, refused
