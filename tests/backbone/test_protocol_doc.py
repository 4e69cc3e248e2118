"""docs/protocol.md agrees with its vectors file and with the implementation."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from lgwan_sim import backbone
from tests.backbone.support import load_vectors, private_key

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text(encoding="utf-8")
VECTORS = load_vectors()
N_P256 = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _block_after(marker: str) -> str:
    """The first fenced block after ``marker``, without its language tag."""
    start = DOC.index("```", DOC.index(marker))
    body = DOC[start + 3 : DOC.index("```", start + 3)]
    return body.split("\n", 1)[1]


def _hex_after(block: str, label: str) -> str:
    """The hex column from ``label`` up to the next label; comments after it are dropped.

    A line's columns are separated by two or more spaces; its hex is the run of columns
    before the first one that is not hex.
    """
    lines = block.splitlines()
    i = next(n for n, line in enumerate(lines) if line.strip().startswith(label))
    out = []
    for n, line in enumerate(lines[i:]):
        if n and re.match(r"^\S", line):
            break
        text = line.strip()[len(label) :] if n == 0 else line
        for column in re.split(r"\s{2,}", text.strip()):
            if not re.fullmatch(r"[0-9a-f]+( [0-9a-f]+)*", column):
                break
            out.append(column.replace(" ", ""))
    return "".join(out)


def test_the_test_key_is_the_published_derivation():
    d = int.from_bytes(hashlib.sha256(b"EMW1 test vector key P-256").digest(), "big") % N_P256
    assert f"{d:064x}" == VECTORS["keys"]["p256"]["private_scalar"]
    assert private_key(VECTORS, "p256").private_numbers().private_value == d
    block = _block_after("**The P-256 test key**")
    for label, key in (
        ("private scalar", "private_scalar"),
        ("public point", "public_point"),
        ("kid", "kid"),
    ):
        assert _hex_after(block, label) == VECTORS["keys"]["p256"][key], label


def test_the_req_frames_in_the_doc_are_the_vector():
    block = _block_after("**The `req` vector**")
    frames = VECTORS["vectors"]["req"]["frames"]
    for i, expected in enumerate(frames):
        assert _hex_after(block, f"frame {i}").replace("0x", "") == expected, f"frame {i}"


def test_the_signed_bytes_table_adds_up_to_the_vector():
    signed = bytes.fromhex(VECTORS["vectors"]["req"]["signed_bytes"])
    rows = re.findall(r"^\| (\d+) \| (\d+) \| [^|]+ \| `([0-9a-f]+)…?` \|$", DOC, re.M)
    assert rows, "no signed-bytes table"
    for offset, length, prefix in rows:
        field = signed[int(offset) : int(offset) + int(length)]
        assert field.hex().startswith(prefix)
    last = rows[-1]
    assert int(last[0]) + int(last[1]) == len(signed)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("at most 16,384 bytes", backbone.MAX_HEADER_BYTES),
        ("at most 1,048,576 bytes", backbone.MAX_BODY_BYTES),
        ("at most 512 bytes", backbone.MAX_SIGNATURE_BYTES),
        ("at most 4,096 bytes", backbone.MAX_DELIVERY_BYTES),
        ("0 to 255 bytes", backbone.MAX_ADDRESS_BYTES),
        ("at most 32 entries", backbone.MAX_HEADER_ENTRIES),
    ],
)
def test_limits_in_the_doc_are_the_implementation_s(text, value):
    assert text in DOC
    assert f"{value:,}" in text


def test_every_command_and_error_code_is_documented():
    for command in backbone.Command:
        name = "HEARTBEAT" if command is backbone.Command.HEARTBEAT else command.name
        assert f"| `{command:02x}` | {name} |" in DOC
    for code in backbone.ErrorCode:
        assert f"| {int(code)} |" in DOC


def test_the_python_example_runs():
    code = _block_after("## 15. In Python")
    exec(compile(code, "docs/protocol.md", "exec"), {})
