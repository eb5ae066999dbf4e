"""Written forms that both languages read the same way once it is known what they are: dotted numbers (versions, IP
addresses, European thousands), ISO 8601 timestamps, dates written with a slash or dots, counts with a scale letter, and
the currency signs. What a form is gets decided here, once; :mod:`uniflg.text.normalize_en` and
:mod:`uniflg.text.normalize_ja` put it into words (docs/frontend.md, "Normalization").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal


@dataclass(frozen=True)
class Currency:
    """A currency sign written before an amount (``$5``): English one / many, minor unit one / many ("" when
    amounts are not counted in minor units), and the Japanese word after the number."""

    one: str
    many: str
    minor_one: str
    minor_many: str
    ja: str


CURRENCIES: dict[str, Currency] = {
    "$": Currency("dollar", "dollars", "cent", "cents", "ドル"),
    "€": Currency("euro", "euros", "cent", "cents", "ユーロ"),
    "£": Currency("pound", "pounds", "penny", "pence", "ポンド"),
    "¥": Currency("yen", "yen", "", "", "円"),
    "₩": Currency("won", "won", "", "", "ウォン"),
    "₹": Currency("rupee", "rupees", "paisa", "paise", "ルピー"),
    "₽": Currency("ruble", "rubles", "kopek", "kopeks", "ルーブル"),
    "₱": Currency("peso", "pesos", "centavo", "centavos", "ペソ"),
    "฿": Currency("baht", "baht", "satang", "satang", "バーツ"),
    "₫": Currency("dong", "dong", "", "", "ドン"),
    "₺": Currency("lira", "lira", "kurus", "kurus", "リラ"),
}
CURRENCY_SIGN = "[" + "".join(CURRENCIES) + "]"  # a regex character class of the signs
# Dollars of other countries, written with a prefix (US$10, HK$100, A$5): prefix -> (English, Japanese) qualifier.
DOLLAR_PREFIXES: dict[str, tuple[str, str]] = {
    "US": ("US", "米"), "CA": ("Canadian", "カナダ"), "C": ("Canadian", "カナダ"), "A": ("Australian", "豪"),
    "AU": ("Australian", "豪"), "NZ": ("New Zealand", "ニュージーランド"), "HK": ("Hong Kong", "香港"),
    "NT": ("New Taiwan", "台湾"), "S": ("Singapore", "シンガポール"), "SG": ("Singapore", "シンガポール")}
# ISO 4217 codes beside an amount (5 USD, EUR 20): code -> (sign, dollar prefix or ""). Codes that are words too
# (TRY, PHP: a verb, a language) are left out.
CURRENCY_CODES: dict[str, tuple[str, str]] = {
    "USD": ("$", "US"), "CAD": ("$", "CA"), "AUD": ("$", "AU"), "NZD": ("$", "NZ"), "HKD": ("$", "HK"),
    "TWD": ("$", "NT"), "SGD": ("$", "SG"), "EUR": ("€", ""), "GBP": ("£", ""), "JPY": ("¥", ""), "KRW": ("₩", ""),
    "INR": ("₹", ""), "RUB": ("₽", ""), "THB": ("฿", ""), "VND": ("₫", "")}
_AMOUNT = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
# US$10, HK$ 100, 5 USD, 20 EUR, USD 100: -> the sign's form (with the prefix kept as "PREFIX$" for the reader)
# (ASCII boundaries: in Japanese text the kana around it are word characters too)
_SCALE = r"(?:\s?(?P<scale>thousand|million|billion|trillion|bn|[kKmMB])(?![A-Za-z]))?"
FOREIGN_AMOUNT = re.compile(r"(?<![A-Za-z0-9$])(?P<prefix>" + "|".join(sorted(DOLLAR_PREFIXES, key=len, reverse=True))
                            + r")\$\s?(?P<a1>" + _AMOUNT + r")" + _SCALE
                            + r"|(?<![A-Za-z0-9.,])(?P<a2>" + _AMOUNT + r")\s?(?P<code2>" + "|".join(CURRENCY_CODES)
                            + r")(?![A-Za-z/])"
                            r"|(?<![A-Za-z/])(?P<code1>" + "|".join(CURRENCY_CODES) + r")\s?(?P<a3>" + _AMOUNT
                            + r")" + _SCALE.replace("scale", "scale3") + r"(?![A-Za-z0-9.]|,\d)")


def foreign_amount(m: re.Match[str]) -> tuple[str, str, str, str | None]:
    """A :data:`FOREIGN_AMOUNT` match -> (sign, amount, dollar prefix or "", scale word or letter or None: US$1.5
    million, US$5k)."""
    if m.group("prefix"):
        return "$", m.group("a1"), m.group("prefix"), m.group("scale")
    code = m.group("code2") or m.group("code1")
    sign, prefix = CURRENCY_CODES[code]
    return sign, m.group("a2") or m.group("a3"), prefix, m.group("scale3")

# Game and document abbreviations before a number, with or without their period (Lv.99, ep 3, Ver.2.0); No and Ch
# only with it ("No 1 cares", NO2 and CH4 are words and formulas): abbreviation -> (English, Japanese).
TERMS: dict[str, tuple[str, str]] = {
    "lv": ("level", "レベル"), "lvl": ("level", "レベル"), "ep": ("episode", "エピソード"), "pt": ("part", "パート"),
    "ver": ("version", "バージョン"), "vol": ("volume", "ボリューム"), "ch": ("chapter", "チャプター"),
    "no": ("number", "ナンバー")}
TERM = re.compile(r"(?<![A-Za-z])(?:(Lv|LV|lv|Lvl|LVL|lvl|Ep|EP|ep|Pt|pt|Ver|VER|ver|Vol|VOL|vol)\.?|(Ch|ch|No|NO)\.)"
                  r"\s?(?=\d)")


def term(m: re.Match[str]) -> tuple[str, str]:
    """A :data:`TERM` match -> (English, Japanese) word for the abbreviation."""
    return TERMS[(m.group(1) or m.group(2)).lower()]


# An asterisk between numbers is multiplication (5 * 3, 2*(3+4)); one on a word, a footnote mark (price*) or
# formatting left unclosed (**Note), is not read: ASTERISK finds those after the products are read. One standing
# alone is a symbol that is talked about ("(*) is required") and is read.
PRODUCT = re.compile(r"(?<=[\d)])[ \t]*\*[ \t]*(?=[\d(]|" + CURRENCY_SIGN + ")")  # 2*3, 3*$10
POWER = re.compile(r"(?<=\d)[ \t]*\*\*[ \t]*(?=\d)")  # 2**10, as Python writes a power
ASTERISK = re.compile(r"(?<=\w)\*+|\*+(?=\w)")

# 3.11.7, v1.2.3, 192.168.0.1, 1.234.567, 1.234,56 (after the date rules: 2024.03.15 is a date)
# The edges are ASCII: in Japanese text kana and kanji touch the number (バージョン3.11.7です).
DOTTED = re.compile(r"(?<![A-Za-z\d_.,])[vV]?\d+(?:\.\d+){2,}(?:,\d+)?(?![A-Za-z\d_]|[.,]\d)"
                    r"|(?<![A-Za-z\d_.,])\d{1,3}(?:\.\d{3})+,\d+(?![A-Za-z\d_]|[.,]\d)")
# 25.12.2024: day, month, year with dots (European; before DOTTED, which would read it as a version)
DOTTED_DATE = re.compile(r"(?<![A-Za-z\d_.,])(\d{1,2})\.(\d{1,2})\.(\d{4})(?![A-Za-z\d_]|[.,]\d)")
# 2026-12-02T11:18:03Z, 2026-12-02T11:18+09:00, 2026-12-02T11:18:03.250 (fractions of a second are not read)
ISO_TIMESTAMP = re.compile(r"(?<![A-Za-z\d_\-])(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?"
                           r"(Z|[+\-\u2212]\d{2}(?::?\d{2})?)?(?![A-Za-z\d_:])")


# Words before a dotted number that make it a version, whatever its shape (firmware 1.0.0.2, build 4.0.0.0).
VERSION_WORDS = {"version", "versions", "ver", "build", "firmware", "release", "update", "assembly", "patch",
                 "バージョン", "ビルド", "ファームウェア", "リリース", "アップデート", "パッチ"}


# Software and game names whose two-part numbers are versions (Python 3.12: three point twelve, not three point one
# two; Minecraft 1.20, Ubuntu 24.04), lower case; with VERSION_WORDS and a v (v3.12) they make SHORT_VERSION a version.
SOFTWARE = {"python", "node", "node.js", "nodejs", "rust", "golang", "php", "perl", "kotlin", "swift",
            "typescript", "unity", "engine", "blender", "godot", "ios", "ipados", "macos", "android", "windows",
            "ubuntu", "debian", "fedora", "chrome", "firefox", "minecraft", "obs", "obs studio", "vtube studio",
            "cubism", "vseeface",
            "warudo", "vrchat", "pytorch", "torch", "cuda", "tensorrt", "onnx", "numpy", "uniflg", "パイソン",
            "ユニティ", "ブレンダー", "マインクラフト", "マイクラ"}
# A number with one dot that is a version in its context (v3.12; after a version word or a software name)
# (a name may touch the number: Python3.12; a v may not follow a letter: dev3.12 is no version)
SHORT_VERSION = re.compile(r"(?<![\d_.,])(?:(?<![A-Za-z])([vV]))?(\d+)\.(\d+)(?![A-Za-z\d_]|[.,]\d)")


# Software names that are also common words count only capitalized (Node 20.11, Unreal Engine 5.4; not "node 3.14"
# or "engine 1.25 liters").
COMMON_WORD_SOFTWARE = {"node", "rust", "swift", "engine", "windows", "chrome", "torch", "studio",
                        "obs studio", "vtube studio"}


def is_version_context(before: str) -> bool:
    """Whether the text right before a number (``before``, trailing space allowed) names a version or a piece of
    software: ``version``, ``build``, ``Python``, ``Minecraft``, ``バージョン`` (any case), ``Node``, ``Engine``
    (capitalized: :data:`COMMON_WORD_SOFTWARE`)."""
    tail = before.rstrip()
    lower = tail.lower()

    def ends_with_word(word: str) -> bool:
        return lower.endswith(word) and (len(lower) == len(word) or not lower[-len(word) - 1].isascii()
                                         or not lower[-len(word) - 1].isalpha())

    return any(ends_with_word(word) and (word not in COMMON_WORD_SOFTWARE or tail[-len(word)].isupper())
               for word in VERSION_WORDS | SOFTWARE)


@dataclass(frozen=True)
class Dotted:
    """A number with two or more dots, or with dots grouping thousands and a decimal comma.

    ``kind``: ``"grouped"`` (European thousands: ``1.234.567``, ``1.234,56``; ``parts`` = (whole digits, decimal
    digits or "")), ``"address"`` (an IPv4 address: four parts of 0-255) or ``"version"`` (anything else with
    two or more dots: ``3.11.7``) or ``"phone"`` (groups of 3, 3 and 4 digits, after an optional 1: ``555.123.4567``);
    ``parts`` are the digit strings between the dots.
    """

    kind: Literal["grouped", "address", "version", "phone"]
    parts: tuple[str, ...]


def dotted(text: str, version: bool = False) -> Dotted:
    """Classify a :data:`DOTTED` match. A ``v`` before the number, or ``version`` (the caller saw "version",
    "build", "firmware" ... before it: :data:`VERSION_WORDS`) makes a version (``v1.2.3``); 3-3-4 digit groups are a
    phone number; four parts of
    0-255 without leading zeros are an address (``192.168.0.1``); groups of exactly three digits after the first
    (with two or more dots, or a decimal comma) are thousands (``1.234.567``, ``1.234,56``); the rest are
    versions (``3.11.7``, ``1.2.3.4.5``)."""
    whole, _, decimals = text.partition(",")
    if whole[:1] in "vV":
        return Dotted("version", tuple(whole[1:].split(".")))
    parts = tuple(whole.split("."))
    if version and not decimals:  # after "version", "build", "firmware": 1.0.0.2 is no address
        return Dotted("version", parts)
    if not decimals and tuple(map(len, parts)) in ((3, 3, 4), (1, 3, 3, 4)):  # 555.123.4567, 1.800.555.0199
        return Dotted("phone", parts)
    if not decimals and len(parts) == 4 and all(
            int(p) <= 255 and (p == "0" or not p.startswith("0")) for p in parts):
        return Dotted("address", parts)
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+", whole) and (decimals or len(parts) > 2):
        return Dotted("grouped", ("".join(parts), decimals))
    return Dotted("version", parts + ((decimals,) if decimals else ()))


@dataclass(frozen=True)
class Timestamp:
    """An ISO 8601 date and time. ``second`` None: not written; ``utc_offset_minutes`` None: no zone written
    (local time), 0: ``Z`` or ``+00:00``."""

    year: int
    month: int
    day: int
    hour: int
    minute: int
    second: int | None
    utc_offset_minutes: int | None


def timestamp(m: re.Match[str]) -> Timestamp | None:
    """An :data:`ISO_TIMESTAMP` match -> its fields, or None when a field is out of range (month 13, 25:00)."""
    year, month, day, hour, minute = (int(m.group(k)) for k in range(1, 6))
    second = int(m.group(6)) if m.group(6) else None
    if not (is_date(month, day) and hour <= 24 and minute <= 59 and (second or 0) <= 60):
        return None
    zone, offset = m.group(7), None
    if zone == "Z":
        offset = 0
    elif zone:
        digits = re.sub(r"\D", "", zone)
        offset = int(digits[:2]) * 60 + int(digits[2:] or 0)
        if offset > 14 * 60 or int(digits[2:] or 0) > 59:
            return None
        offset = -offset if zone[0] in "-\u2212" else offset
    return Timestamp(year, month, day, hour, minute, second, offset)


_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def is_date(month: int, day: int) -> bool:
    """Whether ``month`` / ``day`` can name a day of some year (February 29 can; April 31 cannot)."""
    return 1 <= month <= 12 and 1 <= day <= _DAYS_IN_MONTH[month - 1]


def slash_month_day(first: int, second: int, dated: bool = False) -> tuple[int, int] | None:
    """``a/b`` without a year -> (month, day) when it is a date: a month (1-12), then a day above 12 (``12/25``,
    ``3/15``), or any real month and day when the words around it say it is a date (``dated``: each language
    decides, e.g. "on 3/4", ``3/4(金)``). Anything else (``1/2``, ``9/10``, ``24/7``) is a fraction or a ratio:
    None."""
    if not is_date(first, second):
        return None
    return (first, second) if second > 12 or dated else None


def scaled(number: str, suffix: str) -> str | None:
    """``1.5`` + ``M`` -> ``"1500000"``: a count with a scale letter (k/K thousand, M million, B billion) as the
    whole number it stands for; None when that is not whole (``1.2345k``)."""
    value = Decimal(number) * {"k": 1000, "K": 1000, "M": 10**6, "B": 10**9}[suffix]
    return str(int(value)) if value == value.to_integral_value() else None


def slash_month_day_year(first: int, second: int) -> tuple[int, int] | None:
    """``a/b/yyyy`` -> (month, day): month first (``3/15/2024``, ``3/4/2024``), unless only the day can come first
    (``25/12/2024``); None when neither is a date."""
    if is_date(first, second):
        return first, second
    if first > 12 and is_date(second, first):
        return second, first
    return None
