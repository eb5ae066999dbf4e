"""Which characters the front ends read, which are decoration, and which script (language) a text is in.

Three kinds of character (docs/frontend.md, "Symbol policy"):

* **read**: ASCII, punctuation, spaces, kana and kanji (Japanese), and every other character the phonemizer
  really reads (asked once per character: espeak-ng reads ``é ñ ø ß €``; Open JTalk reads none of ``∑ ½``);
  Latin letters with marks in Japanese are read as their ASCII letters (``café`` -> カフェ);
* **decoration**: emoji (the ``emoji`` package's table, sequences with their joiners and modifiers whole) and
  other pictographic symbols (Unicode category So, arrows: ``♪ ★ ☆ ♡ ✓ →``). Dropped with one warning by
  default; refused under ``strict``. Not the degree sign, nor the unit and era symbols NFKC spells out
  (``℃ ℉ ㎏ ㎡ ㌔ ㍻ ㋿`` -> ``°C °F kg m2 キロ 平成 令和``): those are read;
* **unreadable**: everything else (letters the phonemizer spells out as code points such as ``ʘ ȸ ƛ ǂ``,
  letters of other scripts, controls, private-use characters). Always refused, naming each character.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from uniflg.errors import UnsupportedTextError

LANGUAGES: tuple[str, ...] = ("ja", "en")
LANGUAGE_NAMES = {"ja": "Japanese", "en": "English"}

# Unicode name prefixes of the Japanese writing system (Han characters count as Japanese: the SDK has no
# Chinese front end, and Open JTalk reads them with Japanese readings).
_JA_SCRIPT = ("CJK", "HIRAGANA", "KATAKANA", "HALFWIDTH KATAKANA", "IDEOGRAPHIC", "VERTICAL KANA")
_JA_EXTRA = "ー々〆ヶ〇"
_ARROWS = ((0x2190, 0x21FF), (0x27F0, 0x27FF), (0x2900, 0x297F), (0x2B00, 0x2BFF))
# Symbols (So) that stand for words: ℃ ℉, ㋿ and the CJK Compatibility block (units ㎏, katakana words ㌔, era
# names ㍻). Read as what NFKC spells them, when that is letters and digits (㎧ "m∕s" stays decoration).
_SPELLED_SYMBOLS = {0x2103, 0x2109, 0x32FF} | set(range(0x3300, 0x3400))
# Invisible parts of emoji sequences that may be left behind on their own.
_EMOJI_PARTS = {0x200D, 0xFE0E, 0xFE0F, 0x20E3} | set(range(0x1F3FB, 0x1F400)) | set(range(0xE0020, 0xE0080))

# Scripts named in errors: the first word of the Unicode character name -> a readable name.
_SCRIPT_NAMES = {"CJK": "Chinese (Han characters outside Japanese use)",
                 "HANGUL": "Korean (Hangul)", "CYRILLIC": "Cyrillic", "GREEK": "Greek", "ARABIC": "Arabic",
                 "HEBREW": "Hebrew", "THAI": "Thai", "DEVANAGARI": "Devanagari", "BOPOMOFO": "Bopomofo",
                 "ARMENIAN": "Armenian", "GEORGIAN": "Georgian", "BENGALI": "Bengali", "TAMIL": "Tamil",
                 "ETHIOPIC": "Ethiopic", "KHMER": "Khmer", "LAO": "Lao", "MYANMAR": "Myanmar"}


def _name(ch: str) -> str:
    return unicodedata.name(ch, "")


def is_japanese_script(ch: str) -> bool:
    """Kana, kanji and the marks Japanese writes with; a Han character of the BMP outside JIS X 0213 (the
    character set of Japanese text) and Windows' code page 932 is Chinese, not kanji: 谢谢 has no Japanese reading
    (Open JTalk said nothing and warned on the console)."""
    return (_name(ch).startswith(_JA_SCRIPT) and _in_japanese_use(ch)) or ch in _JA_EXTRA


def is_chinese_only(ch: str) -> bool:
    """A Han character Japanese does not write (谢, 们): see :func:`is_japanese_script`."""
    return _name(ch).startswith("CJK UNIFIED IDEOGRAPH") and not _in_japanese_use(ch)


@functools.lru_cache(maxsize=8192)
def _in_japanese_use(ch: str) -> bool:
    if not _name(ch).startswith("CJK UNIFIED IDEOGRAPH") or ord(ch) > 0xFFFF:
        return True  # (rare kanji past the BMP, 𠮷 of 𠮷野家, stay Japanese: Open JTalk reads some of them)
    for charset in ("euc_jis_2004", "cp932"):  # JIS X 0213, and Windows' IBM extensions (髙 of 髙橋)
        try:
            ch.encode(charset)
        except UnicodeEncodeError:
            continue
        return True
    return False


def ascii_base(ch: str) -> str | None:
    """The ASCII letter a Latin letter with marks decomposes to (é -> e, Ǧ -> G), else None."""
    base = unicodedata.normalize("NFKD", ch)
    if base[0].isascii() and base[0].isalpha() and all(unicodedata.category(c) == "Mn" for c in base[1:]):
        return base[0]
    return None


def is_decoration(ch: str) -> bool:
    """A pictographic symbol or a leftover part of an emoji sequence (not the sequences themselves, which
    :func:`split_decoration` finds with the ``emoji`` table)."""
    code = ord(ch)
    if code in _EMOJI_PARTS:
        return True
    if unicodedata.category(ch) == "So":
        return ch != "°" and not _spelled_symbol(ch)  # the degree sign is read ("25°C")
    return any(lo <= code <= hi for lo, hi in _ARROWS)


def _spelled_symbol(ch: str) -> bool:
    if ord(ch) not in _SPELLED_SYMBOLS:
        return False
    return all(c == "°" or unicodedata.category(c)[0] in "LN" for c in unicodedata.normalize("NFKC", ch))


# An emoji or emote shortcode as chat apps write it (Slack, Discord, GitHub, Twitch): :smile:, :thumbsup:, :+1:,
# :pog_champ:, :pray::pray: (a name with a letter between colons; not 10:30:45, note:this:that or a smiley like :-)).
SHORTCODE = re.compile(r"<a?:\w{2,}:\d+>"  # Discord's custom emoji as its API writes them: <:name:123>
                       r"|(?<![A-Za-z0-9_])(?::(?=[A-Za-z0-9_+\-]*[A-Za-z])[A-Za-z0-9_+\-]{2,}:|:[+\-]1:)"
                       r"(?![A-Za-z0-9_])")  # side by side too: :pray::pray:


def split_decoration(text: str) -> tuple[str, tuple[str, ...]]:
    """-> (``text`` without emoji, emoji shortcodes (``:smile:``) and decorative symbols, the removed items in
    order, unique).

    Run on the raw text, before NFKC (which would turn ``™`` into the letters ``TM``). A removed item between
    two Latin letters or digits leaves a space, elsewhere nothing."""
    import emoji

    spans = sorted([(e["match_start"], e["match_end"]) for e in emoji.emoji_list(text)]
                   + [m.span() for m in SHORTCODE.finditer(text)])
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
            if is_decoration(text[i]) and unicodedata.category(text[i]) != "Cf":
                drop(text[i], i, i + 1)
            else:
                out.append(text[i])
        if start < end:
            span = text[start:end]
            if all(unicodedata.category(c) == "Cf" for c in span):  # a lone joiner is no emoji: kept (as
                out.append(span)  # above) for the front end, which removes format characters without a word
            else:
                drop(span, start, end)
        pos = end
    return "".join(out), tuple(removed)


def _readable(ch: str, language: str) -> bool:
    """Whether the ``language`` phonemizer reads ``ch`` (in normalized text): ASCII, spaces and punctuation
    always; anything else only if the phonemizer says something for it that is not its code point spelled out
    (espeak-ng reads ``ʘ`` as "letter two nine eight") - asked once per character and cached."""
    if ch in "\t\n\r" or (ch.isascii() and ch.isprintable()):
        return True
    cat = unicodedata.category(ch)
    if cat[0] in "PZ":
        return True
    if cat[0] == "C":
        return False
    if cat[0] == "L" and not _name(ch).startswith(("LATIN", "FULLWIDTH LATIN")) and not (
            language == "ja" and is_japanese_script(ch)):
        return False  # a letter of another script (explicit language, or a sentence mixing scripts)
    if language == "ja":
        if is_japanese_script(ch):
            return True
        from uniflg.text.japanese import reads_character as reads_ja

        return reads_ja(ch)
    from uniflg.text.english import reads_character as reads_en

    return reads_en(ch)


def unreadable_characters(text: str, language: str) -> tuple[str, ...]:
    """Characters of ``text`` (normalized) the ``language`` front end cannot read (in order, unique)."""
    bad: list[str] = []
    for ch in text:
        if ch not in bad and not _readable(ch, language):
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
    from uniflg.text.greek import is_lone_greek

    japanese = latin = False
    others: dict[str, list[str]] = {}
    for i, ch in enumerate(text):
        if not unicodedata.category(ch).startswith("L") or is_lone_greek(text, i):  # β版, π: read in either
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
