"""Signed round trips per second through the emulator's broker, beside plain ZeroMQ.

    python benchmarks/bench_backbone.py [--runs 3] [--seconds 10] [--window 64] [--json F]
    python benchmarks/bench_backbone.py --base OTHER_CHECKOUT      # adds emulator-base
    python benchmarks/bench_backbone.py --only emulator --runs 1 --seconds 600   # the long run
    python benchmarks/bench_backbone.py --only emulator --runs 1 --profile prof.out

Four set-ups, each measured ``--runs`` times in turn (round robin, so a change of load on
a shared machine falls on all of them alike), every process on 127.0.0.1 over TCP:

* ``echo``: DEALER clients and one pyzmq ROUTER that sends every message straight back
  (Python, one hop, unsigned).
* ``proxy``: DEALER clients, ``zmq.proxy`` (C) between a ROUTER and a DEALER, and one
  Python REP worker that echoes (two hops, unsigned).
* ``proxy-signed``: the same path with CURVE on both hops, and the EMW1 work of an
  endpoint at each end: the client seals every REQ and checks every REP end to end, the
  worker checks every REQ and seals its REP (LGPKI P-256 keys, the SDK's ``EndToEnd``).
* ``emulator``: ``lgwan-sim emulate`` (packet fidelity, a five-site topology) with one
  real :class:`~lgwan_sim.backbone.Service` in a process of its own; the clients are the
  SDK's :class:`~lgwan_sim.backbone.Client` identities ``m1`` and ``m2`` whose requests the
  broker injects into the engine; the engine carries each one over the modelled path to
  ``dc-b``, the broker forwards it to the service, and the REP travels back through the
  engine. Every message is signed and verified end to end.

With ``--base DIR`` a fifth set-up, ``emulator-base``, runs the emulator, the service and
the clients from the code in DIR (another checkout), for a before/after in the same run.

Each client socket keeps ``--window`` requests outstanding. The client process counts the
answers received in ``--seconds`` that start ``--warmup`` seconds after every socket had
its first answer; it notes the longest pause of its own loop in that interval (a machine
that does not run it for a second or more shows there), and reads the CPU time (user + system)
of every process of the set-up at the start and the end of that interval, thread by thread
(libzmq's I/O threads apart from Python's), so CPU per message is process CPU time /
round trips. The broker's resident memory is sampled at most once a second. For the emulator the
outputs' accounting is checked: every request the clients sent was offered to the engine
and is delivered, dropped or in flight.

``--micro`` (on by default) also times, in this process, what one round trip costs apart
from sockets: the two seals and two end-to-end checks of the endpoints, the broker's decode,
and the engine carrying one request and its response over the same path (inject, advance,
respond, advance; no sockets).

``--profile FILE`` runs the emulator under cProfile (slower; for the shares, not the rate)
and prints its costliest functions.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import zmq

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SETUPS = ("echo", "proxy", "proxy-signed", "emulator")
IDENTITIES = ("m1", "m2")
SERVICE_SITE = "dc-b"
ADDRESS = f"{SERVICE_SITE}/directory"
BODY = b"\x81\xa1q\xb8benchmark look-up query"  # a 26-byte msgpack map

SCENARIO = """\
name: bench-backbone
description: Five sites; the directory at dc-b; real clients at m1 and m2.
topology:
  inline:
    sites:
      - {id: core, kind: central, lat: 35.68, lon: 139.77, campus: east, name: East central site}
      - {id: dc-a, kind: asp, lat: 35.69, lon: 139.74, name: "LGWAN-ASP site, Tokyo"}
      - {id: dc-b, kind: asp, lat: 34.69, lon: 135.50, name: "LGWAN-ASP site, Osaka"}
      - {id: m1, kind: municipality, prefecture: "03", lat: 39.70, lon: 141.15, name: Morioka}
      - {id: m2, kind: municipality, prefecture: "04", lat: 38.27, lon: 140.87, name: Sendai}
    links:
      - {a: core, b: dc-a, capacity_bps: 1.0e+9}
      - {a: core, b: dc-b, capacity_bps: 1.0e+9}
      - {a: m1, b: core, capacity_bps: 1.0e+9, kind: access}
      - {a: m2, b: core, capacity_bps: 1.0e+9, kind: access}
only_services: [directory]
services:
  directory: {primary: dc-b, secondary: dc-a, requests_per_day: 20000}
start: "2026-02-16T10:00"
duration: DURATION
seed: 7
fidelity: packet
engine: {bin_s: 10}
"""


def _env(root: Path = ROOT) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(root)
    return env


def _spawn(*args: str, root: Path = ROOT) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(root),
    )


def _first_line(proc: subprocess.Popen[str], what: str) -> dict[str, Any]:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        err = proc.stderr.read() if proc.stderr is not None else ""
        raise RuntimeError(f"{what} did not start: {err}")
    data: dict[str, Any] = json.loads(line)
    return data


def _stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM, timeout: float = 60) -> str:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err or ""


# -- the worker processes --------------------------------------------------------------------
def _serve_forever(loop: Any) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    loop(stop)


def worker_echo() -> None:
    """A pyzmq ROUTER that sends every message back."""
    ctx = zmq.Context()
    r = ctx.socket(zmq.ROUTER)
    r.setsockopt(zmq.SNDHWM, 100_000)
    r.setsockopt(zmq.RCVHWM, 100_000)
    r.bind("tcp://127.0.0.1:0")
    print(json.dumps({"address": r.getsockopt_string(zmq.LAST_ENDPOINT)}), flush=True)

    def loop(stop: threading.Event) -> None:
        while not stop.is_set():
            if r.poll(200):
                while True:
                    try:
                        r.send_multipart(r.recv_multipart(zmq.NOBLOCK, copy=False), copy=False)
                    except zmq.Again:
                        break

    _serve_forever(loop)


def worker_proxy(curve_secret: str | None) -> None:
    """``zmq.proxy`` between a ROUTER (clients) and a DEALER (workers), C all the way."""
    ctx = zmq.Context()
    front, back = ctx.socket(zmq.ROUTER), ctx.socket(zmq.DEALER)
    for s in (front, back):
        s.setsockopt(zmq.SNDHWM, 100_000)
        s.setsockopt(zmq.RCVHWM, 100_000)
        if curve_secret:
            s.setsockopt(zmq.CURVE_SERVER, 1)
            s.setsockopt(zmq.CURVE_SECRETKEY, curve_secret.encode("ascii"))
        s.bind("tcp://127.0.0.1:0")
    print(
        json.dumps(
            {
                "address": front.getsockopt_string(zmq.LAST_ENDPOINT),
                "backend": back.getsockopt_string(zmq.LAST_ENDPOINT),
            }
        ),
        flush=True,
    )
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    zmq.proxy(front, back)


def _signed_peer(home: str, identity: str) -> tuple[Any, Any, Any]:
    from lgwan_sim.backbone import Testbed
    from lgwan_sim.backbone._trust import EndToEnd

    tb = Testbed.open(home, sites=[identity])
    creds = tb.credentials[identity]
    return creds, creds.signer(), EndToEnd(tb.registry, tb.message_verifier())


def worker_rep(backend: str, home: str | None, server_key: str | None) -> None:
    """A REP worker: echoes, or (with ``home``) checks each REQ and seals its REP."""
    from lgwan_sim.backbone import Command, decode

    ctx = zmq.Context()
    s = ctx.socket(zmq.REP)
    signer = e2e = None
    if home is not None:
        creds, signer, e2e = _signed_peer(home, SERVICE_SITE)
        if server_key:
            s.setsockopt(zmq.CURVE_SERVERKEY, server_key.encode("ascii"))
            s.setsockopt(zmq.CURVE_PUBLICKEY, creds.identity.curve_public)
            s.setsockopt(zmq.CURVE_SECRETKEY, creds.curve_secret)
    s.connect(backend)
    print(json.dumps({"ready": True}), flush=True)

    def accepts(address: str) -> bool:
        return address == ADDRESS

    def loop(stop: threading.Event) -> None:
        while not stop.is_set():
            if not s.poll(200):
                continue
            frames = s.recv_multipart()
            if signer is None:
                s.send_multipart(frames)
                continue
            m = decode([b"", *frames])  # REP took the empty delimiter off
            e2e.check(m, accepts)
            h = m.header
            rep = signer.seal(
                Command.REP, h.src, m.body, id=os.urandom(16), ts_ns=time.time_ns(), corr=h.id
            )
            s.send_multipart(rep.frames()[1:])

    _serve_forever(loop)


def worker_service(endpoints: str) -> None:
    """One real SDK Service at dc-b that answers ``directory`` with the request's body."""
    from lgwan_sim.backbone import Service

    svc = Service(endpoints, SERVICE_SITE, {"directory": lambda request: request.body})
    signal.signal(signal.SIGTERM, lambda *_: svc.stop())
    thread = threading.Thread(target=svc.serve, daemon=True)
    thread.start()
    if not svc.ready.wait(60):
        raise SystemExit("the service did not register")
    print(json.dumps({"ready": True}), flush=True)
    while thread.is_alive():
        thread.join(0.5)
    svc.close()


# -- the client process ----------------------------------------------------------------------
def _cpu(pids: dict[str, int]) -> dict[str, dict[str, float]]:
    """CPU seconds of each watched process, total and by thread group (python, zmq, other)."""
    out: dict[str, dict[str, float]] = {}
    for name, pid in pids.items():
        try:
            p = psutil.Process(pid)
            groups: dict[str, float] = {}
            for t in p.threads():
                try:
                    comm = Path(f"/proc/{pid}/task/{t.id}/comm").read_text().strip()
                except OSError:
                    comm = "?"
                group = "main" if t.id == pid else ("zmq" if comm.startswith("ZMQbg") else "other")
                groups[group] = groups.get(group, 0.0) + t.user_time + t.system_time
            groups["total"] = sum(groups.values())
            out[name] = groups
        except psutil.Error:
            out[name] = {"total": math.nan}
    return out


def _delta(a: dict[str, dict[str, float]], b: dict[str, dict[str, float]]) -> dict[str, Any]:
    return {name: {g: round(b[name].get(g, 0.0) - v, 4) for g, v in a[name].items()} for name in a}


def client(args: argparse.Namespace) -> None:
    """Drive ``--window`` outstanding requests per socket; print one JSON line."""
    from lgwan_sim.backbone import Client, Command, decode

    watch = {"client": os.getpid(), **json.loads(args.watch)}
    signed = args.kind in ("proxy-signed", "emulator")
    ctx = zmq.Context()
    socks: list[zmq.Socket[Any]] = []
    peers: list[tuple[Any, Any, str]] = []  # signer, e2e, identity
    clients: list[Any] = []
    for ident in IDENTITIES:
        if args.kind == "emulator":
            c = Client(args.endpoints, ident)
            clients.append(c)
            socks.append(c.peer.sock)
            peers.append((c.peer.signer, c.peer.e2e, ident))
            continue
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.SNDHWM, 100_000)
        s.setsockopt(zmq.RCVHWM, 100_000)
        if signed:
            creds, signer, e2e = _signed_peer(args.home, ident)
            s.setsockopt(zmq.CURVE_SERVERKEY, args.server_key.encode("ascii"))
            s.setsockopt(zmq.CURVE_PUBLICKEY, creds.identity.curve_public)
            s.setsockopt(zmq.CURVE_SECRETKEY, creds.curve_secret)
            peers.append((signer, e2e, ident))
        s.connect(args.address)
        socks.append(s)
    plain = None
    if not signed:  # the same frames, sizes and count as a signed REQ
        from lgwan_sim.backbone import Testbed as _Tb  # noqa: F401  (import cost alike)

        plain = [b"", b"EMW1", b"\x01", ADDRESS.encode(), b"h" * 180, BODY, b"s" * 71]

    def send(i: int) -> None:
        if plain is not None:
            socks[i].send_multipart(plain)
            return
        signer, _, _ = peers[i]
        req = signer.seal(
            Command.REQ,
            ADDRESS,
            BODY,
            id=os.urandom(16),
            ts_ns=time.time_ns(),
            ttl_ns=30_000_000_000,
            ct="application/msgpack",
        )
        sent[req.header.id] = time.monotonic()
        socks[i].send_multipart(req.frames())

    sent: dict[bytes, float] = {}
    rtts: list[float] = []
    counts = {"done": 0, "errors": 0, "rejected": 0, "unmatched": 0}
    err_codes: dict[int, int] = {}
    outstanding = [0] * len(socks)
    poller = zmq.Poller()
    for s in socks:
        poller.register(s, zmq.POLLIN)
    index = {s: i for i, s in enumerate(socks)}
    time.sleep(0.3)  # CURVE handshakes
    for i in range(len(socks)):
        for _ in range(args.window):
            send(i)
            outstanding[i] += 1
    began = time.monotonic()
    # The interval starts --warmup seconds after every socket had its first answer (the
    # first check of a sender builds its LGPKI path; a loaded machine may take a while).
    t0 = t1 = math.inf
    answered = [False] * len(socks)
    measuring = sending = True
    cpu0 = cpu1 = None
    done0 = 0
    rss: list[tuple[float, float]] = []  # (seconds since the first requests, MiB)
    next_rss = began
    broker_pid = watch.get("broker")
    last = began
    max_gap = 0.0
    while True:
        now = time.monotonic()
        if t0 <= now <= t1:  # a process the machine did not run for a while
            max_gap = max(max_gap, now - last)
        last = now
        if t0 == math.inf:
            if all(answered):
                t0 = now + args.warmup
                t1 = t0 + args.seconds
                warmed_s = now - began
            elif now - began > 300:
                raise SystemExit(f"no answer in 300 s on sockets {answered}")
        if cpu0 is None and now >= t0:
            cpu0, done0, rtts = _cpu(watch), counts["done"], []
        if measuring and now >= t1:
            cpu1 = _cpu(watch)
            done1, t_end = counts["done"], now
            measuring = sending = False
            drain_until = now + 5.0
        if not sending and (sum(outstanding) == 0 or now > drain_until):
            break
        if broker_pid is not None and now >= next_rss:
            with contextlib.suppress(psutil.Error):
                mib = psutil.Process(broker_pid).memory_info().rss / 2**20
                rss.append((round(now - began, 1), round(mib, 2)))
            next_rss = now + 1.0
        for s, _ in poller.poll(100):
            i = index[s]
            answered[i] = True
            while True:
                try:
                    frames = s.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                if signed:
                    m = decode(frames)
                    t = sent.pop(m.header.corr, None) if m.header.corr else None
                    if t is None:
                        counts["unmatched"] += 1
                        continue
                    _, e2e, ident = peers[i]
                    e2e.check(m, lambda a, me=ident: a == me)
                    if m.command is Command.ERR:
                        counts["errors"] += 1
                        code = int(m.header.code or 0)
                        err_codes[code] = err_codes.get(code, 0) + 1
                    elif m.command is Command.REP:
                        counts["done"] += 1
                        rtts.append(time.monotonic() - t)
                    else:
                        counts["unmatched"] += 1
                        sent[m.header.corr] = t  # not an answer; keep waiting
                        continue
                else:
                    counts["done"] += 1
                outstanding[i] -= 1
                if sending:
                    send(i)
                    outstanding[i] += 1
    assert cpu0 is not None
    assert cpu1 is not None
    elapsed = t_end - t0
    n = done1 - done0
    rtts.sort()
    result = {
        "kind": args.kind,
        "round_trips": n,
        "seconds": round(elapsed, 3),
        "per_s": round(n / elapsed, 1),
        "cpu_s": _delta(cpu0, cpu1),
        "lost_at_end": sum(outstanding),
        "first_answers_s": round(warmed_s, 3),
        "client_max_gap_s": round(max_gap, 3),
        "counts": counts,
        "err_codes": err_codes,
        "rtt_ms": {
            "p50": round(rtts[len(rtts) // 2] * 1e3, 3) if rtts else None,
            "p99": round(rtts[int(len(rtts) * 0.99)] * 1e3, 3) if rtts else None,
        },
        "broker_rss_mib": rss,
    }
    for c in clients:
        c.close()
    print(json.dumps(result), flush=True)


# -- one measurement of one set-up -----------------------------------------------------------
def _scenario(folder: Path, seconds: float) -> Path:
    path = folder / "bench-backbone.yaml"
    minutes = math.ceil((seconds + 120) / 60)
    path.write_text(SCENARIO.replace("DURATION", f"{minutes}m"), "utf-8")
    return path


def _testbed(folder: Path) -> tuple[str, str, str]:
    """Keys for the signed proxy: (home, broker CURVE public, broker CURVE secret)."""
    from lgwan_sim.backbone import Testbed
    from lgwan_sim.lgpki import SiteInfo

    home = folder / "testbed"
    if not (home / "registry.json").exists():
        Testbed.issue(
            home,
            [
                SiteInfo(id="m1", kind="municipality", name="m1"),
                SiteInfo(id="m2", kind="municipality", name="m2"),
                SiteInfo(id=SERVICE_SITE, kind="asp", name=SERVICE_SITE),
            ],
        )
        public, secret = zmq.curve_keypair()
        (home / "proxy-curve.json").write_text(
            json.dumps({"public": public.decode(), "secret": secret.decode()})
        )
    keys = json.loads((home / "proxy-curve.json").read_text())
    return str(home), keys["public"], keys["secret"]


def _run_client(
    kind: str, opts: argparse.Namespace, watch: dict[str, int], root: Path = ROOT, **extra: str
) -> Any:
    args = [
        "_client",
        kind,
        "--window",
        str(opts.window),
        "--seconds",
        str(opts.seconds),
        "--warmup",
        str(opts.warmup),
        "--watch",
        json.dumps(watch),
    ]
    for k, v in extra.items():
        args += [f"--{k.replace('_', '-')}", v]
    proc = _spawn(*args, root=root)
    out, err = proc.communicate(timeout=opts.seconds + opts.warmup + 600)
    if proc.returncode != 0:
        raise RuntimeError(f"the {kind} client failed: {err}")
    return json.loads(out.strip().splitlines()[-1])


def measure(kind: str, opts: argparse.Namespace, folder: Path) -> dict[str, Any]:
    procs: list[subprocess.Popen[str]] = []
    try:
        if kind == "echo":
            echo = _spawn("_echo")
            procs.append(echo)
            info = _first_line(echo, "the echo ROUTER")
            return _run_client(kind, opts, {"broker": echo.pid}, address=info["address"])
        if kind in ("proxy", "proxy-signed"):
            signed = kind == "proxy-signed"
            home, public, secret = _testbed(folder) if signed else ("", "", "")
            proxy = _spawn("_proxy", *(["--curve-secret", secret] if signed else []))
            procs.append(proxy)
            info = _first_line(proxy, "zmq.proxy")
            rep = _spawn(
                "_rep",
                info["backend"],
                *(["--home", home, "--server-key", public] if signed else []),
            )
            procs.append(rep)
            _first_line(rep, "the REP worker")
            extra = {"address": info["address"]}
            if signed:
                extra |= {"home": home, "server_key": public}
            return _run_client(kind, opts, {"broker": proxy.pid, "service": rep.pid}, **extra)
        assert kind in ("emulator", "emulator-base")
        root = Path(opts.base) if kind == "emulator-base" else ROOT
        run_dir = folder / f"emulate-{time.monotonic_ns()}"
        scenario = _scenario(folder, opts.seconds + opts.warmup)
        cmd = [sys.executable]
        if opts.profile:
            cmd += [str(Path(__file__).resolve()), "_profiled", str(Path(opts.profile).absolute())]
        else:
            cmd += ["-m", "lgwan_sim"]
        cmd += ["emulate", str(scenario), "-o", str(run_dir), "--speed"]
        cmd += [str(opts.speed), "--no-plots", "-q"]
        emu = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(root)
        )
        procs.append(emu)
        endpoints = run_dir / "endpoints.json"
        deadline = time.monotonic() + 120
        while not endpoints.exists():
            if emu.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the emulator did not start: {_stop(emu)}")
            time.sleep(0.05)
        svc = _spawn("_service", str(endpoints), root=root)
        procs.append(svc)
        _first_line(svc, "the service")
        result = _run_client(
            "emulator",
            opts,
            {"broker": emu.pid, "service": svc.pid},
            root=root,
            endpoints=str(endpoints),
        )
        result["kind"] = kind
        _stop(svc)
        procs.remove(svc)
        err = _stop(emu, signal.SIGINT, timeout=300)
        procs.remove(emu)
        summary = json.loads((run_dir / "summary.json").read_text("utf-8"))
        t = summary["totals"]
        msgs = summary["emulation"]["messages"]
        result["engine"] = {
            "offered": t["offered"],
            "delivered": t["delivered"],
            "dropped_total": t["dropped_total"],
            "in_flight": t["in_flight"],
            "balanced": t["offered"] == t["delivered"] + t["dropped_total"] + t["in_flight"],
            "requests_from_clients": msgs["requests_from_clients"],
            "replies_to_clients": msgs["replies_to_clients"],
            "requests_to_services": msgs["requests_to_services"],
            "errors_sent": msgs["errors_sent"],
            "lateness_ms": summary["emulation"]["lateness_ms"],
        }
        if err.strip():
            result["emulator_stderr"] = err.strip()[-2000:]
        return result
    finally:
        for p in reversed(procs):
            _stop(p)


# -- what one round trip costs apart from sockets --------------------------------------------
def _best(fn: Any, n: int, repeat: int = 3) -> float:
    best = math.inf
    for _ in range(repeat):
        t = time.process_time()
        for i in range(n):
            fn(i)
        best = min(best, (time.process_time() - t) / n)
    return best


def micro(folder: Path, n: int) -> dict[str, float]:
    """µs of CPU per operation, best of 3 (this process, one core)."""
    from lgwan_sim.backbone import Command, Testbed, decode
    from lgwan_sim.backbone._trust import EndToEnd

    home, _, _ = _testbed(folder)
    tb = Testbed.open(home)
    m1, svc = tb.credentials["m1"].signer(), tb.credentials[SERVICE_SITE].signer()
    e2e_svc = EndToEnd(tb.registry, tb.message_verifier())
    e2e_cli = EndToEnd(tb.registry, tb.message_verifier())

    def req(i: int) -> Any:
        return m1.seal(
            Command.REQ,
            ADDRESS,
            BODY,
            id=os.urandom(16),
            ts_ns=time.time_ns(),
            ttl_ns=30_000_000_000,
            ct="application/msgpack",
        )

    reqs = [req(i) for i in range(n * 3)]
    frames = [r.frames() for r in reqs]
    reps = [
        svc.seal(Command.REP, "m1", BODY, id=os.urandom(16), ts_ns=time.time_ns(), corr=r.header.id)
        for r in reqs
    ]
    it_req, it_rep = iter(reqs), iter(reps)
    out = {
        "seal_req": _best(req, n),
        "decode": _best(lambda i: decode(frames[i]), n),
        "check_req": _best(lambda i: e2e_svc.check(next(it_req), lambda a: a == ADDRESS), n),
        "check_rep": _best(lambda i: e2e_cli.check(next(it_rep), lambda a: a == "m1"), n),
    }
    key = tb.credentials["m1"].key
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    data = reqs[0].signed_bytes()
    sig = key.sign(data, ec.ECDSA(hashes.SHA256()))
    pub = key.public_key()
    out["raw_p256_sign"] = _best(lambda i: key.sign(data, ec.ECDSA(hashes.SHA256())), n)
    out["raw_p256_verify"] = _best(lambda i: pub.verify(sig, data, ec.ECDSA(hashes.SHA256())), n)
    out["engine_round_trip"] = _engine_round_trip(folder, n)
    return {k: round(v * 1e6, 2) for k, v in out.items()}


def _engine_round_trip(folder: Path, n: int, window: int = 128) -> float:
    """CPU seconds per round trip of the engine alone: inject, carry, respond, carry back."""
    from lgwan_sim.engine import SIMULATE, build
    from lgwan_sim.scenario import load_scenario
    from lgwan_sim.scenario._build import engine_inputs

    sc = load_scenario(_scenario(folder, 3600))
    inputs = engine_inputs(sc)
    engine = build(inputs)
    mine: set[int] = set()
    at_service: list[Any] = []
    back = [0]

    class At:
        def __init__(self, site: str) -> None:
            self.site = site

        def receive(self, message: Any, at_s: float) -> Any:
            if message.id not in mine:
                return SIMULATE
            if message.leg == "request":
                at_service.append(message)
            else:
                mine.discard(message.id)
                back[0] += 1
            return None

    engine.attach("m1", At("m1"))
    engine.attach(SERVICE_SITE, At(SERVICE_SITE))
    engine.advance_to(1.0)

    def settle() -> None:
        while True:
            due = engine.peek()
            if due == math.inf or (not mine and not at_service):
                return
            if at_service:
                now = engine.now_s
                for m in at_service:
                    engine.respond(m, float(len(BODY)), now)
                at_service.clear()
                continue
            engine.advance_to(math.nextafter(due, math.inf))

    best = math.inf
    for _ in range(3):
        t = time.process_time()
        done0 = back[0]
        rounds = max(1, n // window)
        for _ in range(rounds):
            now = engine.now_s
            for _ in range(window):
                mine.add(engine.inject("directory", "m1", float(len(BODY)), now).id)
            settle()
        best = min(best, (time.process_time() - t) / (back[0] - done0))
    return best


def _profile_report(path: str, top: int = 25) -> list[str]:
    import pstats

    st = pstats.Stats(path)
    total = sum(v[2] for v in st.stats.values())  # type: ignore[attr-defined]
    groups = {
        "zmq": ("zmq/", "socket.py", "poll.py"),
        "wire": ("_wire.py",),
        "engine": ("lgwan_sim/engine/",),
        "broker": ("_emulator.py",),
        "driver": ("_realtime.py",),
    }
    shares: dict[str, float] = {}
    for (file, _, _), v in st.stats.items():  # type: ignore[attr-defined]
        g = next((k for k, pats in groups.items() if any(p in file for p in pats)), "other")
        if file == "~":
            g = "builtins (C)"
        shares[g] = shares.get(g, 0.0) + v[2]
    lines = [f"profile: {total:.2f} s of tottime by module group"]
    lines += [
        f"  {g:14s} {100 * s / total:5.1f} %"
        for g, s in sorted(shares.items(), key=lambda x: -x[1])
    ]
    rows = sorted(st.stats.items(), key=lambda kv: -kv[1][2])[:top]  # type: ignore[attr-defined]
    lines.append(f"  top {top} functions by tottime (s, calls):")
    for (file, line, name), v in rows:
        lines.append(f"    {v[2]:7.3f} {v[1]:9d}  {Path(file).name}:{line}({name})")
    return lines


# -- the report ------------------------------------------------------------------------------
def _mmm(values: list[float]) -> str:
    return f"{min(values):,.0f} / {statistics.median(values):,.0f} / {max(values):,.0f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run")
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--window", type=int, default=64, help="outstanding requests per socket")
    p.add_argument("--speed", default="1", help="the emulator's --speed")
    p.add_argument("--only", action="append", choices=SETUPS, help="set-ups to run (all)")
    p.add_argument("--no-micro", action="store_true")
    p.add_argument("--micro-n", type=int, default=2000)
    p.add_argument("--profile", help="run the emulator under cProfile, writing FILE")
    p.add_argument("--json", help="write every measurement to FILE")
    p.add_argument(
        "--base",
        help="another checkout of the project (a folder): adds the set-up emulator-base, the "
        "emulator, service and clients run from that code, for a before/after in one run",
    )
    opts = p.parse_args(argv)
    setups = tuple(opts.only or SETUPS) + (("emulator-base",) if opts.base else ())
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    results: dict[str, list[dict[str, Any]]] = {k: [] for k in setups}
    loads: list[tuple[float, float, float]] = [os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="bench-backbone-") as tmp:
        folder = Path(tmp)
        for run in range(opts.runs):
            for kind in setups:
                r = measure(kind, opts, folder)
                r["loadavg"] = os.getloadavg()
                loads.append(r["loadavg"])
                results[kind].append(r)
                cpu = r["cpu_s"]
                total = sum(v.get("total", 0.0) for v in cpu.values())
                print(
                    f"run {run + 1} {kind:13s} {r['per_s']:9,.0f} round trips/s"
                    f"  cpu {1e6 * total / max(1, r['round_trips']):7.1f} µs/rt"
                    f"  rtt p50 {r['rtt_ms']['p50']} ms  load {r['loadavg'][0]:.1f}"
                    f"  longest client pause {r['client_max_gap_s']} s",
                    flush=True,
                )
        micro_us = None if opts.no_micro else micro(folder, opts.micro_n)
    lines = _table(results, setups, micro_us, loads, opts)
    print("\n".join(lines))
    if opts.profile:
        print("\n".join(_profile_report(opts.profile)))
    if opts.json:
        Path(opts.json).write_text(
            json.dumps({"results": results, "micro_us": micro_us, "loadavg": loads}, indent=1)
        )
    return 0


def _table(
    results: dict[str, list[dict[str, Any]]],
    setups: tuple[str, ...],
    micro_us: dict[str, float] | None,
    loads: list[tuple[float, float, float]],
    opts: argparse.Namespace,
) -> list[str]:
    med = {k: statistics.median(r["per_s"] for r in v) for k, v in results.items() if v}
    ref = "emulator" if "emulator" in med else setups[0]
    lines = [
        "",
        f"{opts.runs} runs of {opts.seconds:g} s each, {len(IDENTITIES)} client sockets x "
        f"{opts.window} outstanding; load average 1-min min/median/max "
        f"{min(x[0] for x in loads):.1f} / {statistics.median(x[0] for x in loads):.1f} / "
        f"{max(x[0] for x in loads):.1f} on {os.cpu_count()} cores",
        "",
        "| set-up | round trips/s min / median / max | runs the client was paused > 1 s "
        "(median of the others) | median / emulator's | CPU µs per round trip"
        " (client + broker + service) | broker µs per round trip (Python thread + libzmq I/O) |"
        " RTT p50 ms | broker RSS MiB (first / last / max) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind in setups:
        rs = results[kind]
        if not rs:
            continue

        def per(name: str, group: str = "total", rs: list[dict[str, Any]] = rs) -> float:
            return statistics.median(
                1e6 * r["cpu_s"].get(name, {}).get(group, 0.0) / max(1, r["round_trips"])
                for r in rs
                if r["round_trips"] > 0
            )

        total = per("client") + per("broker") + per("service")
        calm = [r["per_s"] for r in rs if r["client_max_gap_s"] <= 1.0]
        paused = f"{len(rs) - len(calm)} ({statistics.median(calm):,.0f})" if calm else "all"
        rss = [x for r in rs for _, x in r["broker_rss_mib"]]
        last = [x for _, x in rs[-1]["broker_rss_mib"]]
        lines.append(
            f"| {kind} | {_mmm([r['per_s'] for r in rs])} | {paused} | {med[kind] / med[ref]:.2f} | "
            f"{total:.0f} ({per('client'):.0f} + {per('broker'):.0f} + {per('service'):.0f}) | "
            f"{per('broker', 'main'):.0f} + {per('broker', 'zmq'):.0f} | "
            f"{statistics.median(r['rtt_ms']['p50'] or math.nan for r in rs)} | "
            f"{last[0]:.1f} / {last[-1]:.1f} / {max(rss):.1f} |"
            if rss
            else f"| {kind} | {_mmm([r['per_s'] for r in rs])} | {paused} | "
            f"{med[kind] / med[ref]:.2f} | "
            f"{total:.0f} | | | |"
        )
    for kind in setups:
        samples = results[kind][-1]["broker_rss_mib"] if results[kind] else []
        if samples and samples[-1][0] >= 120:
            marks, minute = [], 0.0
            for t, x in samples:
                if t >= minute:
                    marks.append(f"{t:.0f} s {x:.1f}")
                    minute = 60.0 * (t // 60 + 1)
            lines.append("")
            lines.append(
                f"{kind} broker RSS over the last run (MiB, {len(samples)} samples at least "
                f"a second apart, the first of each minute): {', '.join(marks)}; last "
                f"{samples[-1][0]:.0f} s {samples[-1][1]:.1f}"
            )
    for kind in ("emulator", "emulator-base"):
        if not results.get(kind):
            continue
        e = results[kind][-1]["engine"]
        lines.append("")
        lines.append(
            f"{kind} accounting (last run): {e['requests_from_clients']} requests from the "
            f"clients injected, {e['replies_to_clients']} replies to them; engine offered "
            f"{e['offered']} = delivered {e['delivered']} + dropped {e['dropped_total']} + in "
            f"flight {e['in_flight']}: {'balanced' if e['balanced'] else 'NOT BALANCED'}; "
            f"ERR sent {e['errors_sent']}; driver lateness {e['lateness_ms']}"
        )
    if micro_us:
        rt = 2 * micro_us["check_req"] + micro_us["seal_req"] * 2
        lines.append("")
        lines.append(
            "CPU µs per operation in one process (best of 3): "
            + ", ".join(f"{k} {v}" for k, v in micro_us.items())
        )
        lines.append(
            f"the endpoints' EMW1 work per round trip (2 seals + 2 end-to-end checks) ≈ "
            f"{rt:.0f} µs; the engine carrying one round trip ≈ {micro_us['engine_round_trip']:.0f} µs"
        )
    return lines


def profiled(out: str, argv: list[str]) -> None:
    """``lgwan-sim ARGV`` with :meth:`Emulator.run` (the poll loop) under cProfile, CPU time."""
    import cProfile

    from lgwan_sim.backbone import _emulator
    from lgwan_sim.cli import main as cli

    prof = cProfile.Profile(time.process_time)
    run = _emulator.Emulator.run

    def run_profiled(self: Any, until_s: float | None = None) -> Any:
        prof.enable()
        try:
            return run(self, until_s)
        finally:
            prof.disable()
            prof.dump_stats(out)

    _emulator.Emulator.run = run_profiled  # type: ignore[method-assign]
    sys.exit(cli(argv))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_profiled":
        profiled(sys.argv[2], sys.argv[3:])
        sys.exit(0)
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        role = sys.argv[1]
        w = argparse.ArgumentParser()
        w.add_argument("role")
        w.add_argument("arg", nargs="?")
        w.add_argument("--curve-secret")
        w.add_argument("--home")
        w.add_argument("--server-key")
        w.add_argument("--window", type=int, default=64)
        w.add_argument("--seconds", type=float, default=10)
        w.add_argument("--warmup", type=float, default=2)
        w.add_argument("--watch", default="{}")
        w.add_argument("--address")
        w.add_argument("--endpoints")
        a = w.parse_args()
        if role == "_echo":
            worker_echo()
        elif role == "_proxy":
            worker_proxy(a.curve_secret)
        elif role == "_rep":
            worker_rep(a.arg, a.home, a.server_key)
        elif role == "_service":
            worker_service(a.arg)
        elif role == "_client":
            a.kind = a.arg
            client(a)
        sys.exit(0)
    sys.exit(main())
