"""The emulator's test bed of keys: an LGPKI CA home, a key registry and each endpoint's keys.

Every identity of the emulated network (each local body, data centre and LGWAN-ASP site,
and the emulator itself) gets a message-signing certificate issued by a real LGPKI CA home
(ECDSA P-256 keys, the ``message`` and ``role`` profiles of ``pki/profiles.yaml``) and a
CURVE key pair for its ZeroMQ connection. The **key registry** (``registry.json``) binds
each CURVE public key to its identity and its certificate; it is public. The private
halves are written to ``keys.json``, readable by its owner only, from which a real program
takes the keys of the identity it plays.

Assumption (a test bed, not LGWAN practice): the emulator holds every private key of the
network it emulates and hands them to the programs under test through a file. In LGWAN each
body generates its own key and only the certificate travels.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import zmq
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from lgwan_sim._files import atomic_write
from lgwan_sim.backbone._presign import NoncePool
from lgwan_sim.backbone._wire import Signer
from lgwan_sim.errors import InputError
from lgwan_sim.lgpki import (
    KeyType,
    MessageVerifier,
    Pki,
    PrivateKey,
    SiteInfo,
    generate_key,
    load_migration_plan,
    spki_sha256,
    verifier_from_repository,
)

__all__ = ["EMULATOR", "Credentials", "Identity", "KeyRegistry", "Testbed"]

EMULATOR = "emulator"
"""The emulator's own identity: it signs ERR, READY and HEARTBEAT answers."""

ANCHOR = "bridge_g2"
REGISTRY_FILE = "registry.json"
KEYS_FILE = "keys.json"
_FORMAT = "lgwan-sim key registry 1"


@dataclass(frozen=True, slots=True)
class Identity:
    """One entry of the key registry: a site, its CURVE public key and its certificate."""

    site: str
    curve_public: bytes
    """Z85 text of the CURVE public key, 40 bytes."""
    certificate: bytes
    """The DER message-signing certificate."""

    @property
    def kid(self) -> bytes:
        """SHA-256 of the certificate's SubjectPublicKeyInfo: the EMW1 header's ``kid``."""
        key = x509.load_der_x509_certificate(self.certificate).public_key()
        return bytes.fromhex(spki_sha256(key))  # type: ignore[arg-type]


class KeyRegistry:
    """Which CURVE key is which identity, with its certificate (``registry.json``)."""

    def __init__(self, identities: Iterable[Identity]) -> None:
        self.by_site: dict[str, Identity] = {}
        self.by_curve: dict[bytes, str] = {}
        self.by_kid: dict[bytes, Identity] = {}
        for ident in identities:
            self.by_site[ident.site] = ident
            self.by_curve[ident.curve_public] = ident.site
            self.by_kid[ident.kid] = ident

    def __len__(self) -> int:
        return len(self.by_site)

    def __contains__(self, site: object) -> bool:
        return site in self.by_site

    def to_json(self) -> dict[str, object]:
        return {
            "format": _FORMAT,
            "identities": {
                site: {
                    "curve_public": i.curve_public.decode("ascii"),
                    "certificate": base64.b64encode(i.certificate).decode("ascii"),
                }
                for site, i in sorted(self.by_site.items())
            },
        }

    @classmethod
    def load(cls, path: str | Path) -> KeyRegistry:
        path = Path(path)
        data = _read_json(path)
        if data.get("format") != _FORMAT:
            raise InputError(
                f"{path}: not a key registry", field="format", value=data.get("format")
            )
        out = []
        for site, entry in dict(data.get("identities", {})).items():
            try:
                out.append(
                    Identity(
                        site=site,
                        curve_public=str(entry["curve_public"]).encode("ascii"),
                        certificate=base64.b64decode(entry["certificate"], validate=True),
                    )
                )
            except (KeyError, TypeError, ValueError):
                raise InputError(
                    f"{path}: identity {site!r} is not complete", field="identities", value=site
                ) from None
        return cls(out)


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a program needs to play ``identity``: its CURVE secret and its signing key."""

    identity: Identity
    curve_secret: bytes
    key: PrivateKey

    @property
    def site(self) -> str:
        return self.identity.site

    def signer(self, nonces: NoncePool | None = None) -> Signer:
        """This identity's signer (with ``nonces``, made ahead: for simulated bodies)."""
        return Signer(self.identity.site, self.key, nonces)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file", field="path", value=str(path)) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not JSON ({exc})", field="path", value=str(path)) from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a JSON object", field="path", value=str(path))
    return data


class Testbed:
    """The keys of one emulated network, kept in a folder (see the module's description)."""

    __test__ = False  # not a test class, whatever its name

    def __init__(
        self, home: Path, registry: KeyRegistry, credentials: Mapping[str, Credentials]
    ) -> None:
        self.home = home
        self.registry = registry
        self.credentials = dict(credentials)

    @property
    def repository(self) -> Path:
        """The CA home's published repository: anchors, bundles and CRLs."""
        return self.home / "pki" / "repo"

    @classmethod
    def issue(
        cls, home: str | Path, sites: Sequence[SiteInfo], *, now: datetime | None = None
    ) -> Testbed:
        """Stand up a CA home in ``home/pki`` and issue a signing key to every site.

        ``sites`` are the identities to issue (kinds as in the topology); the emulator's own
        identity is added. Nothing is written outside ``home``.
        """
        home = Path(home)
        now = now or datetime.now(UTC).replace(microsecond=0)
        passphrase = secrets.token_urlsafe(24).encode()
        pki = Pki.create(
            home / "pki",
            passphrase=passphrase,
            now=now - timedelta(days=1),
            generations=["G2"],
            scrypt_n=2**14,
        )
        try:
            wanted = [*sites, SiteInfo(id=EMULATOR, kind="central", name="lgwan-sim emulator")]
            bulk = set(pki.hierarchy.bulk)
            eligible = [s for s in wanted if s.kind in bulk]
            keys: dict[str, PrivateKey] = {s.id: generate_key(KeyType.P256) for s in eligible}
            issued = pki.issue_for_sites(eligible, now=now, keys=keys)
            pki.publish_crls(now=now)
        finally:
            pki.close()
        identities: list[Identity] = []
        creds: dict[str, Credentials] = {}
        for cert in issued:
            site = cert.holder
            public, secret = zmq.curve_keypair()
            ident = Identity(
                site=site,
                curve_public=public,
                certificate=cert.certificate.public_bytes(serialization.Encoding.DER),
            )
            identities.append(ident)
            creds[site] = Credentials(identity=ident, curve_secret=secret, key=keys[site])
        testbed = cls(home, KeyRegistry(identities), creds)
        testbed._write()
        return testbed

    def _write(self) -> None:
        atomic_write(
            self.home / REGISTRY_FILE,
            json.dumps(self.registry.to_json(), indent=1, ensure_ascii=False).encode() + b"\n",
        )
        secret = {
            site: {
                "curve_secret": c.curve_secret.decode("ascii"),
                "key": c.key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ).decode("ascii"),
            }
            for site, c in sorted(self.credentials.items())
        }
        path = self.home / KEYS_FILE
        atomic_write(path, json.dumps(secret, indent=1).encode() + b"\n")
        os.chmod(path, 0o600)

    @classmethod
    def open(cls, home: str | Path, *, sites: Iterable[str] | None = None) -> Testbed:
        """Read a test bed's registry and keys (only those of ``sites``, when given)."""
        home = Path(home)
        registry = KeyRegistry.load(home / REGISTRY_FILE)
        data = _read_json(home / KEYS_FILE)
        wanted = set(data) if sites is None else set(sites)
        creds: dict[str, Credentials] = {}
        for site in sorted(wanted):
            entry = data.get(site)
            ident = registry.by_site.get(site)
            if not isinstance(entry, dict) or ident is None:
                raise InputError(
                    f"{home / KEYS_FILE}: no keys for this identity", field="site", value=site
                )
            key = serialization.load_pem_private_key(str(entry["key"]).encode(), password=None)
            creds[site] = Credentials(
                identity=ident,
                curve_secret=str(entry["curve_secret"]).encode("ascii"),
                key=key,  # type: ignore[arg-type]
            )
        return cls(home, registry, creds)

    def message_verifier(self) -> MessageVerifier:
        """A relying party of the test bed's repository (pinned anchor, CRLs, policy)."""
        plan = load_migration_plan(self.home / "pki" / "config" / "migration.yaml")
        verifier = verifier_from_repository(self.repository, ANCHOR, plan=plan)
        oid = _message_signing_oid(self.home)
        return MessageVerifier(verifier, message_signing_oid=oid)


def _message_signing_oid(home: Path) -> str:
    from lgwan_sim.lgpki import load_hierarchy

    return load_hierarchy(home / "pki" / "config").message_signing_oid.dotted_string
