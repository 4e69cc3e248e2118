"""Signed messages for the emulator: canonical bytes, a replay window, sender binding.

The signature covers one canonical encoding of every field except the signature itself:
version, sender, topic, algorithm, timestamp, nonce, signer key id, the sender's
certificate and the payload. Each field is length-prefixed, so no two messages share an
encoding. The wire format is the canonical bytes followed by the signature.

The verifier caches paths by the exact certificate bytes, never revocation status: CRLs,
the algorithm policy, validity and the replay window are checked for every message.
"""

from __future__ import annotations

import logging
import secrets
import struct
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from lgwan_sim.errors import PkiError, VerificationError
from lgwan_sim.lgpki._crypto import PrivateKey, spki_sha256
from lgwan_sim.lgpki._model import require_utc
from lgwan_sim.lgpki._verify import VerifiedPath, Verifier

__all__ = [
    "ALGORITHMS",
    "MessageSigner",
    "MessageVerifier",
    "SignedMessage",
    "VerifiedMessage",
]

log = logging.getLogger(__name__)

_MAGIC = b"lgwan-sim/msg\x00"
_VERSION = 1
_HEADER = struct.Struct(">Bq")  # version, timestamp_us
_LEN = struct.Struct(">I")

#: Message signature algorithms: name -> (key kind, hash).
ALGORITHMS: dict[str, tuple[str, hashes.HashAlgorithm]] = {
    "rsa-pkcs1-sha256": ("rsa", hashes.SHA256()),
    "rsa-pkcs1-sha1": ("rsa", hashes.SHA1()),
    "ecdsa-p256-sha256": ("ec", hashes.SHA256()),
}


_PKCS1 = padding.PKCS1v15()
_ECDSA = {name: ec.ECDSA(h) for name, h in (("sha256", hashes.SHA256()),)}


def _us(when: datetime) -> int:
    delta = when - datetime(1970, 1, 1, tzinfo=when.tzinfo)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _frame(*parts: bytes) -> bytes:
    out = bytearray()
    for part in parts:
        out += _LEN.pack(len(part))
        out += part
    return bytes(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedMessage:
    """One signed message. ``timestamp_us`` is microseconds since the Unix epoch (UTC)."""

    sender: str
    topic: str
    algorithm: str
    timestamp_us: int
    nonce: bytes
    signer_key_id: bytes
    certificate: bytes = field(repr=False)
    payload: bytes = field(repr=False)
    signature: bytes = field(repr=False)
    version: int = _VERSION

    def canonical_bytes(self) -> bytes:
        """The bytes the signature covers: every field but the signature."""
        # NOTE: one join instead of repeated concatenation; this runs for every message
        pack = _LEN.pack
        sender = self.sender.encode()
        topic = self.topic.encode()
        algorithm = self.algorithm.encode()
        return b"".join(
            (
                _MAGIC,
                _HEADER.pack(self.version, self.timestamp_us),
                pack(len(sender)),
                sender,
                pack(len(topic)),
                topic,
                pack(len(algorithm)),
                algorithm,
                pack(len(self.nonce)),
                self.nonce,
                pack(len(self.signer_key_id)),
                self.signer_key_id,
                pack(len(self.certificate)),
                self.certificate,
                pack(len(self.payload)),
                self.payload,
            )
        )

    def to_bytes(self) -> bytes:
        """Wire format: canonical bytes, then the length-prefixed signature."""
        return self.canonical_bytes() + _frame(self.signature)

    @staticmethod
    def recognise(data: bytes) -> bool:
        """Whether ``data`` begins as a signed message does (its magic); nothing is verified."""
        return data.startswith(_MAGIC)

    @classmethod
    def from_bytes(cls, data: bytes, *, max_bytes: int = 1 << 20) -> SignedMessage:
        """Parse the wire format defensively; raise ``VerificationError('malformed')``."""
        if len(data) > max_bytes:
            raise VerificationError(
                f"message of {len(data)} bytes exceeds {max_bytes}", reason="malformed"
            )
        if not data.startswith(_MAGIC) or len(data) < len(_MAGIC) + _HEADER.size:
            raise VerificationError("not an lgwan-sim signed message", reason="malformed")
        pos = len(_MAGIC)
        version, ts = _HEADER.unpack_from(data, pos)
        pos += _HEADER.size
        parts: list[bytes] = []
        for _ in range(8):
            if pos + 4 > len(data):
                raise VerificationError("truncated message", reason="malformed")
            (n,) = _LEN.unpack_from(data, pos)
            pos += 4
            if pos + n > len(data):
                raise VerificationError(
                    "field runs past the end of the message", reason="malformed"
                )
            parts.append(data[pos : pos + n])
            pos += n
        if pos != len(data):
            raise VerificationError("trailing bytes after the signature", reason="malformed")
        try:
            sender, topic, algorithm = (p.decode() for p in parts[:3])
        except UnicodeDecodeError:
            raise VerificationError(
                "sender, topic or algorithm is not UTF-8", reason="malformed"
            ) from None
        return cls(
            version=version,
            sender=sender,
            topic=topic,
            algorithm=algorithm,
            timestamp_us=ts,
            nonce=parts[3],
            signer_key_id=parts[4],
            certificate=parts[5],
            payload=parts[6],
            signature=parts[7],
        )


def default_algorithm(key: PrivateKey) -> str:
    """ECDSA P-256 with SHA-256; RSA with SHA-256, or SHA-1 for a G1 (RSA-1024) key."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "ecdsa-p256-sha256"
    return "rsa-pkcs1-sha1" if key.key_size < 2048 else "rsa-pkcs1-sha256"


def _sign(key: PrivateKey, algorithm: str, data: bytes) -> bytes:
    kind, hash_ = ALGORITHMS[algorithm]
    if isinstance(key, rsa.RSAPrivateKey) and kind == "rsa":
        return key.sign(data, padding.PKCS1v15(), hash_)
    if isinstance(key, ec.EllipticCurvePrivateKey) and kind == "ec":
        return key.sign(data, ec.ECDSA(hash_))
    raise PkiError(f"algorithm {algorithm} does not fit a {type(key).__name__}")


def sign_message(
    *,
    sender: str,
    topic: str,
    payload: bytes,
    key: PrivateKey,
    certificate: x509.Certificate,
    now: datetime,
    nonce: bytes | None = None,
    algorithm: str | None = None,
) -> SignedMessage:
    """Sign without checking that ``key`` belongs to ``certificate`` (see MessageSigner)."""
    require_utc(now)
    algorithm = algorithm or default_algorithm(key)
    if algorithm not in ALGORITHMS:
        raise PkiError(f"unknown message algorithm {algorithm!r}")
    unsigned = SignedMessage(
        sender=sender,
        topic=topic,
        algorithm=algorithm,
        timestamp_us=_us(now),
        nonce=secrets.token_bytes(16) if nonce is None else nonce,
        signer_key_id=bytes.fromhex(spki_sha256(key.public_key())),
        certificate=certificate.public_bytes(Encoding.DER),
        payload=payload,
        signature=b"",
    )
    signature = _sign(key, algorithm, unsigned.canonical_bytes())
    return SignedMessage(
        sender=unsigned.sender,
        topic=unsigned.topic,
        algorithm=unsigned.algorithm,
        timestamp_us=unsigned.timestamp_us,
        nonce=unsigned.nonce,
        signer_key_id=unsigned.signer_key_id,
        certificate=unsigned.certificate,
        payload=unsigned.payload,
        signature=signature,
    )


class MessageSigner:
    """Signs messages as ``sender`` with a key and the certificate that certifies it."""

    def __init__(self, *, sender: str, key: PrivateKey, certificate: x509.Certificate) -> None:
        if spki_sha256(key.public_key()) != spki_sha256(certificate.public_key()):  # type: ignore[arg-type]
            raise PkiError(f"the key given for {sender!r} does not match its certificate")
        self.sender = sender
        self.key = key
        self.certificate = certificate
        self.algorithm = default_algorithm(key)

    def sign(
        self, *, topic: str, payload: bytes, now: datetime, nonce: bytes | None = None
    ) -> SignedMessage:
        return sign_message(
            sender=self.sender,
            topic=topic,
            payload=payload,
            key=self.key,
            certificate=self.certificate,
            now=now,
            nonce=nonce,
            algorithm=self.algorithm,
        )


class VerifiedMessage(NamedTuple):
    """A message that passed every check (immutable).

    NOTE: a NamedTuple rather than a frozen dataclass: one is built for every verified
    message, and a frozen dataclass's ``__init__`` costs about 1 us, 5 % of an RSA check.
    """

    sender: str
    topic: str
    payload: bytes
    algorithm: str
    timestamp_us: int
    path_length: int
    legacy: bool
    """True when the path or the signature used a G1 algorithm (SHA-1 or RSA-1024)."""


class MessageVerifier:
    """Verify :class:`SignedMessage` objects for the emulator.

    Checks, in order: version and algorithm; the path of the attached certificate to a
    pinned anchor (cached by certificate bytes); the signer key id names that certificate
    (``wrong-signer``); the signature over the canonical bytes (``bad-signature``); a SHA-1
    message signature under the algorithm policy (``weak-hash``); then
    :meth:`check_signer` (validity, algorithm policy and revocation of the path, the sender
    named in the message is a site of the certificate, ``impersonation``; digitalSignature
    and the message-signing usage, ``key-usage``); the required role (``role``); then
    :meth:`check_fresh` (the timestamp is within ``replay_window`` of ``now``,
    ``stale-message``, and the nonce is new, ``replay``). Messages in another format (EMW1)
    are checked with :meth:`check_signer` and :meth:`check_fresh` alone, the same code.

    ``now`` must be timezone-aware UTC (:class:`PkiError` otherwise).
    """

    def __init__(
        self,
        verifier: Verifier,
        *,
        message_signing_oid: str,
        replay_window: timedelta = timedelta(minutes=5),
        max_cached_paths: int = 100_000,
    ) -> None:
        if replay_window <= timedelta(0):
            raise PkiError(f"replay_window must be positive, got {replay_window}")
        self.verifier = verifier
        self.message_signing_oid = message_signing_oid
        self.window_us = int(replay_window / timedelta(microseconds=1))
        self.max_cached_paths = max_cached_paths
        self._paths: dict[bytes, VerifiedPath] = {}
        # The replay cache: one bytes token per (key, nonce) in a set, and the same tokens in
        # buckets of one second of signing time, oldest first, to forget them by the bucket.
        # About 100 bytes a message with a 16-byte nonce (a (key id, nonce) tuple mapped to
        # its timestamp took 190), kept for two windows: at R messages a second the cache
        # holds 2 * window * R of them (2,000/s: 1.2 million, about 125 MB).
        self._key_numbers: dict[bytes, int] = {}  # signing keys seen: bounded by the PKI
        self._seen: set[bytes] = set()
        # [second, the latest timestamp in it, its tokens]
        self._buckets: deque[list[Any]] = deque()
        self.accepted = 0
        self.rejected = 0
        self._last_now: datetime | None = None
        self._last_now_us = 0

    def _path(self, cert_der: bytes, now: datetime) -> VerifiedPath:
        vp = self._paths.get(cert_der)
        if vp is None:
            try:
                cert = x509.load_der_x509_certificate(cert_der)
            except (ValueError, x509.InvalidVersion):
                raise VerificationError(
                    "the attached certificate does not parse", reason="malformed"
                ) from None
            vp = self.verifier.build_path(cert, now=now)
            if len(self._paths) >= self.max_cached_paths:
                self._paths.clear()
            self._paths[cert_der] = vp
        return vp

    def _now_us(self, now: datetime) -> int:
        """``now`` in microseconds since the epoch; ``PkiError`` unless it is UTC."""
        if now is self._last_now:  # many messages are checked at one simulated instant
            return self._last_now_us
        require_utc(now)
        self._last_now_us = us = _us(now)
        self._last_now = now
        return us

    def check_signer(self, certificate_der: bytes, sender: str, now: datetime) -> VerifiedPath:
        """Check that ``certificate_der`` may sign messages as ``sender`` at ``now``.

        For a message format other than :class:`SignedMessage` (EMW1): the caller checks the
        signature with the returned path's ``leaf_key`` and the freshness with
        :meth:`check_fresh`. Checks the path to a pinned anchor (cached by the certificate's
        bytes; ``malformed`` if they do not parse), then at ``now`` its validity, the
        algorithm policy and the revocation of every non-anchor certificate, that ``sender``
        is a site the certificate names (``impersonation``), and digitalSignature with the
        message-signing usage (``key-usage``). Raises :class:`VerificationError`.
        """
        self._now_us(now)
        vp = self._paths.get(certificate_der) or self._path(certificate_der, now)
        return self._check_signer(vp, certificate_der, sender, now)

    def _check_signer(
        self, vp: VerifiedPath, cert_der: bytes, sender: str, now: datetime
    ) -> VerifiedPath:
        checked = self.verifier._recheck(vp, now)
        if checked is not vp:  # the cached path ran out; another one took its place
            self._paths[cert_der] = vp = checked
        if sender not in vp.site_ids:
            raise VerificationError(
                f"message claims sender {sender!r} but the certificate is for {sorted(vp.site_ids)}",
                reason="impersonation",
            )
        if not vp.digital_signature or self.message_signing_oid not in vp.ekus:
            raise VerificationError(
                f"certificate of {sender!r} is not for message signing", reason="key-usage"
            )
        return vp

    def check_fresh(self, key_id: bytes, nonce: bytes, timestamp_us: int, now: datetime) -> None:
        """Check that a message signed by ``key_id`` at ``timestamp_us`` (microseconds since
        the Unix epoch, UTC) is within the replay window of ``now`` (``stale-message``) and
        that ``(key_id, nonce)`` was not seen before (``replay``); then remember the pair.

        Call it only once the message's signature and signer have been checked, so that a
        forged message cannot use up a genuine sender's nonce.
        """
        now_us = self._last_now_us if now is self._last_now else self._now_us(now)
        if abs(now_us - timestamp_us) > self.window_us:
            raise VerificationError(
                f"message signed by key {key_id.hex()[:16]} is"
                f" {abs(now_us - timestamp_us) / 1e6:.0f} s away from now",
                reason="stale-message",
            )
        seen = self._seen
        # the key's number (4 bytes), then the nonce: no two (key id, nonce) pairs give one
        # token, and the 32-byte key id is not kept once a message
        number = self._key_numbers.get(key_id)
        if number is None:
            number = self._key_numbers[key_id] = len(self._key_numbers)
        token = number.to_bytes(4, "big") + nonce
        if token in seen:
            raise VerificationError(
                f"message signed by key {key_id.hex()[:16]} with nonce {nonce.hex()}"
                " was already seen",
                reason="replay",
            )
        seen.add(token)
        buckets = self._buckets
        second = timestamp_us // 1_000_000
        if buckets and buckets[-1][0] == second:
            bucket = buckets[-1]
            bucket[2].append(token)
            if timestamp_us > bucket[1]:
                bucket[1] = timestamp_us
        else:
            buckets.append([second, timestamp_us, [token]])
        if len(seen) > 4096:  # forget the buckets whose every nonce is two windows old
            horizon = now_us - 2 * self.window_us
            while buckets and buckets[0][1] < horizon:
                seen.difference_update(buckets.popleft()[2])

    def verify(
        self,
        message: SignedMessage,
        *,
        now: datetime,
        required_role_oid: str | None = None,
    ) -> VerifiedMessage:
        """Check ``message`` at ``now``; raise :class:`VerificationError` with a reason."""
        try:
            result = self._verify(message, now, required_role_oid)
        except VerificationError as exc:
            self.rejected += 1
            log.info("rejected message from %r: %s", message.sender, exc.reason)
            raise
        self.accepted += 1
        return result

    def _verify(self, m: SignedMessage, now: datetime, role: str | None) -> VerifiedMessage:
        if now is not self._last_now:  # NOTE: the common case without a call
            self._now_us(now)
        if m.version != _VERSION:
            raise VerificationError(f"unknown message version {m.version}", reason="malformed")
        spec = ALGORITHMS.get(m.algorithm)
        if spec is None:
            raise VerificationError(f"unknown algorithm {m.algorithm!r}", reason="malformed")
        vp = self._paths.get(m.certificate) or self._path(m.certificate, now)
        if m.signer_key_id != vp.leaf_key_id:
            raise VerificationError(
                f"message from {m.sender!r} names a signing key that is not its certificate's",
                reason="wrong-signer",
            )
        kind, hash_ = spec
        data = m.canonical_bytes()
        try:
            if kind != vp.key_kind:
                raise VerificationError(
                    f"algorithm {m.algorithm} does not match the certificate's key",
                    reason="algorithm-mismatch",
                )
            if kind == "rsa":
                cast(rsa.RSAPublicKey, vp.leaf_key).verify(m.signature, data, _PKCS1, hash_)
            else:
                key = cast(ec.EllipticCurvePublicKey, vp.leaf_key)
                key.verify(m.signature, data, _ECDSA[hash_.name])
        except InvalidSignature:
            raise VerificationError(
                f"signature of message from {m.sender!r} does not verify", reason="bad-signature"
            ) from None
        verifier = self.verifier
        if hash_.name == "sha1" and not verifier.policy.legacy_allowed(now):
            verifier.policy.check_hash(hash_, now, f"message from {m.sender!r}")
        vp = self._check_signer(vp, m.certificate, m.sender, now)
        if role is not None and role not in vp.ekus:
            raise VerificationError(f"certificate of {m.sender!r} lacks role {role}", reason="role")
        self.check_fresh(m.signer_key_id, m.nonce, m.timestamp_us, now)
        return VerifiedMessage(
            sender=m.sender,
            topic=m.topic,
            payload=m.payload,
            algorithm=m.algorithm,
            timestamp_us=m.timestamp_us,
            path_length=vp.length,
            legacy=vp.uses_sha1 or vp.weak_rsa or hash_.name == "sha1",
        )
