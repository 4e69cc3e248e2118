"""LGPKI: the simulated certification authorities, relying-party verifier and migration.

* :class:`Pki` — the CA home: hierarchy, issuance (bulk, per site, from CSR), revocation
  with key blocking, CRL/ARL/delta CRL publication, renewal, integrity check, audit chain.
* :class:`Verifier`, :class:`RevocationStore`, :class:`AlgorithmPolicy` — path validation
  to pinned anchors with revocation and date-driven algorithm policy.
* :class:`MessageSigner`, :class:`MessageVerifier`, :class:`SignedMessage` — signed
  messages for the emulator.
* :func:`run_migration` — the G1 -> G2 migration driven by a :class:`MigrationPlan`.

All times are timezone-aware UTC ``datetime`` values passed in by the caller.
"""

from lgwan_sim.lgpki._ca import REVOCATION_REASONS, CaStatus, CrlInfo, IntegrityReport, Pki
from lgwan_sim.lgpki._config import default_pki_dir, load_hierarchy, load_migration_plan
from lgwan_sim.lgpki._crypto import PrivateKey, PublicKey, generate_key, spki_sha256
from lgwan_sim.lgpki._message import (
    MessageSigner,
    MessageVerifier,
    SignedMessage,
    VerifiedMessage,
    sign_message,
)
from lgwan_sim.lgpki._migration import MigrationReport, MigrationStep, run_migration
from lgwan_sim.lgpki._migration_plan import MigrationPlan
from lgwan_sim.lgpki._model import (
    CaRole,
    CertKind,
    Hierarchy,
    IssuedCertificate,
    KeyType,
    Profile,
    SiteInfo,
    SiteLike,
)
from lgwan_sim.lgpki._relying import (
    verifier_from_pki,
    verifier_from_repository,
    verifier_from_store,
)
from lgwan_sim.lgpki._verify import AlgorithmPolicy, RevocationStore, VerifiedPath, Verifier

__all__ = [
    "REVOCATION_REASONS",
    "AlgorithmPolicy",
    "CaRole",
    "CaStatus",
    "CertKind",
    "CrlInfo",
    "Hierarchy",
    "IntegrityReport",
    "IssuedCertificate",
    "KeyType",
    "MessageSigner",
    "MessageVerifier",
    "MigrationPlan",
    "MigrationReport",
    "MigrationStep",
    "Pki",
    "PrivateKey",
    "Profile",
    "PublicKey",
    "RevocationStore",
    "SignedMessage",
    "SiteInfo",
    "SiteLike",
    "VerifiedMessage",
    "VerifiedPath",
    "Verifier",
    "default_pki_dir",
    "generate_key",
    "load_hierarchy",
    "load_migration_plan",
    "run_migration",
    "sign_message",
    "spki_sha256",
    "verifier_from_pki",
    "verifier_from_repository",
    "verifier_from_store",
]
