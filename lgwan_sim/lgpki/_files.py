"""Atomic, durable file writes for the published repository and the key vault."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from pathlib import Path

__all__ = ["TMP_PREFIX", "atomic_write", "atomic_write_many", "fsync_dir"]

#: Temporary files start with this prefix; a crash may leave some, which are ignored and
#: removed by the next writer.
TMP_PREFIX = ".tmp-"


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_tmp(path: Path, data: bytes, mode: int) -> Path:
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    return tmp


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half.

    Temp file in the same folder, fsync, ``os.replace``, fsync of the folder.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _write_tmp(path, data, mode)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def atomic_write_many(items: Iterable[tuple[Path, bytes]], *, mode: int = 0o644) -> int:
    """Atomically write many files; each folder is fsynced once at the end. Returns the count."""
    folders: set[Path] = set()
    count = 0
    for path, data in items:
        if path.parent not in folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            folders.add(path.parent)
        tmp = _write_tmp(path, data, mode)
        os.replace(tmp, path)
        count += 1
    for folder in sorted(folders):
        fsync_dir(folder)
    return count


def remove_stale_tmp(root: Path) -> int:
    """Delete temporary files a crashed writer left under ``root``; return how many."""
    removed = 0
    if not root.exists():
        return 0
    for tmp in root.rglob(f"{TMP_PREFIX}*"):
        tmp.unlink(missing_ok=True)
        removed += 1
    return removed
