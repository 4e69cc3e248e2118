"""Safe YAML loading that remembers where every value came from.

Mappings load as :class:`LineDict` (a ``dict`` with a ``line_of(key)`` method) and sequences
as :class:`LineList` (with ``line_of(index)``), so validation errors can name ``file:line``.
Only ``yaml.SafeLoader`` constructs objects: no arbitrary Python tags.

:class:`Reader` reads typed values out of what was loaded; every mistake it finds is one
error of the caller's :class:`~lgwan_sim.errors.InputError` subclass naming the file, the
line, the field and the value.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, ClassVar, cast

import yaml

from lgwan_sim.errors import InputError

__all__ = ["LineDict", "LineList", "Reader", "line_of", "load_yaml"]


class LineDict(dict[str, Any]):
    """A mapping from YAML that knows the 1-based line of each key."""

    __slots__ = ("_lines", "start_line")

    def __init__(self) -> None:
        super().__init__()
        self._lines: dict[str, int] = {}
        self.start_line = 0

    def line_of(self, key: str) -> int:
        return self._lines.get(key, self.start_line)


class LineList(list[Any]):
    """A sequence from YAML that knows the 1-based line of each item."""

    __slots__ = ("_lines", "start_line")

    def __init__(self) -> None:
        super().__init__()
        self._lines: list[int] = []
        self.start_line = 0

    def line_of(self, index: int) -> int:
        return self._lines[index] if 0 <= index < len(self._lines) else self.start_line


def line_of(container: object, key: str | int) -> int | None:
    """The line of ``key`` in a loaded container, or ``None`` if it carries no positions."""
    if isinstance(container, LineDict) and isinstance(key, str):
        return container.line_of(key)
    if isinstance(container, LineList) and isinstance(key, int):
        return container.line_of(key)
    return None


#: How deep mappings and lists may nest in an input file (the deepest bundled file: 4).
MAX_DEPTH = 100


class _Loader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        # PyYAML composes and constructs nested nodes recursively: refuse a document nested
        # deeper than any input file needs, at the line where it gets too deep, long before
        # Python's recursion limit.
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"nested more than {MAX_DEPTH} levels deep",
                    self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                )
            return yaml.composer.Composer.compose_node(self, parent, index)
        finally:
            self._depth -= 1


def _key(loader: _Loader, key_node: yaml.Node) -> str:
    key = loader.construct_object(key_node, deep=True)
    return key if isinstance(key, str) else str(key)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    result = LineDict()
    result.start_line = node.start_mark.line + 1
    # Duplicates among the mapping's own keys are errors; a key that overrides one merged
    # in with ``<<: *anchor`` is not (YAML merge semantics, as PyYAML's own loader).
    own: set[str] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = _key(loader, key_node)
        if key in own:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        own.add(key)
    loader.flatten_mapping(node)  # merged pairs first, the mapping's own pairs after them
    for key_node, value_node in node.value:
        key = _key(loader, key_node)
        result[key] = loader.construct_object(value_node, deep=True)
        result._lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    result = LineList()
    result.start_line = node.start_mark.line + 1
    for child in node.value:
        result.append(loader.construct_object(child, deep=True))
        result._lines.append(child.start_mark.line + 1)
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)

try:  # LibYAML's parser, when PyYAML was built with it
    from yaml._yaml import CParser as _CParser

    _HAVE_LIBYAML = True
except ImportError:  # pragma: no cover - PyYAML without LibYAML
    _HAVE_LIBYAML = False


class _FastLoader(yaml.composer.Composer, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
    """The same loader with LibYAML's parser under it: only the scanning and parsing into
    events (most of the time) move to C; composing, resolving tags, the depth limit
    and constructing are :class:`_Loader`'s own Python code, so a document loads to the same
    values and lines. A document it cannot load is loaded again by :class:`_Loader`, whose
    messages the errors keep."""

    yaml_constructors = _Loader.yaml_constructors

    def __init__(self, stream: str) -> None:
        parser = _CParser(stream)
        self.check_event = parser.check_event
        self.peek_event = parser.peek_event
        self.get_event = parser.get_event
        self.dispose = parser.dispose
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        self._depth = 0

    compose_node = _Loader.compose_node


def _load(text: str) -> Any:
    if _HAVE_LIBYAML:
        loader = _FastLoader(text)
        try:
            return loader.get_single_data()
        except Exception:  # any failure: the pure-Python loader below words the error
            pass
        finally:
            loader.dispose()
    return yaml.load(text, Loader=_Loader)


def load_yaml(path: str | Path, *, error: type[InputError] = InputError) -> Any:
    """Load one YAML document safely; syntax errors become ``error`` naming ``file:line``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error("file not found", file=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read file: {exc}", file=path) from None
    try:
        return _load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else mark.line + 1
        raise error(f"invalid YAML: {exc.problem or exc.context}", file=path, line=line) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, e.g. NUL
        line = text.count("\n", 0, exc.position) + 1
        problem = str(exc).splitlines()[0]  # the rest names "<unicode string>", not the file
        raise error(f"invalid YAML: {problem}", file=path, line=line) from None
    except yaml.YAMLError as exc:
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise error(f"invalid YAML: {problem}", file=path) from None
    except RecursionError:
        raise error("invalid YAML: nested too deeply", file=path) from None


def _item(parent: object, key: str | int, default: Any) -> Any:
    """``parent[key]``, or ``default`` when ``parent`` has no such key or index."""
    if isinstance(parent, Mapping):
        return parent.get(key, default)
    if isinstance(parent, list) and isinstance(key, int) and 0 <= key < len(parent):
        return parent[key]
    return default


def _join(field: str, key: str) -> str:
    return f"{field}.{key}" if field else key


def _looks_numeric(text: str) -> bool:
    """True for text such as ``1e9``, which YAML 1.1 (PyYAML) reads as a string."""
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


class Reader:
    """Typed reads from loaded YAML, bound to one file and one error class.

    Each reader takes the containing mapping or list (``parent``), the ``key`` (or index) in
    it and ``field``, the dotted field path that messages name. A missing key reads as
    ``None`` (or the ``default`` given) and so fails the type check. Failures are
    ``error(...)`` instances, whose line is the line of ``key`` in ``parent``, or failing that
    the line where the container starts.

    Subclasses adapt the dialect of their files: :meth:`wrong_type` words type mistakes, and
    the class attributes below say what counts as a mapping, a list and an empty string.
    """

    #: What :meth:`mapping` accepts; :class:`LineDict` insists on values straight from YAML.
    mapping_type: ClassVar[type[dict[str, Any]]] = dict
    #: What :meth:`seq` accepts.
    list_type: ClassVar[type[list[Any]]] = list
    #: Whether :meth:`text` rejects a string of only whitespace as empty.
    strip_text: ClassVar[bool] = False
    #: The bound of :meth:`number` where a field gives none: every number in every input
    #: file is finite and at most this large in magnitude (docs/scenarios.md).
    largest: ClassVar[float] = 1.0e15
    #: The bound of :meth:`integer` where a field gives none: 2**53, the largest integer up
    #: to which every integer is exact in a float and in JSON readers.
    largest_integer: ClassVar[int] = 2**53

    def __init__(self, file: str | Path, *, error: type[InputError] = InputError) -> None:
        self.file = Path(file)
        self.error_class = error

    # -- errors -------------------------------------------------------------------------
    def error(
        self,
        message: str,
        container: object,
        key: str | int | None,
        field: str | None,
        value: object,
    ) -> InputError:
        """An error for ``field`` (``key`` of ``container``) holding ``value``."""
        line = None if key is None else line_of(container, key)
        if line is None:
            line = getattr(container, "start_line", None) or None
        return self.error_class(message, file=self.file, line=line, field=field, value=value)

    def wrong_type(
        self, what: str, container: object, key: str | int | None, field: str, value: object
    ) -> InputError:
        """``must be <what>``: the value has the wrong type (or is missing)."""
        return self.error(f"must be {what}", container, key, field, value)

    # -- structure ----------------------------------------------------------------------
    def only(self, mapping: object, allowed: Collection[str], field: str) -> None:
        """Reject a non-mapping, and keys outside ``allowed`` (listing the allowed keys)."""
        if not isinstance(mapping, dict):
            raise self.wrong_type("a mapping", None, None, field, mapping)
        for key in mapping:
            if key not in allowed:
                raise self.error(
                    f"unknown key; allowed: {', '.join(allowed)}",
                    mapping,
                    key,
                    _join(field, key),
                    key,
                )

    def require(self, mapping: LineDict, key: str, field: str) -> Any:
        """``mapping[key]``; a missing key is an error at the mapping's own line."""
        if key not in mapping:
            raise self.error("missing required key", mapping, None, _join(field, key), None)
        return mapping[key]

    def mapping(self, parent: object, key: str | int, field: str) -> LineDict:
        value = _item(parent, key, None)
        if not isinstance(value, self.mapping_type):
            raise self.wrong_type("a mapping", parent, key, field, value)
        return cast(LineDict, value)

    def seq(self, parent: object, key: str | int, field: str) -> LineList:
        value = _item(parent, key, None)
        if not isinstance(value, self.list_type):
            raise self.wrong_type("a list", parent, key, field, value)
        return cast(LineList, value)

    # -- scalars ------------------------------------------------------------------------
    def text(self, parent: object, key: str | int, field: str, default: str | None = None) -> str:
        value = _item(parent, key, default)
        if not isinstance(value, str) or not (value.strip() if self.strip_text else value):
            raise self.wrong_type("a non-empty string", parent, key, field, value)
        return value

    def choice(self, parent: object, key: str | int, field: str, allowed: Collection[str]) -> str:
        value = self.text(parent, key, field)
        if value not in allowed:
            raise self.error(f"must be one of {', '.join(allowed)}", parent, key, field, value)
        return value

    def boolean(self, parent: object, key: str | int, field: str) -> bool:
        value = _item(parent, key, None)
        if not isinstance(value, bool):
            raise self.wrong_type("true or false", parent, key, field, value)
        return value

    def integer(
        self,
        parent: object,
        key: str | int,
        field: str,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int:
        """An integer within the bounds given; without a bound, within ±:attr:`largest_integer`."""
        value = _item(parent, key, None)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.wrong_type("an integer", parent, key, field, value)
        low = -self.largest_integer if minimum is None else minimum
        high = self.largest_integer if maximum is None else maximum
        if value < low:
            raise self.error(f"must be >= {low}", parent, key, field, _shown(value))
        if value > high:
            raise self.error(f"must be <= {high}", parent, key, field, _shown(value))
        return value

    def number(
        self,
        parent: object,
        key: str | int,
        field: str,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        exclusive_minimum: bool = False,
        default: float | None = None,
    ) -> float:
        """A finite number within the bounds given.

        NaN and infinity are never accepted ("must be a finite number"), and a bound not
        given is :attr:`largest` (``-largest`` below), so every number read from a file is
        one the engine and the JSON outputs can hold. Text that reads as a number (YAML 1.1
        reads ``1e9`` as a string) gets a hint on how to write it.
        """
        value = _item(parent, key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            hint = ""
            if isinstance(value, str) and _looks_numeric(value):
                hint = " (YAML reads 1e9 as text: write 1.0e+9)"
            raise self.wrong_type(f"a number{hint}", parent, key, field, value)
        if isinstance(value, float) and not math.isfinite(value):
            raise self.error("must be a finite number", parent, key, field, value)
        low = -self.largest if minimum is None else minimum
        high = self.largest if maximum is None else maximum
        # Compare before converting: an integer beyond a float's range is simply too large.
        if exclusive_minimum and not value > low:
            raise self.error(f"must be > {low:g}", parent, key, field, _shown(value))
        if value < low:
            raise self.error(f"must be >= {low:g}", parent, key, field, _shown(value))
        if value > high:
            raise self.error(f"must be <= {high:g}", parent, key, field, _shown(value))
        return float(value)


def _shown(value: int | float) -> int | float:
    """A bad number as a message shows it: an integer of hundreds of digits is abbreviated."""
    if isinstance(value, int) and len(str(abs(value))) > 20:
        return _LongInteger(value)
    return value


class _LongInteger(int):
    """An integer equal to the one in the file, shown as ``1.00e+400`` in messages."""

    def __repr__(self) -> str:
        digits = str(abs(self))
        sign = "-" if self < 0 else ""
        return f"{sign}{digits[0]}.{digits[1:3]}e+{len(digits) - 1}"

    __str__ = __repr__
