"""The shared typed reader over loaded YAML: types, bounds, and errors naming file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from lgwan_sim._fields import Fields
from lgwan_sim._yaml import LineDict, LineList, Reader, load_yaml
from lgwan_sim.errors import InputError, ScenarioError, TopologyError

DOC = """\
name: demo
blank: "  "
empty: ""
count: 3
ratio: 0.5
big: 1e9
flag: true
nan: .nan
inf: .inf
kind: flow
items:
  - a
  - 7
section:
  inner: 1
"""


@pytest.fixture
def doc(tmp_path: Path) -> tuple[Path, LineDict]:
    path = tmp_path / "doc.yaml"
    path.write_text(DOC, encoding="utf-8")
    loaded = load_yaml(path)
    assert isinstance(loaded, LineDict)
    return path, loaded


def test_values_of_the_right_type_are_returned_typed(doc):
    path, d = doc
    rd = Reader(path)
    assert rd.text(d, "name", "name") == "demo"
    assert rd.integer(d, "count", "count", minimum=0) == 3
    number = rd.number(d, "count", "count", minimum=0.0, exclusive_minimum=True)
    assert number == 3.0
    assert isinstance(number, float)
    assert rd.number(d, "ratio", "ratio", minimum=0.0, maximum=1.0) == 0.5
    assert rd.boolean(d, "flag", "flag") is True
    assert rd.choice(d, "kind", "kind", ("analytic", "flow")) == "flow"
    assert list(rd.seq(d, "items", "items")) == ["a", 7]
    section = rd.mapping(d, "section", "section")
    assert isinstance(section, LineDict)
    assert section["inner"] == 1
    assert rd.require(d, "count", "") == 3


def test_defaults_stand_in_for_missing_keys(doc):
    path, d = doc
    rd = Reader(path)
    assert rd.text(d, "absent", "absent", "fallback") == "fallback"
    assert rd.number(d, "absent", "absent", default=35.0) == 35.0


def test_errors_name_the_file_line_field_and_value_in_the_given_class(doc):
    path, d = doc
    rd = Reader(path, error=TopologyError)
    with pytest.raises(TopologyError) as info:
        rd.integer(d, "ratio", "top.ratio")
    err = info.value
    assert (err.file, err.line, err.field, err.value) == (str(path), 5, "top.ratio", 0.5)
    assert str(err) == f"{path}:5: top.ratio: must be an integer (got 0.5)"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda rd, d: rd.text(d, "empty", "empty"),
            ":3: empty: must be a non-empty string (got '')",
        ),
        (
            lambda rd, d: rd.text(d, "count", "count"),
            ":4: count: must be a non-empty string (got 3)",
        ),
        (
            lambda rd, d: rd.mapping(d, "items", "items"),
            ":11: items: must be a mapping (got ['a', 7])",
        ),
        (
            lambda rd, d: rd.seq(d, "section", "section"),
            ":14: section: must be a list (got {'inner': 1})",
        ),
        (lambda rd, d: rd.boolean(d, "count", "count"), ":4: count: must be true or false (got 3)"),
        (lambda rd, d: rd.integer(d, "flag", "flag"), ":7: flag: must be an integer (got True)"),
        (
            lambda rd, d: rd.integer(d, "count", "count", minimum=5),
            ":4: count: must be >= 5 (got 3)",
        ),
        (lambda rd, d: rd.number(d, "flag", "flag"), ":7: flag: must be a number (got True)"),
        (
            lambda rd, d: rd.number(d, "ratio", "ratio", minimum=0.5, exclusive_minimum=True),
            ":5: ratio: must be > 0.5 (got 0.5)",
        ),
        (
            lambda rd, d: rd.number(d, "ratio", "ratio", minimum=1.0),
            ":5: ratio: must be >= 1 (got 0.5)",
        ),
        (
            lambda rd, d: rd.number(d, "count", "count", maximum=2.0),
            ":4: count: must be <= 2 (got 3)",
        ),
        (lambda rd, d: rd.number(d, "nan", "nan"), ":8: nan: must be a finite number (got nan)"),
        (lambda rd, d: rd.number(d, "inf", "inf"), ":9: inf: must be a finite number (got inf)"),
        (
            lambda rd, d: rd.choice(d, "kind", "kind", ("analytic", "packet")),
            ":10: kind: must be one of analytic, packet (got 'flow')",
        ),
    ],
)
def test_each_reader_rejects_with_one_line(doc, call, message):
    path, d = doc
    with pytest.raises(InputError) as info:
        call(Reader(path), d)
    assert str(info.value) == f"{path}{message}"


def test_text_that_yaml_did_not_read_as_a_number_gets_a_hint(doc):
    path, d = doc
    with pytest.raises(InputError) as info:
        Reader(path).number(d, "big", "big")
    assert str(info.value) == (
        f"{path}:6: big: must be a number (YAML reads 1e9 as text: write 1.0e+9) (got '1e9')"
    )


def test_infinity_and_nan_never_pass(doc):
    path, d = doc
    rd = Reader(path)
    with pytest.raises(InputError, match=r":9: inf: must be a finite number \(got inf\)$"):
        rd.number(d, "inf", "inf", minimum=0.0)
    with pytest.raises(InputError, match=r":8: nan: must be a finite number \(got nan\)$"):
        rd.number(d, "nan", "nan")


def test_a_number_without_bounds_is_at_most_the_reader_wide_bound(tmp_path):
    path = tmp_path / "doc.yaml"
    path.write_text(f"big: 1.0e+16\nlong: {10**400}\nint: {2**53 + 1}\n", encoding="utf-8")
    d = load_yaml(path)
    rd = Reader(path)
    with pytest.raises(InputError, match=r":1: big: must be <= 1e\+15 \(got 1e\+16\)$"):
        rd.number(d, "big", "big")
    with pytest.raises(InputError, match=r":2: long: must be <= 1e\+15 \(got 1.00e\+400\)$"):
        rd.number(d, "long", "long")
    with pytest.raises(InputError, match=r":3: int: must be <= 9007199254740992 "):
        rd.integer(d, "int", "int")


def test_whitespace_is_text_unless_the_reader_strips_it(doc):
    path, d = doc
    assert Reader(path).text(d, "blank", "blank") == "  "
    with pytest.raises(ScenarioError) as info:
        Fields(path).text(d, "blank", "blank")
    assert (
        str(info.value) == f"{path}:2: blank: must be a non-empty string, not a string (got '  ')"
    )


def test_a_missing_key_fails_the_type_check_where_the_mapping_starts(doc):
    path, d = doc
    section = d["section"]
    with pytest.raises(InputError) as info:
        Reader(path).number(section, "absent", "section.absent")
    assert info.value.line == 15  # the mapping's first key
    assert str(info.value) == f"{path}:15: section.absent: must be a number"
    with pytest.raises(InputError) as info:
        Reader(path).require(section, "absent", "section")
    assert str(info.value) == f"{path}:15: section.absent: missing required key"


def test_only_lists_the_allowed_keys_and_names_the_stray_one(doc):
    path, d = doc
    rd = Reader(path)
    rd.only(d["section"], ("inner", "outer"), "section")
    with pytest.raises(InputError) as info:
        rd.only(d["section"], ("outer", "other"), "section")
    assert str(info.value) == (
        f"{path}:15: section.inner: unknown key; allowed: outer, other (got 'inner')"
    )
    with pytest.raises(InputError) as info:
        rd.only("dc-saga", ("id",), "data_centres[2]")
    assert str(info.value) == f"{path}: data_centres[2]: must be a mapping (got 'dc-saga')"


def test_list_items_are_read_by_index_with_their_own_line(doc):
    path, d = doc
    items = Reader(path).seq(d, "items", "items")
    assert Reader(path).text(items, 0, "items[0]") == "a"
    with pytest.raises(InputError) as info:
        Reader(path).text(items, 1, "items[1]")
    assert str(info.value) == f"{path}:13: items[1]: must be a non-empty string (got 7)"


def test_a_subclass_words_type_mistakes_its_own_way(doc):
    path, d = doc
    f = Fields(path)
    with pytest.raises(ScenarioError) as info:
        f.mapping(d, "items", "items")
    assert str(info.value) == f"{path}:11: items: must be a mapping, not a list (got '[2 items]')"
    with pytest.raises(ScenarioError) as info:
        f.number(d, "name", "name")
    assert str(info.value) == f"{path}:1: name: must be a number, not a string (got 'demo')"
    # A plain dict is not positions-carrying YAML: the scenario reader refuses it.
    plain = {"m": {"a": 1}}
    assert Reader(path).mapping(plain, "m", "m") == {"a": 1}
    with pytest.raises(ScenarioError, match="must be a mapping, not a mapping"):
        f.mapping(plain, "m", "m")


def _with_lines(value: object) -> object:
    """A loaded document as plain values with every container's lines, to compare exactly."""
    if isinstance(value, LineDict):
        return (
            "map",
            value.start_line,
            [(k, value.line_of(k), _with_lines(v)) for k, v in value.items()],
        )
    if isinstance(value, LineList):
        return (
            "seq",
            value.start_line,
            [(value.line_of(i), _with_lines(v)) for i, v in enumerate(value)],
        )
    return (type(value).__name__, value)


EDGE_DOC = """\
base: &base {a: 1, b: [x, 'y', "z"]}
merged:
  <<: *base
  b: 2
when: 2024-04-01
big: 1e9
exact: 1.0e+9
octal: 0o17
old_octal: 017
flags: [yes, no, on, off, ~, null]
text: |
  two
  lines
folded: >-
  one
  line
japanese: 札幌市
"""


def test_libyaml_under_the_loader_loads_every_input_file_to_the_same_values_and_lines(tmp_path):
    # the fast path (LibYAML's parser under the project's own composer and constructors)
    # against the pure-Python loader, on every YAML file of the repository and on the
    # corners of YAML 1.1 the input files may use
    import yaml

    from lgwan_sim import _yaml

    if not _yaml._HAVE_LIBYAML:
        pytest.skip("PyYAML was built without LibYAML")
    root = Path(__file__).resolve().parents[1]
    files = sorted(
        p for d in ("scenarios", "services", "topology", "pki") for p in (root / d).rglob("*.yaml")
    )
    assert len(files) > 20
    edge = tmp_path / "edge.yaml"
    edge.write_text(EDGE_DOC, encoding="utf-8")
    for path in [*files, edge]:
        text = path.read_text(encoding="utf-8")
        fast = _yaml._FastLoader(text)
        try:
            got = fast.get_single_data()
        finally:
            fast.dispose()
        want = yaml.load(text, Loader=_yaml._Loader)
        assert _with_lines(got) == _with_lines(want), path
        assert _with_lines(load_yaml(path)) == _with_lines(want), path


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\na: 2\n",  # duplicate key (the constructor's error)
        "a: [1, 2\n",  # unclosed flow sequence (the parser's)
        "a: b: c\n",  # mapping values not allowed here
        "a: *nowhere\n",  # undefined alias (the composer's)
        "x:\n" + "".join("  " * i + "- \n" for i in range(1, 120)),  # deeper than MAX_DEPTH
        "a: 1\n\x07\n",  # a character YAML does not allow
    ],
)
def test_a_document_libyaml_refuses_fails_with_the_pure_python_loaders_message(tmp_path, text):
    import yaml

    from lgwan_sim import _yaml

    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as got:
        load_yaml(path)
    # the same error as the pure-Python loader alone gives
    saved = _yaml._HAVE_LIBYAML
    _yaml._HAVE_LIBYAML = False
    try:
        with pytest.raises(InputError) as want:
            load_yaml(path)
    finally:
        _yaml._HAVE_LIBYAML = saved
    assert str(got.value) == str(want.value)
    with pytest.raises(yaml.YAMLError):
        yaml.load(text, Loader=_yaml._Loader)
