"""Fuzz a running emulator's broker: N malformed frame sets, then check it still serves.

    python benchmarks/fuzz_backbone.py [--frames 100000] [--seed 1]

Starts ``lgwan-sim emulate`` on a five-site scenario at real time with the directory served
by a Service, connects as a registered local body (CURVE), sends fuzzed multipart messages
(the mutations of tests/backbone/test_wire_fuzz.py: random multipart, truncated, oversized,
wrong version, bad msgpack, wrong types, garbage signatures, spliced frames), reads every
answer, and prints the broker's RSS before and after, what it answered, and whether a
genuine request still gets its reply.

A frame longer than any EMW1 frame (``MAX_FRAME_BYTES``, 1 MiB) is refused by the broker's
socket, which closes the connection: the fuzzing socket connects again at once with the same
routing id (so the answers to what the broker had already read still reach it), and the
frame sets on their way behind the long frame are lost with the connection. The counts of
closed connections and of frame sets the broker read say how many.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import zmq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from lgwan_sim.backbone import Client, Endpoints, Service, Testbed, decode  # noqa: E402
from lgwan_sim.backbone.pytest_plugin import start_emulator  # noqa: E402
from tests.backbone.support import small_scenario  # noqa: E402
from tests.backbone.test_wire_fuzz import _VALID, _mutate  # noqa: E402


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fuzz-backbone-"))
    emu = start_emulator(small_scenario(tmp, rate=20_000, duration="7200s"), tmp / "emu", speed=1)
    pid = emu.process.pid
    service = Service(emu.endpoints, "dc-b", {"directory": lambda r: b"\x80"})
    threading.Thread(target=service.serve, daemon=True).start()
    service.ready.wait(60)
    ep = Endpoints.load(emu.endpoints)
    cred = Testbed.open(ep.testbed, sites=["m1"]).credentials["m1"]
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.SNDHWM, 0)
    s.setsockopt(zmq.ROUTING_ID, b"Efuzz")
    s.setsockopt(zmq.RECONNECT_IVL, 10)
    s.setsockopt(zmq.CURVE_SERVERKEY, ep.curve_server_key)
    s.setsockopt(zmq.CURVE_PUBLICKEY, cred.identity.curve_public)
    s.setsockopt(zmq.CURVE_SECRETKEY, cred.curve_secret)
    events = s.get_monitor_socket(zmq.EVENT_DISCONNECTED)
    s.connect(ep.broker)
    time.sleep(1.0)
    before = rss_kib(pid)
    rng = random.Random(args.seed)
    answers: Counter[str] = Counter()
    sent = 0
    checkpoints: list[tuple[int, int]] = []
    began = time.perf_counter()

    def drain(quiet_ms: int) -> None:
        """Read answers until none has come for ``quiet_ms``."""
        while s.poll(quiet_ms):
            while s.poll(0):
                m = decode(s.recv_multipart())
                answers[f"{m.command.name} {int(m.header.code or 0)}"] += 1

    while sent < args.frames:
        data = _mutate(rng, rng.choice(_VALID))
        if not isinstance(data, list) or not data or any(type(f) is not bytes for f in data):
            continue  # only bytes travel on a socket
        s.send_multipart(data)
        sent += 1
        if sent % 500 == 0:
            drain(1)
        if sent % (args.frames // 5) == 0:
            drain(3000)
            checkpoints.append((sent, rss_kib(pid)))
    drain(3000)  # the broker has worked through its queue: nothing came for 3 s
    elapsed = time.perf_counter() - began
    closed = 0
    while events.poll(0):
        events.recv_multipart()
        closed += 1
    after = rss_kib(pid)
    alive = emu.process.poll() is None
    client = Client(emu.endpoints, "m2", timeout_s=5)
    reply = client.request("dc-b/directory")
    client.close()
    s.disable_monitor()
    events.close()
    s.close()
    ctx.term()
    summary = emu.stop()
    service.stop()
    m = summary["emulation"]["messages"]
    print(f"fuzzed frame sets sent: {sent:,} in {elapsed:.1f} s ({sent / elapsed:,.0f}/s)")
    print(f"broker RSS before {before / 1024:.1f} MiB, after {after / 1024:.1f} MiB")
    marks = ", ".join(f"{n:,}: {kib / 1024:.1f}" for n, kib in checkpoints)
    print(f"broker RSS (MiB) after each fifth of the frames: {marks}")
    print(f"broker still running: {alive}; a genuine request then got its reply from {reply.src}")
    print(
        f"the broker counted: malformed {m['malformed']:,}, forbidden {m['forbidden']:,} "
        f"(read {m['malformed'] + m['forbidden']:,} of the {sent:,}), ERR sent {m['errors_sent']}"
    )
    print(f"connections the broker's socket closed on a frame over the limit: {closed:,}")
    print(f"answers received: {dict(sorted(answers.items()))}")
    print(f"load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
