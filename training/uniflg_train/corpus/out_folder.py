"""Where a corpus command writes (``--out``), checked before anything is written.

A corpus folder remembers what made it: the command and its settings, in :data:`RECIPE`, written before the
first item. A rerun with the same command and settings resumes; anything else is refused, so no command mixes its
items into another corpus or replaces one (``corpus make`` with a new seed, ``corpus merge`` over a made corpus).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from uniflg.errors import InvalidInputError
from uniflg.fileio import atomic_path

RECIPE = ".uniflg-corpus.json"  # {"command": ..., "settings": {...}}


def check_out(out: Path, sources: list[Path], command: str) -> None:
    """``out`` must be a folder path that can be made (new, or an existing folder), neither one of the resolved
    ``sources`` nor inside or around one; InvalidInputError naming what is wrong otherwise."""
    if out.exists() and not out.is_dir():
        raise InvalidInputError(f"{command}: --out {out} is a file; choose a new folder")
    existing = out.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise InvalidInputError(f"{command}: --out {out} cannot be made: {existing} is a file; choose a folder path")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InvalidInputError(f"{command}: --out {out} cannot be written: no write permission in {existing}")
    target = out.resolve()
    for src in sources:
        if target == src:
            raise InvalidInputError(f"{command}: --out {out} is one of the sources; choose a new folder")
        if target.is_relative_to(src) or src.is_relative_to(target):
            where = "inside" if target.is_relative_to(src) else "around"
            raise InvalidInputError(f"{command}: --out {out} is {where} the source {src}; choose a folder "
                                    "outside every source")


def _plain(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings as JSON reads them back (tuples -> lists, paths -> strings), so a rerun compares equal."""
    return json.loads(json.dumps(settings, default=str))


def _read(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def check_claim(out: Path, command: str, settings: dict[str, Any], generator: str) -> None:
    """Whether ``out`` may become this command's folder (read only): new or empty, or made by the same
    ``command`` with the same ``settings`` (a rerun resumes). A corpus from before recipes were kept
    (``corpus.json`` only) counts as the same when its ``generator`` is ``generator`` and, where both have one,
    its ``seed`` is the settings' seed. InvalidInputError naming the difference otherwise."""
    settings = _plain(settings)
    recipe, meta = out / RECIPE, out / "corpus.json"
    if recipe.is_file():
        before = _read(recipe) or {}
        if before.get("command") != command:
            raise InvalidInputError(f"{command}: --out {out} holds a corpus made by `uniflg "
                                    f"{before.get('command', '?')}`; choose a new folder")
        old = before.get("settings") or {}
        changed = [f"{k} {old.get(k)!r} -> {v!r}" for k, v in settings.items() if old.get(k) != v]
        if changed:
            raise InvalidInputError(f"{command}: --out {out} was made with other settings ({'; '.join(changed)}); "
                                    "rerun with the same ones to resume, or choose a new folder")
        return
    if meta.is_file():
        previous = _read(meta) or {}
        made_by = previous.get("generator") or "unreadable corpus.json"
        seed = settings.get("seed")
        if made_by != generator or (seed is not None and previous.get("seed") not in (None, seed)):
            what = made_by if made_by != generator else f"seed {previous.get('seed')}"
            raise InvalidInputError(f"{command}: --out {out} holds another corpus ({what}); choose a new folder")
    elif out.is_dir() and any(out.iterdir()):
        raise InvalidInputError(f"{command}: --out {out} is not empty and holds no corpus; choose a new folder")


def claim_out(out: Path, command: str, settings: dict[str, Any], generator: str) -> None:
    """:func:`check_claim`, then record the command and settings in ``out`` (made if new) before the first item
    is written; InvalidInputError when the folder cannot be made or written."""
    check_claim(out, command, settings, generator)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(out / RECIPE) as tmp:
            tmp.write_text(json.dumps({"command": command, "settings": _plain(settings)}, indent=2),
                           encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"{command}: --out {out} cannot be written ({exc.strerror or exc})") from None
