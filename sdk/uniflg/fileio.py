"""Atomic file writes: the one way the SDK, the trainer and the exporter replace a file.

A file is written under a hidden temporary name in its own folder, then renamed over the target with
``os.replace``, so a reader (or a crash) sees either the old file or the complete new one, never half of one.
``durable=True`` also fsyncs the file before the rename and the folder after it (checkpoints, caches).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TMP_PREFIX = ".tmp-"  # leftovers of an interrupted write start with this (and may be removed)


def fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in ``path`` durable (best effort where folders cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path, durable: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; when the block ends without an error, the file written there
    replaces ``path`` (with the permissions a plain ``open`` would give it); on an error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f"{TMP_PREFIX}{path.name}.")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600
        if durable:
            fsync_file(tmp)
        os.replace(tmp, path)
        if durable:
            fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | Path, data: bytes, durable: bool = False) -> Path:
    """Replace ``path`` with ``data`` atomically; -> ``path``."""
    with atomic_path(path, durable) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str, durable: bool = False) -> Path:
    """Replace ``path`` with UTF-8 ``text`` atomically; -> ``path``."""
    return atomic_write_bytes(path, text.encode("utf-8"), durable)
