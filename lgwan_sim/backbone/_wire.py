"""EMW1, the emulator's wire protocol: frames, header, signed bytes and signatures.

Everything here is a pure function of its arguments or a frozen record: no sockets, no clock,
no randomness (ids and times are passed in). ``docs/protocol.md`` is the specification; this
module is its reference implementation and ``docs/protocol-vectors.json`` pins both together.

A message as an endpoint's DEALER socket sends and receives it::

    0  b""          empty delimiter
    1  b"EMW1"      protocol and version
    2  command      one byte (:class:`Command`)
    3  address      UTF-8, the destination (both directions: the emulator forwards it as is)
    4  header       msgpack map, integer-only numbers (:class:`Header`)
    5  body         opaque bytes
    6  signature    by the sender's LGPKI message-signing key over :func:`signed_bytes`
    7  delivery     optional, emulator -> endpoint only, unsigned (:class:`Delivery`)

:func:`decode` turns any input into a :class:`Message` or raises :class:`WireError` (code 400)
and nothing else; :func:`verify` checks a signature and raises
:class:`~lgwan_sim.errors.VerificationError` with a reason.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

import msgpack
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from lgwan_sim.backbone._presign import NoncePool
from lgwan_sim.errors import LgwanSimError, PkiError, VerificationError
from lgwan_sim.lgpki import PrivateKey, PublicKey, spki_sha256

__all__ = [
    "DELIMITER",
    "MAX_ADDRESS_BYTES",
    "MAX_BODY_BYTES",
    "MAX_DELIVERY_BYTES",
    "MAX_FRAME_BYTES",
    "MAX_HEADER_BYTES",
    "MAX_HEADER_ENTRIES",
    "MAX_SIGNATURE_BYTES",
    "PROTOCOL",
    "SIGNATURE_TAG",
    "Algorithm",
    "Command",
    "Delivery",
    "ErrorCode",
    "Header",
    "Message",
    "Signer",
    "WireError",
    "decode",
    "decode_delivery",
    "decode_header",
    "encode",
    "encode_delivery",
    "encode_header",
    "peek_src",
    "seal",
    "signed_bytes",
    "verify",
]

PROTOCOL = b"EMW1"
DELIMITER = b""
SIGNATURE_TAG = b"EMW1-SIG\x00"

MAX_ADDRESS_BYTES = 255
MAX_HEADER_BYTES = 16_384
MAX_HEADER_ENTRIES = 32
MAX_KEY_BYTES = 16
MAX_BODY_BYTES = 1 << 20
MAX_FRAME_BYTES = MAX_BODY_BYTES
"""The longest frame of any EMW1 message (the body's limit): a receiver may refuse a longer
one without reading it. The emulator's socket does (``ZMQ_MAXMSGSIZE``): it closes the
connection, and the sender's socket connects again."""
MAX_SIGNATURE_BYTES = 512
MAX_DELIVERY_BYTES = 4_096
MAX_DELIVERY_PATH = 64
MAX_CERT_BYTES = 8_192
MAX_TEXT_BYTES = 1_024
MAX_TRACE_BYTES = 64
ID_BYTES = 16
KID_BYTES = 32
INT64_MAX = (1 << 63) - 1

_LEN = struct.Struct(">I")


class WireError(LgwanSimError, ValueError):
    """A frame set or field that is not valid EMW1. ``code`` is always 400 (malformed)."""

    code = 400

    def __init__(self, reason: str) -> None:
        super().__init__(f"400 malformed: {reason}")
        self.reason = reason


class Command(IntEnum):
    """Frame 2: what the message is."""

    REQ = 0x01
    REP = 0x02
    EVT = 0x03
    ERR = 0x04
    HEARTBEAT = 0x05
    READY = 0x06
    BYE = 0x07


class ErrorCode(IntEnum):
    """The ``code`` of an ERR message."""

    MALFORMED = 400
    FORBIDDEN = 403
    NO_SERVICE = 404
    UNREACHABLE = 502
    OVERLOADED = 503
    TIMEOUT = 504


class Algorithm(StrEnum):
    """Signature algorithms (the names LGPKI uses for message signatures)."""

    ECDSA_P256_SHA256 = "ecdsa-p256-sha256"
    RSA_PKCS1_SHA256 = "rsa-pkcs1-sha256"


_COMMANDS = {int(c): c for c in Command}
_ALGORITHMS = {a.value: a for a in Algorithm}
_ERROR_CODES = {int(c): c for c in ErrorCode}
# Commands whose address may be empty (addressed to the emulator itself).
_EMPTY_ADDRESS_OK = frozenset({Command.HEARTBEAT, Command.BYE})
_SHA256 = hashes.SHA256()
_ECDSA = ec.ECDSA(_SHA256)
_PKCS1 = padding.PKCS1v15()


def _check_bytes(name: str, value: object, *, exact: int | None = None, limit: int = 0) -> None:
    if type(value) is not bytes:
        raise WireError(f"{name} must be bytes, got {type(value).__name__}")
    if exact is not None and len(value) != exact:
        raise WireError(f"{name} must be {exact} bytes, got {len(value)}")
    if limit and len(value) > limit:
        raise WireError(f"{name} exceeds {limit} bytes ({len(value)})")


def _check_int(name: str, value: object, *, low: int = 0, high: int = INT64_MAX) -> None:
    if type(value) is not int:  # bool is an int subclass and is refused here
        raise WireError(f"{name} must be an integer, got {type(value).__name__}")
    if not low <= value <= high:
        raise WireError(f"{name} must be in [{low}, {high}], got {value}")


def _check_text(name: str, value: object, *, limit: int = MAX_TEXT_BYTES) -> None:
    if type(value) is not str:
        raise WireError(f"{name} must be a string, got {type(value).__name__}")
    size = _TEXT_SEEN.get(value)
    if size is None:
        size = len(value.encode("utf-8", "surrogatepass"))
        if size > limit:
            raise WireError(f"{name} exceeds {limit} bytes")
        if _CONTROL.search(value):
            raise WireError(f"{name} holds a control character or a lone surrogate")
        if size <= MAX_ADDRESS_BYTES:
            if len(_TEXT_SEEN) >= _TEXT_SEEN_MAX:
                _TEXT_SEEN.clear()
            _TEXT_SEEN[value] = size
    elif size > limit:
        raise WireError(f"{name} exceeds {limit} bytes")


_TEXT_SEEN: dict[str, int] = {}
"""The UTF-8 size of short strings that passed :func:`_check_text`'s character check: a
sender's ``src``, its ``ct`` and the addresses repeat in every message, so each is checked
once. Bounded (emptied when full); it only saves work, never changes an answer."""
_TEXT_SEEN_MAX = 4_096


_SCALARS = (int, str, bytes, bool)
_SCALAR_TYPES = frozenset(_SCALARS)
# C0 controls, DEL and lone surrogates (which UTF-8 cannot carry).
_CONTROL = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


@dataclass(frozen=True, slots=True, kw_only=True)
class Header:
    """Frame 4: a flat msgpack map with short string keys and integer-only numbers.

    Times and durations are integer nanoseconds (``ts_ns`` since the Unix epoch, UTC).
    ``extra`` holds keys this version does not define, in order; receivers ignore them.
    """

    src: str
    id: bytes
    kid: bytes
    alg: Algorithm
    ts_ns: int
    corr: bytes | None = None
    ttl_ns: int | None = None
    seq: int | None = None
    ct: str | None = None
    size_bytes: int | None = None
    code: ErrorCode | None = None
    reason: str | None = None
    addr: str | None = None
    hb_ns: int | None = None
    trace: bytes | None = None
    cert: bytes | None = field(default=None, repr=False)
    extra: tuple[tuple[str, int | str | bytes | bool], ...] = ()

    def __post_init__(self) -> None:
        # each check is guarded by its common case, so a well-formed header costs no calls
        src, mid, kid, ts = self.src, self.id, self.kid, self.ts_ns
        if type(src) is not str or _TEXT_SEEN.get(src, MAX_ADDRESS_BYTES + 1) > MAX_ADDRESS_BYTES:
            _check_text("src", src, limit=MAX_ADDRESS_BYTES)
        if not src:
            raise WireError("src must not be empty")
        if type(mid) is not bytes or len(mid) != ID_BYTES:
            _check_bytes("id", mid, exact=ID_BYTES)
        if type(kid) is not bytes or len(kid) != KID_BYTES:
            _check_bytes("kid", kid, exact=KID_BYTES)
        if type(self.alg) is not Algorithm:
            raise WireError(f"alg must be one of {sorted(_ALGORITHMS)}, got {self.alg!r}")
        if type(ts) is not int or not 0 <= ts <= INT64_MAX:
            _check_int("ts", ts)
        corr, ttl, seq, ct, size = self.corr, self.ttl_ns, self.seq, self.ct, self.size_bytes
        if corr is not None and (type(corr) is not bytes or len(corr) != ID_BYTES):
            _check_bytes("corr", corr, exact=ID_BYTES)
        if ttl is not None and (type(ttl) is not int or not 1 <= ttl <= INT64_MAX):
            _check_int("ttl", ttl, low=1)
        if seq is not None and (type(seq) is not int or not 0 <= seq <= INT64_MAX):
            _check_int("seq", seq)
        if ct is not None and (
            type(ct) is not str or _TEXT_SEEN.get(ct, MAX_ADDRESS_BYTES + 1) > MAX_ADDRESS_BYTES
        ):
            _check_text("ct", ct, limit=MAX_ADDRESS_BYTES)
        if size is not None and (type(size) is not int or not 0 <= size <= INT64_MAX):
            _check_int("size", size)
        if self.code is not None and not isinstance(self.code, ErrorCode):
            raise WireError(f"code must be one of {sorted(_ERROR_CODES)}, got {self.code!r}")
        if self.reason is not None:
            _check_text("reason", self.reason)
        if self.addr is not None:
            _check_text("addr", self.addr, limit=MAX_ADDRESS_BYTES)
        if self.hb_ns is not None:
            _check_int("hb", self.hb_ns, low=1)
        if self.trace is not None:
            _check_bytes("trace", self.trace, limit=MAX_TRACE_BYTES)
        if self.cert is not None:
            _check_bytes("cert", self.cert, limit=MAX_CERT_BYTES)
        if self.extra and len(self.extra) + len(_known_map(self)) > MAX_HEADER_ENTRIES:
            raise WireError(f"a header holds at most {MAX_HEADER_ENTRIES} entries")
        seen: set[str] = set()
        for key, value in self.extra:
            _check_key(key)
            if key in _KNOWN or key in seen:
                raise WireError(f"header key {key!r} is defined or repeated")
            seen.add(key)
            if type(value) not in _SCALARS:
                raise WireError(f"header value of {key!r} must be int, str, bytes or bool")
            if type(value) is int:
                _check_int(key, value, low=-(1 << 63), high=(1 << 64) - 1)


# (wire key, attribute) in the order the encoder writes them.
_FIELDS: tuple[tuple[str, str], ...] = (
    ("src", "src"),
    ("id", "id"),
    ("kid", "kid"),
    ("alg", "alg"),
    ("ts", "ts_ns"),
    ("corr", "corr"),
    ("ttl", "ttl_ns"),
    ("seq", "seq"),
    ("ct", "ct"),
    ("size", "size_bytes"),
    ("code", "code"),
    ("reason", "reason"),
    ("addr", "addr"),
    ("hb", "hb_ns"),
    ("trace", "trace"),
    ("cert", "cert"),
)
_KNOWN = {wire: attr for wire, attr in _FIELDS}
_OPTIONAL_FIELDS = _FIELDS[5:]  # after src, id, kid, alg and ts, which every header has
_REQUIRED = ("src", "id", "kid", "alg", "ts")
_REQUIRED_ATTRS = frozenset(_KNOWN[k] for k in _REQUIRED)


def _check_key(key: object) -> None:
    if type(key) is not str or not key or len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise WireError(f"header keys are strings of 1 to {MAX_KEY_BYTES} bytes, got {key!r}")


def _known_map(h: Header) -> dict[str, object]:
    """The defined fields of ``h`` that are set, by wire key, in the encoder's order."""
    out: dict[str, object] = {
        "src": h.src,
        "id": h.id,
        "kid": h.kid,
        "alg": h.alg.value,
        "ts": h.ts_ns,
    }
    for wire, attr in _OPTIONAL_FIELDS:
        value = getattr(h, attr)
        if value is not None:
            out[wire] = int(value) if wire == "code" else value
    return out


def encode_header(header: Header) -> bytes:
    """The msgpack bytes of ``header``: known keys in a fixed order, then ``extra``."""
    items = _known_map(header)
    if header.extra:
        items.update(header.extra)
    data: bytes = msgpack.packb(items, use_bin_type=True)
    if len(data) > MAX_HEADER_BYTES:
        raise WireError(f"header exceeds {MAX_HEADER_BYTES} bytes ({len(data)})")
    return data


class _Map(list[tuple[Any, Any]]):
    """A decoded msgpack map as its pairs, so repeated keys stay visible to the checks."""

    __slots__ = ()


def _declared_entries(data: bytes) -> int:
    """How many entries the msgpack map at the start of ``data`` declares (-1: not a map)."""
    lead = data[0] if data else -1
    if 0x80 <= lead <= 0x8F:
        return lead & 0x0F
    if lead == 0xDE and len(data) >= 3:
        return (data[1] << 8) | data[2]
    if lead == 0xDF and len(data) >= 5:
        return int.from_bytes(data[1:5], "big")
    return -1


def _unpack(data: object, what: str, limit: int, pairs: bool) -> Any:
    if type(data) is not bytes:
        if not isinstance(data, bytearray | memoryview):
            raise WireError(f"{what} must be bytes, got {type(data).__name__}")
        data = bytes(data)
    if len(data) > limit:
        raise WireError(f"{what} exceeds {limit} bytes ({len(data)})")
    try:
        obj = msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            object_pairs_hook=_Map if pairs else None,
            use_list=True,
            max_str_len=limit,
            max_bin_len=limit,
            max_array_len=MAX_DELIVERY_PATH,
            max_map_len=MAX_HEADER_ENTRIES,
            max_ext_len=0,
        )
    except Exception as exc:  # msgpack raises many kinds: all mean malformed input
        raise WireError(f"{what} is not one msgpack map ({type(exc).__name__})") from None
    if type(obj) is not (_Map if pairs else dict):
        raise WireError(f"{what} must be a msgpack map, got {type(obj).__name__}")
    return obj


def _unpack_map(data: object, what: str, limit: int) -> Iterable[tuple[Any, Any]]:
    """The entries of one msgpack map, in order, repeated keys included.

    Decoded as a dict first (msgpack's fastest path); a dict with fewer entries than the
    map declares had a key twice, and only then is it decoded again as pairs, so that the
    checks see the repeat (malformed input alone pays for that).
    """
    obj: dict[Any, Any] = _unpack(data, what, limit, False)
    if len(obj) != _declared_entries(data):  # type: ignore[arg-type]  # bytes by now
        pairs: _Map = _unpack(data, what, limit, True)
        return pairs
    return obj.items()


def decode_header(data: bytes) -> Header:
    """Parse and check frame 4; raise :class:`WireError` on anything else."""
    known: dict[str, object] = {}
    extra: list[tuple[str, int | str | bytes | bool]] = []
    for key, value in _unpack_map(data, "header", MAX_HEADER_BYTES):
        attr = _KNOWN.get(key) if type(key) is str else None
        if attr is None:
            _check_key(key)
        if type(value) not in _SCALAR_TYPES:
            raise WireError(f"header value of {key!r} must be int, str, bytes or bool")
        if attr is None:
            extra.append((key, value))
        elif attr in known:
            raise WireError(f"header key {key!r} is repeated")
        else:
            known[attr] = value
    if not _REQUIRED_ATTRS.issubset(known):
        missing = [k for k in _REQUIRED if _KNOWN[k] not in known]
        raise WireError(f"header lacks {', '.join(missing)}")
    alg = known["alg"]
    if type(alg) is not str or alg not in _ALGORITHMS:
        raise WireError(f"alg must be one of {sorted(_ALGORITHMS)}, got {alg!r}")
    known["alg"] = _ALGORITHMS[alg]
    if "code" in known:
        code = known["code"]
        if type(code) is not int or code not in _ERROR_CODES:
            raise WireError(f"code must be one of {sorted(_ERROR_CODES)}, got {code!r}")
        known["code"] = _ERROR_CODES[code]
    return Header(**known, extra=tuple(extra))  # type: ignore[arg-type]  # checked in __post_init__


def peek_src(data: bytes) -> str:
    """The ``src`` of a header, checked alone: the broker's identity check on its hot path.

    Cheaper than :func:`decode_header` (no record is built); raises :class:`WireError` when
    ``data`` is not one msgpack map or holds no valid ``src``, once or more than once.
    """
    found = [value for key, value in _unpack_map(data, "header", MAX_HEADER_BYTES) if key == "src"]
    if len(found) != 1:
        raise WireError("header must hold src exactly once")
    src = found[0]
    _check_text("src", src, limit=MAX_ADDRESS_BYTES)
    if not src:
        raise WireError("src must not be empty")
    return str(src)


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """Frame 7, optional and unsigned: what the emulator modelled for this message.

    ``delay_ns`` is the modelled one-way delay, ``path`` the sites the message crossed.
    """

    delay_ns: int | None = None
    path: tuple[str, ...] = ()
    attempt: int | None = None

    def __post_init__(self) -> None:
        if self.delay_ns is not None:
            _check_int("delay", self.delay_ns)
        if self.attempt is not None:
            _check_int("attempt", self.attempt)
        if type(self.path) is not tuple or len(self.path) > MAX_DELIVERY_PATH:
            raise WireError(f"path must be a list of at most {MAX_DELIVERY_PATH} site ids")
        for hop in self.path:
            _check_text("path", hop, limit=MAX_ADDRESS_BYTES)


def encode_delivery(delivery: Delivery) -> bytes:
    """The msgpack bytes of frame 7."""
    items: dict[str, object] = {}
    if delivery.delay_ns is not None:
        items["delay"] = delivery.delay_ns
    if delivery.path:
        items["path"] = list(delivery.path)
    if delivery.attempt is not None:
        items["attempt"] = delivery.attempt
    data: bytes = msgpack.packb(items, use_bin_type=True)
    if len(data) > MAX_DELIVERY_BYTES:
        raise WireError(f"delivery info exceeds {MAX_DELIVERY_BYTES} bytes ({len(data)})")
    return data


def decode_delivery(data: bytes) -> Delivery:
    """Parse frame 7; unknown keys are ignored, known ones are type-checked."""
    pairs = _unpack_map(data, "delivery info", MAX_DELIVERY_BYTES)
    seen: set[str] = set()
    values: dict[str, Any] = {}
    for key, value in pairs:
        _check_key(key)
        if key in seen:
            raise WireError(f"delivery key {key!r} is repeated")
        seen.add(key)
        if type(value) is list:
            if any(type(v) not in _SCALARS for v in value):
                raise WireError(f"delivery value of {key!r} nests too deep")
        elif type(value) not in _SCALARS:
            raise WireError(f"delivery value of {key!r} must be a scalar or a list of scalars")
        values[key] = value
    path = values.get("path", [])
    if type(path) is not list:
        raise WireError("path must be a list of site ids")
    return Delivery(delay_ns=values.get("delay"), path=tuple(path), attempt=values.get("attempt"))


def signed_bytes(command: Command, address: bytes, header: bytes, body: bytes) -> bytes:
    """What the signature covers: a domain tag, the command, then length-prefixed fields.

    ``SIGNATURE_TAG || cmd || u32be(len(address)) || address || u32be(len(header)) || header
    || u32be(len(body)) || body``; ``header`` is the exact frame 4 bytes, never re-encoded.
    """
    pack = _LEN.pack
    return b"".join(
        (
            SIGNATURE_TAG,
            bytes((command,)),
            pack(len(address)),
            address,
            pack(len(header)),
            header,
            pack(len(body)),
            body,
        )
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One EMW1 message: the decoded header and the exact bytes it came in (or goes out) as."""

    command: Command
    address: str
    header: Header
    header_bytes: bytes = field(repr=False)
    body: bytes = field(repr=False)
    signature: bytes = field(repr=False)
    delivery: Delivery | None = None

    def signed_bytes(self) -> bytes:
        """The bytes the signature covers (from the frames as received)."""
        return signed_bytes(self.command, self.address.encode(), self.header_bytes, self.body)

    def frames(self) -> list[bytes]:
        """The frames a DEALER sends (see :func:`encode`)."""
        return encode(self)


def _check_address(command: Command, address: str) -> bytes:
    _check_text("address", address, limit=MAX_ADDRESS_BYTES)
    if not address and command not in _EMPTY_ADDRESS_OK:
        raise WireError(f"{command.name} needs a destination address")
    return address.encode()


def _check_command_header(command: Command, h: Header) -> None:
    if command is Command.REP and h.corr is None:
        raise WireError("REP needs corr, the id of the request it answers")
    if command is Command.ERR:
        if h.code is None or h.reason is None:
            raise WireError("ERR needs code and reason")
    elif h.code is not None:
        raise WireError(f"code is for ERR only, not {command.name}")


def _check_signature(alg: Algorithm, signature: bytes) -> None:
    if alg is Algorithm.RSA_PKCS1_SHA256:
        if len(signature) != 256:
            raise WireError(f"an rsa-pkcs1-sha256 signature is 256 bytes, got {len(signature)}")
    elif not 8 <= len(signature) <= 72 or signature[0] != 0x30:
        raise WireError("an ecdsa-p256-sha256 signature is a DER SEQUENCE of 8 to 72 bytes")


def encode(message: Message) -> list[bytes]:
    """Frames 0-6 (and 7 when there is delivery info) of ``message``."""
    frames = [
        DELIMITER,
        PROTOCOL,
        bytes((message.command,)),
        message.address.encode(),
        message.header_bytes,
        message.body,
        message.signature,
    ]
    if message.delivery is not None:
        frames.append(encode_delivery(message.delivery))
    return frames


_BYTES_ONLY = frozenset((bytes,))


def _as_bytes(index: int, frame: object) -> bytes:
    if type(frame) is bytes:
        return frame
    if isinstance(frame, bytearray | memoryview):
        return bytes(frame)
    buffer = getattr(frame, "bytes", None)  # a zmq.Frame
    if type(buffer) is bytes:
        return buffer
    raise WireError(f"frame {index} is a {type(frame).__name__}, not bytes")


def decode(frames: object, *, max_body_bytes: int = MAX_BODY_BYTES) -> Message:
    """Parse the frames an endpoint receives (or a ROUTER receives after its routing id).

    Raises :class:`WireError` (code 400) on any input that is not valid EMW1, and nothing
    else. The signature is checked for shape only; :func:`verify` checks that it verifies.
    """
    if type(frames) is not list and (
        not isinstance(frames, Sequence) or isinstance(frames, str | bytes | bytearray)
    ):
        raise WireError(f"frames must be a list of byte strings, got {type(frames).__name__}")
    count = len(frames)
    if count != 7 and count != 8:
        raise WireError(f"an EMW1 message has 7 or 8 frames, got {count}")
    parts: Sequence[bytes] = frames  # when all are bytes, as the next line checks
    if not _BYTES_ONLY.issuperset(map(type, frames)):
        parts = [_as_bytes(i, f) for i, f in enumerate(frames)]
    if parts[0] != DELIMITER:
        raise WireError("frame 0 must be empty")
    if parts[1] != PROTOCOL:
        raise WireError(f"frame 1 must be {PROTOCOL!r}, got {parts[1][:16]!r}")
    if len(parts[2]) != 1 or parts[2][0] not in _COMMANDS:
        raise WireError(f"frame 2 is not a command: {parts[2][:8].hex()}")
    command = _COMMANDS[parts[2][0]]
    raw_address = parts[3]
    if len(raw_address) > MAX_ADDRESS_BYTES:
        raise WireError(f"address exceeds {MAX_ADDRESS_BYTES} bytes ({len(raw_address)})")
    try:
        address = raw_address.decode("utf-8")
    except UnicodeDecodeError:
        raise WireError("address is not UTF-8") from None
    _check_address(command, address)
    header = decode_header(parts[4])
    _check_command_header(command, header)
    body = parts[5]
    if len(body) > max_body_bytes:
        raise WireError(f"body exceeds {max_body_bytes} bytes ({len(body)})")
    signature = parts[6]
    if len(signature) > MAX_SIGNATURE_BYTES:
        raise WireError(f"signature exceeds {MAX_SIGNATURE_BYTES} bytes")
    _check_signature(header.alg, signature)
    delivery = decode_delivery(parts[7]) if count == 8 else None
    return Message(
        command=command,
        address=address,
        header=header,
        header_bytes=parts[4],
        body=body,
        signature=signature,
        delivery=delivery,
    )


def _algorithm_of(key: PrivateKey | PublicKey) -> Algorithm:
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if isinstance(key.curve, ec.SECP256R1):
            return Algorithm.ECDSA_P256_SHA256
        raise PkiError(f"EMW1 signs with P-256, not {key.curve.name}")
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey) and key.key_size >= 2048:
        return Algorithm.RSA_PKCS1_SHA256
    raise PkiError(f"EMW1 signs with P-256 or RSA-2048 keys, not {type(key).__name__}")


@dataclass(frozen=True, slots=True)
class Signer:
    """An identity (``src``) and its LGPKI message-signing key; ``kid`` and ``alg`` follow.

    With ``nonces`` (a :class:`~lgwan_sim.backbone._presign.NoncePool`), a P-256 key signs
    with nonces made ahead of time: the same signatures, at a fraction of the cost at the
    moment of sealing. It is for simulated identities only (see that module); an RSA key
    ignores it.
    """

    src: str
    key: PrivateKey = field(repr=False)
    nonces: NoncePool | None = field(default=None, repr=False, compare=False)
    kid: bytes = field(init=False, repr=False)
    alg: Algorithm = field(init=False)
    _d: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "alg", _algorithm_of(self.key))
        object.__setattr__(self, "kid", bytes.fromhex(spki_sha256(self.key.public_key())))
        d = 0
        key = self.key
        if (
            self.nonces is not None
            and isinstance(key, ec.EllipticCurvePrivateKey)
            and isinstance(key.curve, ec.SECP256R1)
        ):
            d = key.private_numbers().private_value
        object.__setattr__(self, "_d", d)

    def header(self, *, id: bytes, ts_ns: int, **fields: Any) -> Header:
        """A header from this signer with ``fields`` (Header's optional attributes)."""
        return Header(src=self.src, id=id, kid=self.kid, alg=self.alg, ts_ns=ts_ns, **fields)

    def seal(
        self,
        command: Command,
        address: str,
        body: bytes = b"",
        *,
        id: bytes,
        ts_ns: int,
        **fields: Any,
    ) -> Message:
        """Build and sign one message (see :func:`seal`).

        The header's ``kid`` and ``alg`` are the signer's, derived from its key once, so
        they are not derived again for every message.
        """
        header = self.header(id=id, ts_ns=ts_ns, **fields)
        return _seal(command, address, header, body, self.key, self.nonces, self._d)


def _sign(key: PrivateKey, data: bytes) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, _ECDSA)
    return key.sign(data, _PKCS1, _SHA256)


def seal(command: Command, address: str, header: Header, body: bytes, key: PrivateKey) -> Message:
    """Encode ``header`` and sign the message with ``key``.

    Raises :class:`WireError` when the message would not be valid EMW1 and
    :class:`~lgwan_sim.errors.PkiError` when ``key`` is not the one ``header`` names.
    """
    command = Command(command)
    _check_address(command, address)
    _check_command_header(command, header)
    _check_bytes("body", body, limit=MAX_BODY_BYTES)
    if _algorithm_of(key) is not header.alg:
        raise PkiError(f"header alg {header.alg.value} does not fit the signing key")
    if bytes.fromhex(spki_sha256(key.public_key())) != header.kid:
        raise PkiError("header kid does not name the signing key")
    return _seal(command, address, header, body, key)


def _seal(
    command: Command,
    address: str,
    header: Header,
    body: bytes,
    key: PrivateKey,
    nonces: NoncePool | None = None,
    d: int = 0,
) -> Message:
    """:func:`seal` once ``key`` is known to be the one ``header`` names (a P-256 ``key``
    whose private value is ``d`` signs with a nonce from ``nonces``)."""
    command = Command(command)
    raw_address = _check_address(command, address)
    _check_command_header(command, header)
    _check_bytes("body", body, limit=MAX_BODY_BYTES)
    header_bytes = encode_header(header)
    data = signed_bytes(command, raw_address, header_bytes, body)
    if nonces is not None and d and isinstance(key, ec.EllipticCurvePrivateKey):
        signature = nonces.sign(key, d, data)
    else:
        signature = _sign(key, data)
    return Message(
        command=command,
        address=address,
        header=header,
        header_bytes=header_bytes,
        body=body,
        signature=signature,
    )


def verify(
    message: Message, key: PublicKey, *, address: str | None = None, key_id: bytes | None = None
) -> None:
    """Check ``message``'s signature with the sender's public ``key``.

    ``address``, when given, is where the receiver is: a message for anywhere else is
    refused. Raises :class:`~lgwan_sim.errors.VerificationError` with reason
    ``wrong-destination``, ``algorithm-mismatch``, ``wrong-signer`` (``kid`` does not name
    ``key``) or ``bad-signature``. ``key_id``, when given, is the SHA-256 of ``key``'s
    SubjectPublicKeyInfo as the caller already knows it (an LGPKI path's ``leaf_key_id``),
    so that it is not derived again for every message. Certificate paths, revocation and
    replay are the caller's (LGPKI's) checks.
    """
    h = message.header
    if address is not None and message.address != address:
        raise VerificationError(
            f"message for {message.address!r} arrived at {address!r}", reason="wrong-destination"
        )
    try:
        fits = _algorithm_of(key) is h.alg
    except PkiError:
        fits = False
    if not fits:
        raise VerificationError(
            f"alg {h.alg.value} does not fit the key of {h.src!r}", reason="algorithm-mismatch"
        )
    if (key_id if key_id is not None else bytes.fromhex(spki_sha256(key))) != h.kid:
        raise VerificationError(
            f"message from {h.src!r} names another signing key", reason="wrong-signer"
        )
    data = message.signed_bytes()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(message.signature, data, _ECDSA)
        else:
            key.verify(message.signature, data, _PKCS1, _SHA256)
    except InvalidSignature:
        raise VerificationError(
            f"signature of {message.command.name} from {h.src!r} does not verify",
            reason="bad-signature",
        ) from None
