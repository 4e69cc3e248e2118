"""Where the bundled data folders are: inside the wheel, or at the top of a source checkout."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from lgwan_sim.errors import LgwanSimError

DataKind = Literal["topology", "services", "pki", "scenarios"]

_PKG = Path(__file__).resolve().parent


def bundled_dir(kind: DataKind) -> Path:
    """Return the folder of bundled ``kind`` data (``topology``, ``services``, ...).

    An installed wheel carries the folders under ``lgwan_sim/_bundled``; a source checkout
    (or an editable install) has them beside the package.
    """
    for candidate in (_PKG / "_bundled" / kind, _PKG.parent / kind):
        if candidate.is_dir():
            return candidate
    raise LgwanSimError(f"bundled data folder {kind!r} is missing from this installation")
