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

from lgwan_sim.backbone import Command, Signer, decode, verify
from tests.backbone.support import VECTORS_PATH, load_vectors

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


class _Registry:
    """The key registry's part in ZAP: a Z85 CURVE public key -> the LGPKI identity."""

    def __init__(self, identities: dict[bytes, str]) -> None:
        self.identities = identities

    def callback(self, domain: str, key: bytes) -> bool:
        return key in self.identities


@pytest.fixture
def curve_router():
    """A CURVE ROUTER on loopback whose ZAP handler admits only registered keys.

    Yields (socket, port, server public key, register) where ``register(identity)`` makes a
    client key pair bound to ``identity`` and returns its Z85 (public, secret).
    """
    zmq = pytest.importorskip("zmq")
    from zmq.auth.thread import ThreadAuthenticator

    identities: dict[bytes, str] = {}

    class Authenticator(ThreadAuthenticator):
        def curve_user_id(self, client_public_key: bytes) -> str:
            return identities[zmq.utils.z85.encode(client_public_key)]

    ctx = zmq.Context()
    auth = Authenticator(ctx)
    auth.start()
    auth.configure_curve_callback(domain="*", credentials_provider=_Registry(identities))
    server_public, server_secret = zmq.curve_keypair()
    router = ctx.socket(zmq.ROUTER)
    router.linger = 0
    router.setsockopt(zmq.ROUTER_MANDATORY, 1)
    router.curve_server = True
    router.curve_publickey = server_public
    router.curve_secretkey = server_secret

    def register(identity: str) -> tuple[bytes, bytes]:
        public, secret = zmq.curve_keypair()
        identities[public] = identity
        return public, secret

    try:
        port = router.bind_to_random_port("tcp://127.0.0.1")
        yield router, port, server_public, register
    finally:
        router.close()
        auth.stop()
        ctx.term()


def _start(client, port, peer_spki, server_public, public, secret, timeout_ms=10_000):
    env = dict(
        os.environ,
        EMW1_CURVE_SERVER=server_public.decode(),
        EMW1_CURVE_PUBLIC=public.decode(),
        EMW1_CURVE_SECRET=secret.decode(),
        EMW1_TIMEOUT_MS=str(timeout_ms),
    )
    return subprocess.Popen(
        [str(client), str(VECTORS_PATH), f"tcp://127.0.0.1:{port}", peer_spki.hex()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _spki(signer: Signer) -> bytes:
    return signer.key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _stop(proc) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_c_dealer_and_python_router_exchange_signed_req_and_rep_over_curve(client, curve_router):
    router, port, server_public, register = curve_router
    service = Signer("asp-eltax-east", ec.generate_private_key(ec.SECP256R1()))
    proc = _start(client, port, _spki(service), server_public, *register("mun-13-104"))
    try:
        assert router.poll(20_000), "the C client sent nothing within 20 s"
        routing_id, *frames = router.recv_multipart(copy=False)
        request = decode(frames)
        # the identity rule: the header's sender is the connection's authenticated identity
        assert frames[-1].get("User-Id") == request.header.src == "mun-13-104"
        verify(request, _p256_public(), address="asp-eltax-east/eltax")
        assert request.command is Command.REQ
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
        router.send_multipart([routing_id.bytes, *reply.frames()])
    finally:
        out, err = _stop(proc)
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert _frames(lines[0]) == [f.bytes for f in frames]  # what C sent is what arrived
    assert lines[1:] == ["reply body pong from Python", "ok"]


def test_c_client_refuses_a_reply_signed_by_someone_else(client, curve_router):
    router, port, server_public, register = curve_router
    claimed = Signer("asp-eltax-east", ec.generate_private_key(ec.SECP256R1()))
    impostor = Signer("asp-eltax-east", ec.generate_private_key(ec.SECP256R1()))
    proc = _start(client, port, _spki(claimed), server_public, *register("mun-13-104"))
    try:
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
    finally:
        _, err = _stop(proc)
    assert proc.returncode == 1
    assert "kid does not name the peer's key" in err
    assert "signature does not verify" in err


def test_an_unregistered_curve_key_never_gets_through(client, curve_router):
    zmq = pytest.importorskip("zmq")
    router, port, server_public, _register = curve_router
    stranger_public, stranger_secret = zmq.curve_keypair()
    service = Signer("asp-eltax-east", ec.generate_private_key(ec.SECP256R1()))
    proc = _start(
        client, port, _spki(service), server_public, stranger_public, stranger_secret, 1_500
    )
    try:
        assert not router.poll(2_500), "a message arrived over an unregistered CURVE key"
    finally:
        _, err = _stop(proc)
    assert proc.returncode == 1
    assert "no reply in time" in err


@pytest.mark.emulator
def test_c_client_and_a_python_service_exchange_signed_messages_through_the_emulator(
    client, lgwan_emulator, tmp_path
):
    # the C client plays the local body m1; the emulator carries its REQ over the model to
    # a Python Service at dc-b, which verifies the C signature end to end; the C client
    # verifies the service's signed REP
    import threading

    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    from lgwan_sim.backbone import Endpoints, Service, Testbed
    from tests.backbone.support import small_scenario

    emu = lgwan_emulator(small_scenario(tmp_path, rate=1, duration="600s"), speed=1)
    served: list[tuple[str, bytes]] = []

    def handle(request):
        served.append((request.src, request.body))
        return b"pong from Python"

    service = Service(emu.endpoints, "dc-b", {"directory": handle})
    thread = threading.Thread(target=service.serve, daemon=True)
    thread.start()
    assert service.ready.wait(30)
    ep = Endpoints.load(emu.endpoints)
    bed = Testbed.open(ep.testbed, sites=["m1"])
    me = bed.credentials["m1"]
    peer = x509.load_der_x509_certificate(bed.registry.by_site["dc-b"].certificate)
    env = {
        **os.environ,
        "EMW1_CURVE_SERVER": ep.curve_server_key.decode(),
        "EMW1_CURVE_PUBLIC": me.identity.curve_public.decode(),
        "EMW1_CURVE_SECRET": me.curve_secret.decode(),
        "EMW1_KEY": me.key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption()).hex(),
        "EMW1_SRC": "m1",
        "EMW1_ADDRESS": "dc-b/directory",
    }
    spki = peer.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    done = subprocess.run(
        [str(client), str(VECTORS_PATH), ep.broker, spki.hex()],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    service.stop()
    thread.join(10)
    service.close()
    assert done.returncode == 0, done.stderr
    assert "reply body pong from Python" in done.stdout
    assert served == [("m1", b"ping from C")]
    assert service.rejected == {}
