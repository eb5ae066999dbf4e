"""English: espeak-ng IPA (:mod:`uniflg.text.espeak`) -> tokens.

Prosody codes: accent 2 = primary stress, 3 = secondary stress, 1 = unstressed (a stress mark in the IPA
applies to the vowel it marks and to the consonant right before it); boundary 1 inside a
word, 2 word-final, 3 clause-final; interrogative 1 on the last word of a clause that ends in ``?``.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata

from uniflg.text import espeak
from uniflg.text import symbols as S
from uniflg.text.japanese import Token
from uniflg.text.segment import split_clauses

log = logging.getLogger(__name__)

_CLAUSE_MARKS = ".,!?;:"
_STRESS = {"ˈ": S.ACCENT_HIGH, "ˌ": S.ACCENT_SECONDARY}
_DROP = "ːˑ̃‿"  # length, half-length, nasalization, linking: not distinguished in our set
_VOWEL_START = set("aeiouæɑɐɔəɚɛɜɪᵻʊʌɒɘɵ")


def _plain(ipa: str) -> str:
    return re.sub(r"[ˈˌ_ ]", "", ipa)


@functools.lru_cache(maxsize=4096)
def reads_character(ch: str) -> bool:
    """Whether espeak-ng reads the non-ASCII character ``ch``: it says something, and not the character's
    code point spelled out ("letter two nine eight", its reading of letters it does not know). Punctuation
    may say nothing."""
    said = _plain(espeak.phonemes(ch))
    if not said:
        return unicodedata.category(ch)[0] == "P"
    return not said.startswith(_plain(espeak.phonemes("letter")))


def split_ipa(word: str) -> list[tuple[str, int]]:
    """One espeak word (``_``-separated IPA) -> [(symbol, stress code or 0)], unknown parts split greedily."""
    out: list[tuple[str, int]] = []
    for part in word.split("_"):
        stress = 0
        for mark, code in _STRESS.items():
            if mark in part:
                stress = code
                part = part.replace(mark, "")
        part = "".join(ch for ch in part if ch not in _DROP)
        for k, sym in enumerate(_split_unit(part)):
            out.append((sym, stress if k == 0 else 0))
    return out


def _split_unit(unit: str) -> list[str]:
    """Longest-match an IPA unit onto the table (``ɑɹ`` -> ``ɑ``, ``ɹ``; ``aɪɚ`` -> ``aɪ``, ``ɚ``)."""
    found: list[str] = []
    i = 0
    while i < len(unit):
        for j in range(len(unit), i, -1):
            piece = unit[i:j]
            sym = ENGLISH_SYMBOL.get(piece)
            if sym is not None:
                found.append(sym)
                i = j
                break
        else:
            log.debug("dropping unmapped espeak phoneme %r", unit[i])
            i += 1
    return found


ENGLISH_SYMBOL: dict[str, str] = {s: s for s in S.ENGLISH_ONLY} | dict(S.ENGLISH_MAP)


def _word_tokens(word: str, boundary_last: int, question: bool) -> list[Token]:
    units = split_ipa(word)
    accents = _spread_stress(units)
    toks = []
    for k, ((sym, _), acc) in enumerate(zip(units, accents, strict=True)):
        boundary = boundary_last if k == len(units) - 1 else S.BOUNDARY_INSIDE
        toks.append(Token(sym, acc, boundary, S.INTERROGATIVE_YES if question else S.INTERROGATIVE_NO))
    return toks


def _spread_stress(units: list[tuple[str, int]]) -> list[int]:
    """espeak marks stress on the vowel; the consonant right before it (its onset) shares the code."""
    acc = [S.ACCENT_LOW] * len(units)
    for k, (_, stress) in enumerate(units):
        if stress:
            acc[k] = stress
            if k > 0 and units[k - 1][0][0] not in _VOWEL_START and units[k - 1][1] == 0:
                acc[k - 1] = stress
    return acc


def word_tokens(text: str) -> list[Token]:
    """Tokens of ``text`` read as one clause, without ``^``/``$`` (the loanword reader's view of a word)."""
    words = [w for w in espeak.phonemes(text).split() if w.strip("_")]
    tokens: list[Token] = []
    for wi, word in enumerate(words):
        last = wi == len(words) - 1
        tokens.extend(_word_tokens(word, S.BOUNDARY_BREATH_FINAL if last else S.BOUNDARY_PHRASE_FINAL, False))
    return tokens


def text_to_tokens(text: str) -> list[Token]:
    """Normalized English text -> tokens, with ``^`` / ``$`` around and ``pau`` between clauses (a clause ends
    at punctuation followed by a space or the end: :func:`uniflg.text.segment.split_clauses`)."""
    tokens: list[Token] = [Token(S.BOS, S.ACCENT_NONE, S.BOUNDARY_BREATH_FINAL, S.INTERROGATIVE_NO)]
    clauses = split_clauses(text)
    spoken = 0
    for clause in clauses:
        question = clause.rstrip("\"')] ").endswith("?")
        words = [w for w in espeak.phonemes(clause.rstrip(_CLAUSE_MARKS)).split() if w.strip("_")]
        if not words:
            continue
        if spoken:
            tokens.append(Token(S.PAUSE, S.ACCENT_NONE, S.BOUNDARY_BREATH_FINAL, S.INTERROGATIVE_NO))
        for wi, word in enumerate(words):
            last = wi == len(words) - 1
            tokens.extend(_word_tokens(word, S.BOUNDARY_BREATH_FINAL if last else S.BOUNDARY_PHRASE_FINAL,
                                       question and last))
        spoken += 1
    tokens.append(Token(S.EOS, S.ACCENT_NONE, S.BOUNDARY_BREATH_FINAL, S.INTERROGATIVE_NO))
    return tokens
