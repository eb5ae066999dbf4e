"""Where a corpus command writes (``--out``), checked before anything is written.

A corpus folder remembers what made it: the command and the settings its items depend on, in :data:`RECIPE`,
written before the first item. A rerun with the same command and settings resumes; anything else is refused, so
no command mixes its items into another corpus or replaces one (``corpus make`` with a new seed, ``corpus merge``
over a made corpus). Settings are named as the user gives them (``--seed``), and values are compared as written
by :func:`_plain`, so a path given another way or an equivalent option list compares equal where the caller
normalises it.

While a command writes, it holds an exclusive lock on :data:`LOCK` in the folder (``filelock``; released when the
process ends), so a second corpus command into the same folder is refused instead of interleaving its items.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from uniflg.errors import InvalidInputError
from uniflg.fileio import atomic_path
from uniflg.outputs import prepare_output

RECIPE = ".uniflg-corpus.json"  # {"command": ..., "settings": {...}}
LOCK = ".uniflg-corpus.lock"  # held by the command writing into the folder
_held: dict[Path, FileLock] = {}  # this process's locks, by resolved folder: held until it exits

# A corpus made before the record existed: its corpus.json -> the differences from this run ("--seed 5 -> 6").
Legacy = Callable[[dict[str, Any]], list[str]]


def check_out(out: Path, sources: list[Path], command: str) -> None:
    """``out`` must be a folder path that can be made (new, or an existing folder), neither one of the resolved
    ``sources`` nor inside or around one, nor inside another corpus; InvalidInputError naming what is wrong."""
    dangling = out.is_symlink() and not out.exists()  # prepare_output names it ("a symbolic link to nothing")
    try:
        target = out if dangling else out.resolve(strict=False)
    except (OSError, RuntimeError) as exc:  # a symbolic link loop on the way to it
        raise InvalidInputError(f"{command}: --out {out} cannot be resolved ({exc}); choose a folder") from None
    try:  # the one check every command's output folder gets (links to nothing, files, permissions, read-only)
        prepare_output(out, option="--out")
    except InvalidInputError as exc:
        raise InvalidInputError(f"{command}: {exc}") from None
    for src in sources:
        if target == src:
            raise InvalidInputError(f"{command}: --out {out} is one of the sources; choose a new folder")
        if target.is_relative_to(src) or src.is_relative_to(target):
            where = "inside" if target.is_relative_to(src) else "around"
            raise InvalidInputError(f"{command}: --out {out} is {where} the source {src}; choose a folder "
                                    "outside every source")
    for parent in target.parents:
        if (parent / "corpus.json").is_file() or (parent / RECIPE).is_file():
            raise InvalidInputError(f"{command}: --out {out} is inside the corpus {parent}; choose a folder "
                                    "outside every corpus")


def _plain(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings as JSON reads them back (tuples -> lists, paths -> strings), so a rerun compares equal."""
    return dict(json.loads(json.dumps(settings, default=str)))


def _shown(value: Any) -> str:
    """A setting's value as the user would type it: lists comma-joined, None as "not given"."""
    if value is None:
        return "not given"
    if isinstance(value, list):
        return ",".join(_shown(v) for v in value) or "none"
    return str(value)


def changes(before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """``"KEY OLD -> NEW"`` for each key of ``now`` whose value differs from ``before``'s."""
    return [f"{k} {_shown(before.get(k))} -> {_shown(v)}" for k, v in now.items() if before.get(k) != v]


def _read(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def check_claim(out: Path, command: str, settings: dict[str, Any], generator: str,
                legacy: Legacy | None = None) -> None:
    """Whether ``out`` may become this command's folder (read only): new or empty, or made by the same
    ``command`` with the same ``settings`` (a rerun resumes). A corpus from before the record existed
    (``corpus.json`` only) counts as the same when its ``generator`` is ``generator`` and ``legacy`` finds no
    difference in it. InvalidInputError naming the difference otherwise."""
    settings = _plain(settings)
    recipe, meta = out / RECIPE, out / "corpus.json"
    if recipe.exists():
        before = _read(recipe)
        if before is None or not isinstance(before.get("settings"), dict) or not isinstance(
                before.get("command"), str):
            raise InvalidInputError(f"{command}: --out {out} has an unreadable {RECIPE} (what made the folder "
                                    "is unknown); choose a new folder")
        if before["command"] != command:
            raise InvalidInputError(f"{command}: --out {out} holds a corpus made by `uniflg {before['command']}`; "
                                    "choose a new folder")
        changed = changes(before["settings"], settings)
        if changed:
            raise InvalidInputError(f"{command}: --out {out} was made with other settings ({'; '.join(changed)}); "
                                    "rerun with the same ones to resume, or choose a new folder")
        return
    if meta.is_file():
        previous = _read(meta)
        if previous is None:
            raise InvalidInputError(f"{command}: --out {out} holds a corpus with an unreadable corpus.json; choose "
                                    "a new folder")
        made_by = previous.get("generator")
        if made_by != generator:
            what = f"made by {made_by}" if made_by else "its corpus.json names no generator"
            raise InvalidInputError(f"{command}: --out {out} holds another corpus ({what}); choose a new folder")
        changed = legacy(previous) if legacy else []
        if changed:
            raise InvalidInputError(f"{command}: --out {out} holds a corpus made with other settings "
                                    f"({'; '.join(changed)}); choose a new folder")
    elif out.is_dir() and any(p.name != LOCK for p in out.iterdir()):
        raise InvalidInputError(f"{command}: --out {out} is not empty and holds no corpus; choose a new folder")


def claim_out(out: Path, command: str, settings: dict[str, Any], generator: str,
              legacy: Legacy | None = None) -> None:
    """Make ``out`` if new, take its :data:`LOCK` for the rest of this process, then :func:`check_claim` and
    record the command and settings before the first item is written. InvalidInputError when the folder cannot be
    made or written, or another process is writing into it; a refused folder is left as it was."""
    check_claim(out, command, settings, generator, legacy)  # read only: a refused folder is not touched
    made = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        _lock(out, command)
        check_claim(out, command, settings, generator, legacy)  # again: another process may have claimed it
        with atomic_path(out / RECIPE) as tmp:
            tmp.write_text(json.dumps({"command": command, "settings": _plain(settings)}, indent=2),
                           encoding="utf-8")
    except OSError as exc:
        _unmake(out, made)
        raise InvalidInputError(f"{command}: --out {out} cannot be written ({exc.strerror or exc})") from None
    except InvalidInputError:
        _unmake(out, made)
        raise


def _lock(out: Path, command: str) -> None:
    key = out.resolve()
    if key in _held:  # this process claimed it before (a rerun in the same process)
        return
    lock = FileLock(out / LOCK, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise InvalidInputError(f"{command}: --out {out} is being written by another corpus command (it holds "
                                f"{LOCK}); wait for it to finish or choose another folder") from None
    _held[key] = lock


def _unmake(out: Path, made: bool) -> None:
    """Undo a refused claim of a folder this call made: release its lock and remove the (empty) folder."""
    if not made:
        return
    lock = _held.pop(out.resolve(), None)
    if lock is not None:
        lock.release()
    with contextlib.suppress(OSError):
        (out / LOCK).unlink(missing_ok=True)
        out.rmdir()
