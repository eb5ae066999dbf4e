"""Which characters the front ends read, which are decoration, and which script (language) a text is in.

Three kinds of character (docs/frontend.md, "Symbol policy"):

* **read**: letters the phonemizer really reads, digits, punctuation, spaces, and the signs the normalizers
  turn into words (``$ % & + = @ ° …``);
* **decoration**: emoji (the ``emoji`` package's table, sequences with their joiners and modifiers whole) and
  other pictographic symbols (Unicode category So, arrows: ``♪ ★ ☆ ♡ ✓ →``). Dropped with one warning by
  default; refused under ``strict``;
* **unreadable**: everything else (letters the phonemizer spells out as code points such as ``ʘ ȸ ƛ ǂ``,
  letters of other scripts, controls, private-use characters). Always refused, naming each character.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from uniflg.errors import UnsupportedTextError

LANGUAGES: tuple[str, ...] = ("ja", "en")
LANGUAGE_NAMES = {"ja": "Japanese", "en": "English"}

# Unicode name prefixes of the Japanese writing system (Han characters count as Japanese: the SDK has no
# Chinese front end, and Open JTalk reads them with Japanese readings).
_JA_SCRIPT = ("CJK", "HIRAGANA", "KATAKANA", "HALFWIDTH KATAKANA", "IDEOGRAPHIC", "VERTICAL KANA")
_JA_EXTRA = "ー々〆ヶ〇"
# Latin letters with no ASCII base that espeak-ng en-us reads as part of a word (checked one by one:
# ``encyclopædia``, ``œuvre``); every other non-ASCII Latin letter is read only if it decomposes to an
# ASCII letter plus marks (é ñ ü å ç).
_EN_EXTRA_LETTERS = "æœÆŒ"
_ARROWS = ((0x2190, 0x21FF), (0x27F0, 0x27FF), (0x2900, 0x297F), (0x2B00, 0x2BFF))
# Invisible parts of emoji sequences that may be left behind on their own.
_EMOJI_PARTS = {0x200D, 0xFE0E, 0xFE0F, 0x20E3} | set(range(0x1F3FB, 0x1F400)) | set(range(0xE0020, 0xE0080))

# Scripts named in errors: the first word of the Unicode character name -> a readable name.
_SCRIPT_NAMES = {"HANGUL": "Korean (Hangul)", "CYRILLIC": "Cyrillic", "GREEK": "Greek", "ARABIC": "Arabic",
                 "HEBREW": "Hebrew", "THAI": "Thai", "DEVANAGARI": "Devanagari", "BOPOMOFO": "Bopomofo",
                 "ARMENIAN": "Armenian", "GEORGIAN": "Georgian", "BENGALI": "Bengali", "TAMIL": "Tamil",
                 "ETHIOPIC": "Ethiopic", "KHMER": "Khmer", "LAO": "Lao", "MYANMAR": "Myanmar"}


def _name(ch: str) -> str:
    return unicodedata.name(ch, "")


def is_japanese_script(ch: str) -> bool:
    return _name(ch).startswith(_JA_SCRIPT) or ch in _JA_EXTRA


def is_readable_latin(ch: str) -> bool:
    """A Latin letter espeak-ng and the Japanese loanword reader both read: ASCII, or an ASCII letter plus
    combining marks (é, ñ, ü), or one of a few ligatures."""
    if ch.isascii():
        return ch.isalpha()
    if ch in _EN_EXTRA_LETTERS:
        return True
    base = unicodedata.normalize("NFKD", ch)
    return len(base) > 1 and base[0].isascii() and base[0].isalpha() and all(
        unicodedata.category(c) == "Mn" for c in base[1:])


def is_decoration(ch: str) -> bool:
    """A pictographic symbol or a leftover part of an emoji sequence (not the sequences themselves, which
    :func:`split_decoration` finds with the ``emoji`` table)."""
    code = ord(ch)
    if code in _EMOJI_PARTS:
        return True
    if unicodedata.category(ch) == "So":
        return ch != "°"  # the degree sign is read ("25°C")
    return any(lo <= code <= hi for lo, hi in _ARROWS)


def split_decoration(text: str) -> tuple[str, tuple[str, ...]]:
    """-> (``text`` without emoji and decorative symbols, the removed items in order, unique).

    Run on the raw text, before NFKC (which would turn ``™`` into the letters ``TM``). A removed item between
    two Latin letters or digits leaves a space, elsewhere nothing."""
    import emoji

    spans = [(e["match_start"], e["match_end"]) for e in emoji.emoji_list(text)]
    removed: list[str] = []
    out: list[str] = []
    pos = 0

    def drop(item: str, start: int, end: int) -> None:
        if item not in removed:
            removed.append(item)
        left = text[start - 1] if start > 0 else ""
        right = text[end] if end < len(text) else ""
        if left.isascii() and left.isalnum() and right.isascii() and right.isalnum():
            out.append(" ")

    for start, end in [*spans, (len(text), len(text))]:
        for i in range(pos, start):
            if is_decoration(text[i]):
                drop(text[i], i, i + 1)
            else:
                out.append(text[i])
        if start < end:
            drop(text[start:end], start, end)
        pos = end
    return "".join(out), tuple(removed)


def _readable(ch: str, language: str) -> bool:
    cat = unicodedata.category(ch)
    if cat[0] == "L" or cat in ("Mn", "Mc"):
        if is_readable_latin(ch):
            return True
        return language == "ja" and is_japanese_script(ch)
    if cat == "Nd":
        return ch.isascii()
    if cat[0] in "PZ" or ch in "\t\n\r":
        return True
    return cat in ("Sm", "Sc", "Sk") or ch == "°"  # signs: the normalizers read the ones they know


def unreadable_characters(text: str, language: str) -> tuple[str, ...]:
    """Characters of ``text`` the ``language`` front end cannot read (in order, unique)."""
    bad: list[str] = []
    for ch in text:
        if not _readable(ch, language) and ch not in bad:
            bad.append(ch)
    return tuple(bad)


def describe_characters(chars: tuple[str, ...] | list[str]) -> str:
    return " ".join(f"{c!r} (U+{ord(c):04X})" if len(c) == 1 else f"{c!r}" for c in chars)


@dataclass(frozen=True)
class ScriptReport:
    """What :func:`scripts_in` found: Japanese letters, Latin letters, letters of other scripts."""

    japanese: bool
    latin: bool
    others: dict[str, tuple[str, ...]]  # script name -> its characters in the text


def scripts_in(text: str) -> ScriptReport:
    japanese = latin = False
    others: dict[str, list[str]] = {}
    for ch in text:
        if not unicodedata.category(ch).startswith("L"):
            continue
        if is_japanese_script(ch):
            japanese = True
        elif _name(ch).startswith("LATIN") or _name(ch).startswith("FULLWIDTH LATIN"):
            latin = True
        else:
            first = _name(ch).split(" ")[0] or f"U+{ord(ch):04X}"
            script = _SCRIPT_NAMES.get(first, first.title())
            chars = others.setdefault(script, [])
            if ch not in chars:
                chars.append(ch)
    return ScriptReport(japanese, latin, {k: tuple(v) for k, v in others.items()})


def detect_language(text: str) -> str:
    """The language of one sentence: ``ja`` when it has kana or kanji (Latin words inside are read as
    loanwords), ``en`` when its letters are Latin (or it has none).

    Raises :class:`UnsupportedTextError` for letters of another script, naming the script, its characters
    and the languages that exist."""
    report = scripts_in(text)
    if report.others:
        chars = tuple(c for cs in report.others.values() for c in cs)
        scripts = ", ".join(report.others)
        raise UnsupportedTextError(
            f"{scripts} text is not supported: {describe_characters(chars)}; the languages are "
            + ", ".join(f"{k} ({v})" for k, v in LANGUAGE_NAMES.items()), chars)
    return "ja" if report.japanese else "en"
