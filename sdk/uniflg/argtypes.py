"""argparse types shared by every ``uniflg`` command, so a bad number is one usage line (exit 2) wherever it is
given, never a traceback from deep inside numpy or the file system."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

from uniflg.limits import SEED_MAX, TRAINING_SEED_MAX, Range

_POWERS = {SEED_MAX: "2**64-1", TRAINING_SEED_MAX: "2**63-1"}  # said as powers of two, not as 20 digits


def seed(text: str) -> int:
    """argparse type: a synthesis or sampling seed, an integer from 0 to 2**64-1 (what gRPC requests carry)."""
    return int_range(0, SEED_MAX)(text)


def training_seed(text: str) -> int:
    """argparse type: a training or corpus seed, an integer from 0 to 2**63-1."""
    return int_range(0, TRAINING_SEED_MAX)(text)


def int_range(low: int, high: int) -> Callable[[str], int]:
    """argparse type factory: an integer from ``low`` to ``high`` (both included)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if not low <= value <= high:
            top = _POWERS.get(high) or f"{high:,}".replace(",", "_")
            raise argparse.ArgumentTypeError(f"must be from {low} to {top}; got {text}")
        return value

    parse.__name__ = "integer"  # argparse names the type in its "invalid <type> value" fallback
    return parse


def _finite(text: str, accepts: Callable[[float], bool], what: str) -> float:
    """``text`` as a finite float that ``accepts`` takes; else ArgumentTypeError "must be <what>"."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and accepts(value)):
        raise argparse.ArgumentTypeError(f"must be {what}; got {text}")
    return value


def positive_seconds(text: str) -> float:
    """argparse type: a finite number of seconds above 0."""
    return _finite(text, lambda v: v > 0, "a finite number of seconds above 0")


def within(limit: Range) -> Callable[[str], float]:
    """argparse type factory: a finite number inside ``limit`` (one of :mod:`uniflg.limits`' ranges)."""

    def parse(text: str) -> float:
        return _finite(text, lambda v: limit.lo <= v <= limit.hi,
                       f"a finite number from {limit.lo:g} to {limit.hi:g}")

    parse.__name__ = "number"
    return parse


def positive_number(text: str) -> float:
    """argparse type: a finite number above 0 (a learning rate, a weight)."""
    return _finite(text, lambda v: v > 0, "a finite number above 0")


def non_negative_number(text: str) -> float:
    """argparse type: a finite number of 0 or more (a loss weight that may switch a loss off)."""
    return _finite(text, lambda v: v >= 0, "a finite number of 0 or more")


def path(text: str) -> Path:
    """argparse type: a file or folder path; an empty one is refused (``Path('')`` would be the current folder,
    so ``--out ''`` would write there)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path: give a file or folder name")
    return Path(text)


path.__name__ = "path"


def name(text: str) -> str:
    """argparse type: a name sent to other programs (a Live Link subject): 1 to :data:`uniflg.limits.NAME_CHARS`
    characters, no control characters (a long one made every packet too large to send, without a word)."""
    from uniflg.errors import InvalidInputError
    from uniflg.limits import check_name

    if not text.strip():
        raise argparse.ArgumentTypeError("an empty name")
    try:
        return check_name("the name", text)
    except InvalidInputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


name.__name__ = "name"
