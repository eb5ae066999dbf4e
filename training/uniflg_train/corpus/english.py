"""English Paired items: espeak-ng speech, its phoneme events timed onto the SDK front end's symbols.

The face needs a time span for every symbol the model will read, and those symbols must be the ones
``uniflg.text.encode(text, "en")`` produces (so training text matches inference). espeak-ng reports its own
phoneme mnemonics with audio positions; :data:`MNEMONIC` maps each onto one or more of our symbols, and a
sequence alignment (:class:`difflib.SequenceMatcher`) carries the times across. Symbols with no event (a rare
G2P/synthesis disagreement) share the span of their neighbours' block.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from uniflg.text import symbols as S

# espeak-ng en-us voices as speakers: (voice+variant); rate, pitch and range are drawn per item.
VOICES = ("en-us", "en-us+m3", "en-us+f2", "en-us+m7", "en-us+f4")
RATE_RANGE = (140, 190)       # words per minute
PITCH_RANGE = (35, 65)        # espeak 0-100
CREDIT = "espeak-ng 1.52 (espeakng-loader wheel), en-us voice with variants " + ", ".join(VOICES[1:])

# espeak-ng English mnemonic (stress marks removed) -> our symbols.
MNEMONIC: dict[str, tuple[str, ...]] = {
    "p": ("p",), "b": ("b",), "t": ("t",), "d": ("d",), "k": ("k",), "g": ("g",), "f": ("f",), "v": ("v",),
    "T": ("θ",), "D": ("ð",), "s": ("s",), "z": ("z",), "S": ("sh",), "Z": ("ʒ",), "tS": ("ch",), "dZ": ("j",),
    "h": ("h",), "m": ("m",), "n": ("n",), "N": ("ŋ",), "l": ("l",), "r": ("ɹ",), "w": ("w",), "j": ("y",),
    "t#": ("ɾ",), "d#": ("ɾ",), "r-": ("ɹ",), "l/": ("l",), "n-": ("n",), "m-": ("m",), "?": ("ʔ",),
    "x": ("x",), "C": ("h",), "W": ("w",),
    "a": ("æ",), "aa": ("æ",), "a#": ("ɐ",), "A:": ("ɑ",), "A@": ("ɑ", "ɹ"), "0": ("ɑ",), "@": ("ə",),
    "@2": ("ə",), "@5": ("ə",), "@L": ("ə", "l"), "3": ("ɚ",), "3:": ("ɜ",), "I": ("ɪ",), "I2": ("ᵻ",),
    "I#": ("ᵻ",), "i": ("i",), "i:": ("i",), "i@": ("i", "ə"), "i@3": ("ɪ", "ɹ"), "U": ("ʊ",), "u:": ("u",),
    "U@": ("ʊ", "ɹ"), "V": ("ʌ",), "O:": ("ɔ",), "O": ("ɔ",), "O2": ("ɔ",), "O@": ("ɔ", "ɹ"),
    "o@": ("oʊ", "ɹ"), "aI": ("aɪ",), "aU": ("aʊ",), "eI": ("eɪ",), "OI": ("ɔɪ",), "oU": ("oʊ",),
    "e@": ("ɛ", "ɹ"), "E": ("ɛ",), "e": ("ɛ",), "aI@": ("aɪ", "ə"), "aI3": ("aɪ", "ɚ"), "aU@": ("aʊ", "ɚ"),
    "_": (S.PAUSE,), "_:": (S.PAUSE,), "_!": (S.PAUSE,),
}


@dataclass(frozen=True)
class Timing:
    symbols: tuple[str, ...]
    starts: np.ndarray   # seconds, one per symbol
    ends: np.ndarray
    matched: float       # share of spoken symbols that found an espeak event


def mnemonic_symbols(mnemonic: str) -> tuple[str, ...]:
    """Our symbols for one espeak-ng mnemonic ('ˈ'/',' stress marks ignored); () when unknown."""
    m = mnemonic.lstrip("',")
    return MNEMONIC.get(m) or MNEMONIC.get(m.rstrip("0123456789#")) or ()


def time_symbols(symbols: Sequence[str], events: Sequence[tuple[str, float]], seconds: float) -> Timing:
    """Times for ``symbols`` (the front end's, with ``^``/``$`` around) from espeak-ng ``events``
    [(mnemonic, start s)]. ``^`` spans the leading silence, ``$`` the trailing one."""
    pieces: list[tuple[str, float, float]] = []
    for k, (name, start) in enumerate(events):
        end = events[k + 1][1] if k + 1 < len(events) else seconds
        mapped = mnemonic_symbols(name)
        step = (end - start) / max(len(mapped), 1)
        pieces += [(sym, start + i * step, start + (i + 1) * step) for i, sym in enumerate(mapped)]
    inner = list(symbols[1:-1]) if symbols and symbols[0] == S.BOS else list(symbols)
    # Leading/trailing pauses of the synthesis are the ^ / $ silence, not pau symbols.
    while pieces and pieces[0][0] == S.PAUSE:
        pieces.pop(0)
    while pieces and pieces[-1][0] == S.PAUSE:
        pieces.pop()
    speech_start = pieces[0][1] if pieces else 0.0
    speech_end = pieces[-1][2] if pieces else seconds
    starts, ends = np.zeros(len(inner)), np.zeros(len(inner))
    matcher = difflib.SequenceMatcher(None, [p[0] for p in pieces], inner, autojunk=False)
    matched = 0
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if j2 == j1:
            continue
        if tag == "equal":
            matched += j2 - j1
        t0 = pieces[i1][1] if i1 < len(pieces) else speech_end
        t1 = pieces[i2 - 1][2] if i2 > i1 else t0
        if i2 == i1:  # no event: borrow 40 ms per symbol just before the next event
            t0 = max(speech_start, t0 - 0.04 * (j2 - j1))
        edges = np.linspace(t0, t1, j2 - j1 + 1) if tag != "equal" else None
        for n, j in enumerate(range(j1, j2)):
            if edges is None:
                starts[j], ends[j] = pieces[i1 + n][1], pieces[i1 + n][2]
            else:
                starts[j], ends[j] = edges[n], edges[n + 1]
    spoken = sum(s != S.PAUSE for s in inner)
    if symbols and symbols[0] == S.BOS:
        starts = np.concatenate([[0.0], starts, [speech_end]])
        ends = np.concatenate([[speech_start], ends, [seconds]])
    return Timing(tuple(symbols), starts, ends, matched / max(len(inner), 1) if spoken else 1.0)
