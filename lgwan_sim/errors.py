"""The exception tree of lgwan-sim.

::

    LgwanSimError
     ├── InputError (ValueError)          bad user input: a file, field and value
     │    ├── TopologyError               a topology or roster file is malformed
     │    └── ScenarioError               a scenario file is malformed
     │         └── SettingError           a value set at a scenario path is refused
     ├── UnknownSiteError (KeyError)      a site id that the topology does not have
     ├── NoRouteError                     no path between two sites
     ├── EngineError                      the simulation cannot go on (e.g. sustained overload)
     │    └── AccountingError             a run's exchanges do not add up (an engine defect)
     └── PkiError                         the certificate authority refused or failed
          └── VerificationError           a certificate, CRL or message did not verify

The command line maps every ``LgwanSimError`` to one line on stderr and exit code 2.
Errors name the library's own fields (``out``, ``services.eltax.multiplier``), never a
command-line option; the command line puts its option in their place
(:meth:`InputError.naming`) when the value came from one.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path
from typing import Self

__all__ = [
    "AccountingError",
    "EngineError",
    "InputError",
    "LgwanSimError",
    "LgwanSimWarning",
    "NoRouteError",
    "PkiError",
    "ScenarioError",
    "SettingError",
    "TopologyError",
    "UnknownSiteError",
    "VerificationError",
]


class LgwanSimError(Exception):
    """Root of every error that lgwan-sim raises on purpose."""


class LgwanSimWarning(UserWarning):
    """Root of lgwan-sim's warnings: input that works but is probably not what was meant.

    The command line prints each as one ``lgwan-sim: warning: ...`` line.
    """


class InputError(LgwanSimError, ValueError):
    """User input is wrong. The message names the file, the line or field, and the value.

    Parameters
    ----------
    message:
        What is wrong, e.g. ``"capacity_bps must be > 0"``.
    file:
        The file the input came from, if any.
    line:
        1-based line number in ``file``, if known.
    field:
        The field (column, key or dotted path) that holds the bad value.
    value:
        The bad value as given.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
        value: object = None,
    ) -> None:
        self.reason = message
        self.file = None if file is None else str(file)
        self.line = line
        self.field = field
        self.value = value
        where = ""
        if self.file is not None:
            where = self.file if line is None else f"{self.file}:{line}"
        parts = [p for p in (where, field) if p]
        prefix = ": ".join(parts)
        text = message if value is None else f"{message} (got {value!r})"
        super().__init__(f"{prefix}: {text}" if prefix else text)

    def naming(self, field: str) -> Self:
        """The same error with ``field`` in place of its own (e.g. an option for ``out``)."""
        named = copy.copy(self)
        InputError.__init__(
            named, self.reason, file=self.file, line=self.line, field=field, value=self.value
        )
        return named


class TopologyError(InputError):
    """A topology, roster or site/link definition is malformed."""


class ScenarioError(InputError):
    """A scenario file is malformed or refers to something that does not exist."""


class SettingError(ScenarioError):
    """Values set at scenario paths (``services.eltax.multiplier=x``) that the scenario refuses.

    ``field`` is the settings to blame as ``path=value`` (several: comma-separated), and
    ``settings`` holds them as ``(path, value)`` pairs.
    """

    def __init__(
        self,
        message: str,
        *,
        settings: tuple[tuple[str, object], ...] = (),
        file: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
        value: object = None,
    ) -> None:
        super().__init__(message, file=file, line=line, field=field, value=value)
        self.settings = settings


class UnknownSiteError(LgwanSimError, KeyError):
    """A site id (or a campus, a prefecture node: ``what``) that the topology does not contain."""

    def __init__(
        self, site_id: str, *, hint: str = "", what: str = "site", choices: Iterable[str] = ()
    ) -> None:
        from lgwan_sim._suggest import did_you_mean

        msg = f"unknown {what} {site_id!r}"
        near = did_you_mean(site_id, choices)
        hint = "; ".join(h for h in (hint, near) if h)
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)
        self.site_id = site_id

    def __str__(self) -> str:  # KeyError would quote the message again
        return str(self.args[0])


class NoRouteError(LgwanSimError):
    """There is no usable path between two sites."""

    def __init__(self, src: str, dst: str) -> None:
        super().__init__(f"no route from {src!r} to {dst!r}")
        self.src = src
        self.dst = dst


class EngineError(LgwanSimError):
    """The engine cannot continue, e.g. flows pile up under sustained overload."""


class AccountingError(EngineError):
    """A run's exchanges do not add up: offered != delivered + dropped + in flight.

    In flight is counted from what the engine still holds, independently of the counters,
    so this means the engine lost track of some exchanges: a defect, not bad input.
    """


class PkiError(LgwanSimError):
    """The certificate authority refused a request or found its store inconsistent."""


class VerificationError(PkiError):
    """A certificate path, CRL or signed message failed verification; ``reason`` says why."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
