"""The Python examples of docs/engine.md and docs/scenarios.md run as written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _python_blocks(doc: str, section: str | None = None) -> list[str]:
    text = (DOCS / doc).read_text(encoding="utf-8")
    if section is not None:
        start = text.index(f"\n## {section}\n")
        end = text.find("\n## ", start + 1)
        text = text[start : end if end != -1 else len(text)]
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def _run(block: str, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__doc_example__"}
    exec(compile(block, name, "exec"), namespace)  # the doc's own example
    return namespace


def test_the_engine_example_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (block,) = _python_blocks("engine.md")[:1]
    ns = _run(block, "docs/engine.md", tmp_path, monkeypatch)
    stats = ns["result"].services["resident-identity"]
    assert stats.offered > 0
    assert stats.delivered > 0
    offered, delivered, p99 = capsys.readouterr().out.split()
    assert (int(offered), int(delivered)) == (stats.offered, stats.delivered)
    assert float(p99) > 0


def test_the_scenario_api_example_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (block,) = _python_blocks("scenarios.md", "From Python")
    ns = _run(block, "docs/scenarios.md", tmp_path, monkeypatch)
    summary = json.loads((tmp_path / "runs" / "zoom-python" / "summary.json").read_text())
    assert summary["totals"]["offered"] == ns["totals"].offered > 0
    assert ns["scenario"].service("directory").multiplier == 2.0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == "packet-zoom ['directory', 'mail-relay'] 3"
