"""Text -> :class:`Utterance` (symbol ids + three categorical prosody features per token), and long text ->
:class:`Passage` (one utterance per sentence).

This is our version of the paper's "linguistic input" (docs/frontend.md): the paper feeds a 50-dim
Open JTalk vector; we feed a symbol id plus three small categorical features (accent, boundary,
interrogative) that the text encoder embeds and sums.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from uniflg.backends.graphs import AXIS_RANGES
from uniflg.errors import LimitExceededError, UnsupportedTextError
from uniflg.limits import check_control_characters, check_encoding, check_nonempty
from uniflg.text import symbols as S
from uniflg.text.charset import (
    LANGUAGE_NAMES,
    LANGUAGES,
    describe_characters,
    detect_language,
    is_japanese_script,
    split_decoration,
    unreadable_characters,
)
from uniflg.text.faces import split_faces
from uniflg.text.japanese import Token
from uniflg.text.markup import plain_text, split_directions
from uniflg.text.segment import split_clauses, split_sentences

log = logging.getLogger(__name__)

Language = Literal["ja", "en"]

# Characters per request and language (docs/frontend.md, "Limits"): about three minutes of speech each at the
# default voice's pace (measured on tests/data: 5.0-5.7 Japanese and 15.7-17.6 English characters per second,
# so 175-200 s and 170-190 s). In mixed text each language's share counts against its own limit.
MAX_CHARS: dict[str, int] = {"ja": 1000, "en": 3000}
# Symbols per synthesized piece: the largest token axis of the exported graphs.
MAX_SYMBOLS = AXIS_RANGES["tokens"][2]


@dataclass(frozen=True)
class Utterance:
    """A front-end result. ``ids`` int64 [N]; ``prosody`` int64 [N, 3] = (accent, boundary, interrogative)."""

    language: str
    symbols: tuple[str, ...]
    ids: np.ndarray
    prosody: np.ndarray
    text: str = ""  # the normalized text the symbols were read from

    def __len__(self) -> int:
        return len(self.symbols)


@dataclass(frozen=True)
class Passage:
    """A text of any length, split at sentence ends into pieces that each fit one synthesis call.

    ``sentences[i]`` is the source of ``utterances[i]`` (a long sentence may be cut further, at clause ends);
    ``dropped`` lists the emoji and decorative symbols that were removed."""

    sentences: tuple[str, ...]
    utterances: tuple[Utterance, ...]
    dropped: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.utterances)


def _clean(text: str, strict: bool) -> tuple[str, tuple[str, ...]]:
    """Refuse control characters, remove decoration (emoji, symbols, kaomoji and emoticons: :mod:`uniflg.text.faces`;
    stage directions: :mod:`uniflg.text.markup`; or refuse them under ``strict``), read Markdown as plain text, remove
    invisible format
    characters (a byte-order mark, zero-width spaces, direction marks: Unicode category Cf), then NFKC.
    -> (text, what was dropped)."""
    check_nonempty(text)
    check_encoding(text)
    check_control_characters(text)
    text = _star_ratings(text)  # before the stars are dropped as decoration
    # kaomoji and emoticons first: before NFKC, which splits their accents, and before the decoration, which would
    # take their symbols out of them ((╯°□°）╯ lost ╯ and □ and was read "degrees degrees")
    text, faces = split_faces(text)
    text, dropped = split_decoration(text)  # emoji sequences hold zero-width joiners: before the invisible ones go
    dropped = faces + dropped
    text, directions = split_directions(text)  # (laughs), *sighs*, (笑): before Markdown reads *...* as emphasis
    dropped += directions
    text = plain_text(text)  # Markdown: after the faces, whose * and _ it would read as emphasis
    invisible = sorted({c for c in text if unicodedata.category(c) == "Cf"})
    if invisible:
        text = "".join(c for c in text if unicodedata.category(c) != "Cf")
        log.info("removed invisible format characters: %s", describe_characters(invisible))
    if dropped and strict:
        raise UnsupportedTextError("emoji, symbols, faces and stage directions are not read: "
                                   f"{describe_characters(dropped)} (without strict they are dropped)", dropped)
    text = _nfkc(text).strip()
    if not text:  # one line: the error names what was dropped
        what = (describe_characters(dropped) if dropped
                else f"invisible format characters {describe_characters(invisible)}" if invisible
                else "Markdown formatting (a rule, an empty list or heading)")
        raise UnsupportedTextError(f"nothing speakable: only {what}", dropped)
    if dropped:
        log.warning("dropped what is not read (emoji, symbols, faces, stage directions): %s", " ".join(dropped))
    return text, dropped


_STARS = re.compile(r"[★☆]\s?(\d+(?:\.\d)?)|(\d+(?:\.\d)?)\s?[★☆]")


def _star_ratings(text: str) -> str:
    """A star next to a number is a rating, not decoration: ``★5``, ``5★`` -> 星5 in Japanese text, "5 star" in
    English (the language of the text around it decides; a star elsewhere stays decoration)."""
    if not _STARS.search(text):
        return text
    japanese = any(is_japanese_script(c) for c in text)

    def said(m: re.Match[str]) -> str:
        number = m.group(1) or m.group(2)
        return f"星{number}" if japanese else f"{number} star"

    return _STARS.sub(said, text)


def _nfkc(text: str) -> str:
    """NFKC, but compatibility numbers stay apart from the digits beside them (NFKC alone reads ``3½`` as
    ``31⁄2`` and ``①②③`` as ``123``: -> ``3 1/2``, ``1 2 3``), a superscript after a digit is an exponent
    (``10²`` -> ``10^2``; after a letter it still joins: ``m²`` -> ``m2``), and a fraction slash (U+2044) is a
    ``/``, so the fraction rules read it."""
    out: list[str] = []
    glued = raised = False  # the last piece came from a compatibility number / a superscript digit
    for ch in text:
        piece = unicodedata.normalize("NFKC", ch)
        compat = piece != ch and unicodedata.category(ch) == "No" and "SCRIPT" not in unicodedata.name(ch, "")
        superscript = unicodedata.category(ch) == "No" and "SUPERSCRIPT" in unicodedata.name(ch, "")
        if (compat or glued) and out[-1:] and out[-1][-1:].isdigit() and piece[:1].isdigit():
            out.append(" ")
        elif superscript and not raised and out[-1:] and out[-1][-1:].isdigit():
            out.append("^")  # 10² is ten to the power of two, not 102 (m² stays m2: a unit)
        out.append(piece)
        glued, raised = compat, superscript
    return unicodedata.normalize("NFKC", "".join(out)).replace("\u2044", "/")


def _language(text: str, language: str) -> str:
    if language == "auto":
        return detect_language(text)
    if language not in LANGUAGES:
        raise UnsupportedTextError(f"unknown language {language!r}; available: auto, {', '.join(LANGUAGES)}")
    return language


def _check_readable(text: str, language: str, detected: bool) -> None:
    bad = unreadable_characters(text, language)
    if bad:
        others = ", ".join(code for code in LANGUAGES if code != language)
        hint = (f"give text it reads (the text was detected as {language}; if it is in another language, name "
                f"it: {others})" if detected else
                f"give text it reads, let the language be detected (auto), or name another: {others}")
        raise UnsupportedTextError(f"the {language} front end cannot read: {describe_characters(bad)}; {hint}", bad)


def _tokens(text: str, language: str, detected: bool = False) -> tuple[str, list[Token]]:
    """NFKC text of one language -> (normalized text, tokens); refuses characters the phonemizer does not read
    (checked after normalization, which turns the signs it knows into words)."""
    if language == "ja":
        from uniflg.text.japanese import full_context_labels, labels_to_tokens
        from uniflg.text.normalize_ja import normalize as normalize_ja

        spoken = normalize_ja(text)
        _check_readable(spoken, language, detected)
        return spoken, labels_to_tokens(full_context_labels(spoken))
    from uniflg.text.english import text_to_tokens
    from uniflg.text.normalize_en import normalize as normalize_en

    spoken = normalize_en(text)
    _check_readable(spoken, language, detected)
    return spoken, text_to_tokens(spoken)


def _speakable(tokens: Sequence[Token]) -> bool:
    return any(t.symbol not in S.SPECIALS for t in tokens)


def encode(text: str, language: str = "auto", strict: bool = False) -> Utterance:
    """Text -> one :class:`Utterance` (no splitting; :func:`split_text` handles long text).

    Steps: drop emoji/decoration (one warning; ``strict`` refuses them), NFKC, detect the language
    (``language`` "auto": kana/kanji -> ja, else en), check every character is readable, normalize (numbers,
    money, dates, times, units, abbreviations, loanwords), phonemize. Raises :class:`UnsupportedTextError`
    naming the characters or script it cannot read, :class:`InvalidInputError` for empty text."""
    text, _ = _clean(text, strict)
    detected = language == "auto"
    language = _language(text, language)
    spoken, tokens = _tokens(text, language, detected)
    if not _speakable(tokens):
        raise UnsupportedTextError(f"nothing speakable in {text!r}: give words (only punctuation, spaces or "
                                   "symbols is not speech)")
    return from_tokens(tokens, language, spoken)


def check_length(text: str, sentences: Sequence[tuple[str, str]]) -> None:
    """Raise :class:`LimitExceededError` when ``text``, cut into (sentence, language) pairs, exceeds
    :data:`MAX_CHARS`: each language's characters count against its own limit (a sentence with the spaces
    before it: every character of the text counts), and the shares add up to at most one."""
    used: dict[str, int] = {}
    pos = 0
    for sentence, language in sentences:
        start = text.find(sentence, pos)
        start = pos if start < 0 else start
        used[language] = used.get(language, 0) + (start - pos) + len(sentence)
        pos = start + len(sentence)
    share = sum(n / MAX_CHARS[lang] for lang, n in used.items())
    if share > 1.0:
        have = ", ".join(f"{n:,} {LANGUAGE_NAMES[lang]}" for lang, n in used.items())
        allowed = " or ".join(f"{n:,} {LANGUAGE_NAMES[lang]}" for lang, n in MAX_CHARS.items())
        raise LimitExceededError(f"text too long: {have} characters; at most {allowed} characters per request "
                                 "(mixed text: each language's share of its limit, adding up to one)")


def split_text(text: str, language: str = "auto", strict: bool = False, max_symbols: int = MAX_SYMBOLS) -> Passage:
    """Text of any length -> a :class:`Passage`: one utterance per sentence, each at most ``max_symbols``
    symbols (a longer sentence is cut at clause ends, then between words). With ``language`` "auto" each
    sentence's language is detected on its own, so mixed text works. Validates everything before returning
    (the errors of :func:`encode`, plus :class:`LimitExceededError` past :data:`MAX_CHARS`)."""
    text, dropped = _clean(text, strict)
    sentences = [(s, _language(s, language)) for s in split_sentences(text)]
    check_length(text, sentences)
    pieces: list[tuple[str, Utterance]] = []
    for sentence, lang in sentences:
        pieces.extend(_fit(sentence, lang, max_symbols, detected=language == "auto"))
    if not pieces:
        raise UnsupportedTextError(f"nothing speakable in {text!r}: give words (only punctuation, spaces or "
                                   "symbols is not speech)")
    for i, (_, utterance) in enumerate(pieces):  # what the voice will say, as it reads it (uniflg -v)
        log.debug("sentence %d (%s): %s", i, utterance.language, utterance.text)
    return Passage(tuple(s for s, _ in pieces), tuple(u for _, u in pieces), dropped)


def _fit(text: str, language: str, max_symbols: int, detected: bool = False) -> list[tuple[str, Utterance]]:
    """One sentence -> pieces of at most ``max_symbols`` symbols, cut as near the middle as a clause end
    (else a space, else a character) allows. Sentences with nothing to say give no piece."""
    spoken, tokens = _tokens(text, language, detected)
    if not _speakable(tokens):
        return []
    if len(tokens) <= max_symbols:
        return [(text, from_tokens(tokens, language, spoken))]
    parts = split_clauses(text)
    if len(parts) < 2:
        parts = text.split() if " " in text.strip() else list(text)
    if len(parts) < 2:
        raise LimitExceededError(f"cannot cut {text!r} into pieces of {max_symbols} symbols")
    sizes = np.cumsum([len(p) for p in parts])
    cut = int(np.argmin(np.abs(sizes[:-1] - sizes[-1] / 2))) + 1
    glue = "" if language == "ja" else " "
    return (_fit(glue.join(parts[:cut]), language, max_symbols, detected)
            + _fit(glue.join(parts[cut:]), language, max_symbols, detected))


def from_tokens(tokens: Sequence[Token], language: str, text: str = "") -> Utterance:
    """Pack tokens into an :class:`Utterance` (used by the corpus, which needs the labels too)."""
    ids = np.array([S.symbol_id(t.symbol) for t in tokens], dtype=np.int64)
    prosody = np.array([[t.accent, t.boundary, t.interrogative] for t in tokens], dtype=np.int64)
    return Utterance(language, tuple(t.symbol for t in tokens), ids, prosody.reshape(-1, 3), text)

