"""The one table of request limits, shared by the runtime (:class:`uniflg.voice.Voice`) and the gRPC server.

Each option's accepted range lives here once; callers validate with :meth:`Range.check` and
:func:`check_text`, which raise the SDK's typed errors (the server maps them onto gRPC codes).
"""

from __future__ import annotations

import math
import numbers
import unicodedata
from dataclasses import dataclass

import numpy as np

from uniflg.errors import InvalidInputError, LimitExceededError, UnsupportedTextError


@dataclass(frozen=True)
class Range:
    """A closed interval ``[lo, hi]`` an option must fall in."""

    name: str
    lo: float
    hi: float

    def check(self, value: float) -> float:
        """``value`` if a finite number within the range; else InvalidInputError naming the range (also for a value
        that is not a number at all: a string, None)."""
        number = not isinstance(value, bool) and isinstance(value, numbers.Real)
        if not number or not math.isfinite(value) or not self.lo <= value <= self.hi:
            raise InvalidInputError(f"{self.name} must be a finite number within [{self.lo:g}, {self.hi:g}]; "
                                    f"got {value if number else repr(value)}")
        return value


SPEED = Range("speed", 0.25, 4.0)  # speaking-rate factor
CHUNK_SECONDS = Range("chunk_seconds", 0.05, 10.0)  # first streamed chunk, seconds of audio
NOISE_SCALE = Range("noise scale", 0.0, 10.0)  # noise_scale, noise_scale_duration, landmark_noise_scale
SAMPLE_RATE = Range("sample_rate", 8000, 192000)  # Hz of audio given to animate
MAX_CHANNELS = 32  # of audio given to animate, in a file or an array (mixed to mono)


def check_sample_rate(rate: object, what: str = "sample rate") -> int:
    """-> ``rate`` as int when it is a whole number of Hz within :data:`SAMPLE_RATE` (the SDK, the CLI and the
    gRPC AudioHeader share it); else InvalidInputError naming ``what`` and the range."""
    lo, hi = int(SAMPLE_RATE.lo), int(SAMPLE_RATE.hi)
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or not lo <= int(rate) <= hi:
        raise InvalidInputError(f"{what} must be an integer from {lo} to {hi} Hz; got {rate!r}")
    return int(rate)

SEED_MAX = 2**64 - 1  # the largest seed a request carries (gRPC's uint64); numpy takes any non-negative integer
TRAINING_SEED_MAX = 2**63 - 1  # training adds epochs to its seed, and torch generators hold 64 bits


def check_seed(seed: object, name: str = "seed") -> int:
    """``seed`` if it is a whole number from 0 to :data:`SEED_MAX` (bool is not a number here); else
    InvalidInputError naming ``name`` and the accepted range."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) <= SEED_MAX:
        raise InvalidInputError(f"{name} must be a whole number from 0 to 2**64-1; got {seed!r}")
    return int(seed)


ALLOWED_CONTROL = frozenset("\n\r\t")  # the only control characters a text may hold (line ends of any system)


def check_nonempty(text: str) -> str:
    """``text`` if it has a non-space character; else InvalidInputError("text is empty"), or "text must be a str"
    for None, bytes or anything else."""
    if not isinstance(text, str):
        hint = " (decode bytes first, e.g. text.decode('utf-8'))" if isinstance(text, bytes) else ""
        raise InvalidInputError(f"text must be a str; got {type(text).__name__}{hint}")
    if not text.strip():
        raise InvalidInputError("text is empty")
    return text


def check_encoding(text: str) -> str:
    """``text`` unless it holds lone surrogates: Python turns bytes that are not UTF-8 into U+DC80-U+DCFF
    (command-line arguments), so the UnsupportedTextError names the byte the user gave, not a character they never
    typed."""
    bad = tuple(dict.fromkeys(c for c in text if "\ud800" <= c <= "\udfff"))
    if bad:
        shown = " ".join(f"0x{ord(c) - 0xDC00:02X}" if "\udc80" <= c <= "\udcff" else f"U+{ord(c):04X}"
                         for c in bad[:8])
        raise UnsupportedTextError(f"the text is not valid UTF-8 (bytes or lone surrogates: {shown}); give UTF-8 "
                                   "text", bad)
    return text


def check_text(text: str, max_chars: int | None = None) -> str:
    """``text`` if it is valid UTF-8 (:func:`check_encoding`), has a non-space character, no control characters but
    newline and tab, and at most ``max_chars`` characters; else InvalidInputError (LimitExceededError when only
    too long, UnsupportedTextError for bytes that are not UTF-8)."""
    check_encoding(text)
    check_nonempty(text)
    if max_chars is not None and len(text) > max_chars:
        raise LimitExceededError(f"text has {len(text)} characters; the limit is {max_chars}")
    return check_control_characters(text)


def check_control_characters(text: str) -> str:
    """``text`` if its only control characters are newline, carriage return and tab; else InvalidInputError
    naming them (escape sequences, NUL and the like are not text to read)."""
    bad = sorted({c for c in text if unicodedata.category(c) == "Cc" and c not in ALLOWED_CONTROL})
    if bad:  # shown as the front end shows characters it cannot read: 'x' (U+0007)
        shown = " ".join(f"{c!r} (U+{ord(c):04X})" for c in bad[:8])
        raise InvalidInputError(f"text contains control characters {shown}{' ...' if len(bad) > 8 else ''} "
                                "(only newline, carriage return and tab are allowed)")
    return text


NAME_CHARS = 128  # speaker, emotion and request-id names


def check_name(field: str, value: str, max_chars: int = NAME_CHARS) -> str:
    """``value`` if it has at most ``max_chars`` characters and no control characters; else
    InvalidInputError naming ``field`` (names are echoed in errors and sent in OSC packets)."""
    if len(value) > max_chars:
        raise InvalidInputError(f"{field} has {len(value)} characters; the limit is {max_chars}")
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise InvalidInputError(f"{field} contains control characters")
    return value
