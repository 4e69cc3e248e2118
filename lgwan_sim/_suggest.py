"""Close matches for an unknown name: ``did you mean 'pn-03'?`` in a one-line error."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["close_matches", "did_you_mean"]


def close_matches(word: str, choices: Iterable[str], *, n: int = 3) -> list[str]:
    """Up to ``n`` of ``choices`` closest to ``word`` (difflib's ratio, at least 0.6),
    closest first; compared without regard to case, so ``PN-03`` finds ``pn-03``."""
    by_folded: dict[str, str] = {}
    for choice in sorted(set(choices)):
        by_folded.setdefault(choice.casefold(), choice)
    hits = difflib.get_close_matches(word.casefold(), list(by_folded), n=n, cutoff=0.6)
    return [by_folded[h] for h in hits]


def did_you_mean(word: str, choices: Iterable[str], *, n: int = 3) -> str:
    """``did you mean 'pn-03' or 'pn-08'?``, or ``""`` when nothing is close."""
    hits = close_matches(word, choices, n=n)
    if not hits:
        return ""
    quoted = [repr(h) for h in hits]
    text = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f"did you mean {text}?"
