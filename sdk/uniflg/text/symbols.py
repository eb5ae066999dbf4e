"""The text front end's symbol table and prosody feature codes.

One table serves both languages, so a voice's embedding has a fixed size (``uniflg.config.N_SYMBOLS``):

* specials: ``_`` pad (index 0), ``^`` utterance start, ``$`` utterance end, ``pau`` a pause;
* Japanese: Open JTalk's phonemes as pyopenjtalk prints them (``cl`` = geminate closure, ``N`` = moraic
  nasal, capital vowels = devoiced);
* English: espeak-ng IPA reduced to a fixed set. Consonants that are the same sound as a Japanese one
  share its symbol (``tʃ`` -> ``ch``, ``dʒ`` -> ``j``, ``ʃ`` -> ``sh``, IPA ``j`` -> ``y``, ``ɡ`` -> ``g``);
  vowels keep their IPA names without length marks, diphthongs are one symbol.

The table only grows at its end (unused slots stay free), so ids of trained voices stay valid.
"""

from __future__ import annotations

from uniflg.config import N_SYMBOLS, PROSODY_CARDINALITIES

PAD = "_"
BOS = "^"
EOS = "$"
PAUSE = "pau"

SPECIALS: tuple[str, ...] = (PAD, BOS, EOS, PAUSE)

JAPANESE: tuple[str, ...] = (
    "a", "i", "u", "e", "o", "A", "I", "U", "E", "O", "N", "cl",
    "k", "ky", "kw", "g", "gy", "gw", "s", "sh", "z", "j", "t", "ty", "ts", "ch", "d", "dy",
    "n", "ny", "h", "hy", "f", "b", "by", "p", "py", "m", "my", "y", "r", "ry", "w", "v",
)

# Symbols English adds beyond those it shares with Japanese.
ENGLISH_ONLY: tuple[str, ...] = (
    "æ", "ɑ", "ɐ", "ɔ", "ə", "ɚ", "ɛ", "ɜ", "ɪ", "ᵻ", "ʊ", "ʌ",
    "aɪ", "aʊ", "eɪ", "oʊ", "ɔɪ",
    "θ", "ð", "ʒ", "ŋ", "l", "ɹ", "ɾ", "ʔ", "x",
)

SYMBOLS: tuple[str, ...] = SPECIALS + JAPANESE + ENGLISH_ONLY
SYMBOL_TO_ID: dict[str, int] = {s: i for i, s in enumerate(SYMBOLS)}

# English tokens (after stress and length marks are stripped) that map onto the shared set.
ENGLISH_MAP: dict[str, str] = {
    "p": "p", "b": "b", "t": "t", "d": "d", "k": "k", "ɡ": "g", "g": "g", "f": "f", "v": "v",
    "s": "s", "z": "z", "ʃ": "sh", "tʃ": "ch", "dʒ": "j", "h": "h", "m": "m", "n": "n", "j": "y",
    "w": "w", "n̩": "n", "i": "i", "u": "u", "e": "eɪ", "o": "oʊ", "a": "æ", "r": "ɹ", "ɫ": "l",
    "ɒ": "ɑ", "ɘ": "ə", "ɵ": "oʊ", "ʍ": "w", "ç": "h", "l̩": "l", "m̩": "m",
}

# Prosody feature codes, one column each of ``Utterance.prosody``.
ACCENT_NONE, ACCENT_LOW, ACCENT_HIGH, ACCENT_SECONDARY = 0, 1, 2, 3
BOUNDARY_PAD, BOUNDARY_INSIDE, BOUNDARY_PHRASE_FINAL, BOUNDARY_BREATH_FINAL = 0, 1, 2, 3
INTERROGATIVE_NO, INTERROGATIVE_YES = 0, 1

assert len(SYMBOLS) == len(SYMBOL_TO_ID), "duplicate symbol"
assert len(SYMBOLS) <= N_SYMBOLS, f"{len(SYMBOLS)} symbols exceed N_SYMBOLS={N_SYMBOLS}"
assert SYMBOL_TO_ID[PAD] == 0
assert PROSODY_CARDINALITIES == (4, 4, 2), "prosody codes below assume (accent 4, boundary 4, interrogative 2)"
assert all(v in SYMBOL_TO_ID for v in ENGLISH_MAP.values())


def symbol_id(symbol: str) -> int:
    """Index of ``symbol``; KeyError names it when it is not in the table."""
    try:
        return SYMBOL_TO_ID[symbol]
    except KeyError:
        raise KeyError(f"symbol {symbol!r} is not in the table") from None
