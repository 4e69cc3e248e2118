"""A Japanese font for every plot and map: IPAex Gothic, from the ``matplotlib-fontja`` package.

matplotlib's default font (DejaVu Sans) has no kana or kanji, so Japanese site names would be
drawn as empty boxes, with a warning per missing glyph. The package ships IPAex Gothic
(IPA Font License); its file is registered with matplotlib's font manager and appended to
the font families as a fallback, so Latin text keeps the default font and every Japanese
character is drawn from IPAex Gothic. The package's own module is not imported: importing it
replaces the global font family, which is more than a library should change.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

from lgwan_sim.errors import LgwanSimError

__all__ = ["JAPANESE_FAMILY", "use_japanese_font"]

#: The family name of the bundled font.
JAPANESE_FAMILY = "IPAexGothic"


@cache
def _register() -> None:
    from matplotlib import font_manager

    spec = importlib.util.find_spec("matplotlib_fontja")
    if spec is None or not spec.submodule_search_locations:
        raise LgwanSimError(
            "the matplotlib-fontja package (a dependency of lgwan-sim) is not installed; "
            "reinstall lgwan-sim"
        )
    font = Path(next(iter(spec.submodule_search_locations))) / "fonts" / "ipaexg.ttf"
    font_manager.fontManager.addfont(str(font))


def use_japanese_font() -> None:
    """Make Japanese text drawable: IPAex Gothic after the configured font families.

    Idempotent; called before anything is drawn. A family list the user set keeps its order.
    """
    import matplotlib

    _register()
    families = list(matplotlib.rcParams["font.family"])
    if JAPANESE_FAMILY not in families:
        matplotlib.rcParams["font.family"] = [*families, JAPANESE_FAMILY]
