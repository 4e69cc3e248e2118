"""The package as users get it: a public surface kept honest, and a wheel that works alone."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import venv
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_runs_outside_the_repository(tmp_path: Path) -> None:
    """Build a wheel, install it with no access to the source tree, run the CLI elsewhere."""
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(dist),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(dist.glob("lgwan_sim-*.whl"))
    env_dir = tmp_path / "venv"
    # Dependencies come from this interpreter's site-packages (no download needed); the
    # package itself only from the wheel, which the venv's own site-packages put first.
    # `system_site_packages=True` would not do: from inside a virtual environment it gives
    # the *base* interpreter's site-packages, which need not hold the dependencies at all.
    # A .pth file naming this interpreter's site directories appends them to the venv's path.
    venv.create(env_dir, with_pip=False)
    py = env_dir / "bin" / "python"
    venv_site = subprocess.run(
        [str(py), "-I", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    dirs = [*site.getsitepackages()]
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    (Path(venv_site) / "_running_interpreter.pth").write_text(
        "".join(f"{d}\n" for d in dirs if Path(d).is_dir()), encoding="utf-8"
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(py),
            "install",
            "-q",
            "--no-deps",
            # The venv sees this interpreter's site-packages, where CI has already installed
            # the same version from the source tree; without this pip would call the wheel
            # "already satisfied" and install nothing into the venv.
            "--ignore-installed",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    where = subprocess.run(
        [str(py), "-I", "-c", "import lgwan_sim; print(lgwan_sim.__file__)"],
        cwd=outside,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert where.startswith(str(env_dir)), where  # the wheel's copy, not the source tree
    # The dependencies are the ones this interpreter imports, whether it is a system
    # interpreter or itself a virtual environment (whose base may have other versions or none).
    dep = subprocess.run(
        [str(py), "-I", "-c", "import click; print(click.__file__)"],
        cwd=outside,
        capture_output=True,
        text=True,
    )
    assert dep.returncode == 0, dep.stderr
    assert dep.stdout.strip() == click.__file__
    assert (Path(where).parent / "_bundled" / "topology" / "national.yaml").is_file()
    result = subprocess.run(
        [str(env_dir / "bin" / "lgwan-sim"), "topology", "summary", "--json"],
        cwd=outside,
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert result.returncode == 0, result.stderr
    assert '"municipality": 1741' in result.stdout
