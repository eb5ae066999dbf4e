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
from uniflg.errors import InvalidInputError, LimitExceededError, UnsupportedTextError
from uniflg.limits import check_control_characters, check_encoding, check_nonempty
from uniflg.text import symbols as S
from uniflg.text.charset import (
    LANGUAGE_NAMES,
    LANGUAGES,
    describe_characters,
    detect_language,
    is_chinese_only,
    is_japanese_script,
    scripts_in,
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


@dataclass(frozen=True)
class _Cleaned:
    text: str
    dropped: tuple[str, ...]  # what was not read (emoji, symbols, faces, stage directions)
    wide: frozenset[int]  # positions in ``text`` of letters and digits typed full width (ｗ, ８, Ｏ: a Japanese IME)
    given: str = ""  # the text as the caller gave it (errors quote it: ！！！ is not the normalized !!!)


def _clean(text: str, strict: bool) -> _Cleaned:
    """Refuse control characters, remove decoration (emoji, symbols, kaomoji and emoticons: :mod:`uniflg.text.faces`;
    stage directions: :mod:`uniflg.text.markup`; or refuse them under ``strict``), read Markdown as plain text, remove
    invisible format
    characters (a byte-order mark, zero-width spaces, direction marks: Unicode category Cf), then NFKC."""
    check_nonempty(text)
    if not isinstance(strict, bool):  # "no" would be strict
        raise InvalidInputError(f"strict must be True or False; got {strict!r}")
    check_encoding(text)
    check_control_characters(text)
    given = text
    text = _star_ratings(text)  # before the stars are dropped as decoration
    text = _HEART_VERB.sub(r"\1 love", text)  # I ❤️ you: a word, before the hearts are dropped as decoration
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
    if any("\u3041" <= c <= "\u30ff" for c in text):  # Japanese text: a Chinese word in it is not read (谢谢)
        chinese = tuple(dict.fromkeys(c for c in text if is_chinese_only(c)))
        if chinese:
            text = "".join(c for c in text if c not in chinese)
            dropped += chinese
    # laughter typed full width (ｗｗｗ) is Japanese chat's, in any sentence: not read (lol that was good ｗｗｗ was
    # read as Japanese, its English in katakana), as the Japanese front end leaves it out (normalize_ja._LAUGH)
    laughter = tuple(dict.fromkeys(_WIDE_LAUGH.findall(text)))
    text = _WIDE_LAUGH.sub("", text) if laughter else text
    if dropped and strict:
        raise UnsupportedTextError("emoji, symbols, faces and stage directions are not read: "
                                   f"{describe_characters(dropped)} (without strict they are dropped)", dropped)
    text, wide = _nfkc(text)
    lead = len(text) - len(text.lstrip())
    text = text.strip()
    wide = frozenset(i - lead for i in wide if 0 <= i - lead < len(text))
    if not text:  # one line: the error names what was dropped
        what = (describe_characters(dropped + laughter) if dropped or laughter
                else f"invisible format characters {describe_characters(invisible)}" if invisible
                else "Markdown formatting (a rule, an empty list or heading)")
        raise UnsupportedTextError(f"nothing speakable: only {what}", dropped)
    if dropped:
        log.warning("dropped what is not read (emoji, symbols, faces, stage directions): %s", " ".join(dropped))
    return _Cleaned(text, dropped, wide, given)


_WIDE_LAUGH = re.compile(r"(?<![Ａ-Ｚａ-ｚ])ｗ{2,}(?![Ａ-Ｚａ-ｚ])")  # ｗｗ, ｗｗｗｗ; not in a word, nor ＷＷＷ
# A heart after a subject pronoun and before a word stands for "love" (I ❤️ you, I ♥ NY, we ❤️ it); anywhere else
# it is decoration (love you 💕 bye, thanks everyone ❤️ see you, 大好き❤️).
_HEART_VERB = re.compile(r"\b(I|[Ww]e|[Tt]hey|[Hh]e|[Ss]he) (?:[\u2764\u2665"
                         r"\U0001F495-\U0001F49C\U0001F9E1\U0001F5A4\U0001F90D\U0001F90E]\ufe0f?)(?= [A-Za-z])")
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


def _is_cjk_form(ch: str) -> bool:
    """Letters and digits typed full width (ｗｗｗ, ８８８８, ＯＫ): a Japanese keyboard's. (Its punctuation, ！ or 。,
    also ends English sentences typed on one: Hello, world！ stays English.)"""
    return "\uff10" <= ch <= "\uff19" or "\uff21" <= ch <= "\uff3a" or "\uff41" <= ch <= "\uff5a"


def _nfkc(text: str) -> tuple[str, frozenset[int]]:
    """NFKC, but compatibility numbers stay apart from the digits beside them (NFKC alone reads ``3½`` as
    ``31⁄2`` and ``①②③`` as ``123``: -> ``3 1/2``, ``1 2 3``), a superscript after a digit is an exponent
    (``10²`` -> ``10^2``; after a letter it still joins: ``m²`` -> ``m2``), and a fraction slash (U+2044) is a
    ``/``, so the fraction rules read it. -> (text, positions of letters and digits typed full width; empty in the rare
    text where NFKC composes across characters and the positions would not hold)."""
    out: list[str] = []
    wide: list[int] = []
    length = 0  # of "".join(out)
    glued = raised = False  # the last piece came from a compatibility number / a superscript digit
    for ch in text:
        piece = unicodedata.normalize("NFKC", ch)
        compat = piece != ch and unicodedata.category(ch) == "No" and "SCRIPT" not in unicodedata.name(ch, "")
        superscript = unicodedata.category(ch) == "No" and "SUPERSCRIPT" in unicodedata.name(ch, "")
        sep = ""
        if (compat or glued) and out[-1:] and out[-1][-1:].isdigit() and piece[:1].isdigit():
            sep = " "
        elif superscript and not raised and out[-1:] and out[-1][-1:].isdigit():
            sep = "^"  # 10² is ten to the power of two, not 102 (m² stays m2: a unit)
        if sep:
            out.append(sep)
        start = length + len(sep)
        if _is_cjk_form(ch):
            wide.extend(range(start, start + len(piece)))
        out.append(piece)
        length = start + len(piece)
        glued, raised = compat, superscript
    joined = "".join(out)
    text = unicodedata.normalize("NFKC", joined)
    return text.replace("\u2044", "/"), frozenset(wide) if text == joined else frozenset()


def _check_language(language: str) -> None:
    if language != "auto" and language not in LANGUAGES:
        raise UnsupportedTextError(f"unknown language {language!r}; available: auto, {', '.join(LANGUAGES)}")


def _detected(sentence: str, typed_wide: bool) -> str | None:
    """``ja`` for kana or kanji, or for letters and digits typed full width (``ｗｗｗ``, ``８８８８``, ``ＯＫ！``: a
    Japanese keyboard's); ``en`` for Latin letters; None for a sentence without letters (``100%``, ``8888``), which
    reads in its neighbours' language. Raises :class:`UnsupportedTextError` for another script
    (:func:`detect_language`)."""
    if detect_language(sentence) == "ja" or typed_wide:
        return "ja"
    if scripts_in(sentence).latin:
        return "en"
    return "ja" if re.search("[\u3000-\u303f]", sentence) else None  # 21:00〜, 9:00〜18:00: a Japanese sign


def _typed_wide(cleaned: _Cleaned, span: tuple[int, int]) -> bool:
    """Whether the letters and digits of ``cleaned.text[span]`` were typed full width, every Latin letter among
    them: ｗｗｗ, ８８８８, ＯＫ！ (not Hello ＯＫ, whose Hello was typed half width)."""
    positions = range(*span)
    typed = [i for i in positions if i in cleaned.wide]
    return bool(typed) and all(i in cleaned.wide for i in positions if cleaned.text[i].isascii()
                               and cleaned.text[i].isalpha())


def _spans(text: str, sentences: Sequence[str]) -> list[tuple[int, int]]:
    """Where each of ``sentences`` (cut from ``text`` in order, stripped) sits: [(start, end)]."""
    spans, pos = [], 0
    for sentence in sentences:
        start = text.find(sentence, pos)
        start = pos if start < 0 else start
        pos = start + len(sentence)
        spans.append((start, pos))
    return spans


def _languages(cleaned: _Cleaned, sentences: Sequence[str], language: str) -> list[tuple[str, str]]:
    """(sentence, language) for each sentence: ``language`` itself, or with "auto" each sentence's own
    (:func:`_detected`); a sentence without letters takes the language of the sentence before it, else after it,
    else English (``こんにちは。100%`` reads ``100%`` in Japanese)."""
    _check_language(language)
    if language != "auto":
        return [(s, language) for s in sentences]
    found = [_detected(s, _typed_wide(cleaned, span))
             for s, span in zip(sentences, _spans(cleaned.text, sentences), strict=True)]
    for order in (range(len(found)), range(len(found) - 1, -1, -1)):
        last: str | None = None
        for i in order:
            found[i] = last = found[i] or last
    return [(s, lang or "en") for s, lang in zip(sentences, found, strict=True)]


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
    cleaned = _clean(text, strict)
    text = cleaned.text
    detected = language == "auto"
    [(_, language)] = _languages(cleaned, [text], language)
    spoken, tokens = _tokens(text, language, detected)
    if not _speakable(tokens):
        raise _nothing_speakable(cleaned)
    return from_tokens(tokens, language, spoken)


def _nothing_speakable(cleaned: _Cleaned) -> UnsupportedTextError:
    """The error for text that is left with no word to say: what was left, and what went before (♪～ once named
    only the "~")."""
    went = f" once {describe_characters(cleaned.dropped)} went" if cleaned.dropped else ""
    shown = cleaned.given.strip() or cleaned.text
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return UnsupportedTextError(f"nothing speakable in {shown!r}{went}: give words (punctuation, symbols "
                                "and laughter (www) alone are not speech)", cleaned.dropped)


def check_length(text: str, sentences: Sequence[tuple[str, str]]) -> None:
    """Raise :class:`LimitExceededError` when ``text``, cut into (sentence, language) pairs, exceeds
    :data:`MAX_CHARS`: each language's characters count against its own limit (a sentence with the spaces
    before it: every character of the text counts), and the shares add up to at most one."""
    used: dict[str, int] = {}
    pos = 0
    for (_, end), (_, language) in zip(_spans(text, [s for s, _ in sentences]), sentences, strict=True):
        used[language] = used.get(language, 0) + end - pos  # with the spaces before it
        pos = end
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
    cleaned = _clean(text, strict)
    text, dropped = cleaned.text, cleaned.dropped
    sentences = _languages(cleaned, split_sentences(text), language)
    check_length(text, sentences)
    pieces: list[tuple[str, Utterance]] = []
    for sentence, lang in sentences:
        pieces.extend(_fit(sentence, lang, max_symbols, detected=language == "auto"))
    if not pieces:
        raise _nothing_speakable(cleaned)
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

