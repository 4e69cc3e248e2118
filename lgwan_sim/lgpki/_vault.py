"""Private keys outside the database, encrypted at rest (AES-256-GCM), files mode 0600.

The vault key is derived once per process from the passphrase with scrypt; the salt and cost
live in ``keys/kdf.json``. A CA key is one file, ``keys/ca/<ca-id>.key``; end-entity keys
made in one issuance batch share one file, ``keys/ee/<batch>.keys``, so a batch costs one
fsync. Each record is bound to its key id (the SPKI hash) as associated data, so records
cannot be swapped between names.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from lgwan_sim._files import atomic_write
from lgwan_sim.errors import PkiError
from lgwan_sim.lgpki._crypto import PrivateKey

__all__ = ["KeyVault"]

_MAGIC = "lgpki-vault-1"


class KeyVault:
    """Encrypted private-key files under ``<home>/keys``."""

    def __init__(self, root: Path, passphrase: bytes) -> None:
        self.root = root
        kdf_file = root / "kdf.json"
        try:
            params = json.loads(kdf_file.read_text(encoding="utf-8"))
            salt = base64.b64decode(params["salt"])
            n = int(params["n"])
        except FileNotFoundError:
            raise PkiError(f"key vault is missing its parameters file {kdf_file.name}") from None
        except (ValueError, KeyError) as exc:
            raise PkiError(f"key vault parameters are unreadable: {exc}") from None
        self._aead = AESGCM(Scrypt(salt=salt, length=32, n=n, r=8, p=1).derive(passphrase))
        check = root / "check"
        if check.exists():
            try:
                self._decrypt(check.read_bytes(), "check")
            except PkiError:
                raise PkiError("wrong passphrase for the key vault") from None

    @classmethod
    def create(cls, root: Path, passphrase: bytes, *, scrypt_n: int = 2**15) -> KeyVault:
        """Create a new vault folder with a random salt."""
        if scrypt_n < 2 or scrypt_n & (scrypt_n - 1):
            raise PkiError(f"scrypt_n must be a power of two >= 2, got {scrypt_n}")
        (root / "ca").mkdir(parents=True, exist_ok=True, mode=0o700)
        (root / "ee").mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(root, 0o700)
        params = {
            "kdf": "scrypt",
            "n": scrypt_n,
            "salt": base64.b64encode(secrets.token_bytes(16)).decode(),
        }
        atomic_write(root / "kdf.json", json.dumps(params).encode(), mode=0o600)
        vault = cls(root, passphrase)
        atomic_write(root / "check", vault._encrypt(b"ok", "check"), mode=0o600)
        return vault

    def _encrypt(self, data: bytes, key_id: str) -> bytes:
        nonce = secrets.token_bytes(12)
        ct = self._aead.encrypt(nonce, data, f"{_MAGIC}:{key_id}".encode())
        return nonce + ct

    def _decrypt(self, blob: bytes, key_id: str) -> bytes:
        try:
            return self._aead.decrypt(blob[:12], blob[12:], f"{_MAGIC}:{key_id}".encode())
        except InvalidTag:
            raise PkiError(
                f"key {key_id!r} cannot be decrypted (wrong passphrase or tampered)"
            ) from None

    @staticmethod
    def _pkcs8(key: PrivateKey) -> bytes:
        return key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @staticmethod
    def _load(der: bytes) -> PrivateKey:
        key = serialization.load_der_private_key(der, password=None)
        from cryptography.hazmat.primitives.asymmetric import ec, rsa

        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise PkiError(f"unexpected key type {type(key).__name__} in the vault")
        return key

    # -- CA keys ---------------------------------------------------------------------------
    def put_ca_key(self, ca_id: str, key: PrivateKey) -> str:
        path = self.root / "ca" / f"{ca_id}.key"
        if path.exists():
            raise PkiError(f"CA key {ca_id!r} already exists; refusing to overwrite it")
        atomic_write(path, self._encrypt(self._pkcs8(key), f"ca:{ca_id}"), mode=0o600)
        return f"ca/{ca_id}.key"

    def ca_key(self, ca_id: str) -> PrivateKey:
        path = self.root / "ca" / f"{ca_id}.key"
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            raise PkiError(f"private key of CA {ca_id!r} is missing from the vault") from None
        return self._load(self._decrypt(blob, f"ca:{ca_id}"))

    # -- end-entity keys -------------------------------------------------------------------
    def put_batch(self, batch: str, keys: Mapping[str, PrivateKey]) -> str:
        """Store many end-entity keys (key id -> key) in one encrypted file; return its ref."""
        lines = []
        for key_id, key in keys.items():
            blob = self._encrypt(self._pkcs8(key), f"ee:{key_id}")
            lines.append(json.dumps({"id": key_id, "blob": base64.b64encode(blob).decode()}))
        ref = f"ee/{batch}.keys"
        atomic_write(self.root / ref, ("\n".join(lines) + "\n").encode(), mode=0o600)
        return ref

    def ee_key(self, ref: str, key_id: str) -> PrivateKey:
        path = self.root / ref
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise PkiError(f"key file {ref!r} is missing from the vault") from None
        for line in text.splitlines():
            record = json.loads(line)
            if record["id"] == key_id:
                return self._load(self._decrypt(base64.b64decode(record["blob"]), f"ee:{key_id}"))
        raise PkiError(f"key {key_id[:16]}... is not in {ref!r}")

    def remove_orphans(self, referenced: set[str]) -> int:
        """Delete end-entity key files no certificate refers to: written by a writer that
        died before its commit. Call under the writer lock only."""
        removed = 0
        for path in sorted((self.root / "ee").glob("*.keys")):
            if f"ee/{path.name}" not in referenced:
                path.unlink(missing_ok=True)
                removed += 1
        return removed
