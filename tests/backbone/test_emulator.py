"""The emulator end to end: real processes and sockets on loopback, the engine behind them."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import threading
import time

import msgpack
import pytest
import zmq
import zmq.utils.monitor

from lgwan_sim.backbone import (
    MAX_FRAME_BYTES,
    Client,
    Command,
    Control,
    Emulator,
    EmulatorError,
    Endpoints,
    Service,
    Testbed,
    decode,
)
from lgwan_sim.backbone._emulator import NONCE_POOL_SIZE
from lgwan_sim.backbone._presign import NoncePool
from lgwan_sim.errors import InputError
from lgwan_sim.scenario import load_scenario
from tests.backbone.support import small_scenario

pytestmark = pytest.mark.emulator


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lgwan_sim", *args], capture_output=True, text=True, timeout=300
    )


def test_virtual_time_gives_the_summary_of_run(tmp_path):
    scenario = small_scenario(tmp_path, rate=2_000_000, duration="30s")
    ran = run_cli("run", str(scenario), "-o", str(tmp_path / "run"), "--no-plots", "-q")
    assert ran.returncode == 0, ran.stderr
    emu = run_cli(
        "emulate", str(scenario), "-o", str(tmp_path / "emu"), "--speed", "max", "--no-plots", "-q"
    )
    assert emu.returncode == 0, emu.stderr
    a = json.loads((tmp_path / "run" / "summary.json").read_text())
    b = json.loads((tmp_path / "emu" / "summary.json").read_text())
    mode = b.pop("emulation")
    assert mode["speed"] == "max"
    assert a == b
    assert a["totals"]["offered"] > 1000
    for name in ("links.csv", "services.csv"):
        assert (tmp_path / "run" / name).read_bytes() == (tmp_path / "emu" / name).read_bytes()
    info = json.loads((tmp_path / "emu" / "endpoints.json").read_text())
    assert info["broker"].startswith("tcp://127.0.0.1:")
    assert {"broker", "control", "registry"} <= set(info)
    assert "emulated 30s at max" in emu.stdout


def directory(request):
    query = msgpack.unpackb(request.body) if request.body else {}
    return msgpack.packb({"you": request.src, "q": query})


@pytest.fixture
def serving(lgwan_emulator, tmp_path):
    """An emulator at real time with the directory served by a Service in a thread."""
    emu = lgwan_emulator(small_scenario(tmp_path, rate=20_000, duration="120s"), speed=1)
    service = Service(emu.endpoints, "dc-b", {"directory": directory})
    thread = threading.Thread(target=service.serve, daemon=True)
    thread.start()
    assert service.ready.wait(30), "the service did not register"
    yield emu, service
    service.stop()
    thread.join(10)
    service.close()


def test_a_real_service_answers_simulated_bodies_and_a_real_client(serving, tmp_path):
    emu, service = serving
    client = Client(emu.endpoints, "m1", timeout_s=5)
    try:
        reply = client.request("dc-b/directory", msgpack.packb({"q": "x"}))
    finally:
        client.close()
    assert reply.src == "dc-b"
    assert msgpack.unpackb(reply.body) == {"you": "m1", "q": {"q": "x"}}
    # the model: m1 -> core -> dc-b and back; at 1x the answer cannot come sooner than the
    # propagation of those four hops (the rest is transmission, queueing and the program)
    topology = load_scenario(tmp_path / "emu-small.yaml").topology
    one_way = sum(
        topology.link_between(a, b).delay_s for a, b in (("m1", "core"), ("core", "dc-b"))
    )
    assert one_way > 0.005
    assert reply.rtt_s >= 2 * one_way
    time.sleep(3)  # the simulated bodies' requests (about 0.23 a second) reach the service
    summary = emu.stop()
    messages = summary["emulation"]["messages"]
    assert messages["ready"] == 1
    assert messages["requests_from_clients"] == 1
    assert messages["replies_to_clients"] == 1
    assert service.served >= 2  # the client's request and at least one simulated body's
    # what the broker handed over was answered, or was still at the service when it stopped
    assert messages["requests_to_services"] >= service.served
    totals = summary["totals"]
    assert totals["offered"] == totals["delivered"] + totals["dropped_total"] + totals["in_flight"]
    assert summary["emulation"]["ended_at_s"] < 120.0  # stopped early by SIGINT


def test_an_unknown_curve_key_is_refused(serving):
    emu, _ = serving
    ep = Endpoints.load(emu.endpoints)
    public, secret = zmq.curve_keypair()
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.CURVE_SERVERKEY, ep.curve_server_key)
    s.setsockopt(zmq.CURVE_PUBLICKEY, public)
    s.setsockopt(zmq.CURVE_SECRETKEY, secret)
    s.connect(ep.broker)
    tb = Testbed.open(ep.testbed, sites=["m1"])
    req = (
        tb.credentials["m1"]
        .signer()
        .seal(Command.REQ, "dc-b/directory", b"", id=os.urandom(16), ts_ns=time.time_ns())
    )
    s.send_multipart(req.frames())
    assert s.poll(1500) == 0, "an unknown key must get nothing back"
    s.close()
    ctx.term()
    summary = emu.stop()
    assert summary["emulation"]["messages"]["requests_from_clients"] == 0


def raw_socket(ep: Endpoints, identity: str):
    tb = Testbed.open(ep.testbed, sites=[identity])
    cred = tb.credentials[identity]
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.CURVE_SERVERKEY, ep.curve_server_key)
    s.setsockopt(zmq.CURVE_PUBLICKEY, cred.identity.curve_public)
    s.setsockopt(zmq.CURVE_SECRETKEY, cred.curve_secret)
    s.connect(ep.broker)
    return ctx, s


def test_a_sender_that_is_not_its_authenticated_identity_gets_err_403(serving):
    emu, _ = serving
    ep = Endpoints.load(emu.endpoints)
    ctx, s = raw_socket(ep, "m1")  # connects as m1 ...
    other = Testbed.open(ep.testbed, sites=["m2"]).credentials["m2"].signer()
    req = other.seal(  # ... but signs as m2
        Command.REQ, "dc-b/directory", b"", id=os.urandom(16), ts_ns=time.time_ns()
    )
    s.send_multipart(req.frames())
    assert s.poll(5000)
    answer = decode(s.recv_multipart())
    assert answer.command is Command.ERR
    assert int(answer.header.code) == 403
    assert answer.header.corr == req.header.id
    assert answer.header.src == "emulator"
    s.close()
    ctx.term()


def test_unknown_services_get_err_404_and_a_ready_elsewhere_403(serving):
    emu, _ = serving
    client = Client(emu.endpoints, "m1", timeout_s=5, retries=1)
    with pytest.raises(EmulatorError) as info:
        client.request("dc-b/no-such-service")
    assert info.value.code == 404
    client.close()
    elsewhere = Service(emu.endpoints, "m2", {"directory": directory})
    try:
        with pytest.raises(EmulatorError) as info:
            elsewhere.register(timeout_s=5)
    finally:
        elsewhere.close()
    assert info.value.code == 404  # m2 does not host the directory in this scenario


def test_tampered_replayed_and_wrongly_signed_requests_are_refused_by_the_service(serving):
    emu, service = serving
    ep = Endpoints.load(emu.endpoints)
    ctx, s = raw_socket(ep, "m1")
    me = Testbed.open(ep.testbed, sites=["m1", "m2"]).credentials
    good = (
        me["m1"]
        .signer()
        .seal(Command.REQ, "dc-b/directory", b"\x80", id=os.urandom(16), ts_ns=time.time_ns())
    )
    frames = good.frames()
    tampered = [*frames[:5], b"\x81\xa1x\x01", frames[6]]  # body changed after signing
    s.send_multipart(tampered)
    s.send_multipart(frames)
    s.send_multipart(frames)  # the same message again: a replay
    # signed with m2's key but naming m1's kid and src: the signature does not verify
    wrong = (
        me["m2"]
        .signer()
        .seal(Command.REQ, "dc-b/directory", b"\x80", id=os.urandom(16), ts_ns=time.time_ns())
    )
    forged = [*frames[:4], good.frames()[4], wrong.frames()[5], wrong.frames()[6]]
    s.send_multipart(forged)
    answers = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(answers) < 1:
        if s.poll(200):
            answers.append(decode(s.recv_multipart()))
    time.sleep(1.0)
    assert [a.command for a in answers] == [Command.REP]  # only the genuine one is answered
    assert answers[0].header.corr == good.header.id
    assert service.rejected.get("bad-signature", 0) == 2
    assert service.rejected.get("replay", 0) == 1
    s.close()
    ctx.term()


def _still_serving_then_stopped(emu) -> dict:
    """A genuine request still gets its reply; then the run ends: its message counts."""
    client = Client(emu.endpoints, "m2", timeout_s=5)
    assert client.request("dc-b/directory").src == "dc-b"
    client.close()
    return emu.stop()["emulation"]["messages"]


def test_fuzzed_frames_leave_the_broker_running(serving):
    emu, _ = serving
    import random

    ep = Endpoints.load(emu.endpoints)
    ctx, s = raw_socket(ep, "m1")
    rng = random.Random(5)
    good = (
        Testbed.open(ep.testbed, sites=["m1"])
        .credentials["m1"]
        .signer()
        .seal(Command.REQ, "dc-b/directory", b"", id=os.urandom(16), ts_ns=time.time_ns())
        .frames()
    )
    n = 2000
    for i in range(n):
        kind = i % 4
        if kind == 0:
            frames = [rng.randbytes(rng.randrange(0, 40)) for _ in range(rng.randrange(1, 10))]
        elif kind == 1:
            cut = rng.randrange(0, len(good))
            frames = good[:cut] or [b""]
        elif kind == 2:
            frames = [*good[:1], b"EMW2", *good[2:]]
        else:
            frames = [*good[:4], rng.randbytes(rng.randrange(1, 64)), *good[5:]]
        s.send_multipart(frames)
    errors = 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if not s.poll(500):
            break
        answer = decode(s.recv_multipart())
        if answer.command is Command.ERR and int(answer.header.code) == 400:
            errors += 1
    s.close()
    ctx.term()
    messages = _still_serving_then_stopped(emu)
    assert messages["malformed"] == n
    assert errors == messages["errors_sent"].get("400", 0)
    assert errors >= n // 4  # wrong version: src and id readable, so answered


def _rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def test_frames_longer_than_emw1_allows_are_refused_by_the_socket(serving):
    """A frame longer than MAX_FRAME_BYTES is not taken in: the broker's socket closes the
    connection and answers nothing; a frame at the limit still reaches the broker (here, to
    be refused with 403: it is signed by another identity), and the broker keeps serving."""
    emu, _ = serving
    ep = Endpoints.load(emu.endpoints)
    ctx, s = raw_socket(ep, "m1")  # connects as m1, sends as m2: every message gets ERR 403
    events = s.get_monitor_socket(zmq.EVENT_DISCONNECTED | zmq.EVENT_HANDSHAKE_SUCCEEDED)
    m2 = Testbed.open(ep.testbed, sites=["m2"]).credentials["m2"].signer()

    def frames(body_bytes: int) -> tuple[bytes, list[bytes]]:
        req = m2.seal(Command.REQ, "dc-b/directory", id=os.urandom(16), ts_ns=time.time_ns())
        f = req.frames()
        return req.header.id, [*f[:5], b"\x00" * body_bytes, *f[6:]]

    def event(timeout_ms: int = 10_000) -> int:
        assert events.poll(timeout_ms), "no socket event"
        return int(zmq.utils.monitor.recv_monitor_message(events)["event"])

    def forbidden(body_bytes: int) -> None:
        rid, message = frames(body_bytes)
        s.send_multipart(message)
        assert s.poll(10_000), f"no answer to a body of {body_bytes} bytes"
        answer = decode(s.recv_multipart())
        assert (answer.command, int(answer.header.code or 0)) == (Command.ERR, 403)
        assert answer.header.corr == rid

    assert event() == zmq.EVENT_HANDSHAKE_SUCCEEDED
    forbidden(MAX_FRAME_BYTES)  # at the limit: read, decoded, refused by identity
    rss_before = _rss_mib(emu.process.pid)
    for _ in range(3):
        s.send_multipart(frames(8 * MAX_FRAME_BYTES)[1])
        assert event() == zmq.EVENT_DISCONNECTED  # refused by the broker's socket ...
        assert not s.poll(200)  # ... with no answer
        assert event() == zmq.EVENT_HANDSHAKE_SUCCEEDED  # the DEALER connects again
        forbidden(10)  # and the broker reads what comes next
    s.send_multipart(frames(MAX_FRAME_BYTES + 1)[1])  # one byte over
    assert event() == zmq.EVENT_DISCONNECTED
    assert event() == zmq.EVENT_HANDSHAKE_SUCCEEDED
    forbidden(0)
    assert _rss_mib(emu.process.pid) - rss_before < 16  # 33 MiB were sent
    s.disable_monitor()
    events.close()
    s.close()
    ctx.term()
    messages = _still_serving_then_stopped(emu)
    assert messages["forbidden"] == 5
    assert messages["malformed"] == 0  # the long frames never reached the decoder


def test_a_restarted_service_takes_over_and_a_lost_one_is_accounted(lgwan_emulator, tmp_path):
    # 200,000 look-ups a day: about 2.3 a simulated second; at 10x, 23 a wall second
    emu = lgwan_emulator(
        small_scenario(tmp_path, rate=200_000, duration="600s"),
        speed=10,
        extra=("--hold", "20", "--trace"),
    )
    first = Service(emu.endpoints, "dc-b", {"directory": directory})
    thread = threading.Thread(target=first.serve, daemon=True)
    thread.start()
    assert first.ready.wait(30)
    time.sleep(3)
    first.stop()
    thread.join(10)
    first.peer.close()  # a crash: no BYE; the registration stays until heartbeats are missed
    served_first = first.served
    second = Service(emu.endpoints, "dc-b", {"directory": directory})
    thread = threading.Thread(target=second.serve, daemon=True)
    thread.start()
    assert second.ready.wait(30)
    time.sleep(3)
    second.stop()
    thread.join(10)
    second.close()  # BYE: from now on requests wait --hold, then are lost as no_service
    time.sleep(4)  # 40 simulated seconds: past the hold of 20
    summary = emu.stop()
    messages = summary["emulation"]["messages"]
    assert served_first > 0
    assert second.served > 0, "the restarted service must get the requests"
    assert messages["ready"] == 2
    assert messages["held_expired"] > 0
    assert summary["services"]["directory"]["dropped"] == {"no_service": messages["held_expired"]}
    totals = summary["totals"]
    assert totals["offered"] == totals["delivered"] + totals["dropped_total"] + totals["in_flight"]
    # the trace follows each held request to its fate
    with (emu.out / "trace.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    dropped = [r for r in rows if r["what"] == "dropped"]
    assert len(dropped) == messages["held_expired"]
    assert {r["reason"] for r in dropped} == {"no_service"}
    held = {r["exchange"] for r in rows if r["what"] == "held"}
    assert {r["exchange"] for r in dropped} <= held


def test_sigterm_ends_the_run_and_writes_what_was_in_flight(lgwan_emulator, tmp_path):
    emu = lgwan_emulator(small_scenario(tmp_path, rate=200_000, duration="3600s"), speed=1)
    silent = Service(emu.endpoints, "dc-b", {"directory": directory})
    silent.register()  # registered, but it never answers: what reaches it stays in flight
    time.sleep(6)
    emu.process.terminate()
    summary = emu.wait(120)
    silent.close()
    ended = summary["emulation"]["ended_at_s"]
    assert 3 < ended < 60
    totals = summary["totals"]
    assert totals["in_flight"] >= summary["emulation"]["messages"]["requests_to_services"] >= 1
    assert totals["offered"] == totals["delivered"] + totals["dropped_total"] + totals["in_flight"]
    assert (emu.out / "services.csv").exists()
    assert (emu.out / "run.json").exists()


@pytest.mark.slow
def test_the_national_network_emulated_in_virtual_time_is_the_run(tmp_path):
    # every identity of the national network gets its keys; with no program connected,
    # an hour of national-weekday at the flow fidelity is exactly lgwan-sim run's
    common = ("--fidelity", "flow", "--set", "duration=1h", "--no-plots", "-q")
    ran = run_cli("run", "national-weekday", "-o", str(tmp_path / "run"), *common)
    assert ran.returncode == 0, ran.stderr
    emu = run_cli(
        "emulate", "national-weekday", "-o", str(tmp_path / "emu"), "--speed", "max", *common
    )
    assert emu.returncode == 0, emu.stderr
    a = json.loads((tmp_path / "run" / "summary.json").read_text())
    b = json.loads((tmp_path / "emu" / "summary.json").read_text())
    b.pop("emulation")
    assert a == b
    registry = json.loads((tmp_path / "emu" / "testbed" / "registry.json").read_text())
    assert len(registry["identities"]) == 1802  # 1,788 local bodies, DCs, ASP, central, emulator


def test_frame_seven_and_the_trace_say_the_modelled_path_and_delay(lgwan_emulator, tmp_path):
    emu = lgwan_emulator(
        small_scenario(tmp_path, rate=20_000, duration="120s"),
        speed=1,
        extra=("--trace", "--delivery-info"),
    )
    seen: list[tuple[str, bytes, object]] = []

    def record(request):
        seen.append((request.src, request.header.id, request.message.delivery))
        return b"ok"

    service = Service(emu.endpoints, "dc-b", {"directory": record})
    thread = threading.Thread(target=service.serve, daemon=True)
    thread.start()
    assert service.ready.wait(30), "the service did not register"
    client = Client(emu.endpoints, "m1", timeout_s=5)
    try:
        reply = client.request("dc-b/directory", b"")
    finally:
        client.close()
    summary = emu.stop()
    service.stop()
    thread.join(10)
    service.close()
    assert reply.body == b"ok"
    assert summary["emulation"]["messages"]["replies_to_clients"] == 1
    mine = [d for src, _, d in seen if src == "m1"]
    assert mine, "the client's request reached the service"
    for src, _, delivery in seen:
        # the star: every town reaches Osaka through the East central site
        assert delivery.path == (src, "core", "dc-b")
        assert delivery.delay_ns > 0
    with (emu.out / "trace.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    at_service = {r["id"]: r for r in rows if r["what"] == "at_service"}
    for _, wid, delivery in seen:
        row = at_service.get(wid.hex())
        if row is None:  # a simulated body's request carries its own id, not the trace's
            continue
        assert row["path"] == " ".join(delivery.path)
        assert abs(float(row["modelled_s"]) - delivery.delay_ns / 1e9) < 1e-8
    exchange = next(r["exchange"] for r in rows if r["what"] == "injected")
    steps = {r["what"]: r for r in rows if r["exchange"] == exchange}
    assert set(steps) == {"injected", "at_service", "answered"}
    assert steps["injected"]["path"] == "m1 core dc-b"
    assert float(steps["injected"]["modelled_s"]) == 0.0
    assert steps["answered"]["leg"] == "response"
    assert steps["answered"]["path"] == "dc-b core m1"
    # the answer's modelled time is the whole round trip: more than the way there
    assert float(steps["answered"]["modelled_s"]) > float(steps["at_service"]["modelled_s"]) > 0


DELAYS = ("--delivery-info",)  # frame 7: each request's modelled delay


def _timed_requests(emu, *, count: int, within_s: float):
    """Serve the directory at dc-b until ``count`` requests came (or ``within_s``), stop the
    emulator; returns its summary and each request's (src, ts, received, modelled delay) in
    ns."""
    seen: list[tuple[str, int, int, int]] = []

    def record(request):
        seen.append(
            (request.src, request.header.ts_ns, time.time_ns(), request.message.delivery.delay_ns)
        )
        return b"ok"

    service = Service(emu.endpoints, "dc-b", {"directory": record})
    thread = threading.Thread(target=service.serve, daemon=True)
    thread.start()
    assert service.ready.wait(30), "the service did not register"
    deadline = time.monotonic() + within_s
    while len(seen) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    summary = emu.stop()
    service.stop()
    thread.join(10)
    service.close()
    assert len(seen) >= count, "simulated bodies' requests reached the service"
    return summary, seen


def test_simulated_bodies_sign_their_requests_when_they_send_them(lgwan_emulator, tmp_path):
    """A simulated body's request is signed as it leaves the body, not when the model
    delivers it: its ``ts`` is the send, the modelled delay (frame 7) before the program
    sees it, and the broker sends the frames it sealed then."""
    speed = 0.2  # slow motion: the way to the program takes 5 times its modelled delay
    emu = lgwan_emulator(small_scenario(tmp_path, rate=200_000), speed=speed, extra=DELAYS)
    summary, seen = _timed_requests(emu, count=5, within_s=30)
    for src, ts_ns, received_ns, delay_ns in seen:
        # the request left its body the modelled delay (5 times it on the wall clock)
        # before the program got it; signed on arrival, its ts would be a few ms before
        assert delay_ns > 5_000_000, src
        waited = received_ns - ts_ns
        assert waited > 0.8 * delay_ns / speed, (src, waited, delay_ns)
    messages = summary["emulation"]["messages"]
    assert messages["requests_from_clients"] == 0
    assert messages["presealed"] == messages["requests_to_services"] >= len(seen)
    # signed with nonces made ahead, and the service verified every one
    nonces = summary["emulation"]["signing_nonces"]
    assert nonces["used"] >= messages["requests_to_services"]
    assert nonces["signed_without"] == 0
    # the first pool was filled again while the loop waited
    assert nonces["made"] > NONCE_POOL_SIZE


def test_a_seal_older_than_a_wall_second_is_made_again_with_a_fresh_ts(lgwan_emulator, tmp_path):
    """At a speed so slow that the way to the program takes seconds of wall time, the seal
    made at the departure is stale when the model delivers the request: the broker signs
    it again, so the program sees a ``ts`` of the delivery, not of seconds before."""
    speed = 0.002  # a 5 ms way takes 2.5 wall seconds, over PRESEAL_MAX_AGE_S
    # about 2,000 requests a simulated second: a few a wall second at this speed
    emu = lgwan_emulator(small_scenario(tmp_path, rate=172_800_000), speed=speed, extra=DELAYS)
    summary, seen = _timed_requests(emu, count=3, within_s=40)
    for _, ts_ns, received_ns, delay_ns in seen:
        on_the_wall_ns = delay_ns / speed
        assert on_the_wall_ns > 2e9, delay_ns
        # sealed again at the delivery: its ts a few ms before the program got it, not the
        # seconds of the way
        assert 0 < received_ns - ts_ns < 0.2e9, (received_ns - ts_ns, on_the_wall_ns)
    messages = summary["emulation"]["messages"]
    assert messages["requests_to_services"] >= len(seen)
    assert messages["presealed"] == 0
    # each delivered request was signed twice: when it left and when it was delivered
    nonces = summary["emulation"]["signing_nonces"]
    signed = nonces["used"] + nonces["signed_without"]
    assert signed >= 2 * messages["requests_to_services"]


class _Waits:
    """The parts of an emulator that its wait and idle work touch."""

    def __init__(self, size: int = 4) -> None:
        self.nonces = NoncePool(size)
        self.polled: list[int] = []
        self.poller = self
        self.router = None
        self.control = None

    def poll(self, timeout: int) -> list[object]:
        self.polled.append(timeout)
        return []

    def _has_input(self) -> bool:
        return False


def test_the_broker_makes_nonces_while_it_waits_and_leaves_the_last_bit_free():
    idle = _Waits()
    assert Emulator._idle(idle, 0.0009) is True  # type: ignore[arg-type]
    assert len(idle.nonces) == 1
    assert Emulator._idle(idle, 0.00015) is False  # type: ignore[arg-type]
    assert len(idle.nonces) == 1
    assert Emulator._idle(idle, 0.0003) is True  # type: ignore[arg-type]
    assert len(idle.nonces) == 2
    waits = _Waits()
    Emulator._wait(waits, 0.010)  # type: ignore[arg-type]
    # a long wait makes nonces instead of polling, and returns for the loop to look again
    assert waits.polled == []
    assert 1 <= len(waits.nonces) <= 4
    while len(waits.nonces) < waits.nonces.size:
        Emulator._wait(waits, 0.010)  # type: ignore[arg-type]
    Emulator._wait(waits, 0.010)  # type: ignore[arg-type]
    assert waits.polled == [10]  # full: it polls
    short = _Waits()
    Emulator._wait(short, 0.0015)  # type: ignore[arg-type]
    assert short.polled == [1]
    assert len(short.nonces) == 0


def test_in_virtual_time_real_programs_are_refused_with_503(lgwan_emulator, tmp_path):
    # a long run at a low rate: the broker is still up when the programs come
    emu = lgwan_emulator(small_scenario(tmp_path, rate=200_000, duration="11d"), speed="max")
    client = Client(emu.endpoints, "m1", timeout_s=5)
    try:
        with pytest.raises(EmulatorError) as refused:
            client.request("dc-b/directory", b"")
    finally:
        client.close()
    assert refused.value.code == 503
    assert "virtual time" in str(refused.value)
    service = Service(emu.endpoints, "dc-b", {"directory": directory})
    try:
        with pytest.raises(EmulatorError) as not_ready:
            service.register()
    finally:
        service.close()
    assert not_ready.value.code == 503
    summary = emu.stop()
    messages = summary["emulation"]["messages"]
    assert messages["refused_virtual"] == 2
    assert messages["requests_from_clients"] == 0
    assert messages["ready"] == 0
    totals = summary["totals"]
    assert totals["offered"] == totals["delivered"] + totals["dropped_total"] + totals["in_flight"]


def test_clients_that_reconnect_with_new_routing_ids_leave_no_entry_behind(
    lgwan_emulator, tmp_path
):
    emu = lgwan_emulator(
        small_scenario(tmp_path, rate=1, duration="600s"), speed=1, extra=("--client-idle", "3")
    )
    service = Service(emu.endpoints, "dc-b", {"directory": directory})
    thread = threading.Thread(target=service.serve, daemon=True)
    thread.start()
    assert service.ready.wait(30)
    control = Control(emu.endpoints)
    try:
        for _ in range(20):  # each Client is a new socket: a new routing id at the broker
            client = Client(emu.endpoints, "m1", timeout_s=5)
            try:
                client.request("dc-b/directory", b"")
            finally:
                client.close()
        assert control.state()["connections"] >= 2  # the service, and clients not yet idle
        deadline = time.monotonic() + 20
        while control.state()["connections"] > 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert control.state()["connections"] == 1  # only the service's
        assert "lgwan_emulator_connections 1" in control.metrics()
        assert control.state()["programs"] == ["dc-b/directory"]  # the service stays known
        client = Client(emu.endpoints, "m1", timeout_s=5)  # a forgotten client comes back
        try:
            assert client.request("dc-b/directory", b"").src == "dc-b"
        finally:
            client.close()
    finally:
        service.stop()
        thread.join(10)
        service.close()


def test_a_client_idle_time_that_is_not_positive_is_refused_naming_it(tmp_path):
    with pytest.raises(InputError) as caught:
        Emulator(None, None, hosts={}, client_idle_s=0)  # type: ignore[arg-type]
    assert (caught.value.field, caught.value.value) == ("client_idle_s", 0)
    out = tmp_path / "emu"
    done = run_cli("emulate", "national-weekday", "-o", str(out), "--client-idle", "0")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "lgwan-sim: error: Invalid value for '--client-idle': 0.0 is not in the range x>0."
    ]
    assert not out.exists()


class Mute:
    """A registered program that keeps up its heartbeats and never answers (a hung service)."""

    def __init__(self, endpoints) -> None:
        self.service = Service(endpoints, "dc-b", {"directory": directory})
        self.service.register()
        self.received = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        peer = self.service.peer
        last = 0.0
        while not self._stop.is_set():
            message = peer.receive(0.1)
            if message is not None and message.command is Command.REQ:
                self.received += 1
            if time.monotonic() - last > 0.5:
                peer.send(peer.seal(Command.HEARTBEAT, ""))
                last = time.monotonic()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.service.close()


def test_a_program_that_falls_behind_has_a_bounded_backlog_and_clients_get_503(
    lgwan_emulator, tmp_path
):
    # 2,000,000 look-ups a day at 10x: about 230 a wall second reach a service that takes
    # them and never answers; it may hold 3, the rest are lost as backlog
    emu = lgwan_emulator(
        small_scenario(tmp_path, rate=2_000_000, duration="3600s"),
        speed=10,
        extra=("--max-outstanding", "3"),
    )
    silent = Mute(emu.endpoints)
    control = Control(emu.endpoints)
    client = Client(emu.endpoints, "m1", timeout_s=10)
    try:
        time.sleep(4)  # past three heartbeats: the program is kept while it beats
        with pytest.raises(EmulatorError) as caught:
            client.request("dc-b/directory", b"")
        assert caught.value.code == 503
        assert "backlog" in caught.value.reason
        assert control.state()["outstanding"] == {"dc-b/directory": 3}
        assert "lgwan_emulator_outstanding 3" in control.metrics()
    finally:
        client.close()
        summary = emu.stop()
        silent.close()
    messages = summary["emulation"]["messages"]
    assert messages["requests_to_services"] == 3
    assert silent.received == 3  # what the program saw: its backlog, no more
    assert messages["backlog_full"] > 100
    dropped = summary["services"]["directory"]["dropped"]
    assert dropped.get("backlog") == messages["backlog_full"]
    assert messages["errors_sent"].get("503", 0) >= 1
    totals = summary["totals"]
    assert totals["in_flight"] >= 3
    assert totals["offered"] == totals["delivered"] + totals["dropped_total"] + totals["in_flight"]


def test_requests_a_program_never_answers_are_lost_as_unanswered_after_their_ttl(
    lgwan_emulator, tmp_path
):
    emu = lgwan_emulator(
        small_scenario(tmp_path, rate=20_000, duration="3600s"),
        speed=10,
        extra=("--ttl", "1"),
    )
    silent = Mute(emu.endpoints)
    control = Control(emu.endpoints)
    client = Client(emu.endpoints, "m1", timeout_s=10)
    try:
        began = time.monotonic()
        with pytest.raises(EmulatorError) as caught:
            client.request("dc-b/directory", b"", ttl_s=1.0)
        assert caught.value.code == 504
        assert "ttl" in caught.value.reason
        assert 0.9 < time.monotonic() - began < 5
        time.sleep(2)
        # what still waits is about a ttl's worth of requests (some 16 a wall second), not
        # all that came
        assert 0 < control.state()["outstanding"]["dc-b/directory"] < 50
    finally:
        client.close()
        summary = emu.stop()
        silent.close()
    messages = summary["emulation"]["messages"]
    assert messages["unanswered"] > 10
    assert silent.received == messages["requests_to_services"]
    dropped = summary["services"]["directory"]["dropped"]
    assert dropped.get("unanswered") == messages["unanswered"]
    totals = summary["totals"]
    assert totals["offered"] == totals["delivered"] + totals["dropped_total"] + totals["in_flight"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_outstanding": 0}, "max_outstanding"),
        ({"max_outstanding": 2.5}, "max_outstanding"),
        ({"request_ttl_s": 0.0}, "request_ttl_s"),
        ({"request_ttl_s": float("inf")}, "request_ttl_s"),
    ],
)
def test_a_backlog_or_ttl_that_makes_no_sense_is_refused_naming_it(kwargs, field):
    with pytest.raises(InputError) as caught:
        Emulator(None, None, hosts={}, **kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--ttl", "inf"),
        ("--ttl", "nan"),
        ("--ttl", "0"),
        ("--hold", "nan"),
        ("--client-idle", "nan"),
    ],
)
def test_a_time_option_that_is_not_a_number_of_seconds_is_refused_before_anything_is_written(
    tmp_path, option, value
):
    out = tmp_path / "emu"
    done = run_cli("emulate", "packet-zoom", "-o", str(out), option, value)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert f"'{option}'" in lines[0]
    assert value in lines[0]
    assert not out.exists()
