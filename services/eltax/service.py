"""Reference implementation of eLTAX filing (地方税ポータル): a filing gets a receipt.

Run it against an emulator: ``lgwan-sim serve eltax --endpoints OUT/endpoints.json``. A
request body is a msgpack map, for example ``{"tax": "individual-inhabitant", "year": 2026,
"amount": 120000}``; the answer is ``{"receipt": "<hex>", "accepted": true}``, or
``{"accepted": false, "error": "..."}`` for a filing without a ``tax``. The receipt is
derived from the filer and the filing, so a retried filing gets the same receipt: filing is
idempotent, as a service behind a lossy WAN must be (the emulator's clients retry).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

import msgpack

from lgwan_sim.backbone import Request, Service

RECEIPTS: dict[str, dict[str, Any]] = {}


def file_return(src: str, filing: dict[str, Any]) -> dict[str, Any]:
    tax = filing.get("tax") or filing.get("service")
    if not isinstance(tax, str) or not tax:
        return {"accepted": False, "error": "a filing names its tax"}
    digest = hashlib.sha256(src.encode() + b"\0" + msgpack.packb(filing, use_bin_type=True))
    receipt = digest.hexdigest()[:32]
    first = receipt not in RECEIPTS
    RECEIPTS.setdefault(receipt, {"src": src, "filing": filing})
    return {"receipt": receipt, "accepted": True, "first": first}


def handle(request: Request) -> bytes:
    try:
        filing = msgpack.unpackb(request.body) if request.body else {}
    except (ValueError, msgpack.UnpackException):
        filing = {}
    if not isinstance(filing, dict):
        filing = {}
    return msgpack.packb(file_return(request.src, filing))


def make(endpoints: str | Path, site: str) -> Service:
    return Service(endpoints, site, {"eltax": handle})


if __name__ == "__main__":
    service = make(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "asp-eltax-east")
    try:
        service.serve()
    finally:
        service.close()
