"""Japanese text normalization: only what Open JTalk misreads (checked with pyopenjtalk-plus).

Open JTalk already reads ``1,980円`` ``50%`` ``3.14`` ``第2章`` ``午前10時`` right. It misreads (its reading in
brackets): ``2024/03/15`` [ニセンニジューヨン／ゼロサン／ジューゴ], ``2024-03-15``, ``10:30`` [ジュー：サンジュー],
``¥1,980`` [the sign, then the number], ``$500`` ``€20`` ``£5``, ``25°C`` [°C unread], ``1/2``, ``10〜20人``
[〜 unread], ``-5度`` ``−5`` [the minus unread], ``60km/h`` [マイジ], ``1st``, Roman numerals in titles (``VII``
[ブイアイアイ]) and English words (spelled letter by letter: see :mod:`uniflg.text.loanwords`). Units after a
number (``5km``, ``500ml``) it reads, but the loanword step would spell their letters, so they are written out
here from :data:`uniflg.text.units.UNITS`. Each rule rewrites its match into the form Open JTalk reads right
(``2024年3月15日``, ``10時30分``, ``1980円``, ``5キロメートル``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from uniflg.text import numerals
from uniflg.text.charset import ascii_base
from uniflg.text.greek import read_greek
from uniflg.text.loanwords import katakana_for_latin
from uniflg.text.normalize_en import roman_value
from uniflg.text.units import UNITS, names

_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_SIGNS = {"&": "アンド", "+": "プラス", "=": "イコール", "@": "アット", "#": "ナンバー", "×": "かける", "÷": "わる",
          "\u2212": "マイナス", "≒": "ニアリーイコール", "≠": "ノットイコール", "±": "プラスマイナス", "∞": "無限大",
          "√": "ルート", "≦": "小なりイコール", "≤": "小なりイコール", "≧": "大なりイコール", "≥": "大なりイコール",
          "\u2014": "、", "\u2015": "、", "°C": "度", "°F": "華氏", "°": "度"}  # a bare (°C) is a unit's name
# Before a hyphen (or U+2212) and a number, what makes it a minus sign: the start, a space or punctuation, or a
# particle (気温は-5度, 10度から-5度, 体重は-2kgで-5°F); and what makes it a joint (a range, a serial, a code, a
# name): a digit, a letter, katakana or a bracket right before it (3-5, 1−2−3, COVID-19, ステージ-3), or a number
# with a counter (3つ-5つ, 10時-12時, 5個入り-10個入り). See _minus.
_PARTICLES = "は|が|を|に|で|も|と|の|へ|や|か|より|から|まで|って"
_MINUS_AFTER = re.compile(r"(?:^|[\s、。,，・「」『』（(=＝:：!?！？]|(?:" + _PARTICLES + r"))$")
_JOINED = re.compile(r"(?:[A-Za-z\d).\-ァ-ヴー]|\d[^\s、。,・「」()]{1,4})$")
# After M/D: what makes 3/4 a date rather than three quarters.
_DATE_AFTER = re.compile(r"\s?(?:[(（][月火水木金土日](?:曜日?)?[)）]|から|まで|[〜~～]|\d{1,2}(?::\d|時)"
                         r"|に(?:発売|配信|開催|公開|放送|発表|決定|予定|実施|開始|終了))")
# 草www, それなw, www面白い: laughter, not read: a run of lower-case w anywhere, or w / W after Japanese at the end
# of a clause. W杯, 単位はWです, WWWの話 and the www of an address (read by the address rule first) stay.
_LAUGH = re.compile(r"(?<![A-Za-z])(?:w{2,}|(?<=[\u3041-\u3096\u4e00-\u9fff々〜!?！？、。…])[wW]+"
                    r"(?=$|[\s、。!?！？…」』)〜~]))(?![A-Za-z.])")
# 88888: applause in Japanese chat (8 is hachi, pachi-pachi), four or more eights where a reaction stands: opening
# the text or a line, after a sentence's end (最高！8888), laughter, or kana and a space (すごい 8888); 8888円,
# 答えは8888, 暗証番号8888, 合計 8888, スコア8888！ and 18888 are numbers.
_CLAPS = re.compile(r"(?:^|(?<=[\n!?！？。…wｗ草])|(?<=[\u3041-\u3096][ \t\u3000]))[ \t\u3000]*8{4,}"
                    r"(?=$|[\s!?！？。、…wｗ])", re.MULTILINE)  # (すごい 8888: after a word's kana ending and a space)
# What a scale letter counts (1.5M再生, 登録者50k, 5k円); without one, 1K (an apartment), 2B (a pencil), 12B (a seat),
# 512M are labels.
_COUNTED_AFTER = ("(?:再生|登録|フォロワー|いいね|ビュー|ダウンロード|ドル|達成|突破|超え|越え"
                  "|(?:回|人|円|件|本|部|枚|票|歩|字)(?![\u4e00-\u9fff]))")  # not 回線, 人気, 部屋
_COUNTED_BEFORE = "登録者|再生数|フォロワー|視聴者|同接|いいね|閲覧数|売上|ダウンロード数"
_COUNTED = re.compile(r"\s?(?:" + _COUNTED_AFTER + ")")
_COUNTING = re.compile("(?:" + numerals.CURRENCY_SIGN + "|" + _COUNTED_BEFORE + r")\s?$")
_AMPM = {"a": "午前", "p": "午後"}
# What a range of numbers counts: 10-20人, 20-30代, 5-10分 (a bare 3-5 or 1-2-3 is a serial, a code or an address).
_RANGE_COUNTERS = ("人|名|代|歳|才|分|秒|時間|日間|日|週間|週|か月|ヶ月|ヵ月|カ月|月|年|回|個|本|枚|件|冊|杯|匹|頭|台|"
                   "度|%|円|万|千|倍|割|点|ページ|話|位|組|周|問|戦|試合")
_UNIT_NAMES = names(False, "ja") + "|" + names(True, "ja")
# What a score says: 1-0で勝った, 3-2で負けた, 2-2の引き分け.
_SCORE_AFTER = "で(?:勝|負|敗|引き分|リード|逆転|終|快勝|完勝|惜敗|ドロー)|の(?:勝利|敗北|引き分け|同点|接戦|完封)"
# What "x2" multiplies in games (x2ダメージ, x10コンボ); before other words x86, x64 are names.
_X_GAME = "ダメージ|コンボ|ボーナス|ポイント|経験値|スコア|速|倍|ドロップ|報酬"
_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?![\d,])")
_TLDS = "com|org|net|io|ai|dev|app|gg|tv|me|co|jp|uk|us|de|fr|edu|gov|info|biz|xyz"


def _date(m: re.Match[str]) -> str:
    year, month, day = m.group(1), int(m.group(2)), int(m.group(3))
    if not numerals.is_date(month, day):
        return m.group(0)
    return f"{int(year)}年{month}月{day}日"


def _timestamp(m: re.Match[str]) -> str:
    """``2026-12-02T11:18:03Z`` -> 2026年12月2日11時18分3秒 協定世界時 (``+09:00``: 協定世界時プラス9時間; fractions
    of a second are not read)."""
    stamp = numerals.timestamp(m)
    if stamp is None:
        return m.group(0)
    words = f"{stamp.year}年{stamp.month}月{stamp.day}日{stamp.hour}時" + (f"{stamp.minute}分" if stamp.minute else "")
    words += f"{stamp.second}秒" if stamp.second is not None else ""
    offset = stamp.utc_offset_minutes
    if offset is None:
        return words
    hours, minutes = divmod(abs(offset), 60)
    shift = ""
    if offset:
        shift = f"{'プラス' if offset > 0 else 'マイナス'}{hours}時間" + (f"{minutes}分" if minutes else "")
    return f"{words} 協定世界時{shift}"


def _dotted(m: re.Match[str]) -> str:
    """``3.11.7`` -> 3てん11てん7 (a version; ``v1.2.3`` -> バージョン1てん2てん3),
    ``192.168.0.1`` -> 192ドット168ドット0ドット1, ``1.234.567`` / ``1.234,56`` -> 1234567 / 1234.56 (European
    thousands); which is which: :func:`uniflg.text.numerals.dotted`.
    Open JTalk alone reads 3.11.7 as 3.11, a pause, 7."""
    before = re.search(r"([^\s\d]+)\s?$", m.string[:m.start()])
    version = before is not None and any(before.group(1).endswith(w) for w in numerals.VERSION_WORDS)
    form = numerals.dotted(m.group(0), version)
    if form.kind == "address":
        return "ドット".join(form.parts)
    if form.kind == "phone":
        return "、".join(" ".join(p) for p in form.parts)
    if form.kind == "version":
        return ("バージョン" if m.group(0)[0] in "vV" else "") + "てん".join(form.parts)
    whole, decimals = form.parts
    return whole + (f".{decimals}" if decimals else "")


def _month_day_or_fraction(m: re.Match[str]) -> str:
    """``3/15`` (a day above 12), ``7/7`` and ``12/1`` (not proper fractions, unless a label comes before: ``HP 5/5``)
    and ``3/4`` before a weekday, a time, から, まで, 〜 or に発売 (:data:`_DATE_AFTER`) are dates; ``1/2`` is a
    fraction, read 2分の1, as is a time signature (``4/4拍子``); anything else (``24/7``, ``5/0``) keeps its slash, read
    スラッシュ."""
    a, b = int(m.group(1)), int(m.group(2))
    if m.string.startswith("拍子", m.end()):  # 4/4拍子, 12/8拍子: a time signature, read 4分の4
        return f"{b}分の{a}"
    labelled = re.search(r"[A-Za-z\u30a1-\u30fa]\s?$", m.string[:m.start()])  # HP 5/5, ミッション3/3: a count
    dated = (a >= b and not labelled) or _DATE_AFTER.match(m.string, m.end()) is not None
    month_day = numerals.slash_month_day(a, b, dated)
    if month_day:
        return f"{a}月{b}日"
    if not 0 < a <= b:
        return f"{m.group(1)}スラッシュ{m.group(2)}"
    return f"{b}分の{a}"


def _mixed_fraction(m: re.Match[str]) -> str:
    """``3 1/2`` (also ``3½``) -> 3と2分の1; otherwise left for the date/fraction rule."""
    whole, a, b = m.group(1), int(m.group(2)), int(m.group(3))
    return f"{whole}と{b}分の{a}" if 0 < a < b else m.group(0)


def _time(m: re.Match[str]) -> str:
    hour, minute, second = int(m.group(1)), int(m.group(2)), m.group(3)
    if hour > 29 or minute > 59 or (second and int(second) > 59):  # 25:00-29:59: broadcast hours past midnight
        return m.group(0)
    words = f"{hour}時" + (f"{minute}分" if minute else "")
    return words + (f"{int(second)}秒" if second and int(second) else "")  # 2:30:00 is 2時30分


def _money(m: re.Match[str]) -> str:
    return f"{m.group(2)}{numerals.CURRENCIES[m.group(1)].ja}"


def _foreign_money(m: re.Match[str]) -> str:
    """US$10 -> 10米ドル, 5 USD -> 5米ドル, 20 EUR -> 20ユーロ."""
    sign, amount, prefix, scale = numerals.foreign_amount(m)
    if scale:  # US$1.5 million: the amount in full, as the sign rule reads 1.5M
        amount = numerals.scaled(amount.replace(",", ""), _SCALE_LETTERS.get(scale, scale)) or amount
    return f"{amount}{numerals.DOLLAR_PREFIXES[prefix][1] if prefix else ''}{numerals.CURRENCIES[sign].ja}"


_SCALE_LETTERS = {"thousand": "k", "million": "M", "billion": "B", "bn": "B", "m": "M", "b": "B", "K": "k"}


def _minus(m: re.Match[str]) -> str:
    """A hyphen or U+2212 before a number is a minus sign after the start, a space, punctuation or a particle
    (気温は-5度, (-3), 10度から-5度); one that joins numbers, codes or words stays a hyphen: a range or serial
    (3-5, 3つ-5つ, 10時-12時, 03−1234−5678, 港区1−2−3, 2-1で勝った) or a name (COVID-19, ステージ-3). A bare word
    before it (気温-5度) makes it a minus."""
    before = m.string[max(0, m.start() - 8):m.start()]
    if not _MINUS_AFTER.search(before) and _JOINED.search(before):
        return "-"
    return "マイナス"


def _rising_range(m: re.Match[str]) -> str:
    """10-20人 -> 10から20人; a falling pair (3-1話, 2-1位) is a code or an episode number: it keeps its hyphen."""
    low = float(re.match(r"\d+(?:\.\d+)?", m.group(1)).group(0))  # type: ignore[union-attr]
    return f"{m.group(1)}から" if low < float(m.group(2)) else m.group(0)


def _unit(m: re.Match[str]) -> str:
    """``5kg`` -> 5キログラム, ``60km/h`` -> 時速60キロ (not 時速時速 after 時速), ``-5°F`` -> 華氏マイナス5度."""
    reading = UNITS[m.group(2) or m.group(3)].ja
    assert reading is not None  # names(..., "ja") holds only units with a Japanese reading
    prefix, _, suffix = reading.partition("{}")
    if prefix and m.string.endswith(prefix, 0, m.start()):
        prefix = ""
    return f"{prefix}{m.group(1)}{suffix}"


def _roman(m: re.Match[str]) -> str:
    """After 第 a Roman numeral is a Japanese number (第II章 -> 第2章); in a title (after kana or Latin) it is
    read in English, as the Japanese say ファイナルファンタジーセブン."""
    numeral, before = m.group(2), m.group(1)
    value = roman_value(numeral)
    if before == "第":
        return f"{before}{value}"
    from num2words import num2words

    return before + katakana_for_latin(num2words(value, lang="en").replace("-", " "))


def _scaled(m: re.Match[str]) -> str:
    """1.5M再生 -> 1500000再生, $5M -> $5000000, 登録者50k -> 登録者50000: only after a currency sign or a count
    word, or before a counted noun (:data:`_COUNTED_AFTER`)."""
    counted = _COUNTED.match(m.string, m.end()) is not None or _COUNTING.search(m.string[:m.start()]) is not None
    resolution = m.group(2) == "K" and m.group(1) in ("2", "4", "5", "8")  # 4K超え, 8K: a screen resolution
    return (numerals.scaled(m.group(1), m.group(2)) or m.group(0)) if counted and not resolution else m.group(0)


def _web(m: re.Match[str]) -> str:
    text = re.sub(r"^[a-z]+://", "", m.group(0))
    text = re.sub(r"^www\.", "ダブリューダブリューダブリュー.", text)
    return text.replace(".", " ドット ").replace("/", " スラッシュ ").replace("@", " アット ")


_RULES: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    # not \b: kana before the scheme is a word character too (詳しくはhttps://...); the address is ASCII
    (re.compile(r"(?<![A-Za-z])[a-z]+://[!-~]*[A-Za-z0-9/]|[\w.+-]+@[\w-]+(?:\.[\w-]+)+|(?:[A-Za-z0-9-]+\.)+(?:" + _TLDS
                + r")(?![A-Za-z])"), _web),
    (numerals.TERM, lambda m: numerals.term(m)[1]),
    (re.compile(r"(?<![A-Za-z])(?:vs|VS|Vs)\.?(?![A-Za-z])"), " バーサス "),
    (re.compile(r"(?<![A-Za-z])([A-G])#(?![A-Za-z0-9#])"), r"\1シャープ"),  # C#
    (re.compile(r"(?<![A-Za-z0-9#&])#(?=[^\W\d_])"), "ハッシュタグ"),  # #雑談, #VTuber (before a digit: ナンバー)
    (re.compile(r"(?<![A-Za-z\d.])(\d+(?:\.\d+)?)(k|K|M|B)(?![A-Za-z])"), _scaled),  # 10K達成, $5M, 1.5M再生
    (re.compile(r"(?<![A-Za-z])(\d{1,2}(?::\d{2})?)\s?([AaPp])\.?[Mm]\.?(?![A-Za-z])"),
     lambda m: _AMPM[m.group(2).lower()] + m.group(1) + ("" if ":" in m.group(1) or m.string.startswith("時", m.end())
                                                          else "時")),  # 10am -> 午前10時
    (re.compile(r"(?<![A-Za-z])([AaPp])\.?[Mm]\.?\s?(?=\d{1,2}(?:時|:\d))"), lambda m: _AMPM[m.group(1).lower()]),
    (re.compile(r"(" + numerals.CURRENCY_SIGN + r")\s?([-\u2212])(?=\d)"), r"\2\1"),  # $-5 -> -$5: the sign first
    (numerals.FOREIGN_AMOUNT, _foreign_money),
    (re.compile(r"(" + numerals.CURRENCY_SIGN + r")\s?(" + _NUM + r")"), _money),
    (numerals.ISO_TIMESTAMP, _timestamp),
    (re.compile(r"(?<!\d)(\d{4})[/\-.](\d{1,2})[/\-.](\d{1,2})(?!\d)"), _date),
    (numerals.DOTTED_DATE, lambda m: f"{m.group(3)}年{int(m.group(2))}月{int(m.group(1))}日"
     if numerals.is_date(int(m.group(2)), int(m.group(1))) else m.group(0)),  # 25.12.2024
    (numerals.DOTTED, _dotted),
    (numerals.SHORT_VERSION, lambda m: ("バージョン" if m.group(1) else "") + f"{m.group(2)}てん{m.group(3)}"
     if m.group(1) or numerals.is_version_context(m.string[:m.start()]) else m.group(0)),  # Python3.12, v3.12
    (re.compile(r"(?<![\d:])(\d{1,2}):(\d{2})(?::(\d{2}))?(?![\d:])"), _time),
    # a score: 4.5/5, 10/10点満点, 星5/5 -> 5点中4.5, 10点中10点満点, 星5点中5
    (re.compile(r"(?<![\d/.])(\d+\.\d+)/(\d+)(?![\d/])|(?<![\d/.])(?<=星)(\d+)/(\d+)(?![\d/])"
                r"|(?<![\d/.])(\d+)/(\d+)(?=点)"),
     lambda m: next(f"{b}点中{a}" for a, b in (m.groups()[k:k + 2] for k in (0, 2, 4)) if a)),
    (re.compile(r"(?<![\d/])(\d{1,3}) (\d{1,2})/(\d{1,2})(?![\d/])"), _mixed_fraction),
    (re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})(?![\d/])"), _month_day_or_fraction),
    # 16:9; written in kana: Open JTalk reads 1対0 as イチツイゼロ
    (re.compile(r"(?<![\d:])(\d{1,3}):(\d)(?![\d:])"), r"\1たい\2"),
    (re.compile(r"(?<![\d.])0時"), "零時"),
    # 10-20人, 9時-18時 (after the time rule: 9:00-18:00), 4月1日(月)-4月7日: a range, read から
    (re.compile(r"(?<![\d\-.,])(\d+(?:\.\d+)?(?:" + _UNIT_NAMES + r")?)\s?[-\u2013]\s?(?=(\d+(?:\.\d+)?)\s?(?:"
                + _RANGE_COUNTERS + "|" + _UNIT_NAMES + r"))(?!\d+(?:\.\d+)?\s?[-\u2013]\d)"), _rising_range),
    (re.compile(r"(\d(?:時|分|秒|日|月|年)(?:[(（][月火水木金土日](?:曜日?)?[)）])?)\s?[-\u2013]\s?(?=\d)"), r"\1から"),
    (re.compile(r"(?<![\d\-])(\d{1,3})\s?[-\u2013]\s?(\d{1,3})(?=" + _SCORE_AFTER + ")"), r"\1たい\2"),
    # 20時〜, 15時30分〜配信, 4月1日(月)〜: a start, read から (kana before 〜 is a drawn-out vowel: だ〜)
    (re.compile(r"(\d(?:時|分|日)(?:[(（][月火水木金土日](?:曜日?)?[)）])?)\s?[〜~～]"), r"\1から"),
    # 10〜20人, 3時〜5時 (not 3時だ〜5時: kana before 〜 is a drawn-out vowel)
    (re.compile(r"(\d[^\s\d〜~～、。\u3041-\u3096]{0,3}?)\s?[〜~～]\s?(?=\d)"), r"\1から"),
    (re.compile(r"(?<![\u4e00-\u9fff])([月火水木金土日])(?:曜日?)?\s?[〜~～]\s?([月火水木金土日])(?:曜日?)?"
                r"(?![\u4e00-\u9fff])"), r"\1曜から\2曜"),  # 月〜金
    (re.compile(r"(?<![A-Za-z\d.])(\d+)\s?h\s?(\d+)\s?m(?:in)?(?![A-Za-z])"), r"\1時間\2分"),  # 1h30m
    # 1920x1080, 5x5 (not hex 0x10); 2x速 (not 2x+1); x2ダメージ (not x86版, nor x2+y2)
    (re.compile(r"(?<![A-Za-z\d.])([1-9]\d*)x(\d+)(?![A-Za-z\d])"), r"\1かける\2"),
    (re.compile(r"(?<![A-Za-z\d.])(\d+(?:\.\d+)?)x(?=速|倍速|スピード|ズーム|再生)"), r"\1倍"),
    (re.compile(r"(?<![A-Za-z\d])x(\d+(?:\.\d+)?)(?=" + _X_GAME + ")"), r"\1倍"),
    (re.compile(r"(" + _NUM + r")\^(\d{1,3})(?!\d)"), r"\1の\2乗"),  # 10² (NFKC: 10^2) -> 10の2乗
    (re.compile(r"(?<=[A-Za-z])\^(\d{1,3})(?!\d)"), r"の\1乗"),  # x^2 -> xの2乗
    (re.compile(r"[-\u2212](?=\.?\d)"), _minus),
    (re.compile(r"(?<![A-Za-z\d.,])((?:マイナス)?(?:" + _NUM + r"))(?:\s?(" + names(False, "ja") + r")|("
                + names(True, "ja") + r"))(?![A-Za-z\d]|サイズ|判)"), _unit),  # 3Lサイズ, 2L判: sizes
    (re.compile(r"km/h"), "キロ"),
    (re.compile(r"(\d+)(?:st|nd|rd|th)(?![A-Za-z])"), r"\1番目"),  # also before kana: 1stライブ
    (re.compile(r"(?<![\d.])([23])D(?![A-Za-z])"), lambda m: {"2": "ツーディー", "3": "スリーディー"}[m.group(1)]),
    (re.compile(r"(第|[ァ-ヴー]\s?)(?=[IVX]{2,}(?![A-Za-z])|(?<=第)[IVX]+(?![A-Za-z]))(X{0,3}(?:IX|IV|V?I{0,3}))"
                r"(?![A-Za-z])"), _roman),
]


def normalize(text: str) -> str:
    """Japanese ``text`` (NFKC-normalized) -> text Open JTalk reads right (Latin words in katakana)."""
    text = _RULES[0][0].sub(_web, text)  # first: an address keeps its www
    text = _CLAPS.sub("パチパチ", _LAUGH.sub("", text))
    # Open JTalk reads 1,000 after a comma (価格, 1,000円: every Markdown table row) as イチ、ゼロゼロゼロ: the
    # thousands separators go, and an ASCII comma between words is the Japanese one
    text = re.sub(r"(?<=[^\d\s]),\s*|(?<=\d),\s+|(?<=\d),(?=[^\d\s])", "、", text)
    text = _THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), text)
    for pattern, repl in _RULES[1:]:
        text = pattern.sub(repl, text)  # type: ignore[arg-type]
    text = read_greek(text, "ja")
    text = re.sub(r"(\d+)[ \t]*\*\*[ \t]*(\d+)", r"\1の\2乗", text)  # 2**10: a power, as Python writes it
    text = numerals.ASTERISK.sub("", numerals.PRODUCT.sub("かける", text))
    for sign, word in _SIGNS.items():
        text = text.replace(sign, word)
    text = "".join(ascii_base(c) or c if not c.isascii() else c for c in text)  # café -> cafe
    # a voiced mark NFKC could not join to its kana (あ゛, う゛ぁ゛: a strained shout in chat) is not read
    text = text.replace("\u3099", "").replace("\u309a", "")
    return re.sub(r"[A-Za-z][A-Za-z'’]*(?:[-\s][A-Za-z][A-Za-z'’]*)*", lambda m: katakana_for_latin(m.group(0)), text)
