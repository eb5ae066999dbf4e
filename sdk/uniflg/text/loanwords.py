"""English words inside Japanese text -> katakana loanwords (``Unity`` -> ユニティ, ``VTuber`` -> ブイチューバー).

Each word is read by espeak-ng (its English pronunciation, as ARPAbet) and turned into katakana by ``e2k``'s
phoneme-to-katakana model (``P2K``, weights in its wheel, offline); without espeak-ng, ``e2k``'s spelling
model (``C2K``) reads the letters. Written-out acronyms (``AI``, ``NHK``, ``USB``: two or more capitals)
and single letters are read letter by letter (エーアイ, ブイ); a few acronyms said as words (``NASA``) are read
as words. camelCase words are read part by part: ``VTuber`` = V + Tuber,
``iPhone`` = i + Phone, ``YouTube`` = You + Tube.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from typing import Any

# Acronyms that are said as words, not letter by letter.
WORD_ACRONYMS = {"NASA", "NATO", "UNESCO", "UNICEF", "FIFA", "JPEG", "COVID", "RAM", "ROM", "LAN", "SIM", "PIN",
                 "OPEC", "ASAP", "GIF", "SWAT"}
# Letter names as Japanese say them (Open JTalk reads acronyms such as NHK, but not a lone letter: V, I).
LETTERS = {
    "A": "エー", "B": "ビー", "C": "シー", "D": "ディー", "E": "イー", "F": "エフ", "G": "ジー", "H": "エイチ",
    "I": "アイ", "J": "ジェー", "K": "ケー", "L": "エル", "M": "エム", "N": "エヌ", "O": "オー", "P": "ピー",
    "Q": "キュー", "R": "アール", "S": "エス", "T": "ティー", "U": "ユー", "V": "ブイ", "W": "ダブリュー",
    "X": "エックス", "Y": "ワイ", "Z": "ゼット",
}
# Words whose usual Japanese form differs from what the phoneme model makes of the English sound.
# Keys are lower case; a key of several words ("thank you") matches those words in a row.
OVERRIDES = {"python": "パイソン", "tiktok": "ティックトック", "nvidia": "エヌビディア", "linux": "リナックス",
             "iphone": "アイフォーン", "nasa": "ナサ", "nato": "ナトー", "opec": "オペック", "unesco": "ユネスコ",
             "asap": "アサップ", "youtube": "ユーチューブ", "vtuber": "ブイチューバー", "line": "ライン",
             "instagram": "インスタグラム", "google": "グーグル", "nintendo": "ニンテンドー",
             "spotify": "スポティファイ", "windows": "ウィンドウズ", "apex": "エーペックス", "sorry": "ソーリー",
             "ok": "オーケー", "merry": "メリー", "fps": "エフピーエス", "thank you": "サンキュー",
             "thank you very much": "サンキューベリーマッチ",
             # names of games, streams and chat words as Japanese players say them (review 20: 23 of 118 such
             # words came out of the phoneme model wrong, e.g. ポケアモン, ホラリブ, カリオケ)
             "pokemon": "ポケモン", "hololive": "ホロライブ", "nijisanji": "ニジサンジ", "among us": "アモングアス",
             "karaoke": "カラオケ", "collab": "コラボ", "mario": "マリオ", "overwatch": "オーバーウォッチ",
             "splatoon": "スプラトゥーン", "genshin": "ゲンシン", "copilot": "コパイロット", "gemini": "ジェミニ",
             "raid": "レイド", "dungeon": "ダンジョン", "respawn": "リスポーン", "ping": "ピン",
             "xbox": "エックスボックス", "legends": "レジェンズ", "legend": "レジェンド", "valorant": "ヴァロラント",
             "league of legends": "リーグオブレジェンド", "original": "オリジナル", "zelda": "ゼルダ",
             "fortnite": "フォートナイト", "discord": "ディスコード", "twitch": "ツイッチ",
             "openai": "オープンエーアイ", "json": "ジェイソン", "yoasobi": "ヨアソビ", "babymetal": "ベビーメタル",
             "asean": "アセアン", "usaid": "ユーエスエイド"}
# An all-capital word is an acronym (AI, NHK, HTTPS) unless it is a word written in capitals, as game titles are
# (VALORANT, APEX LEGENDS): five letters or more with two vowels and no run of four consonants.
_CAPITALIZED_WORD = re.compile(r"(?=(?:[^AEIOUY]*[AEIOUY]){2})(?!.*[^AEIOUY]{4})[A-Z]{5,}")
_PHRASE_WORDS = max(len(key.split()) for key in OVERRIDES)
_PARTS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z']+|[A-Z]+|[a-z]")
# Our English symbols -> ARPAbet (the phoneme set e2k's P2K reads); stress digits come from the accent code.
_ARPABET = {"æ": "AE", "ɑ": "AA", "ɐ": "AH", "ɔ": "AO", "ə": "AH", "ɚ": "ER", "ɛ": "EH", "ɜ": "ER", "ɪ": "IH",
            "ᵻ": "IH", "ʊ": "UH", "ʌ": "AH", "aɪ": "AY", "aʊ": "AW", "eɪ": "EY", "oʊ": "OW", "ɔɪ": "OY", "i": "IY",
            "u": "UW", "p": "P", "b": "B", "t": "T", "d": "D", "k": "K", "g": "G", "f": "F", "v": "V", "s": "S",
            "z": "Z", "sh": "SH", "ch": "CH", "j": "JH", "h": "HH", "m": "M", "n": "N", "y": "Y", "w": "W",
            "θ": "TH", "ð": "DH", "ʒ": "ZH", "ŋ": "NG", "l": "L", "ɹ": "R", "ɾ": "T", "ʔ": "T", "x": "K"}
_VOWELS = {"AE", "AA", "AH", "AO", "ER", "EH", "IH", "UH", "AY", "AW", "EY", "OW", "OY", "IY", "UW"}
_STRESS = {1: "0", 2: "1", 3: "2"}  # our accent codes: 1 unstressed, 2 primary, 3 secondary

_models: dict[str, Any] = {}
_lock = threading.Lock()  # loading and running e2k's models (not documented as thread-safe)


def _convert(kind: str, source: str | list[str]) -> str:
    """Run e2k's ``P2K`` (ARPAbet -> katakana) or ``C2K`` (spelling -> katakana), loading it once."""
    with _lock:
        if kind not in _models:
            import e2k

            _models[kind] = e2k.P2K() if kind == "p2k" else e2k.C2K()
        return str(_models[kind](source))


def arpabet(word: str) -> list[str]:
    """One English word -> ARPAbet with stress digits (``python`` -> P AY1 TH AA0 N), from espeak-ng."""
    from uniflg.text.english import word_tokens

    out = []
    for tok in word_tokens(word):
        code = _ARPABET.get(tok.symbol)
        if code is None:
            continue
        out.append(code + _STRESS.get(tok.accent, "0") if code in _VOWELS else code)
    return out


@functools.lru_cache(maxsize=4096)
def katakana_for_word(word: str) -> str:
    """One English word (letters only) -> katakana."""
    from uniflg.text import espeak

    plain = "".join(c for c in unicodedata.normalize("NFKD", word) if c.isascii()).lower()
    if plain in OVERRIDES:
        return OVERRIDES[plain]
    if espeak.available():
        phones = arpabet(plain)
        if phones:
            return _convert("p2k", phones)
    return _convert("c2k", plain)


def _is_acronym(part: str) -> bool:
    if len(part) == 1:
        return True
    return part.isupper() and part not in WORD_ACRONYMS and part.lower() not in OVERRIDES \
        and not _CAPITALIZED_WORD.fullmatch(part)


def katakana_for_latin(text: str) -> str:
    """Latin words (one or several, separated by spaces or hyphens) -> katakana, acronyms kept as capitals."""
    out: list[str] = []
    words = re.split(r"[\s-]+", text.strip())
    k = 0
    while k < len(words):
        for n in range(min(_PHRASE_WORDS, len(words) - k), 0, -1):  # the longest phrase that has an override
            phrase = " ".join(words[k:k + n]).lower()
            if phrase in OVERRIDES:
                out.append(OVERRIDES[phrase])
                k += n
                break
        else:
            out.append(_word_katakana(words[k]))
            k += 1
    return "".join(out)


def _word_katakana(word: str) -> str:
    """One Latin word -> katakana: camelCase part by part, acronyms letter by letter."""
    out: list[str] = []
    for part in _PARTS.findall(word.replace("’", "'")):
        part = part.replace("'", "")  # L'Arc, OK': the apostrophe is not spoken (and no letter of an acronym)
        if not part:
            continue
        if _is_acronym(part):
            out.append("".join(LETTERS[c] for c in part.upper()))
        else:
            out.append(katakana_for_word(part))
    return "".join(out)
