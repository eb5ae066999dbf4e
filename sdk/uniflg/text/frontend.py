"""Text -> :class:`Utterance` (symbol ids + three categorical prosody features per token).

This is our version of the paper's "linguistic input" (docs/frontend.md): the paper feeds a 50-dim
Open JTalk vector; we feed a symbol id plus three small categorical features (accent, boundary,
interrogative) that the text encoder embeds and sums.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from uniflg.errors import InvalidInputError, UnsupportedTextError
from uniflg.text import symbols as S
from uniflg.text.japanese import Token

log = logging.getLogger(__name__)

Language = Literal["ja", "en"]
LANGUAGES: tuple[str, ...] = ("ja", "en")

# Unicode name prefixes of letters each language's front end can read. pyopenjtalk spells out Latin
# letters, so Japanese text may mix them in.
_JA_LETTERS = ("CJK", "HIRAGANA", "KATAKANA", "HALFWIDTH KATAKANA", "LATIN", "FULLWIDTH LATIN",
               "IDEOGRAPHIC", "PROLONGED SOUND", "VERTICAL KANA")
_EN_LETTERS = ("LATIN",)
_JA_SCRIPT = ("CJK", "HIRAGANA", "KATAKANA", "HALFWIDTH KATAKANA", "IDEOGRAPHIC", "VERTICAL KANA")


@dataclass(frozen=True)
class Utterance:
    """A front-end result. ``ids`` int64 [N]; ``prosody`` int64 [N, 3] = (accent, boundary, interrogative)."""

    language: str
    symbols: tuple[str, ...]
    ids: np.ndarray
    prosody: np.ndarray

    def __len__(self) -> int:
        return len(self.symbols)


def detect_language(text: str) -> Language:
    """Japanese if the text contains kana or kanji, otherwise English."""
    for ch in text:
        if unicodedata.name(ch, "").startswith(_JA_SCRIPT):
            return "ja"
    return "en"


def unsupported_characters(text: str, language: str) -> tuple[str, ...]:
    """Characters of ``text`` that the ``language`` front end cannot read (in order, unique)."""
    letters = _JA_LETTERS if language == "ja" else _EN_LETTERS
    bad: list[str] = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat[0] == "L" or cat == "Mn":
            ok = unicodedata.name(ch, "").startswith(letters) or (language == "ja" and ch in "ー々〆ヶ")
        elif cat[0] in "PZ" or cat in ("Nd", "Sm", "Sc", "Sk") or ch in "\t\n\r":
            ok = cat != "Nd" or ch.isascii() or unicodedata.name(ch, "").startswith("FULLWIDTH")
        else:  # emoji, other symbols, controls, other-script digits
            ok = False
        if not ok and ch not in bad:
            bad.append(ch)
    return tuple(bad)


def encode(text: str, language: str = "auto") -> Utterance:
    """Text -> :class:`Utterance`.

    ``language``: "ja", "en" or "auto" (kana/kanji -> ja, else en). Raises :class:`UnsupportedTextError`
    naming the characters it cannot read, :class:`InvalidInputError` for empty text.
    """
    text = unicodedata.normalize("NFKC", text).strip()
    if not text:
        raise InvalidInputError("text is empty")
    if language == "auto":
        language = detect_language(text)
    if language not in LANGUAGES:
        raise UnsupportedTextError(f"unknown language {language!r}; available: auto, {', '.join(LANGUAGES)}")
    bad = unsupported_characters(text, language)
    if bad:
        listed = " ".join(f"{c!r} (U+{ord(c):04X})" for c in bad)
        raise UnsupportedTextError(f"the {language} front end cannot read: {listed}", bad)
    if language == "ja":
        from uniflg.text.japanese import full_context_labels, labels_to_tokens

        tokens = labels_to_tokens(full_context_labels(text))
    else:
        from uniflg.text.english import text_to_tokens

        tokens = text_to_tokens(text)
    if not any(t.symbol not in S.SPECIALS for t in tokens):
        raise UnsupportedTextError(f"nothing speakable in {text!r}")
    return from_tokens(tokens, language)


def from_tokens(tokens: Sequence[Token], language: str) -> Utterance:
    """Pack tokens into an :class:`Utterance` (used by the corpus, which needs the labels too)."""
    ids = np.array([S.symbol_id(t.symbol) for t in tokens], dtype=np.int64)
    prosody = np.array([[t.accent, t.boundary, t.interrogative] for t in tokens], dtype=np.int64)
    return Utterance(language, tuple(t.symbol for t in tokens), ids, prosody.reshape(-1, 3))
