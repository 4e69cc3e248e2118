"""Safe YAML loading that remembers where every value came from.

Mappings load as :class:`LineDict` (a ``dict`` with a ``line_of(key)`` method) and sequences
as :class:`LineList` (with ``line_of(index)``), so validation errors can name ``file:line``.
Only ``yaml.SafeLoader`` constructs objects: no arbitrary Python tags.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from lgwan_sim.errors import InputError

__all__ = ["LineDict", "LineList", "line_of", "load_yaml"]


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


class _Loader(yaml.SafeLoader):
    pass


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
        return yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else mark.line + 1
        raise error(f"invalid YAML: {exc.problem or exc.context}", file=path, line=line) from None
    except yaml.YAMLError as exc:
        raise error(f"invalid YAML: {exc}", file=path) from None
