"""Helpers shared by every test package."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["CliResult"]


class CliResult(NamedTuple):
    """What one in-process ``lgwan-sim`` call gave: ``code, out, err = cli(...)``."""

    code: int
    out: str
    err: str
