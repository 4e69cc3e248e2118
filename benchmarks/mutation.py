"""A sampled mutation run: how many small changes to a module do its tests catch?

Usage::

    python benchmarks/mutation.py                                  # engine modules, 40 each
    python benchmarks/mutation.py --module lgwan_sim/engine/_metrics.py --sample 0
    python benchmarks/mutation.py --sample 20 --seed 3 --json runs/mutation/m.json
    python benchmarks/mutation.py --module _solver --list           # the mutants, no run
    python benchmarks/mutation.py --tests "tests/engine -m 'not slow'" --timeout 120

Each mutant is one small change to a module's syntax tree (the operators are listed in
``OPERATORS``): a comparison made strict or loose or negated, ``and``/``or`` swapped, a
``not`` removed, a number changed (0 and 1 swapped, an integer plus one, a float doubled, 0.0
made 1.0), ``True``/``False`` swapped, ``+``/``-`` and ``*``/``/`` swapped, an early
``return None`` at a function's start, an ``if`` condition made ``True`` or ``False``, an
augmented assignment (``x += ...``) or a call statement deleted. Decorators, annotations,
f-strings, logging calls and lines marked ``# pragma: no mutate`` are left alone. A mutant
whose tree is the module's own (``0.0 * 2``) is a *no-op* and is never run.

The mutated module is written into a private copy of the repository (one per job; the
source tree is never touched), then the tests run on it with ``-x``; a test failure, an
error or a timeout kills the mutant, a green run lets it survive. Only the tests that call
the function holding the mutation are run: one traced run of the whole selection first
records which test calls which function (fixtures' calls count for every test that uses
them), and a mutation outside any function (module level, class bodies, defaults) runs
the whole selection. That traced run is also the baseline: it must pass, and a test that
fails or is skipped in it is left out. Tests run fastest first, in a child forked from a
process that has already imported pytest and the third-party libraries, so a mutant costs
its tests and little more.

The sample is drawn per module from its runnable mutants with ``random.Random(f"{seed}:
{module}")``; with the same sources, tests and seed the run picks and judges the same
mutants. The report is a per-module table (mutants, killed, survived, kill %), every
survivor as ``file:line: original -> mutated``, and a JSON file with every mutant.
Survivors judged equivalent by hand (they change no behaviour) are listed with the reason
in ``benchmarks/mutation_equivalent.json`` and are left out of the kill rate.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import dataclasses
import hashlib
import json
import os
import random
import shlex
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODULES = "lgwan_sim/engine/*.py"
#: The engine's tests and the scenario tests that run it (the baseline picks per function
#: among them), without the slow ones: the statistical validations (queueing theory, the
#: national day) and test_run.py's national runs in every fidelity cost minutes for each
#: mutant that survives in the code they run; and without the two tests that run the
#: command line in a subprocess only, which the instrumented baseline cannot see.
DEFAULT_TESTS = (
    "tests/engine tests/scenario/test_scenario_run.py tests/test_run_outputs.py "
    "--ignore tests/engine/test_queueing.py --ignore tests/engine/test_national.py "
    "--ignore tests/engine/test_run.py "
    "--deselect tests/test_run_outputs.py::test_a_bundled_study_run_has_a_clean_stderr "
    "--deselect tests/test_run_outputs.py::test_a_run_that_delivers_nothing_has_a_clean_stderr"
)
EQUIVALENT_FILE = ROOT / "benchmarks" / "mutation_equivalent.json"
#: Entries copied into each job's private tree (everything a test may read).
SKIP_COPY = {".git", "runs", ".hypothesis", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
#: Third-party modules imported once in the parent, before any mutant is forked.
PRELOAD = (
    "pytest",
    "_pytest.assertion.rewrite",
    "numpy",
    "simpy",
    "networkx",
    "yaml",
    "click",
    "rich",
    "hypothesis",
    "hypothesis.strategies",
    "cryptography.x509",
    "click.testing",
    "unittest.mock",
    "matplotlib",
    "matplotlib.pyplot",
)

KILLED = "killed"
TIMEOUT = "timeout"
SURVIVED = "survived"
UNCOVERED = "uncovered"  # survived: no selected test calls the function
NOOP = "no-op"
EQUIVALENT = "equivalent"
ERROR = "error"

# -- mutants ----------------------------------------------------------------------------------

_CMP_SWAP: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_BIN_SWAP: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
}
OPERATORS = {
    "compare": "< <= > >= == != is in: made strict/loose or negated",
    "boolean": "and <-> or",
    "not": "not x -> x",
    "constant": "0 <-> 1, n -> n+1, x.y -> 2*x.y (0.0 -> 1.0), True <-> False",
    "arithmetic": "+ <-> -, * <-> / (also in x += ...)",
    "return": "return None at a function's start",
    "if-true": "if condition -> True",
    "if-false": "if condition -> False",
    "delete": "x += ... or a call statement -> pass",
}
_LOGGERS = {"log", "logger", "logging"}


@dataclasses.dataclass(frozen=True, slots=True)
class Mutant:
    """One change: replace source bytes ``[start, end)`` of ``module`` with ``text``."""

    module: str  # path relative to the repository, with "/"
    index: int  # position in the module's enumeration
    line: int
    operator: str
    original: str  # the changed node before, as code
    mutated: str  # and after
    start: int
    end: int
    text: str
    scope: tuple[str, int] | None  # (function name, first line) holding it; None: module level
    context: str = ""  # the source line, stripped

    @property
    def ident(self) -> str:
        return f"{self.module}#{self.index}"

    def apply(self, source: bytes) -> bytes:
        return source[: self.start] + self.text.encode() + source[self.end :]


def _one_line(code: str, limit: int = 90) -> str:
    flat = " ".join(code.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


class _Enumerator:
    """Walks a module in source order and lists its mutants."""

    def __init__(self, module: str, source: bytes) -> None:
        self.module = module
        self.source = source
        self.tree = ast.parse(source)
        self.lines = source.split(b"\n")
        self.offsets = [0]
        for line in self.lines:
            self.offsets.append(self.offsets[-1] + len(line) + 1)
        self.found: list[Mutant] = []
        self.scope: list[tuple[str, int]] = []

    # positions (ast columns are UTF-8 byte offsets)
    def _pos(self, line: int, col: int) -> int:
        return self.offsets[line - 1] + col

    def _span(self, node: ast.AST) -> tuple[int, int]:
        return (
            self._pos(node.lineno, node.col_offset),  # type: ignore[attr-defined]
            self._pos(node.end_lineno, node.end_col_offset),  # type: ignore[attr-defined]
        )

    def _segment(self, node: ast.AST) -> str:
        a, b = self._span(node)
        return self.source[a:b].decode()

    def _line(self, lineno: int) -> str:
        return self.lines[lineno - 1].decode(errors="replace").strip()

    def _skipped_line(self, node: ast.AST) -> bool:
        line = self.lines[node.lineno - 1]  # type: ignore[attr-defined]
        return b"pragma: no mutate" in line

    def _add(self, node: ast.AST, operator: str, new: ast.AST | str, *, paren: bool = True) -> None:
        start, end = self._span(node)
        if isinstance(new, str):
            text = shown = new
        else:
            shown = ast.unparse(new)
            text = f"({shown})" if paren else shown
        self.found.append(
            Mutant(
                module=self.module,
                index=len(self.found),
                line=node.lineno,  # type: ignore[attr-defined]
                operator=operator,
                original=_one_line(self._segment(node)),
                mutated=_one_line(shown),
                start=start,
                end=end,
                text=text,
                scope=self.scope[-1] if self.scope else None,
                context=self._line(node.lineno),  # type: ignore[attr-defined]
            )
        )

    # the walk
    def run(self) -> list[Mutant]:
        self._body(self.tree.body)
        return self.found

    def _body(self, stmts: Sequence[ast.stmt]) -> None:
        for stmt in stmts:
            self._stmt(stmt)

    def _stmt(self, node: ast.stmt) -> None:
        if self._skipped_line(node):
            return
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            self._arguments(node.args)
            self.scope.append((node.name, first))
            self._early_return(node)
            self._body(node.body)
            self.scope.pop()
            return
        if isinstance(node, ast.ClassDef):
            for part in (*node.bases, *node.keywords):
                self._child(part)
            self._body(node.body)
            return
        if isinstance(node, ast.If):
            if _is_type_checking(node.test):
                return
            if not isinstance(node.test, ast.Constant):
                self._add(node.test, "if-true", "True")
                self._add(node.test, "if-false", "False")
            self._expr(node.test)
            self._body(node.body)
            self._body(node.orelse)
            return
        if isinstance(node, ast.AugAssign):
            self._expr(node.target, store=True)
            swap = _BIN_SWAP.get(type(node.op))
            if swap is not None and not _stringy(node.value):
                new = copy.copy(node)
                new.op = swap()
                self._add(node, "arithmetic", ast.unparse(new))
            self._add(node, "delete", "pass")
            self._expr(node.value)
            return
        if isinstance(node, ast.Expr):
            value = node.value
            if isinstance(value, ast.Constant):
                return  # a docstring
            if isinstance(value, ast.Call) and _is_logging(value):
                return
            if isinstance(value, ast.Call):
                self._add(node, "delete", "pass")
            self._expr(value)
            return
        if isinstance(node, ast.AnnAssign):
            self._expr(node.target, store=True)
            if node.value is not None:
                self._expr(node.value)
            return
        if isinstance(node, ast.Assign) and _assigns_dunder_all(node):
            return
        for _name, value in ast.iter_fields(node):
            if isinstance(value, list):
                for item in value:
                    self._child(item)
            else:
                self._child(value)

    def _child(self, value: object) -> None:
        if isinstance(value, ast.stmt):
            self._stmt(value)
        elif isinstance(value, ast.expr):
            self._expr(value)
        elif isinstance(value, ast.excepthandler | ast.withitem | ast.match_case):
            for _name, sub in ast.iter_fields(value):
                if isinstance(sub, list):
                    for item in sub:
                        self._child(item)
                else:
                    self._child(sub)
        elif isinstance(value, ast.comprehension):
            self._expr(value.target, store=True)
            self._expr(value.iter)
            for cond in value.ifs:
                self._expr(cond)
        elif isinstance(value, ast.keyword):
            self._expr(value.value)

    def _arguments(self, args: ast.arguments) -> None:
        for default in (*args.defaults, *(d for d in args.kw_defaults if d is not None)):
            self._expr(default)

    def _early_return(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # after the docstring
        if not body:
            return
        first = body[0]
        if isinstance(first, ast.Return | ast.Pass | ast.Raise):
            return
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            return  # ``...``
        pos = self._pos(first.lineno, first.col_offset)
        if first.lineno == node.lineno:  # ``def f(): x = 1``
            text = "return None; "
        else:
            text = "return None\n" + " " * first.col_offset
        self.found.append(
            Mutant(
                module=self.module,
                index=len(self.found),
                line=first.lineno,
                operator="return",
                original=_one_line(self._segment(first).split("\n")[0]),
                mutated="return None",
                start=pos,
                end=pos,
                text=text,
                scope=self.scope[-1],
                context=self._line(first.lineno),
            )
        )

    def _expr(self, node: ast.expr, *, store: bool = False) -> None:
        if isinstance(node, ast.JoinedStr):
            return
        if isinstance(node, ast.Lambda):
            self._arguments(node.args)
            self.scope.append(("<lambda>", node.lineno))
            self._expr(node.body)
            self.scope.pop()
            return
        if isinstance(node, ast.Call) and _is_logging(node):
            return
        if not store:
            self._mutate_expr(node)
        for _name, value in ast.iter_fields(node):
            if isinstance(value, list):
                for item in value:
                    self._child(item)
            else:
                self._child(value)

    def _mutate_expr(self, node: ast.expr) -> None:
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                cmp_swap = _CMP_SWAP.get(type(op))
                if cmp_swap is not None:
                    new_cmp = copy.copy(node)
                    new_cmp.ops = [*node.ops[:i], cmp_swap(), *node.ops[i + 1 :]]
                    self._add(node, "compare", new_cmp)
        elif isinstance(node, ast.BoolOp):
            new_bool = copy.copy(node)
            new_bool.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
            self._add(node, "boolean", new_bool)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            self._add(node, "not", f"({self._segment(node.operand)})")
        elif isinstance(node, ast.BinOp):
            bin_swap = _BIN_SWAP.get(type(node.op))
            if bin_swap is not None and not (_stringy(node.left) or _stringy(node.right)):
                new_bin = copy.copy(node)
                new_bin.op = bin_swap()
                self._add(node, "arithmetic", new_bin)
        elif isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool):
                self._add(node, "constant", ast.Constant(not value), paren=False)
            elif isinstance(value, int):
                new_int = 1 if value == 0 else 0 if value == 1 else value + 1
                self._add(node, "constant", ast.Constant(new_int), paren=False)
            elif isinstance(value, float):
                new_float = 1.0 if value == 0.0 else value * 2
                self._add(node, "constant", ast.Constant(new_float), paren=False)


def _stringy(node: ast.expr) -> bool:
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str | bytes)
    )


def _is_logging(call: ast.Call) -> bool:
    func = call.func
    return (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id in _LOGGERS
    )


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _assigns_dunder_all(node: ast.Assign) -> bool:
    return any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)


def _normal_form(source: bytes) -> str:
    return ast.dump(ast.parse(source))


def enumerate_mutants(module: str, source: bytes) -> list[Mutant]:
    """The module's mutants in source order."""
    return _Enumerator(module, source).run()


def is_noop(mutant: Mutant, source: bytes) -> bool:
    """True when the mutated module has the same syntax tree as the original."""
    try:
        return _normal_form(mutant.apply(source)) == _normal_form(source)
    except SyntaxError as exc:  # a bug of the enumerator: say so, never run it
        raise RuntimeError(f"{mutant.ident} line {mutant.line} does not parse: {exc}") from exc


def sample(mutants: list[Mutant], module: str, n: int, seed: int) -> list[Mutant]:
    if n <= 0 or n >= len(mutants):
        return list(mutants)
    picked = random.Random(f"{seed}:{module}").sample(mutants, n)
    return sorted(picked, key=lambda m: m.index)


# -- the private trees ----------------------------------------------------------------------


def make_tree(into: Path) -> Path:
    """A copy of the repository at ``into/<name>`` with the siblings it reads beside it."""
    tree = into / ROOT.name
    shutil.copytree(
        ROOT,
        tree,
        ignore=lambda folder, names: [
            n for n in names if n in SKIP_COPY or n == "__pycache__" or n.endswith(".pyc")
        ],
        symlinks=True,
    )
    # the tests read the shared data beside the repository (tests/conftest.py: SHARED)
    shared = ROOT.parent / "shared"
    if shared.is_dir():
        (into / "shared").symlink_to(shared)
    return tree


# -- running pytest in a forked child ---------------------------------------------------------


def _preload() -> None:
    os.environ.setdefault("MPLBACKEND", "Agg")
    for name in PRELOAD:
        with contextlib.suppress(Exception):
            __import__(name)


_writes = 0


def write_module(path: Path, data: bytes) -> None:
    """Write a module with an mtime of its own, so that no cached bytecode is taken for it.

    Bytecode caches are checked by the source's size and whole-second mtime: a mutant of
    the same size written within the second would otherwise run the previous mutant.
    """
    global _writes
    _writes += 1
    path.write_bytes(data)
    stamp = 1_000_000_000 + _writes
    os.utime(path, (stamp, stamp))


def _child_pytest(
    tree: Path, args: list[str], log: Path, plugins: list[object], pycache: Path
) -> int:
    """In a forked child: run pytest on ``tree`` and return its exit code.

    Bytecode (and pytest's rewritten test modules) is cached under ``pycache``, which the
    unchanged modules of the next mutant reuse.
    """
    os.setsid()
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.chdir(tree)
    sys.path.insert(0, str(tree))
    sys.dont_write_bytecode = False
    sys.pycache_prefix = str(pycache)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(tree), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    )
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(pycache)
    for plugin in plugins:
        start = getattr(plugin, "start", None)
        if start is not None:
            start()
    base = ["-p", "no:cacheprovider", "-p", "no:randomly", "--basetemp", str(log.parent / "tmp")]
    # hypothesis is a pytest plugin imported before pytest starts: its modules are not
    # rewritten, which pytest warns about (an error under ``filterwarnings = error``)
    base += ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
    return int(pytest.main([*base, *args], plugins=[_Derandomise(), *plugins]))


class _Derandomise:
    """Hypothesis derandomised and without its example database, so that the same mutant
    is judged the same way every time (registered once pytest has marked its plugins)."""

    def pytest_configure(self, config: Any) -> None:
        import hypothesis

        hypothesis.settings.register_profile(
            "mutation", database=None, derandomize=True, deadline=None, print_blob=False
        )
        hypothesis.settings.load_profile("mutation")


def fork_pytest(
    tree: Path, args: list[str], log: Path, plugins: Sequence[object] = (), *, pycache: Path
) -> int:
    """Fork a child that runs pytest; returns its pid."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 3
        try:
            code = _child_pytest(tree, args, log, list(plugins), pycache)
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return pid


def reap(pid: int, *, timeout_s: float | None) -> int | None:
    """Wait for ``pid``; kill its process group at the timeout and return None."""
    began = time.monotonic()
    delay = 0.002
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if timeout_s is not None and time.monotonic() - began > timeout_s:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        time.sleep(delay)
        delay = min(0.05, delay * 2)


PROBE = "__mutation_hit__"
_FALLBACK = f"""
try:
    {PROBE}
except NameError:
    def {PROBE}(key):
        pass
"""


def instrument(module: str, source: bytes, table: list[tuple[str, str, int]]) -> ast.Module:
    """``source`` with a probe call at the start of every function and lambda.

    Each probe reports the index in ``table`` of its ``(module, name, first line)``, the
    key the mutants' scopes use. The inserted nodes take the line of the code they precede,
    so tracebacks keep their line numbers. Outside a traced run (a test's subprocess) the
    probe is a no-op defined by the module itself.
    """
    tree = ast.parse(source)

    def probe(k: int, at: ast.AST) -> ast.Call:
        call = ast.Call(ast.Name(PROBE, ast.Load()), [ast.Constant(k)], [])
        return ast.copy_location(call, at)

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            visit(child)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            table.append((module, node.name, first))
            body = node.body
            at = (
                1
                if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                else 0
            )
            anchor = body[min(at, len(body) - 1)]
            body.insert(at, ast.copy_location(ast.Expr(probe(len(table) - 1, anchor)), anchor))
        elif isinstance(node, ast.Lambda):
            table.append((module, "<lambda>", node.lineno))
            pair = ast.Tuple([probe(len(table) - 1, node.body), node.body], ast.Load())
            node.body = ast.copy_location(
                ast.Subscript(ast.copy_location(pair, node.body), ast.Constant(1), ast.Load()),
                node.body,
            )

    visit(tree)
    head = 1 if tree.body and isinstance(tree.body[0], ast.Expr) else 0
    while head < len(tree.body) and _is_future(tree.body[head]):
        head += 1
    tree.body[head:head] = ast.parse(_FALLBACK).body
    return ast.fix_missing_locations(tree)


def _is_future(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"


def write_instrumented_bytecode(
    tree: Path, modules: list[str], pycache: Path
) -> list[tuple[str, str, int]]:
    """Cache instrumented bytecode for ``modules`` of ``tree`` under ``pycache``.

    The sources stay as they are; the bytecode cache, stamped with each source's mtime and
    size, is what the import system runs. Returns the probe table.
    """
    import importlib.util
    from importlib._bootstrap_external import _code_to_timestamp_pyc  # type: ignore[attr-defined]

    table: list[tuple[str, str, int]] = []
    before = sys.pycache_prefix
    sys.pycache_prefix = str(pycache)
    try:
        for module in modules:
            path = tree / module
            source = path.read_bytes()
            code = compile(instrument(module, source, table), str(path), "exec", dont_inherit=True)
            st = path.stat()
            target = Path(importlib.util.cache_from_source(str(path)))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(_code_to_timestamp_pyc(code, int(st.st_mtime), st.st_size))
    finally:
        sys.pycache_prefix = before
    return table


class CallMap:
    """A pytest plugin: which functions of the package each test calls, and its time."""

    def __init__(self, table: list[tuple[str, str, int]], out: Path) -> None:
        self.table = table
        self.out = out
        self.sink: set[int] = set()
        self.outside = self.sink
        self.fixture_calls: dict[str, set[int]] = {}
        self.fixture_s: dict[str, float] = {}
        self.tests: dict[str, dict[str, Any]] = {}

    def _hit(self, key: int) -> None:
        self.sink.add(key)

    def start(self) -> None:
        """Record from here on (called in the child, before pytest starts)."""
        import builtins

        setattr(builtins, PROBE, self._hit)

    # hooks
    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef: Any, request: Any) -> Iterator[Any]:
        outer, self.sink = self.sink, set()
        began = time.perf_counter()
        try:
            return (yield)
        finally:
            spent = time.perf_counter() - began
            name = fixturedef.argname
            self.fixture_calls.setdefault(name, set()).update(self.sink)
            self.fixture_s[name] = max(self.fixture_s.get(name, 0.0), spent)
            outer |= self.sink
            self.sink = outer

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: Any, nextitem: Any) -> Iterator[Any]:
        self.sink = set()
        self.tests[item.nodeid] = {"outcome": "passed", "fixtures": list(item.fixturenames)}
        began = time.perf_counter()
        result = yield
        entry = self.tests[item.nodeid]
        entry["s"] = time.perf_counter() - began
        calls = set(self.sink)
        for name in item.fixturenames:
            calls |= self.fixture_calls.get(name, set())
        entry["calls"] = [self.table[k] for k in sorted(calls)]
        self.sink = self.outside
        return result

    def pytest_runtest_logreport(self, report: Any) -> None:
        entry = self.tests.get(report.nodeid)
        if entry is None:
            return
        if report.failed:
            entry["outcome"] = "failed"
        elif report.skipped and entry["outcome"] == "passed":
            entry["outcome"] = "skipped"

    def pytest_sessionfinish(self, session: Any, exitstatus: int) -> None:
        data = {
            "tests": self.tests,
            "outside": [self.table[k] for k in sorted(self.outside)],
            "fixture_s": self.fixture_s,
            "exitstatus": int(exitstatus),
        }
        self.out.write_text(json.dumps(data))


@dataclasses.dataclass
class Selection:
    """The traced baseline: per test its time and calls; what runs for a mutant."""

    tests: dict[str, dict[str, Any]]
    outside: set[tuple[str, str, int]]
    fixture_s: dict[str, float]

    @classmethod
    def load(cls, path: Path) -> Selection:
        data = json.loads(path.read_text())
        tests = data["tests"]
        for entry in tests.values():
            entry["calls"] = {tuple(c) for c in entry.get("calls", ())}
        return cls(tests, {tuple(c) for c in data["outside"]}, data["fixture_s"])

    def usable(self) -> list[str]:
        return [n for n, e in self.tests.items() if e["outcome"] == "passed"]

    def for_mutant(self, mutant: Mutant) -> list[str]:
        usable = self.usable()
        if mutant.scope is None:
            chosen = [n for n in usable if self._touches_module(n, mutant.module)]
            if not chosen:  # imported by every test, even when none calls it
                chosen = usable
        else:
            key = (mutant.module, *mutant.scope)
            if key in self.outside:  # called while importing: every test depends on it
                chosen = usable
            else:
                chosen = [n for n in usable if key in self.tests[n]["calls"]]
        return sorted(chosen, key=lambda n: (self.tests[n]["s"], n))

    def _touches_module(self, nodeid: str, module: str) -> bool:
        return any(c[0] == module for c in self.tests[nodeid]["calls"])

    def estimate_s(self, nodeids: list[str]) -> float:
        total = sum(float(self.tests[n]["s"]) for n in nodeids)
        fixtures = {f for n in nodeids for f in self.tests[n]["fixtures"]}
        return total + sum(self.fixture_s.get(f, 0.0) for f in fixtures)


def _sources_hash(paths: Sequence[Path], extra: str) -> str:
    h = hashlib.sha256(extra.encode())
    for path in paths:
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def traced_baseline(work: Path, test_args: list[str], cache: Path | None) -> Selection:
    """Run the selection once on an instrumented copy (cached by the sources' hash).

    Every module of the package is instrumented, so one baseline serves any ``--module``.
    """
    package = sorted(p for p in ROOT.glob("lgwan_sim/**/*.py") if p.is_file())
    watched = package + sorted(p for p in ROOT.glob("tests/**/*.py") if p.is_file())
    key = _sources_hash(watched, json.dumps(test_args))
    modules = [str(p.relative_to(ROOT)).replace(os.sep, "/") for p in package]
    if cache is not None:
        cached = cache / f"baseline-{key}.json"
        if cached.is_file():
            print(f"baseline: cached {cached}", flush=True)
            return Selection.load(cached)
    out = work / "baseline.json"
    log = work / "baseline.log"
    mapped = make_tree(work / "map")
    pycache = work / "pycache-map"
    table = write_instrumented_bytecode(mapped, modules, pycache)
    began = time.perf_counter()
    print(f"baseline: instrumented run of {' '.join(test_args)} ...", flush=True)
    pid = fork_pytest(mapped, ["-q", *test_args], log, [CallMap(table, out)], pycache=pycache)
    code = reap(pid, timeout_s=None)
    if not out.is_file():
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        sys.exit(f"{tail}\nthe baseline run did not finish (exit {code})")
    selection = Selection.load(out)
    bad = sorted(n for n, e in selection.tests.items() if e["outcome"] != "passed")
    print(
        f"baseline: {len(selection.tests)} tests in {time.perf_counter() - began:.0f} s, "
        f"exit {code}; {len(bad)} left out (failed or skipped)",
        flush=True,
    )
    for nodeid in bad:
        print(f"  left out ({selection.tests[nodeid]['outcome']}): {nodeid}", flush=True)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out, cache / f"baseline-{key}.json")
    return selection


# -- the run --------------------------------------------------------------------------------


@dataclasses.dataclass
class Outcome:
    mutant: Mutant
    status: str
    tests: int = 0
    wall_s: float = 0.0
    exit_code: int | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, object]:
        m = self.mutant
        out: dict[str, object] = {
            "id": m.ident,
            "module": m.module,
            "line": m.line,
            "operator": m.operator,
            "original": m.original,
            "mutated": m.mutated,
            "context": m.context,
            "status": self.status,
            "tests": self.tests,
            "wall_s": round(self.wall_s, 2),
        }
        if self.exit_code is not None:
            out["exit_code"] = self.exit_code
        if self.reason:
            out["reason"] = self.reason
        return out


def load_equivalent(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    entries: list[dict[str, str]] = json.loads(path.read_text())["equivalent"]
    return entries


def _judged(mutant: Mutant, equivalent: list[dict[str, str]]) -> str | None:
    for entry in equivalent:
        if (
            entry["module"] == mutant.module
            and entry["operator"] == mutant.operator
            and entry["original"] == mutant.original
            and entry["mutated"] == mutant.mutated
            and entry.get("line", "") in mutant.context
        ):
            return entry["reason"]
    return None


def run_mutants(
    mutants: list[Mutant],
    selection: Selection,
    trees: list[Path],
    work: Path,
    *,
    timeout_s: float | None,
    equivalent: list[dict[str, str]],
    sources: dict[str, bytes],
) -> list[Outcome]:
    """Judge ``mutants``, each applied to ``sources`` (the bytes they were found in)."""
    pending = list(mutants)
    results: dict[str, Outcome] = {}
    running: dict[int, tuple[int, Mutant, float, float, list[str], bytes]] = {}
    free = list(range(len(trees)))
    total = len(mutants)

    def finish(outcome: Outcome) -> None:
        results[outcome.mutant.ident] = outcome
        m = outcome.mutant
        print(
            f"[{len(results):>4}/{total}] {outcome.status:<9} {m.module}:{m.line} "
            f"{m.operator}: {m.original} -> {m.mutated} "
            f"({outcome.tests} tests, {outcome.wall_s:.1f} s)",
            flush=True,
        )

    while pending or running:
        while pending and free:
            mutant = pending.pop(0)
            reason = _judged(mutant, equivalent)
            if reason is not None:
                finish(Outcome(mutant, EQUIVALENT, reason=reason))
                continue
            nodeids = selection.for_mutant(mutant)
            if not nodeids:
                finish(Outcome(mutant, UNCOVERED))
                continue
            slot = free.pop()
            tree = trees[slot]
            target = tree / mutant.module
            original = sources[mutant.module]
            write_module(target, mutant.apply(original))
            limit = timeout_s
            if limit is None:
                limit = 15.0 + 3.0 * selection.estimate_s(nodeids)
            log = work / f"slot{slot}" / "mutant.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            pid = fork_pytest(tree, ["-x", "-q", *nodeids], log, pycache=work / "pycache")
            running[pid] = (slot, mutant, time.monotonic(), limit, nodeids, original)
        for pid in list(running):
            slot, mutant, began, limit, nodeids, original = running[pid]
            done, status = os.waitpid(pid, os.WNOHANG)
            spent = time.monotonic() - began
            if not done and spent <= limit:
                continue
            if done:
                code: int | None = os.waitstatus_to_exitcode(status)
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                code = None
            del running[pid]
            write_module(trees[slot] / mutant.module, original)
            free.append(slot)
            if code is None:
                outcome = Outcome(mutant, TIMEOUT, len(nodeids), spent)
            elif code == 0:
                outcome = Outcome(mutant, SURVIVED, len(nodeids), spent, code)
            elif code in (1, 2):  # tests failed, or the module no longer imports
                outcome = Outcome(mutant, KILLED, len(nodeids), spent, code)
            else:
                log = work / f"slot{slot}" / "mutant.log"
                tail = log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
                outcome = Outcome(mutant, ERROR, len(nodeids), spent, code, tail[0])
            finish(outcome)
        if running:
            time.sleep(0.01)
    return [results[m.ident] for m in mutants]


def summarise(outcomes: list[Outcome]) -> list[dict[str, object]]:
    """Per module: mutants sampled, killed (timeouts included), survived, kill %.

    The kill % is over the mutants that change behaviour: no-ops, survivors judged
    equivalent and runs that could not be judged (``error``) are left out of it.
    """
    rows = []
    for module in sorted({o.mutant.module for o in outcomes}):
        count = dict.fromkeys((KILLED, TIMEOUT, SURVIVED, UNCOVERED, EQUIVALENT, NOOP, ERROR), 0)
        for o in outcomes:
            if o.mutant.module == module:
                count[o.status] += 1
        killed = count[KILLED] + count[TIMEOUT]
        survived = count[SURVIVED] + count[UNCOVERED]
        judged = killed + survived
        rows.append(
            {
                "module": module,
                "mutants": sum(count.values()),
                "killed": killed,
                "timeout": count[TIMEOUT],
                "survived": survived,
                "uncovered": count[UNCOVERED],
                "equivalent": count[EQUIVALENT],
                "no_op": count[NOOP],
                "error": count[ERROR],
                "kill_pct": round(100.0 * killed / judged, 1) if judged else None,
            }
        )
    return rows


def print_report(rows: list[dict[str, object]], outcomes: list[Outcome]) -> None:
    head = f"{'module':<34} {'mutants':>7} {'killed':>6} {'surv.':>5} {'equiv.':>6} {'kill %':>6}"
    print("\n" + head)
    print("-" * len(head))
    for r in rows:
        pct = "-" if r["kill_pct"] is None else f"{r['kill_pct']:.1f}"
        extra = f"  ({r['timeout']} by timeout)" if r["timeout"] else ""
        if r["no_op"]:
            extra += f"  {r['no_op']} no-op"
        if r["error"]:
            extra += f"  {r['error']} errors"
        print(
            f"{r['module']:<34} {r['mutants']:>7} {r['killed']:>6} {r['survived']:>5} "
            f"{r['equivalent']:>6} {pct:>6}{extra}"
        )
    survivors = [o for o in outcomes if o.status in (SURVIVED, UNCOVERED)]
    if survivors:
        print(f"\nsurvivors ({len(survivors)}):")
        for o in survivors:
            m = o.mutant
            note = "  [no selected test calls it]" if o.status == UNCOVERED else ""
            print(f"{m.module}:{m.line}: {m.original} -> {m.mutated}  ({m.operator}){note}")
    errors = [o for o in outcomes if o.status == ERROR]
    for o in errors:
        m = o.mutant
        print(f"error: {m.module}:{m.line}: exit {o.exit_code}: {o.reason}")


def rescore(path: Path, equivalent: list[dict[str, str]]) -> list[Outcome]:
    """The outcomes of an earlier run, survivors judged again against ``equivalent``."""
    outcomes = []
    for row in json.loads(path.read_text())["mutants"]:
        module, index = row["id"].rsplit("#", 1)
        mutant = Mutant(
            module=module, index=int(index), line=row["line"], operator=row["operator"],
            original=row["original"], mutated=row["mutated"], start=0, end=0, text="",
            scope=None, context=row.get("context", ""),
        )  # fmt: skip
        status = row["status"]
        if status in (SURVIVED, UNCOVERED, EQUIVALENT):
            reason = _judged(mutant, equivalent)
            if reason is not None:
                status = EQUIVALENT
            elif status == EQUIVALENT:
                status = SURVIVED
        outcomes.append(Outcome(mutant, status, row["tests"], row["wall_s"]))
    return outcomes


def resolve_modules(names: list[str] | None) -> list[str]:
    if not names:
        paths = sorted(ROOT.glob(DEFAULT_MODULES))
    else:
        paths = []
        for name in names:
            candidates = [ROOT / name, ROOT / (name.replace(".", "/") + ".py")]
            candidates += sorted(ROOT.glob(f"lgwan_sim/**/{name}.py"))
            hit = next((p for p in candidates if p.is_file()), None)
            if hit is None:
                sys.exit(f"--module: no such module (got {name!r})")
            paths.append(hit.resolve())
    return [str(p.relative_to(ROOT)).replace(os.sep, "/") for p in paths]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--module",
        action="append",
        help=f"a module path, dotted name or file stem; repeatable (default {DEFAULT_MODULES})",
    )
    parser.add_argument(
        "--function",
        action="append",
        help="only mutants inside functions of this name (repeatable; before sampling)",
    )
    parser.add_argument("--sample", type=int, default=40, help="mutants per module (0: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample")
    parser.add_argument("--tests", default=DEFAULT_TESTS, help="pytest arguments of the selection")
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds per mutant (default: 15 + 3 x its tests' baseline time)",
    )
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once")
    parser.add_argument("--json", type=Path, default=ROOT / "runs" / "mutation" / "mutation.json")
    parser.add_argument(
        "--equivalent", type=Path, default=EQUIVALENT_FILE, help="survivors judged equivalent"
    )
    parser.add_argument(
        "--no-cache", action="store_true", help="trace the baseline even if a cached one matches"
    )
    parser.add_argument("--list", action="store_true", help="list the sampled mutants and stop")
    parser.add_argument(
        "--rescore",
        type=Path,
        metavar="JSON",
        help="print the report of an earlier run again with the current --equivalent list",
    )
    args = parser.parse_args(argv)
    if args.rescore is not None:
        outcomes = rescore(args.rescore, load_equivalent(args.equivalent))
        print_report(summarise(outcomes), outcomes)
        return 0
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1 (got {args.jobs})")

    modules = resolve_modules(args.module)
    chosen: list[Mutant] = []
    noops: list[Mutant] = []
    available: dict[str, int] = {}
    # read once: a mutant's offsets hold for these bytes only, even if a module is edited
    # while the run goes on
    sources: dict[str, bytes] = {}
    for module in modules:
        source = sources[module] = (ROOT / module).read_bytes()
        found = enumerate_mutants(module, source)
        if args.function:
            found = [m for m in found if m.scope is not None and m.scope[0] in args.function]
        available[module] = len(found)
        for mutant in sample(found, module, args.sample, args.seed):
            (noops if is_noop(mutant, source) else chosen).append(mutant)
    if args.list:
        for m in chosen:
            print(f"{m.ident} {m.module}:{m.line}: {m.original} -> {m.mutated}  ({m.operator})")
        for m in noops:
            print(f"{m.ident} {m.module}:{m.line}: {m.original} -> {m.mutated}  (no-op)")
        print(f"{len(chosen) + len(noops)} mutants sampled of {sum(available.values())}")
        return 0

    test_args = shlex.split(args.tests)
    began = time.perf_counter()
    _preload()
    with tempfile.TemporaryDirectory(prefix="mutation-") as tmp:
        work = Path(tmp)
        trees = [make_tree(work / f"tree{j}") for j in range(args.jobs)]
        cache = None if args.no_cache else args.json.parent / "cache"
        selection = traced_baseline(work, test_args, cache)
        if not selection.usable():
            sys.exit("no test passed in the baseline run: nothing can kill a mutant")
        outcomes = run_mutants(
            chosen,
            selection,
            trees,
            work,
            timeout_s=args.timeout,
            equivalent=load_equivalent(args.equivalent),
            sources=sources,
        )
    wall = time.perf_counter() - began
    outcomes += [Outcome(m, NOOP) for m in noops]
    rows = summarise(outcomes)
    print_report(rows, outcomes)
    print(f"\n{len(outcomes)} mutants in {wall:.0f} s (--jobs {args.jobs}, --seed {args.seed})")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "seed": args.seed,
        "sample": args.sample,
        "tests": args.tests,
        "jobs": args.jobs,
        "wall_s": round(wall, 1),
        "load_average_1min_after": round(os.getloadavg()[0], 2),
        "available": available,
        "modules": rows,
        "mutants": [o.to_dict() for o in outcomes],
    }
    args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
