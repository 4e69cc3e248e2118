"""docs/pki.md's console examples, run in order in a fresh folder, print what the doc says.

Each ``$ `` line of a ``console`` block of the named sections is one command: ``lgwan-sim``
runs in-process, anything else (``openssl req``, ``echo``) in a shell. The lines after a
command are what it prints (stdout, then stderr); a line ``…`` stands for any number of
lines. A hexadecimal number of 12 digits or more (a serial, a batch id) differs from run
to run: its first appearance in the output matches any such number, which then stands in
for it in later commands and outputs. The exit code must be 0, or 1 for a ``REJECTED:``
line, or 2 for an ``lgwan-sim: error:`` line.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lgwan_sim.cli import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "pki.md"
HEX = re.compile(r"\b[0-9a-f]{12,}\b")
ANY_LINES = "…"


@dataclass
class Step:
    command: str
    expected: list[str] = field(default_factory=list)


def _section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _steps(section: str) -> list[Step]:
    steps: list[Step] = []
    for block in re.findall(r"```console\n(.*?)```", section, flags=re.DOTALL):
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append(Step(line[2:]))
            elif line.strip():
                assert steps, f"output before any command: {line!r}"
                steps[-1].expected.append(line.rstrip())
    return steps


def _substitute(text: str, bound: dict[str, str]) -> str:
    return HEX.sub(lambda m: bound.get(m.group(), m.group()), text)


def _match(step: Step, actual: list[str], bound: dict[str, str]) -> None:
    """Check ``actual`` against the doc's lines; bind the doc's new hex numbers."""
    local: dict[str, str] = {}
    parts = []
    for line in step.expected:
        if line == ANY_LINES:
            parts.append(r"(?:[^\n]*\n)*?")
            continue
        part, pos = "", 0
        for m in HEX.finditer(line):
            part += re.escape(line[pos : m.start()])
            token = m.group()
            if token in bound:
                part += re.escape(bound[token])
            elif token in local:
                part += f"(?P={local[token]})"
            else:
                local[token] = f"h{len(local)}"
                part += f"(?P<{local[token]}>[0-9a-f]{{12,}})"
            pos = m.end()
        parts.append(part + re.escape(line[pos:]) + r"\n")
    text = "".join(f"{line}\n" for line in actual)
    found = re.fullmatch("".join(parts), text)
    assert found, (
        f"$ {step.command}\n--- the doc says:\n"
        + "\n".join(step.expected)
        + f"\n--- it printed:\n{text}"
    )
    for token, name in local.items():
        bound[token] = found.group(name)


def _expected_code(step: Step) -> int:
    if any(line.startswith("REJECTED: ") for line in step.expected):
        return 1
    if any(line.startswith("lgwan-sim: error: ") for line in step.expected):
        return 2
    return 0


def _run_steps(steps: list[Step], folder: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(folder)
    monkeypatch.delenv("LGWAN_SIM_PKI_HOME", raising=False)
    monkeypatch.delenv("LGWAN_SIM_PKI_PASSPHRASE_FILE", raising=False)
    bound: dict[str, str] = {}
    for step in steps:
        command = _substitute(step.command, bound)
        args = shlex.split(command, comments=True)
        if args[0] == "lgwan-sim":
            capsys.readouterr()
            code = main(args[1:])
            captured = capsys.readouterr()
            output = captured.out + captured.err
        else:
            done = subprocess.run(
                command, shell=True, cwd=folder, capture_output=True, text=True, check=False
            )
            code, output = done.returncode, done.stdout
        assert code == _expected_code(step), f"$ {command}\nexit code {code}\n{output}"
        _match(step, [line.rstrip() for line in output.splitlines()], bound)


def test_the_command_line_examples_run_in_order_and_print_what_the_doc_says(
    tmp_path, capsys, monkeypatch
):
    if shutil.which("openssl") is None:
        pytest.skip("the examples make a CSR with the openssl command")
    steps = _steps(_section(DOC.read_text(encoding="utf-8"), "Command line"))
    commands = [shlex.split(s.command, comments=True) for s in steps]
    subcommands = {c[4] for c in commands if c[0] == "lgwan-sim"}
    # the sequence covers the commands of the CLI, and every example gives its moment
    assert subcommands >= {"init", "issue", "crl", "verify", "sign", "revoke", "renew"}
    assert subcommands >= {"export", "status", "audit"}
    for step in steps:  # runnable as written: no serial number that a fresh run lacks
        assert not HEX.search(step.command), step.command
    for c in commands:
        if c[0] == "lgwan-sim" and c[4] not in {"audit"}:
            assert "--at" in c, f"an example without --at runs at today's date: {c}"
    _run_steps(steps, tmp_path, capsys, monkeypatch)
    assert (tmp_path / "dc-hokkaido.pem").read_bytes().startswith(b"-----BEGIN CERTIFICATE")
    assert (tmp_path / "audit.jsonl").stat().st_size > 0


@pytest.mark.slow
def test_the_migration_example_prints_what_the_doc_says(tmp_path, capsys, monkeypatch):
    steps = _steps(_section(DOC.read_text(encoding="utf-8"), "The migration"))
    assert [s.command for s in steps] == ["lgwan-sim pki --home mig migrate --sites-limit 60"]
    _run_steps(steps, tmp_path, capsys, monkeypatch)
