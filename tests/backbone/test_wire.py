"""EMW1 frames: every command round-trips, the published vectors hold, signatures bind."""

from __future__ import annotations

import dataclasses

import msgpack
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from lgwan_sim import backbone
from lgwan_sim.backbone import (
    Command,
    Delivery,
    ErrorCode,
    Signer,
    WireError,
    decode,
    seal,
    signed_bytes,
    verify,
)
from lgwan_sim.errors import PkiError, VerificationError
from tests.backbone.support import load_vectors, private_key, rebuild

TS = 1_767_225_600_000_000_000
VECTORS = load_vectors()


@pytest.fixture(scope="module")
def muni() -> Signer:
    return Signer("mun-13-104", ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture(scope="module")
def service() -> Signer:
    return Signer("asp-eltax-east", rsa.generate_private_key(public_exponent=65537, key_size=2048))


def _fields(command: Command) -> dict[str, object]:
    if command is Command.REP:
        return {"corr": bytes(16)}
    if command is Command.ERR:
        return {"corr": bytes(16), "code": ErrorCode.UNREACHABLE, "reason": "partition"}
    return {}


@pytest.mark.parametrize("command", list(Command))
@pytest.mark.parametrize("signer_name", ["muni", "service"])
def test_every_command_round_trips_and_verifies(command, signer_name, request):
    signer: Signer = request.getfixturevalue(signer_name)
    address = "" if command in (Command.HEARTBEAT, Command.BYE) else "asp-eltax-east/eltax"
    message = signer.seal(
        command,
        address,
        b"\x00body\xff",
        id=bytes(range(16)),
        ts_ns=TS,
        ttl_ns=1,
        seq=7,
        trace=b"\x01" * 8,
        extra=(("x-test", True), ("x-n", -5)),
        **_fields(command),
    )
    frames = message.frames()
    assert len(frames) == 7
    assert frames[:3] == [b"", b"EMW1", bytes([command])]
    decoded = decode(frames)
    assert decoded == message
    assert decoded.header.extra == (("x-test", True), ("x-n", -5))
    verify(decoded, signer.key.public_key(), address=address)


def test_delivery_info_is_an_unsigned_eighth_frame(muni):
    message = muni.seal(Command.REP, "mun-13-104", b"ok", id=bytes(16), ts_ns=TS, corr=bytes(16))
    delivered = dataclasses.replace(message, delivery=Delivery(delay_ns=5, path=("a", "b")))
    frames = delivered.frames()
    assert len(frames) == 8
    assert decode(frames) == delivered
    verify(decode(frames), muni.key.public_key())  # frame 7 is not covered by the signature


def test_zmq_frames_and_bytearrays_are_accepted(muni):
    zmq = pytest.importorskip("zmq")
    frames = muni.seal(Command.EVT, "x", id=bytes(16), ts_ns=0).frames()
    assert decode([zmq.Frame(f) for f in frames]) == decode([bytearray(f) for f in frames])


@pytest.mark.parametrize("name", sorted(VECTORS["vectors"]))
def test_vector_is_reproduced_byte_for_byte(name):
    vector = VECTORS["vectors"][name]
    message, signer = rebuild(VECTORS, name)
    assert message.header_bytes.hex() == vector["header"]
    assert message.signed_bytes().hex() == vector["signed_bytes"]
    frames = [bytes.fromhex(f) for f in vector["frames"]]
    if signer.alg is backbone.Algorithm.RSA_PKCS1_SHA256:
        assert message.frames() == frames  # PKCS#1 v1.5 is deterministic
    else:
        assert message.frames()[:6] == frames[:6]  # ECDSA draws a nonce: compare the rest
        assert frames[6].hex() == vector["signature"]
    received = decode(frames)
    assert received.signed_bytes().hex() == vector["signed_bytes"]
    keys = VECTORS["keys"][vector["key"]]
    public = load_der_public_key(bytes.fromhex(keys["public_spki_der"]))
    verify(received, public, address=vector["address"])  # type: ignore[arg-type]
    assert received.header.kid.hex() == keys["kid"]


def test_vector_keys_agree_with_each_other():
    key = private_key(VECTORS, "p256")
    entry = VECTORS["keys"]["p256"]
    assert f"{key.private_numbers().private_value:064x}" == entry["private_scalar"]
    assert Signer("x", key).kid.hex() == entry["kid"]


@pytest.mark.parametrize("case", VECTORS["invalid"], ids=lambda c: c["why"])
def test_invalid_vector_is_refused_with_400(case):
    with pytest.raises(WireError) as info:
        decode([bytes.fromhex(f) for f in case["frames"]])
    assert info.value.code == 400


def test_signed_bytes_layout_is_tag_command_and_length_prefixed_fields():
    assert signed_bytes(Command.REQ, b"ab", b"\x80", b"xyz") == (
        b"EMW1-SIG\x00\x01"
        + b"\x00\x00\x00\x02ab"
        + b"\x00\x00\x00\x01\x80"
        + b"\x00\x00\x00\x03xyz"
    )


@pytest.fixture
def request_message(muni):
    return muni.seal(Command.REQ, "asp-eltax-east/eltax", b"file", id=bytes(16), ts_ns=TS)


def _refused(message, key, reason, **kwargs):
    with pytest.raises(VerificationError) as info:
        verify(message, key, **kwargs)
    assert info.value.reason == reason


@pytest.mark.parametrize("frame", [2, 3, 4, 5])
def test_a_tampered_frame_fails_verification(request_message, muni, frame):
    frames = request_message.frames()
    if frame == 2:
        frames[2] = bytes([Command.EVT])
    elif frame == 4:  # re-encode the header with one field changed
        h = msgpack.unpackb(frames[4])
        h["ts"] += 1
        frames[4] = msgpack.packb(h, use_bin_type=True)
    else:
        frames[frame] += b"!"
    _refused(decode(frames), muni.key.public_key(), "bad-signature")


def test_a_message_moved_to_another_destination_fails(request_message, muni):
    frames = request_message.frames()
    frames[3] = b"asp-eltax-west/eltax"
    moved = decode(frames)
    _refused(moved, muni.key.public_key(), "bad-signature")
    _refused(moved, muni.key.public_key(), "wrong-destination", address="asp-eltax-east/eltax")


def test_a_message_signed_by_another_key_fails(request_message, muni):
    other = Signer(muni.src, ec.generate_private_key(ec.SECP256R1()))
    # checked with a key the header does not name
    _refused(request_message, other.key.public_key(), "wrong-signer")
    # the header names muni's key, but another key signed the very same bytes
    forged = dataclasses.replace(
        request_message,
        signature=other.key.sign(request_message.signed_bytes(), ec.ECDSA(hashes.SHA256())),
    )
    decode(forged.frames())  # well formed: only verification can tell
    _refused(forged, muni.key.public_key(), "bad-signature")


def test_an_rsa_key_cannot_check_a_p256_message(request_message, service):
    _refused(request_message, service.key.public_key(), "algorithm-mismatch")


def test_seal_refuses_a_key_the_header_does_not_name(muni, service):
    header = muni.header(id=bytes(16), ts_ns=TS)
    with pytest.raises(PkiError, match="alg"):
        seal(Command.REQ, "a", header, b"", service.key)
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(PkiError, match="kid"):
        seal(Command.REQ, "a", header, b"", other)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"ts_ns": -1}, "ts must be in"),
        ({"ts_ns": 1 << 63}, "ts must be in"),
        ({"ts_ns": 1.5}, "ts must be an integer"),
        ({"ts_ns": True}, "ts must be an integer"),
        ({"id": bytes(15)}, "id must be 16 bytes"),
        ({"src": ""}, "src must not be empty"),
        ({"src": "a\nb"}, "control character"),
        ({"ttl_ns": 0}, "ttl must be in"),
        ({"extra": (("src", 1),)}, "defined or repeated"),
        ({"extra": (("x", 1.0),)}, "must be int, str, bytes or bool"),
        ({"extra": (("k" * 17, 1),)}, "header keys"),
    ],
)
def test_a_header_out_of_bounds_cannot_be_built(muni, changes, match):
    base = muni.header(id=bytes(16), ts_ns=TS)
    with pytest.raises(WireError, match=match):
        dataclasses.replace(base, **changes)


def test_commands_check_their_own_fields(muni):
    with pytest.raises(WireError, match="REP needs corr"):
        muni.seal(Command.REP, "x", id=bytes(16), ts_ns=0)
    with pytest.raises(WireError, match="ERR needs code"):
        muni.seal(Command.ERR, "x", id=bytes(16), ts_ns=0, corr=bytes(16))
    with pytest.raises(WireError, match="code is for ERR only"):
        muni.seal(Command.REQ, "x", id=bytes(16), ts_ns=0, code=ErrorCode.FORBIDDEN, reason="")
    with pytest.raises(WireError, match="REQ needs a destination"):
        muni.seal(Command.REQ, "", id=bytes(16), ts_ns=0)


def test_size_limits_are_enforced_on_both_sides(muni):
    with pytest.raises(WireError, match="body exceeds"):
        muni.seal(Command.EVT, "x", b"\x00" * (backbone.MAX_BODY_BYTES + 1), id=bytes(16), ts_ns=0)
    frames = muni.seal(Command.EVT, "x", b"\x00" * 100, id=bytes(16), ts_ns=0).frames()
    with pytest.raises(WireError, match="body exceeds 99 bytes"):
        decode(frames, max_body_bytes=99)
    frames[3] = b"a" * (backbone.MAX_ADDRESS_BYTES + 1)
    with pytest.raises(WireError, match="address exceeds"):
        decode(frames)
    with pytest.raises(WireError, match="header exceeds"):
        muni.seal(
            Command.EVT,
            "x",
            id=bytes(16),
            ts_ns=0,
            cert=b"\x00" * 8192,
            extra=tuple((f"k{i}", "v" * 1000) for i in range(10)),
        )


def test_ints_use_the_smallest_msgpack_form_and_big_ones_survive(muni):
    h = dataclasses.replace(muni.header(id=bytes(16), ts_ns=(1 << 63) - 1), seq=5)
    raw = backbone.encode_header(h)
    assert b"\xa3seq\x05" in raw  # positive fixint
    assert b"\xa2ts\xcf\x7f\xff\xff\xff\xff\xff\xff\xff" in raw
    assert backbone.decode_header(raw) == h


def test_a_nine_byte_int_from_javascript_is_accepted_as_sent(muni):
    message = muni.seal(Command.EVT, "x", id=bytes(16), ts_ns=5)
    h = msgpack.unpackb(message.header_bytes)
    # JavaScript BigInt encodes even 5n as uint64 (cf): receivers must not re-encode
    raw = message.header_bytes.replace(b"\xa2ts\x05", b"\xa2ts\xcf" + (5).to_bytes(8, "big"))
    assert raw != message.header_bytes
    assert msgpack.unpackb(raw) == h
    decoded = backbone.decode_header(raw)
    assert decoded.ts_ns == 5


def test_peek_src_reads_the_sender_alone_and_refuses_what_decode_refuses(muni):
    message = muni.seal(Command.EVT, "x", id=bytes(16), ts_ns=0)
    assert backbone.peek_src(message.header_bytes) == "mun-13-104"
    for bad in (b"\xc1", msgpack.packb([1]), msgpack.packb({"src": 5}), msgpack.packb({"id": b""})):
        with pytest.raises(WireError):
            backbone.peek_src(bad)
    twice = b"\x82\xa3src\xa1a\xa3src\xa1b"
    with pytest.raises(WireError, match="exactly once"):
        backbone.peek_src(twice)


def _map_bytes(pairs: list[tuple[str, object]]) -> bytes:
    """A msgpack map of ``pairs`` as given, a repeated key included (packb would merge it)."""
    n = len(pairs)
    head = bytes([0x80 | n]) if n < 16 else b"\xde" + n.to_bytes(2, "big")
    return head + b"".join(msgpack.packb(k) + msgpack.packb(v, use_bin_type=True) for k, v in pairs)


@pytest.mark.parametrize("padding", [0, 20])  # a fixmap, and a map16 (16 entries or more)
@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("src", "other", "header key 'src' is repeated"),
        ("ts", 5, "header key 'ts' is repeated"),
        ("x-note", 1, "'x-note' is defined or repeated"),
    ],
)
def test_a_header_that_repeats_a_key_is_refused(muni, padding, key, value, match):
    base = muni.header(id=bytes(16), ts_ns=TS, extra=(("x-note", 0),))
    pairs = list(msgpack.unpackb(backbone.encode_header(base)).items())
    pairs += [(f"x{i}", i) for i in range(padding)]
    assert backbone.decode_header(_map_bytes(pairs)) == dataclasses.replace(
        base, extra=tuple(pairs[5:])
    )
    with pytest.raises(WireError, match=match):
        backbone.decode_header(_map_bytes([*pairs, (key, value)]))


@pytest.mark.parametrize(
    "function", [backbone.decode_header, backbone.decode_delivery, backbone.peek_src]
)
@pytest.mark.parametrize("data", [None, 5, "text", [b""], b"\xc1", b"\x91" * 5000 + b"\x01"])
def test_every_public_decoder_raises_only_wire_error(function, data):
    with pytest.raises(WireError) as info:
        function(data)
    assert info.value.code == 400
