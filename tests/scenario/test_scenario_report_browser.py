"""report.html renders in headless Chromium with all its plots.

Skipped without Chromium, except where ``LGWAN_SIM_BROWSER_REQUIRED`` is set (CI installs
the browser and sets it, so a missing browser fails there instead of passing unseen).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.scenario.support import SMALL

CHROMIUM = next(
    (
        found
        for name in ("chromium", "chromium-browser", "google-chrome")
        if (found := shutil.which(name))
    ),
    None,
)

REQUIRED = bool(os.environ.get("LGWAN_SIM_BROWSER_REQUIRED"))

pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not REQUIRED, reason="no chromium binary on PATH"
)


def test_a_browser_is_there_where_one_is_required() -> None:
    assert CHROMIUM is not None or not REQUIRED, "LGWAN_SIM_BROWSER_REQUIRED but no chromium"


# Appended to a copy of the report: counts the images the browser decoded.
_PROBE = """
<script>
window.addEventListener("load", () => {
  const imgs = Array.from(document.images);
  const ok = imgs.filter((i) => i.complete && i.naturalWidth > 0).length;
  document.body.setAttribute("data-images-loaded", ok + "/" + imgs.length);
});
</script>
"""


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_report_renders_in_headless_chromium_with_its_five_plots(cli, tmp_path: Path) -> None:
    scenario = tmp_path / "small.yaml"
    scenario.write_text(SMALL, encoding="utf-8")
    out = tmp_path / "run"
    assert cli("run", scenario, "--out", out).code == 0
    probe = tmp_path / "probe.html"
    probe.write_text((out / "report.html").read_text(encoding="utf-8") + _PROBE, encoding="utf-8")
    dom = _chromium("--virtual-time-budget=5000", "--dump-dom", probe.as_uri()).stdout
    assert 'data-images-loaded="5/5"' in dom
    assert "<h1>small</h1>" in dom

    shot = tmp_path / "report.png"
    _chromium(
        "--hide-scrollbars",
        "--window-size=1200,2400",
        f"--screenshot={shot}",
        (out / "report.html").as_uri(),
    )
    import matplotlib.image as mpimg
    import numpy as np

    pixels = mpimg.imread(shot)
    assert pixels.shape[:2] == (2400, 1200)
    # a blank or error page is nearly one colour; the report has tables, lines and a map
    assert len(np.unique(pixels.reshape(-1, pixels.shape[2]), axis=0)) > 500
