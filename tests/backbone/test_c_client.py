"""A C client written from docs/protocol.md alone (libzmq, msgpack-c, OpenSSL) speaks EMW1.

It is built with ``cc`` from Debian's libzmq3-dev, libmsgpack-dev and libssl-dev (``.ci/run``
installs them); the tests skip, saying which, only when a library's headers are missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_der_public_key,
)
from wire_support import VECTORS_PATH, load_vectors

from lgwan_sim.backbone import Command, Signer, decode, verify

pytestmark = pytest.mark.cclient

SOURCE = Path(__file__).resolve().parents[2] / "clients" / "c" / "emw1_client.c"
PACKAGES = {"libzmq": "libzmq3-dev", "msgpack": "libmsgpack-dev", "openssl": "libssl-dev"}
VECTORS = load_vectors()


def _pkg_flags() -> list[str]:
    if shutil.which("cc") is None:
        pytest.skip("no C compiler: `cc` is not on PATH")
    if shutil.which("pkg-config") is None:
        pytest.skip("pkg-config is missing (Debian package pkg-config)")
    missing = [
        f"{name} ({deb})"
        for name, deb in PACKAGES.items()
        if subprocess.run(["pkg-config", "--exists", name], check=False).returncode != 0
    ]
    if missing:
        pytest.skip(f"C client headers missing: {', '.join(missing)}")
    out = subprocess.run(
        ["pkg-config", "--cflags", "--libs", *PACKAGES], check=True, capture_output=True, text=True
    )
    return out.stdout.split()


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Path:
    flags = _pkg_flags()
    exe = tmp_path_factory.mktemp("cclient") / "emw1_client"
    start = time.perf_counter()
    build = subprocess.run(
        ["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(exe), str(SOURCE), *flags],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    assert build.returncode == 0, build.stderr
    print(f"\nC client built in {elapsed:.2f} s")
    return exe


def _run(exe: Path, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def _frames(line: str) -> list[bytes]:
    return [b"" if h == "-" else bytes.fromhex(h) for h in line.split()[1:]]


def _p256_public():
    return load_der_public_key(bytes.fromhex(VECTORS["keys"]["p256"]["public_spki_der"]))


def test_c_client_reproduces_every_vector_and_python_verifies_what_it_signs(client):
    result = _run(client, str(VECTORS_PATH))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == f"ok {len(VECTORS['vectors'])} vectors"
    message = decode(_frames(next(line for line in lines if line.startswith("frames "))))
    assert message.command is Command.EVT
    assert message.body == b"signed in C"
    verify(message, _p256_public(), address="asp-eltax-east/eltax")


def test_c_client_notices_a_vector_it_does_not_reproduce(client, tmp_path):
    text = VECTORS_PATH.read_text(encoding="utf-8")
    signed = VECTORS["vectors"]["req"]["signed_bytes"]
    changed = signed[:-2] + ("00" if signed[-2:] != "00" else "01")
    bad = tmp_path / "vectors.json"
    bad.write_text(text.replace(signed, changed, 1), encoding="utf-8")
    result = _run(client, str(bad))
    assert result.returncode == 1
    assert "FAIL req signed bytes" in result.stderr


def test_c_dealer_and_python_router_exchange_signed_req_and_rep(client):
    zmq = pytest.importorskip("zmq")
    service = Signer("asp-eltax-east", ec.generate_private_key(ec.SECP256R1()))
    spki = service.key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.linger = 0
    router.setsockopt(zmq.ROUTER_MANDATORY, 1)
    proc = None
    try:
        port = router.bind_to_random_port("tcp://127.0.0.1")
        proc = subprocess.Popen(
            [str(client), str(VECTORS_PATH), f"tcp://127.0.0.1:{port}", spki.hex()],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert router.poll(20_000), "the C client sent nothing within 20 s"
        routing_id, *frames = router.recv_multipart()
        request = decode(frames)
        verify(request, _p256_public(), address="asp-eltax-east/eltax")
        assert request.command is Command.REQ
        assert request.header.src == "mun-13-104"
        assert request.body == b"ping from C"
        assert abs(request.header.ts_ns - time.time_ns()) < 60 * 10**9
        reply = service.seal(
            Command.REP,
            request.header.src,
            b"pong from Python",
            id=os.urandom(16),
            ts_ns=time.time_ns(),
            corr=request.header.id,
        )
        router.send_multipart([routing_id, *reply.frames()])
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        lines = out.splitlines()
        assert _frames(lines[0]) == frames  # what C says it sent is what arrived
        assert lines[1:] == ["reply body pong from Python", "ok"]
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        router.close()
        ctx.term()


def test_c_client_refuses_a_reply_signed_by_someone_else(client):
    zmq = pytest.importorskip("zmq")
    claimed = ec.generate_private_key(ec.SECP256R1()).public_key()
    impostor = Signer("asp-eltax-east", ec.generate_private_key(ec.SECP256R1()))
    spki = claimed.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.linger = 0
    proc = None
    try:
        port = router.bind_to_random_port("tcp://127.0.0.1")
        proc = subprocess.Popen(
            [str(client), str(VECTORS_PATH), f"tcp://127.0.0.1:{port}", spki.hex()],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert router.poll(20_000)
        routing_id, *frames = router.recv_multipart()
        request = decode(frames)
        reply = impostor.seal(
            Command.REP,
            request.header.src,
            b"forged",
            id=os.urandom(16),
            ts_ns=time.time_ns(),
            corr=request.header.id,
        )
        router.send_multipart([routing_id, *reply.frames()])
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 1
        assert "kid does not name the peer's key" in err
        assert "signature does not verify" in err
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        router.close()
        ctx.term()
