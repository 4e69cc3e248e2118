"""The control API: REST (Starlette under uvicorn, in a thread) and its Python client.

The server runs beside the emulator's poll loop and reaches it through an ``inproc://``
ROUTER that the loop polls with its broker socket, so every change is made in the loop's
own thread, between two steps of the engine. Routes (``docs/faults.md``):

``GET /faults``, ``GET|PUT|DELETE /faults/{name}``, ``POST /reset``, ``GET /state``,
``GET /events?since=SEQ``, ``GET /metrics`` (Prometheus text), ``GET|POST /clock``
(pause, resume, step, speed).

On loopback no token is needed; bound elsewhere, every request carries
``Authorization: Bearer TOKEN`` (the token is in ``endpoints.json``).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import zmq

from lgwan_sim.errors import InputError, LgwanSimError

__all__ = ["Control", "ControlError", "ControlServer", "EventStream"]

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class ControlServer:
    """The REST API in a thread; ``url`` once :meth:`start` returned."""

    def __init__(
        self,
        context: zmq.Context[Any],
        address: str,
        *,
        host: str = "127.0.0.1",
        token: str | None = None,
    ) -> None:
        if host not in _LOOPBACK and not token:
            raise InputError(
                "a control API bound beyond loopback needs a token",
                field="control_host",
                value=host,
            )
        self.context = context
        self.address = address
        self.host = host
        self.token = token
        self.url = ""
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def _call(self, op: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
        sock = self.context.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        try:
            sock.connect(self.address)
            sock.send_multipart([b"", json.dumps({"op": op, "args": args or {}}).encode()])
            if not sock.poll(10_000):
                return {"status": 503, "error": "the emulator's loop did not answer in 10 s"}
            _, body = sock.recv_multipart()
            answer: dict[str, Any] = json.loads(body)
            return answer
        finally:
            sock.close(linger=0)

    def app(self) -> Any:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse, PlainTextResponse, Response
        from starlette.routing import Route

        token = self.token

        def answer(result: dict[str, Any]) -> Response:
            status = int(result.pop("status", 200))
            if status == 204:
                return Response(status_code=204)
            return JSONResponse(result, status_code=status)

        def guard(request: Request) -> Response | None:
            if token and request.headers.get("authorization") != f"Bearer {token}":
                return JSONResponse({"error": "a bearer token is required"}, status_code=401)
            return None

        async def faults(request: Request) -> Response:
            return guard(request) or answer(self._call("faults"))

        async def fault(request: Request) -> Response:
            denied = guard(request)
            if denied:
                return denied
            name = request.path_params["name"]
            if request.method == "GET":
                return answer(self._call("fault", {"name": name}))
            if request.method == "DELETE":
                return answer(self._call("delete_fault", {"name": name}))
            try:
                spec = json.loads(await request.body() or b"null")
            except ValueError as exc:
                return JSONResponse({"error": f"the body is not JSON: {exc}"}, status_code=400)
            return answer(self._call("put_fault", {"name": name, "spec": spec}))

        async def reset(request: Request) -> Response:
            return guard(request) or answer(self._call("reset"))

        async def state(request: Request) -> Response:
            denied = guard(request)
            if denied:
                return denied
            # ?route=SRC,DST (repeatable): the engine's current path for each pair
            pairs = [r.split(",") for r in request.query_params.getlist("route")]
            return answer(self._call("state", {"routes": pairs}))

        async def events(request: Request) -> Response:
            denied = guard(request)
            if denied:
                return denied
            try:
                since = int(request.query_params.get("since", "0"))
            except ValueError:
                return JSONResponse({"error": "since is a sequence number"}, status_code=400)
            return answer(self._call("events", {"since": since}))

        async def clock(request: Request) -> Response:
            denied = guard(request)
            if denied:
                return denied
            if request.method == "GET":
                return answer(self._call("clock"))
            try:
                changes = json.loads(await request.body() or b"{}")
            except ValueError as exc:
                return JSONResponse({"error": f"the body is not JSON: {exc}"}, status_code=400)
            if not isinstance(changes, dict):
                return JSONResponse({"error": "the body is a JSON object"}, status_code=400)
            return answer(self._call("clock", changes))

        async def metrics(request: Request) -> Response:
            denied = guard(request)
            if denied:
                return denied
            result = self._call("metrics")
            return PlainTextResponse(result.get("text", ""), media_type="text/plain; version=0.0.4")

        return Starlette(
            routes=[
                Route("/faults", faults, methods=["GET"]),
                Route("/faults/{name}", fault, methods=["GET", "PUT", "DELETE"]),
                Route("/reset", reset, methods=["POST"]),
                Route("/state", state, methods=["GET"]),
                Route("/events", events, methods=["GET"]),
                Route("/metrics", metrics, methods=["GET"]),
                Route("/clock", clock, methods=["GET", "POST"]),
            ]
        )

    def start(self, port: int = 0) -> str:
        """Serve on ``host:port`` (0: a port the system chooses); returns the URL."""
        import uvicorn

        config = uvicorn.Config(
            self.app(),
            host=self.host,
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=1,
            lifespan="off",
        )
        server = self._server = uvicorn.Server(config)
        thread = self._thread = threading.Thread(target=server.run, name="control-api", daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise LgwanSimError(f"the control API could not listen on {self.host}:{port}")
            time.sleep(0.01)
        bound = server.servers[0].sockets[0].getsockname()
        self.url = f"http://{self.host}:{bound[1]}"
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(5)


class ControlError(LgwanSimError):
    """The control API refused a request: ``status`` and its error text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"control API: {status}: {message}")
        self.status = status


class Control:
    """A client of the control API, from an emulator's ``endpoints.json``."""

    def __init__(self, endpoints: str | Path | dict[str, Any]) -> None:
        info = (
            endpoints
            if isinstance(endpoints, dict)
            else json.loads(Path(endpoints).read_text(encoding="utf-8"))
        )
        if not info.get("control"):
            raise InputError("this emulator has no control API", field="control", value=None)
        self.url = str(info["control"]).rstrip("/")
        self.token = info.get("control_token")
        self.events_address = info.get("events")

    def _request(self, method: str, path: str, body: object = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                raw = response.read()
                kind = response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", "replace")
            with contextlib.suppress(ValueError):
                text = json.loads(text).get("error", text)
            raise ControlError(exc.code, text) from None
        if not raw:
            return None
        return json.loads(raw) if "json" in kind else raw.decode("utf-8")

    def put(self, name: str, **spec: Any) -> dict[str, Any]:
        """Add or replace the fault ``name`` (idempotent: the same spec twice changes nothing)."""
        result: dict[str, Any] = self._request("PUT", f"/faults/{name}", spec)["fault"]
        return result

    def delete(self, name: str) -> None:
        self._request("DELETE", f"/faults/{name}")

    def faults(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._request("GET", "/faults")["faults"]
        return result

    def get(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", f"/faults/{name}")["fault"]
        return result

    def reset(self) -> None:
        self._request("POST", "/reset")

    def state(self, routes: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
        """The emulator's state; ``routes`` (``(src, dst)`` pairs) adds their current paths."""
        query = "&".join(
            "route=" + urllib.parse.quote(f"{src},{dst}", safe=",") for src, dst in routes
        )
        result: dict[str, Any] = self._request("GET", "/state" + (f"?{query}" if query else ""))[
            "state"
        ]
        return result

    def events(self, since: int = 0) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._request("GET", f"/events?since={since}")["events"]
        return result

    def metrics(self) -> str:
        result: str = self._request("GET", "/metrics")
        return result

    def clock(self, **changes: Any) -> dict[str, Any]:
        """The emulator's clock; ``paused=True|False``, ``step_s=S`` or ``speed=X`` change it."""
        if changes:
            result: dict[str, Any] = self._request("POST", "/clock", changes)["clock"]
        else:
            result = self._request("GET", "/clock")["clock"]
        return result

    @contextlib.contextmanager
    def fault(self, name: str, **spec: Any) -> Iterator[dict[str, Any]]:
        """A fault for the duration of a ``with`` block."""
        made = self.put(name, **spec)
        try:
            yield made
        finally:
            with contextlib.suppress(ControlError):
                self.delete(name)

    def link(self, *links: str) -> _Scoped:
        """``with control.link("m1~core").down(): ...``"""
        return _Scoped(self, "link_down", links=list(links))

    def site(self, *sites: str) -> _Scoped:
        return _Scoped(self, "site_down", sites=list(sites))


class _Scoped:
    def __init__(self, control: Control, kind: str, **spec: Any) -> None:
        self.control = control
        self.kind = kind
        self.spec = spec

    def down(self, name: str | None = None) -> contextlib.AbstractContextManager[dict[str, Any]]:
        label = name or f"{self.kind}-{abs(hash(json.dumps(self.spec, sort_keys=True))) % 10**8}"
        return self.control.fault(label, kind=self.kind, **self.spec)


class EventStream:
    """The emulator's event stream (PUB), with the control API's log to fill gaps.

    :meth:`wait_for` returns the first event of ``kind`` (whose fields equal ``match``)
    published after the stream was opened, or raises :class:`TimeoutError`. A gap in the
    sequence numbers (a slow subscriber) is filled from ``GET /events`` (the Clone pattern).
    """

    def __init__(self, endpoints: str | Path | dict[str, Any]) -> None:
        self.control = Control(endpoints)
        if not self.control.events_address:
            raise InputError("this emulator publishes no events", field="events", value=None)
        self.ctx: zmq.Context[Any] = zmq.Context()
        self.sock: zmq.Socket[Any] = self.ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVHWM, 0)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"")
        self.sock.connect(self.control.events_address)
        self.seen: list[dict[str, Any]] = []
        self.last_seq = 0
        time.sleep(0.2)  # the slow-joiner: let the subscription reach the publisher

    def _take(self, record: dict[str, Any]) -> None:
        seq = int(record["seq"])
        if self.last_seq and seq > self.last_seq + 1:  # a gap: refetch what was missed
            for missed in self.control.events(since=self.last_seq):
                if int(missed["seq"]) < seq:
                    self.seen.append(missed)
        if seq > self.last_seq:
            self.seen.append(record)
            self.last_seq = seq

    def poll(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if not self.sock.poll(max(0, int(left * 1000))):
                return
            while self.sock.poll(0):
                _, body = self.sock.recv_multipart()
                self._take(json.loads(body))

    def wait_for(
        self, kind: str, timeout: float = 10.0, *, after: int = 0, **match: Any
    ) -> dict[str, Any]:
        """The first event of ``kind`` with sequence number above ``after`` whose fields
        equal ``match``."""
        deadline = time.monotonic() + timeout
        start = 0
        while True:
            for record in self.seen[start:]:
                if (
                    record["kind"] == kind
                    and record["seq"] > after
                    and all(record.get(k) == v for k, v in match.items())
                ):
                    return record
            start = len(self.seen)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {kind} event {match or ''} within {timeout} s")
            self.poll(min(left, 0.2))

    def close(self) -> None:
        self.sock.close(linger=0)
        self.ctx.term()
