"""Reference implementation of the organisation directory look-up (組織認証 / 団体情報).

Run it against an emulator: ``lgwan-sim serve directory --endpoints OUT/endpoints.json``
(or ``python services/directory/service.py OUT/endpoints.json [SITE]``). A request body is a
msgpack map: ``{"id": "mun-03-201"}`` or ``{"q": "盛岡"}`` (a name, Japanese or English, or
part of one) looks up local bodies; a simulated local body's request (``{"caller": ...}``)
looks up the caller itself. The answer is a msgpack map ``{"found": [records]}`` with at most
20 records of id, kind, name, name_ja and prefecture. Requests are read-only, so retries
are harmless.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path
from typing import Any

import msgpack

from lgwan_sim.backbone import Request, Service


@cache
def _directory() -> list[dict[str, Any]]:
    from lgwan_sim.network import build_national

    topo = build_national()
    return [
        {
            "id": s.id,
            "kind": str(s.kind),
            "name": s.name,
            "name_ja": s.name_ja or "",
            "prefecture": s.prefecture or "",
        }
        for s in (topo.sites[k] for k in sorted(topo.sites))
    ]


@cache
def _by_id() -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in _directory()}


def look_up(query: dict[str, Any]) -> list[dict[str, Any]]:
    """Records whose id is ``query["id"]`` (or the caller's), or whose name holds ``q``."""
    wanted = query.get("id") or query.get("caller")
    if isinstance(wanted, str):
        record = _by_id().get(wanted)
        return [record] if record is not None else []
    text = query.get("q")
    if not isinstance(text, str) or not text:
        return []
    low = text.lower()
    return [r for r in _directory() if low in r["name"].lower() or text in r["name_ja"]][:20]


def handle(request: Request) -> bytes:
    try:
        query = msgpack.unpackb(request.body) if request.body else {}
    except (ValueError, msgpack.UnpackException):
        query = {}
    if not isinstance(query, dict):
        query = {}
    return msgpack.packb({"found": look_up(query)})


def make(endpoints: str | Path, site: str) -> Service:
    _by_id()  # load before registering: the first request must not wait for it
    return Service(endpoints, site, {"directory": handle})


if __name__ == "__main__":
    service = make(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "asp-jlis-west")
    try:
        service.serve()
    finally:
        service.close()
