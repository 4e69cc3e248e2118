"""The page and its stream: one Starlette app for the replay and the dashboard.

Routes: ``/`` (the page, the map inline), ``/static/{file}`` (the page's script and style,
from the package), ``/stream`` (Server-Sent Events: a snapshot, then numbered frames),
``/api/meta``, and ``POST /api/{verb}`` for the controls, handed to the source.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import threading
import time
from collections.abc import AsyncIterator
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from lgwan_sim.errors import LgwanSimError
from lgwan_sim.live._state import LiveState
from lgwan_sim.live._svg import render_svg

__all__ = ["LiveServer", "Source", "make_app"]

_STATIC = {"live.js": "text/javascript", "live.css": "text/css"}


class Source(Protocol):
    """What feeds the page: a replay or an emulator."""

    state: LiveState

    async def run(self) -> None: ...

    async def command(self, verb: str, body: dict[str, Any]) -> dict[str, Any]: ...

    async def close(self) -> None: ...


def _page(state: LiveState, svg: str) -> str:
    meta = json.dumps(state.meta(), ensure_ascii=False, separators=(",", ":"))
    meta = meta.replace("</", "<\\/")
    mode = state.mode
    return f"""<!doctype html>
<html lang="ja"><head><meta charset="utf-8">
<title>LGWAN {escape(state.title)} · {"リプレイ replay" if mode == "replay" else "訓練 dashboard"}</title>
<link rel="stylesheet" href="/static/live.css">
</head><body class="mode-{mode}">
<header>
 <h1>LGWAN <span id="title">{escape(state.title)}</span></h1>
 <div id="clock" aria-live="polite">–</div>
 <div id="seqbox">seq <span id="seq">0</span> <span id="conn" class="off">接続待ち connecting</span></div>
</header>
<main>
<section id="mapcol">{svg}
 <div id="legend"></div>
 <div id="tip" hidden></div>
</section>
<aside>
 <fieldset id="controls"><legend>操作 Controls</legend>
  <button id="play" type="button">一時停止 Pause</button>
  <button id="step" type="button">1ステップ Step</button>
  <label>速度 Speed <select id="speed">
   <option>1</option><option>10</option><option>60</option><option>600</option><option>3600</option>
   <option>36000</option></select>×</label>
  <div id="drill" class="live-only">
   <label>訓練シナリオ Drill <select id="drill-scenario">
    <option>tohoku-2011</option><option>east-central-loss</option><option>dc-loss-failover</option>
   </select></label>
   <button id="drill-start" type="button">訓練開始 Start drill</button>
  </div>
  <div class="live-only">
   <label>クリックで障害/復旧 Click fails/restores:
    <select id="target">
     <option value="site">拠点 site</option><option value="link">回線 link</option>
     <option value="pref">都道府県 prefecture</option><option value="campus">キャンパス campus</option>
     <option value="path">経路を表示 show path</option>
    </select></label>
  </div>
  <div id="status"></div>
 </fieldset>
 <fieldset id="pathbox"><legend>団体の経路 A local body's path</legend>
  <input id="path-site" list="bodies" placeholder="団体名 municipality">
  <datalist id="bodies"></datalist>
  <select id="path-service"></select>
  <div id="path-text">–</div>
 </fieldset>
 <fieldset><legend>サービス別 配信/損失 Delivered / dropped per service</legend>
  <div id="plots"></div></fieldset>
 <fieldset><legend>出来事 Timeline</legend><ol id="timeline"></ol></fieldset>
</aside>
</main>
<script id="meta" type="application/json">{meta}</script>
<script src="/static/live.js"></script>
</body></html>"""


def make_app(source: Source) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import (
        FileResponse,
        HTMLResponse,
        JSONResponse,
        Response,
        StreamingResponse,
    )
    from starlette.routing import Route

    cache: dict[str, str] = {}

    def page_text() -> str:
        st = source.state
        key = f"{id(st)}"
        if key not in cache:
            cache.clear()
            cache[key] = _page(st, render_svg(st.topology))
        return cache[key]

    async def page(request: Request) -> Response:
        return HTMLResponse(page_text())

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _STATIC:
            return Response(status_code=404)
        body = resources.files("lgwan_sim.live").joinpath("static", name).read_bytes()
        return Response(body, media_type=_STATIC[name])

    async def font(request: Request) -> Response:
        # IPAex Gothic from the matplotlib-fontja dependency: Japanese names offline
        spec = importlib.util.find_spec("matplotlib_fontja")
        if spec is None or not spec.submodule_search_locations:
            return Response(status_code=404)
        path = Path(next(iter(spec.submodule_search_locations))) / "fonts" / "ipaexg.ttf"
        return FileResponse(path, media_type="font/ttf", headers={"Cache-Control": "max-age=86400"})

    async def meta(request: Request) -> Response:
        return JSONResponse(source.state.meta())

    async def stream(request: Request) -> Response:
        async def frames() -> AsyncIterator[str]:
            st = source.state
            queue = st.subscribe()
            try:
                yield "retry: 500\n\n"
                yield f"data: {st.snapshot()}\n\n"
                while True:
                    try:
                        text = await asyncio.wait_for(queue.get(), 15)
                    except TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    yield f"data: {text}\n\n"
                    if st is not source.state:  # a new network: the page reloads
                        return
            finally:
                st.unsubscribe(queue)
                source.state.unsubscribe(queue)  # a drill's new state took the old queues

        return StreamingResponse(
            frames(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def api(request: Request) -> Response:
        verb = request.path_params["verb"]
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return JSONResponse({"error": "the body is not JSON"}, status_code=400)
        if not isinstance(body, dict):
            return JSONResponse({"error": "the body is a JSON object"}, status_code=400)
        try:
            result = await source.command(verb, body)
        except LgwanSimError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(result)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        task = asyncio.create_task(source.run())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            await source.close()

    return Starlette(
        routes=[
            Route("/", page),
            Route("/static/ipaexg.ttf", font),
            Route("/static/{name}", static),
            Route("/favicon.ico", lambda request: Response(status_code=204)),
            Route("/stream", stream),
            Route("/api/meta", meta),
            Route("/api/{verb}", api, methods=["POST"]),
        ],
        lifespan=lifespan,
    )


class LiveServer:
    """uvicorn on 127.0.0.1 (port 0: the system picks one), in a thread or in the foreground."""

    def __init__(self, source: Source, *, port: int = 0) -> None:
        import uvicorn

        self.source = source
        config = uvicorn.Config(
            make_app(source),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=1,
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.url = ""
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Serve in a thread; returns the page's URL once it listens."""
        thread = self._thread = threading.Thread(target=self.server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise LgwanSimError("the live page could not listen on 127.0.0.1")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/"
        return self.url

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
