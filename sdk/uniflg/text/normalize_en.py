"""English text normalization: numbers, money, times, dates, ordinals, percent, units, Roman numerals in
titles, abbreviations, web addresses and signs -> the words a reader says (numbers through ``num2words``).

The rules run in a fixed order (docs/frontend.md lists them with examples); each one consumes its match, so
later rules never see digits an earlier one has read. What is left for espeak-ng is words and clause
punctuation.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from num2words import num2words

from uniflg.text import numerals
from uniflg.text.greek import read_greek
from uniflg.text.units import UNITS, names

# 1,500.25 (thousands) or 1,00,000.5 (lakh/crore grouping) or 1500.25 or .25
_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d{1,2}(?:,\d{2})+,\d{3}|\d+)(?:\.\d+)?|(?<!\d)\.\d+"
# Longest whole numbers read as numbers: without separators, hundreds of trillions (longer digit runs are
# serials, IDs and card numbers, read digit by digit); with separators the size is plain to the reader, up to
# hundreds of quintillions.
MAX_CARDINAL_DIGITS = 15
MAX_GROUPED_DIGITS = 21
_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
_MONTH_ABBR = {m[:3]: m for m in _MONTHS} | {"Sept": "September"}
_WEEKDAYS = {"Mon": "Monday", "Tue": "Tuesday", "Tues": "Tuesday", "Wed": "Wednesday", "Thu": "Thursday",
             "Thur": "Thursday", "Thurs": "Thursday", "Fri": "Friday", "Sat": "Saturday", "Sun": "Sunday"}
_MONTH_NAMES = "|".join(_MONTHS) + "|" + "|".join(m[:3] for m in _MONTHS) + "|Sept"
# What a scale letter counts (10k subs, 1.5M views); without one, 4B, 12B, 23K, 2B pencil, 10K race are labels.
_COUNT_NOUNS = ("views|subs|subscribers|followers|likes|plays|streams|downloads|users|players|people|fans|viewers"
                "|members|copies|sales|votes|comments|hits|reviews|words|steps|points|retweets|shares|stars"
                "|tickets|visitors|customers|employees|residents|miles|years|games|songs|posts|messages|units")
# After a/b: what makes it a fraction (5/16 inch, 9/16 wrench, 1/4-inch, 1/20 of the dose), not a date.
_MEASURED = re.compile(r"(?:-|\s)?(?:\"|(?:inch|inches|in|of|teaspoons?|tsp|tablespoons?|tbsp|cups?|miles?|pounds?|"
                       r"lbs?|ounces?|oz|gallons?|liters?|litres?|wrench|drill|bit|nut|bolt|pipe|thick|wide|long)\b)")
# Words before a/b that make it "a of b" (page 12/25, step 3/5).
_OF_BEFORE = {"page", "pages", "p", "pp", "step", "steps", "part", "slide", "track", "disc", "question", "round",
              "stage", "level", "episode", "chapter"}
_SCALES = {"k": "thousand", "K": "thousand", "m": "million", "M": "million", "bn": "billion", "B": "billion",
           "thousand": "thousand", "million": "million", "billion": "billion", "trillion": "trillion"}
_CUR = numerals.CURRENCY_SIGN
# Abbreviations read as words. Their periods are not sentence or clause ends (see segment.ABBREVIATIONS).
ABBREVIATIONS = {"Mr": "mister", "Mrs": "missus", "Ms": "miz", "Dr": "doctor", "Prof": "professor",
                 "Jr": "junior", "Sr": "senior", "St": "saint", "Mt": "mount", "Capt": "captain", "Gen": "general",
                 "Lt": "lieutenant", "Sgt": "sergeant", "Col": "colonel", "Gov": "governor", "Rev": "reverend",
                 "vs": "versus", "etc": "et cetera", "approx": "approximately", "Ave": "avenue", "Blvd": "boulevard",
                 "Dept": "department", "Inc": "incorporated", "Ltd": "limited", "Co": "company", "Corp":
                 "corporation", "e.g": "for example", "i.e": "that is", "No": "number", "Vol": "volume",
                 "Fig": "figure", "Ch": "chapter", "ext": "extension", "Ext": "extension"}
# Chat abbreviations read as what they stand for (the letters of lol, gg, afk and omg are what people say). Lower
# case anywhere; capitalized (opening a sentence) or in capitals only the ones no name or acronym shares (Idk, IDK,
# TBH; not Imo State, Thx 1138, Ty, IDC, IMO, THX, NGL, BTW: places, films, names, companies, bodies). Never in code:
# before .x (np.array, ty.py) - and the ones code uses (np, bc, jk, nvm) are not in the table at all.
CHAT_ABBREVIATIONS = {
    "idk": "I don't know", "idc": "I don't care", "tbh": "to be honest", "ngl": "not gonna lie",
    "imo": "in my opinion", "imho": "in my humble opinion", "btw": "by the way", "brb": "be right back",
    "thx": "thanks", "thnx": "thanks", "tysm": "thank you so much", "ty": "thank you", "pls": "please",
    "plz": "please", "rn": "right now", "omw": "on my way", "ikr": "I know, right", "smh": "shaking my head",
    "fyi": "for your information", "ofc": "of course", "afaik": "as far as I know", "iirc": "if I remember correctly",
    "cuz": "because", "tho": "though", "ppl": "people", "smth": "something", "ily": "I love you",
    "ilysm": "I love you so much", "gr8": "great", "l8r": "later", "cya": "see ya", "ur": "your"}
_CHAT_IN_CAPITALS = {"idk", "tbh", "brb", "imho", "afaik", "iirc", "tysm", "fyi", "omw"}
_CHAT = re.compile(r"(?<![\w'’.-])(" + "|".join(sorted(CHAT_ABBREVIATIONS, key=len, reverse=True))
                   + r")(?![\w'’-]|\.\w)", re.IGNORECASE)


def _chat(m: re.Match[str]) -> str:
    word = m.group(1)
    lower = word.lower()
    opens = not m.string[:m.start()].strip() or m.string[:m.start()].rstrip()[-1] in ".!?\n"
    if word == lower or (word in (word.capitalize(), word.upper()) and lower in _CHAT_IN_CAPITALS
                         and (opens or word == word.upper())):  # (Imo State, Thx 1138, Ty: names)
        return CHAT_ABBREVIATIONS[lower]
    return word


# Product lines whose model numbers are said in pairs (RTX 4090: forty ninety; Boeing 747: seven forty seven).
_MODEL_LINES = "RTX|GTX|GT|RX|Xbox|Boeing(?= 7\\d7)|Airbus A|Porsche|Nokia"  # Boeing 747, not "Boeing 150 job cuts"
# Web-address endings (with what the domain rule accepts as a name).
_TLDS = ("com|org|net|io|ai|dev|app|gg|tv|me|co|jp|uk|us|de|fr|edu|gov|info|biz|xyz|html|htm|php")
# Words before a/b that make it a date (on 3/4, Happy 7/4) rather than a fraction.
_DATE_BEFORE = {"on", "by", "due", "until", "till", "from", "since", "before", "after", "happy", "through", "thru",
                "dated", "expires", "starting", "ending", "monday", "tuesday", "wednesday", "thursday", "friday",
                "saturday", "sunday"}
# Events before a month and day: a date where it ends the phrase (Next stream: 12/5); before "of" or a measure no
_EVENT_BEFORE = {"stream", "streams", "streaming", "birthday", "bday", "collab", "premiere", "release", "releases",
                 "launch", "launches", "party", "concert", "event", "deadline", "meeting", "tonight", "tomorrow"}
_RATING_BEFORE = {"rated", "rating", "rate", "score", "scored", "scores", "it", "got", "get", "gets"}
_AT_A_TIME = {"at", "by", "until", "till", "from", "since", "before", "after", "around", "past", "starts", "ends"}
_SCORE_BEFORE = {"won", "lost", "beat", "beats", "defeated", "wins", "loses", "lead", "leads", "led", "trail",
                 "trails", "final", "score", "scored", "drew", "tied"}
# Game counters (Ammo 12/30, HP 100/100, Wave 10/20): a stat is "out of", progress "of"; and counts after N/M
# (5/8 players ready). Without a label, 12/30 would be a date and 5/10 five tenths (review 20).
_STATS = "hp|mp|sp|health|mana|stamina|energy|ammo|lives|life|shield|armor|armour|durability"
_PROGRESS = ("wave|waves|kills|quest|quests|mission|missions|lap|laps|floor|round|stage|level|slots|goals|coins|gems"
             "|keys|items|tasks|progress|checkpoint|checkpoints|bosses|deaths|players|seats|tickets|achievements")
_COUNTER = re.compile(r"\b(?i:(" + _STATS + ")|(" + _PROGRESS + r"))(\s*:?\s*)(\d{1,5})/(\d{1,5})(?![\w/])")
_COUNTED_OF = re.compile(r"(?<![\w/.])(\d{1,4})/(\d{1,4})(?=\s+(?:players?|ready|joined|online|alive"
                         r"|cleared|collected|found|people|members|viewers)\b)")
# Slashes said as their own words: 24/7 (all the time), 9/11 (the day, without "on" before it)
_SLASH_NAMES = {(24, 7): "twenty four seven", (9, 11): "nine eleven"}
# ranges of years (2020–24, 1939-45), times (9:00-17:00) and days (Mon–Fri)
_YEAR_SPAN = re.compile(r"(?<![\w.\-/])((19|20)(\d\d))\s?[-\u2013]\s?(\d\d)(?![\w/\-]|[.,]\d)")
_TIME_SPAN = re.compile(r"(?<![\d:])(\d{1,2}:\d{2}(?:\s?[AaPp]\.?[Mm]\.?)?)\s?[-\u2013]\s?(?=\d{1,2}:\d{2}(?!\d))")
_DAY_SPAN = re.compile(r"\b(Mon|Tue|Tues|Wed|Thu|Thur|Thurs|Fri|Sat|Sun)\.?\s?[-\u2013]\s?"
                       r"(Mon|Tue|Tues|Wed|Thu|Thur|Thurs|Fri|Sat|Sun)\b\.?")
# 10 - 20 people: spaced, rising and before a word, a range; 5 - 3 is a minus
_SPACED_RANGE = re.compile(r"(?<![\w.])(\d+)\s+-\s+(\d+)(?=\s+(?!is\b|equals\b|in\b|gives\b|makes\b|was\b)[a-z])")
# Words before a-b that make it a code, not a range (World 1-1, stage 3-2, Room 2-105, Gate 1-2).
_CODE_BEFORE = {"world", "stage", "level", "lv", "lvl", "room", "gate", "route", "flight", "platform", "exit",
                "article", "section", "figure", "fig", "table", "act", "track", "apartment", "apt", "unit", "suite",
                "model", "zip", "code", "no", "number", "verse", "ward", "block", "lot", "chapter", "ch", "exercise",
                "problem", "lesson", "example", "eq", "sec", "§", "class", "question", "task", "part"}
# After a-b: what makes it a name, not a range (a 1-2 punch, a 3-4 defense, 1-0 to them).
_CODE_AFTER = {"punch", "defense", "defence", "zone", "split", "pitch", "count", "formation", "to", "record"}
_FIXED_PAIRS = {("24", "7"), ("50", "50"), ("7", "11")}  # said as they are: twenty four seven, fifty fifty
# After "2x": what makes it "two times" (2x speed, 3x faster, 2x daily); elsewhere 3x is algebra, 2x AA batteries
# a count, 8x scope a name.
_TIMES_BEFORE = ("better|worse|already|again|now|today|in a row|a day|a week|each|every|combo|cheaper|easier|harder"
                 "|louder|quicker|richer|safer|cooler|brighter|heavier|lighter|deeper|wider|greater|closer"
                 "|faster|slower|more|less|bigger|smaller|larger|longer|stronger|higher|lower|speed|zoom|daily|weekly"
                 "|a|per|the|as|damage|xp|exp|points|boost|bonus|magnification")
# What "x2" multiplies in games (x2 damage, x10 combo); elsewhere x2 is a variable or x64 an architecture.
_GAME_WORDS = ("damage|combo|speed|multiplier|points|xp|exp|boost|bonus|zoom|rewards|coins|gold|drops?|score|hits"
               "|health|hp|mp|luck")
# Words after "a 5 km" that link it onward rather than name what it describes.
_LINKING = {"of", "or", "and", "to", "in", "per", "than", "from", "at", "on", "by", "for", "with", "each", "away",
            "ago", "later", "earlier", "more", "less"}
# Words before a two-digit decade ("the 80s", "her 30s", "mid-90s").
_DECADE_AFTER = {"the", "early", "mid", "late", "her", "his", "their", "my", "your", "our", "its"}
_REGNAL = {"King", "Queen", "Pope", "Emperor", "Empress", "Prince", "Princess", "Tsar", "Czar", "Louis", "Henry",
           "Elizabeth", "George", "Charles", "Edward", "Richard", "William", "James", "John", "Mary", "Philip",
           "Napoleon", "Pius", "Benedict", "Gregory", "Leo", "Innocent", "Clement", "Alexander", "Frederick",
           "Peter", "Catherine", "Ramesses", "Ivan", "Boniface", "Urban", "Paul", "Victor"}
_ROMAN = re.compile(r"\b(?=[IVX]{2,}\b(?!['’])|[IVX]\b(?!['’]))(X{0,3})(IX|IV|V?I{0,3})\b")  # not I'm, I'll
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10}
_NAME_LIKE_TITLES = {"Mark", "Star", "Grand", "Final", "Rocky", "Fantasy"}  # Mark I think: a name, then the pronoun
_ROMAN_TITLES = {"Chapter", "Part", "Volume", "Vol", "Act", "Book", "Episode", "Phase", "Season", "Level",
                 "Stage", "World", "War", "Type", "Class", "Mark", "Final", "Fantasy", "Rocky", "Star", "Grand", "GTA",
                 "Title", "Scene", "Appendix", "Grade", "Category", "Tier", "Ch"}
_SIGNS = {"!=": " is not equal to ", "==": " equals ", "<=": " less than or equal to ",
          ">=": " greater than or equal to ", "&": " and ", "+": " plus ", "=": " equals ", "@": " at ",
          "×": " times ", "÷": " divided by ",
          "<": " less than ", ">": " greater than ", "±": " plus or minus ", "#": " number ",
          "/": " slash ", "\u2212": " minus "}
# A minus sign (hyphen or U+2212) right before a number or a currency sign that does not follow a word or digit:
# -5, -.5, -3.5%, -1e-5, -$5 (not 2024-01-02, 555-1234, 10-20 or UTC-5). Read first, so that every number rule
# sees an unsigned number; a sign written after the currency ($-5) is moved before it.
_MINUS = re.compile(r"(?<![\w\-\u2212.])[-\u2212](?=" + _CUR + r"?\.?\d)")
_SIGN_AFTER_CURRENCY = re.compile(r"(" + _CUR + r")\s?([-\u2212])(?=\.?\d)")
_VERSUS = re.compile(r"\bvs\b(?!\.)")
_WITH = re.compile(r"(?<![\w/])w/(o(?![\w/]))?(?=\s[A-Za-z]|[A-Za-z]{2}|(?<=o)[\s.,!?]|$)")  # not w/w, w/v
# An em dash, or -- between words or with a space on both sides, is a pause (not the option in git --version).
_DASH = re.compile(r"\s*[\u2014\u2015]\s*|(?<=\w)--(?=\w)|\s+--\s+")
_ELLIPSIS = re.compile(r"(?<=[A-Za-z])\.\.\.(?=[A-Za-z])")  # Well...I guess: the pause a space after it gives
# 10 000, 1 500 000: thousands grouped by spaces (SI and most of Europe; NFKC made thin and no-break spaces plain).
# Not a phone number's groups (555 123 4567: a group of four follows) nor digits in a list (1 2 3).
_SPACE_GROUPED = re.compile(r"(?<![\w.,+\-])(?<!\d )([1-9]\d{0,2})((?: \d{3})+)(?![\w]|[ .,:/\-]\d)")
_ABOUT = re.compile(r"~\s?(?=" + _CUR + r"?\.?\d)")  # ~5 is about five; a drawn-out "Hiii~" is not read
# A range or a score between two amounts: 5-10, 5–10, $10-20, 9am-5pm, 3-2 (not 555-1234, 2024-03-15, COVID-19,
# 5 - 3, which is a minus).
_AMOUNT = _CUR + r"?\d+(?:\.\d+)?(?:\s?(?:[AaPp]\.?[Mm]\.?(?![A-Za-z])|%))?"
_RANGE = re.compile(r"(?<![\w.\-/:])(" + _AMOUNT + r")(?:-|\s?\u2013\s?)(?=(" + _AMOUNT + r")(?![\d\-/:]|\.\d))")
_SHARP = re.compile(r"\b([A-G])#(?![\w#])")  # C#, F#
_HASHTAG = re.compile(r"(?<![\w#&])#(?=[^\W\d_]{2})")  # #VTuber (before a digit # is "number")
# Pairs with a slash said as alternatives (yes/no -> yes or no); other word/word stays "slash" (day/night cycle,
# TCP/IP).
_ALTERNATIVES = {"yes/no", "he/she", "his/her", "him/her", "true/false", "on/off", "in/out", "up/down", "pass/fail",
                 "either/or", "male/female", "and/or"}
_WORD_PAIR = re.compile(r"\b[A-Za-z]+/[A-Za-z]+\b")
_PER = re.compile(r"(?<=\w)\s?/\s?(mo|month|yr|year|wk|week|day|hr|hour|night|person|head|unit|item)\b")
# What a price ends in, read: "/month" after it is "a month" (month/year between two nouns stays a slash).
_AMOUNT_WORDS = {w for c in numerals.CURRENCIES.values() for w in (c.one, c.many, c.minor_one, c.minor_many) if w}
_PERIODS = {"mo": "month", "yr": "year", "wk": "week", "hr": "hour", "month": "month", "year": "year",
            "week": "week", "day": "day", "hour": "hour", "night": "night"}
_STRETCHED = re.compile(r"\b[A-Za-z]*([a-z])\1{2,}[A-Za-z]*\b|\b[A-Z]*([A-Z])\2{2,}[A-Z]*\b")  # Hiiii, NOOOO
# Shouted text: espeak spells IT and US in capitals (information technology, United States); in a sentence without a
# lower-case letter they are the pronouns where a pronoun stands: at the end, after a verb, before a verb or a
# particle (STOP IT, TAKE US HOME, IT WAS ME, LET US GO); headlines keep them (US OPEN, IT STAFF, THE US ARMY).
_PRONOUN_AFTER = frozenset({"HURTS", "SUCKS", "ROCKS", "RULES", "HAPPENS", "MATTERS", "TO", "HOME", "NOW", "AGAIN",
                            "OUT", "UP", "DOWN", "IN", "ON", "OFF", "BACK", "ALL", "GO", "BE", "WAS", "IS", "WILL",
                            "CAN", "HAS", "HAD", "DOES", "DID", "WORKS", "MEANS", "SEEMS", "LOOKS", "FEELS",
                            "HAPPENED", "ALONE", "FOR", "WITH", "OR", "AND", "SO", "PLEASE", "RIGHT", "TOO",
                            "ANYMORE", "TONIGHT"})
_PRONOUN_BEFORE = frozenset({"IS", "WAS", "DOES", "CAN", "WILL", "WOULD", "SHOULD", "COULD", "ISN'T", "WASN'T", "LET",
                             "TAKE", "GIVE", "TELL", "JOIN", "HELP", "SHOW", "MAKE", "STOP", "DO", "DID", "GET",
                             "GOT", "LOVE", "HATE", "SEE", "HEAR", "WATCH", "DROP", "LEAVE", "SAVE", "KEEP", "BRING",
                             "SEND", "PUT", "FIX", "TRY", "SAY", "ATTACK", "FOLLOW", "TRUST", "BELIEVE", "FORGET",
                             "DOING", "DONE", "ABOUT", "FOR", "TO", "WITH", "OF", "AT", "FROM"})
_SHOUTED_WORDS = re.compile(r"\b(?:IT|US)\b")
# Chat words stretched from a double letter (goooood is good, not god): where a stretch collapses to two letters and
# gives one of these, that is the word; otherwise one letter (loooove, noooo, wooow).
_DOUBLED_WORDS = frozenset({"good", "cool", "boom", "oof", "food", "mood", "noob", "book", "look", "cook", "took",
                            "soon", "moon", "noon", "zoom", "room", "doom", "shoot", "boost", "tool", "fool", "pool",
                            "school", "smooth", "loot", "root", "boo", "woo", "yoo", "goo", "too", "zoo", "hoot",
                            "hooray", "loop", "oops", "poop", "wood", "hell", "well", "all", "ball", "kill", "fall",
                            "call", "tell", "still", "full", "chill", "sell", "till", "will", "yell", "bell", "off",
                            "stuff", "staff", "buff", "puff", "cliff", "sniff", "stiff", "see", "free", "sweet",
                            "feel", "need", "yeet", "meet", "beer", "bee", "wee", "fee", "sleep", "deep", "keep",
                            "teen", "green", "queen", "seen", "been", "week", "peek", "seek", "geek", "cheese",
                            "feet", "sheep", "speed", "tree", "three", "agree"})


def _shouted_pronoun(m: re.Match[str]) -> str:
    """IT / US in a shouted sentence -> it / us where a pronoun stands (see :data:`_PRONOUN_AFTER`)."""
    before = re.findall(r"[A-Z']+", m.string[:m.start()])
    after = re.match(r"\s*([A-Z']+|[.,!?;:)]|$)", m.string[m.end():])
    following = after.group(1) if after else "X"
    if before and before[-1] == "THE":  # THE US, THE IT DEPARTMENT
        return m.group(0)
    pronoun = (following in ("", ".", ",", "!", "?", ";", ":", ")") or following in _PRONOUN_AFTER
               or (before and before[-1] in _PRONOUN_BEFORE))
    return m.group(0).lower() if pronoun else m.group(0)
# 1000s of people: thousands, not one thousand seconds
_ORDERS_OF = re.compile(r"(?<![\w.,])(10|100|1,?000|1,?000,?000)'?s(?= of\b)")
_ORDER_WORDS = {"10": "tens", "100": "hundreds", "1000": "thousands", "1000000": "millions"}
_ROMAN_LOWER = re.compile(r"[ivxlcdm]+")


def _words(n: float | int, to: str = "cardinal") -> str:
    """num2words without its commas and hyphens (a comma would make espeak-ng pause)."""
    return re.sub(r"[,-]", " ", num2words(n, lang="en", to=to)).replace("  ", " ")


def _digit_words(text: str) -> str:
    return " ".join(_DIGITS[int(d)] for d in text if d.isdigit())


def read_number(text: str) -> str:
    """A written unsigned number -> words: ``"1,500"`` -> "one thousand five hundred"; ``"3.14"`` -> "three point
    one four" (decimals digit by digit, exactly as written); ``"007"`` and whole parts longer than
    :data:`MAX_CARDINAL_DIGITS` (:data:`MAX_GROUPED_DIGITS` with separators) -> digit by digit; ``".5"`` -> "point
    five"."""
    whole, point, fraction = text.partition(".")
    digits = whole.replace(",", "")
    longest = MAX_GROUPED_DIGITS if "," in whole else MAX_CARDINAL_DIGITS
    if (len(digits) > 1 and digits.startswith("0")) or len(digits) > longest:
        head = _digit_words(digits)
    else:
        head = _words(int(digits)) if digits else ""
    return f"{head} point {_digit_words(fraction)}".strip() if point else head


def _plural(value: int, singular: str, plural: str) -> str:
    return singular if value == 1 else plural


def _money(m: re.Match[str]) -> str:
    return _say_money(m.group("cur"), m.group("amount"), m.group("scale"))


def _foreign_money(m: re.Match[str]) -> str:
    """US$10 -> ten US dollars, 5 USD -> five US dollars, 20 EUR -> twenty euros (numerals.FOREIGN_AMOUNT)."""
    sign, amount, prefix, scale = numerals.foreign_amount(m)
    words = _say_money(sign, amount, scale)
    if not prefix:
        return words
    qualifier = numerals.DOLLAR_PREFIXES[prefix][0]
    return re.sub(r"\b(dollars?)\b", rf"{qualifier} \1", words, count=1)


def _say_money(symbol: str, amount: str, scale: str | None) -> str:
    currency = numerals.CURRENCIES[symbol]
    one, many, cent, cents = currency.one, currency.many, currency.minor_one, currency.minor_many
    if scale:
        return f"{read_number(amount)} {_SCALES[scale]} {many}"
    whole_text, _, fraction = amount.partition(".")
    whole = int(whole_text.replace(",", "") or "0")
    if fraction and (len(fraction) > 2 or not cent):  # $1.999, ¥1.5: not a count of minor units
        return f"{read_number(amount)} {many}"
    minor = int(fraction.ljust(2, "0")) if fraction else 0
    if minor:
        head = f"{read_number(whole_text)} {_plural(whole, one, many)} and " if whole else ""
        return f"{head}{_words(minor)} {_plural(minor, cent, cents)}"
    return f"{read_number(whole_text or '0')} {_plural(whole, one, many)}"


def _scientific(m: re.Match[str]) -> str:
    """``6.02e23`` -> six point zero two times ten to the power of twenty three (``e-5``: of minus five)."""
    exponent = m.group("exp")
    sign = "minus " if exponent[0] in "-\u2212" else ""
    power = exponent.lstrip("+-\u2212").lstrip("0") or "0"
    words = f"{read_number(m.group('mant'))} times ten to the power of {sign}{read_number(power)}"
    if m.group("unit"):
        words += f" {UNITS[m.group('unit')].en_plural}"
    return f"{words} {numerals.CURRENCIES[m.group('cur')].many}" if m.group("cur") else words


def _time(m: re.Match[str]) -> str:
    second = m.group(3)
    span = m.string[max(0, m.start() - 1):m.start()] in ("-", "\u2013") \
        or m.string.startswith(("-", "\u2013", " to "), m.end())  # 00:00-02:00 (the span rule made it " to ")
    if (m.group(0) in ("00:00", "0:00", "24:00") and (_word_before(m) in _AT_A_TIME | {"to", "from"} or span)):
        return "midnight"  # at 00:00, 22:00 to 00:00, 00:00-02:00; a timer's 00:00 stays
    words = _clock(int(m.group(1)), int(m.group(2)), int(second) if second else None, m.group(4))
    return words if words is not None else m.group(0).replace(":", " ")


def _clock(hour: int, minute: int, second: int | None, ampm: str | None = None) -> str | None:
    """10:30 -> ten thirty, 7:05 -> seven oh five, 10:00 -> ten o'clock (with a.m./p.m.: ten a m), 19:00 ->
    nineteen hundred, seconds after "and" (none for :00); None when out of range."""
    if hour > 24 or minute > 59 or (second is not None and second > 59):
        return None
    suffix = f" {ampm.replace('.', '').lower()[0]} m" if ampm else ""
    second = second or None  # 2:30:00 is two thirty
    if minute == 0 and second is None:
        if ampm:
            words = f"{_words(hour)}{suffix}"
        else:  # 19:00 is nineteen hundred (24-hour), 7:00 seven o'clock
            words = f"{_words(hour)} hundred" if hour > 12 else f"{_words(hour)} o'clock"
    else:
        words = f"{_words(hour)} {'oh ' if minute < 10 else ''}{_words(minute)}{suffix}"
    if second is not None:
        words += f" and {_words(second)} {_plural(second, 'second', 'seconds')}"
    return words


def _timestamp(m: re.Match[str]) -> str:
    """``2026-12-02T11:18:03Z`` -> December second twenty twenty six at eleven eighteen and three seconds U T C
    (``+09:00``: U T C plus nine; fractions of a second are not read)."""
    stamp = numerals.timestamp(m)
    if stamp is None:
        return m.group(0).replace("-", " ").replace("T", " ").replace(":", " ")
    day = _date(str(stamp.year), stamp.month, stamp.day)
    clock = _clock(stamp.hour, stamp.minute, stamp.second)
    words = f"{day} at {clock}" if day and clock else m.group(0).replace("-", " ").replace("T", " ")
    offset = stamp.utc_offset_minutes
    if offset is None:
        return words
    zone = " U T C"
    if offset:
        hours, minutes = divmod(abs(offset), 60)
        zone += f" {'plus' if offset > 0 else 'minus'} {_words(hours)}" + (f" {_words(minutes)}" if minutes else "")
    return words + zone


def _hour_ampm(m: re.Match[str]) -> str:
    return f"{_words(int(m.group(1)))} {m.group(2).replace('.', '').lower()[0]} m"


def _date(year: str | None, month: int, day: int) -> str | None:
    if not numerals.is_date(month, day):
        return None
    words = f"{_MONTHS[month - 1]} {_words(day, 'ordinal')}"
    return f"{words} {_words(int(year), 'year')}" if year else words


def _iso_date(m: re.Match[str]) -> str:
    return _date(m.group(1), int(m.group(2)), int(m.group(3))) or m.group(0).replace("-", " ").replace("/", " ")


def _us_date(m: re.Match[str]) -> str:
    """3/15/2024 (month first, as in the US) or 25/12/2024 (the day first where only the day can be)."""
    month_day = numerals.slash_month_day_year(int(m.group(1)), int(m.group(2)))
    return (month_day and _date(m.group(3), *month_day)) or m.group(0).replace("/", " ")


def _named_date(m: re.Match[str], month_text: str, day_text: str, year_text: str | None, day_first: bool) -> str:
    """A date with the month's name or its abbreviation: March fifth nineteen ninety nine, or (``day_first``)
    the fifth of March; as written when no month has that day."""
    month = _MONTH_ABBR.get(month_text.rstrip(".")[:4]) or _MONTH_ABBR.get(month_text[:3], month_text)
    day = int(day_text)
    if not numerals.is_date(_MONTHS.index(month) + 1, day):
        return m.group(0)
    year = f" {_words(int(year_text), 'year')}" if year_text else ""
    return f"the {_words(day, 'ordinal')} of {month}{year}" if day_first else f"{month} {_words(day, 'ordinal')}{year}"


def _month_day(m: re.Match[str]) -> str:
    """``March 5, 1999``, ``Jan. 3rd`` -> March fifth nineteen ninety nine, January third."""
    return _named_date(m, m.group(1), m.group(2), m.group(3), day_first=False)


# Month abbreviations that are also given names: after a numbered label, "Player 2 Jun" is player two, Jun.
_NAME_MONTHS = {"Jan", "Jun"}
_NUMBERED_LABELS = {"player", "team", "room", "level", "stage", "round", "game", "seat", "table", "group", "class",
                    "gate", "car", "member", "squad", "unit", "p", "no", "number", "#"}


def _day_month(m: re.Match[str]) -> str:
    """``25 Dec 2024``, ``1st Jan`` -> the twenty fifth of December twenty twenty four, the first of January."""
    after = m.string[m.end():].lstrip()
    if _names_a_model(m) or (not m.group(3) and after[:1].isupper()):  # Windows 10 May ..., Top 5 March Madness
        return m.group(0)
    if (m.group(2) in _NAME_MONTHS and not m.group(3) and re.match(r"\d+\s", m.group(0))
            and _word_before(m).rstrip(".") in _NUMBERED_LABELS):
        return m.group(0)  # Player 2 Jun, Team 1 Jan: a label's number, then a name
    return _named_date(m, m.group(2), m.group(1), m.group(3), day_first=True)


def _feet_inches(m: re.Match[str]) -> str:
    """5'10" -> five foot ten, 6' 2'' -> six foot two."""
    return f"{_words(int(m.group(1)))} foot {_words(int(m.group(2)))}"


def _ordinal(m: re.Match[str]) -> str:
    digits = m.group(1)
    if len(digits) > MAX_CARDINAL_DIGITS:  # a serial: its digits, the last one as an ordinal
        return f"{_digit_words(digits[:-1])} {_words(int(digits[-1]), 'ordinal')}"
    return _words(int(digits), "ordinal")


def _percent(m: re.Match[str]) -> str:
    return f"{read_number(m.group(1))} percent"


def _unit(m: re.Match[str]) -> str:
    """5 km -> five kilometers, 1 km -> one kilometer ("1.0 km" is one point zero kilometers); before a noun after
    "a" the unit is an adjective, singular: a 3s delay -> a three second delay, a 5 km run."""
    unit = UNITS[m.group(2)]
    one = 1 if m.group(1) == "1" or _attributive(m) else 2
    return f"{read_number(m.group(1))} {_plural(one, unit.en, unit.en_plural)}"


def _attributive(m: re.Match[str]) -> bool:
    """Whether the amount at ``m`` describes the noun after it: "a"/"an" before it, a lower-case word after it
    that is not a linking word (a 10 min walk; not "a 5 km or more")."""
    after = re.match(r"\s+([a-z]+)\b", m.string[m.end():])
    return _word_before(m) in ("a", "an") and after is not None and after.group(1) not in _LINKING


def _decade(m: re.Match[str]) -> str:
    """``1990s`` -> nineteen nineties; ``80s`` -> eighties after an apostrophe or a word such as "the" or "her"
    ("the 80s", "'80s", "her 30s"). Other numbers before ``s`` are seconds (``15s``, ``wait 30s``)."""
    digits, value = m.group(2), int(m.group(2))
    if value % 10:
        return m.group(0)
    if len(digits) == 4 and 1100 <= value <= 2090:
        words = _words(value, "year")
    elif len(digits) == 2 and value >= 20 and (m.group(1) or _word_before(m) in _DECADE_AFTER):
        words = _words(value)
    else:
        return m.group(0)
    return re.sub(r"y$", "ie", words) + "s"


def _dotted(m: re.Match[str]) -> str:
    """3.11.7 -> three point eleven point seven (a version; v1.2.3 -> version one point two point three),
    192.168.0.1 -> one nine two dot one six eight dot zero dot one (an address), 1.234.567 / 1.234,56 -> one
    million ... / one thousand ... point five six (European thousands);
    :func:`uniflg.text.numerals.dotted` decides which."""
    form = numerals.dotted(m.group(0), _word_before(m).rstrip(".") in numerals.VERSION_WORDS)
    if form.kind == "address":
        return " dot ".join(_digit_words(p) for p in form.parts)
    if form.kind == "phone":
        return ", ".join(_digit_words(p) for p in form.parts)
    if form.kind == "version":
        words = " point ".join(read_number(p) for p in form.parts)
        return f"version {words}" if m.group(0)[0] in "vV" else words
    whole, decimals = form.parts
    return read_number(f"{int(whole):,}" + (f".{decimals}" if decimals else ""))


# An asterisk said "star": a rating (a 5* hotel), the A* algorithm, a phone code (*67)
_STAR = re.compile(r"(?<![\w*])(\d|\b[A-Z])\*(?=\s|$)|(?<![\w*])()\*(?=\d)")
_QUANTITY_AFTER = re.compile(r"\s?(?:%|(?:" + names(False, "en") + "|" + names(True, "en") + r"|million|billion|"
                             r"thousand|trillion|percent|[AaPp]\.?[Mm]\.?|hours?|minutes?|seconds?|days?|weeks?|"
                             r"months?|years?|times|x|(?:kilo|centi|milli)?(?:meters?|metres?|liters?|litres?|grams?)|"
                             r"miles?|feet|foot|inch(?:es)?|pounds?|ounces?|gallons?|degrees?|dollars?|euros?|yen|"
                             r"bytes?|people|points?)(?![A-Za-z]))")


def _short_version(m: re.Match[str]) -> str:
    """``v3.12``, ``Python 3.12``, ``version 2.10`` -> (version) three point twelve, ``Ubuntu 24.04`` -> twenty four
    point oh four, ``Unity 2022.3`` -> twenty twenty two point three: each part a number; any other one-dot number
    is left to the decimal reading."""
    if not m.group(1) and not numerals.is_version_context(m.string[:m.start()]) \
            or _QUANTITY_AFTER.match(m.string, m.end()):  # update 2.25 GB, Swift 1.25 million, Release 10.45 am
        return m.group(0)
    parts = [("oh " + _digit_words(p[1:]) if len(p) > 1 and p[0] == "0"
              else _words(int(p), "year") if len(p) == 4 else read_number(p)) for p in m.group(2, 3)]  # Unity 2022.3
    space = " " if m.string[m.start() - 1:m.start()].isalpha() else ""  # Python3.12
    return space + ("version " if m.group(1) else "") + " point ".join(parts)


def _names_a_model(m: re.Match[str]) -> bool:
    """Whether a number with a one-letter unit after it belongs to a name: right after a letter (``iPhone5s``) or
    after a name (:func:`_name_before`: ``iPhone 5s``, ``a Galaxy 5s``). ``Wait 30s`` and ``the 5s`` are seconds."""
    before = m.string[:m.start()]
    return before[-1:].isalpha() or (before[-1:].isspace() and _name_before(m))


def _name_before(m: re.Match[str]) -> bool:
    """Whether the word right before ``m`` is a name: one with a capital inside (``iPhone``, ``MacBook``) or a
    capitalized word that does not open a sentence (``a Galaxy``; ``(Matthew`` 5:9, chapter and verse)."""
    words = m.string[:m.start()].split()
    if not words:
        return False
    word = words[-1].strip("([{\"'“”‘’")
    if any(c.isupper() for c in word[1:]) and any(c.islower() for c in word):
        return True
    opens = not words[:-1] or words[-2][-1:] in ".!?:;\"“”"
    return word[:1].isupper() and word[1:].islower() and (not opens or word in _BOOKS)


# Books of the Bible: before chapter:verse they are names even where they open a sentence (Genesis 1:1 says ...).
_BOOKS = {"Genesis", "Exodus", "Leviticus", "Deuteronomy", "Joshua", "Judges", "Ruth", "Samuel", "Kings",
          "Chronicles", "Ezra", "Nehemiah", "Esther", "Psalm", "Psalms", "Proverbs", "Ecclesiastes", "Isaiah",
          "Jeremiah", "Lamentations", "Ezekiel", "Daniel", "Hosea", "Joel", "Amos", "Obadiah", "Jonah", "Micah",
          "Nahum", "Habakkuk", "Zephaniah", "Haggai", "Zechariah", "Malachi", "Matthew", "Mark", "Luke", "John",
          "Romans", "Corinthians", "Galatians", "Ephesians", "Philippians", "Colossians", "Thessalonians", "Timothy",
          "Titus", "Philemon", "Hebrews", "James", "Peter", "Jude", "Revelation"}


def _attached_unit(m: re.Match[str]) -> str:
    """``5m`` -> five meters; in a name (``iPhone 5s``, :func:`_names_a_model`) the letter is spelled: five S."""
    if _names_a_model(m):
        space = " " if m.string[m.start() - 1:m.start()].isalpha() else ""
        return f"{space}{read_number(m.group(1))} {m.group(2).upper()}"
    return _unit(m)


def _word_before(m: re.Match[str]) -> str:
    words = m.string[:m.start()].lower().replace("-", " ").split()
    return words[-1] if words else ""


def roman_value(numeral: str) -> int:
    total = 0
    for a, b in zip(numeral, numeral[1:] + " ", strict=True):
        va, vb = _ROMAN_VALUES[a], _ROMAN_VALUES.get(b, 0)
        total += -va if va < vb else va
    return total


def _roman(m: re.Match[str]) -> str:
    numeral = m.group(0)
    if not numeral:
        return numeral
    before = m.string[:m.start()].rstrip().split(" ")[-1] if m.start() else ""
    title = before.rstrip(".").capitalize() in {t.capitalize() for t in _ROMAN_TITLES}
    if not before[:1].isupper() and not (title and len(numeral) > 1):  # in titles: after a capitalized word
        return numeral  # (class IV: after a title word in any case)
    if len(numeral) == 1 and not title and before not in _REGNAL:
        return numeral  # a lone I, V or X is a word or a letter unless a title word or a ruler precedes it
    after = m.string[m.end():].lstrip()
    if numeral == "I" and (not title or before.rstrip(".") in _NAME_LIKE_TITLES) \
            and not re.match(r"(?:$|[.,;:!?)]|of\b|and\b|'s\b)", after):
        return numeral  # "Thanks John I appreciate", "Mark I think": the pronoun; Charles I of England, Act I.
    value = roman_value(numeral)
    if before in _REGNAL:
        return f"the {_words(value, 'ordinal')}"
    return _words(value)


def _abbreviation(m: re.Match[str]) -> str:
    abbr, after = m.group(1), m.string[m.end():].lstrip()[:1]
    if abbr == "St" and not after.isupper():
        return "street"  # "Main St." (no name follows) is a street
    if abbr == "No" and not after.isdigit():
        return m.group(0)  # "No." not followed by a number is the word no
    return ABBREVIATIONS[abbr]


def _web(m: re.Match[str]) -> str:
    text = re.sub(r"^[a-z]+://", "", m.group(0))
    text = re.sub(r"\bwww\.", "w w w.", text)
    for sign, word in ((".", " dot "), ("/", " slash "), ("@", " at "), ("-", " dash "), ("_", " underscore ")):
        text = text.replace(sign, word)
    return re.sub(r"\s+", " ", text).strip()


def _digits(m: re.Match[str]) -> str:
    """Phone numbers: each digit by name, the groups separated by commas (a short pause, as people read them)."""
    return ", ".join(" ".join(_words(int(d)) for d in group) for group in re.findall(r"\d+", m.group(0)))


def _keyed(m: re.Match[str]) -> str:
    """``PIN is 4821``, ``call 911 now`` -> the words before, then each digit by name (what is keyed in)."""
    digits = re.search(r"\d+$", m.group(0))
    assert digits is not None  # the pattern ends in digits
    return m.group(0)[:digits.start()] + _digits(digits)


def _fraction(m: re.Match[str]) -> str:
    """1/2 -> one half, 3/4 -> three quarters, 2/3 -> two thirds, 3 1/2 (or 3½) -> three and one half (proper
    fractions only; 24/7 stays as is). A month and a day above 12 (12/25) is a date, as is any month and day
    after "on", "by", "until", "Happy" ... (:data:`_DATE_BEFORE`); before a measure or "of" (5/16 inch, 1/20 of)
    it is a fraction, up to hundredths; 10/10 is ten out of ten."""
    whole, top, bottom = m.group(1), int(m.group(2)), int(m.group(3))
    before = _word_before(m).rstrip(".:,!")
    if not whole and before in _OF_BEFORE:  # page 12/25
        return f"{_words(top)} of {_words(bottom)}"
    measured = _MEASURED.match(m.string, m.end()) is not None  # 5/16 inch, 1/20 of the dose: a fraction
    # an event word makes a date only where the date ends the phrase (Next stream: 12/5!, Party 12/5 at 8pm),
    # not before a measure (Tonight 1/2 off, Launch 3/4 of the rockets)
    ends = re.match(r"\s*(?:$|[.,!?;:)]|at\b|@|\d{1,2}(?::\d\d)?\s?[AaPp][Mm]\b)", m.string[m.end():])
    dated = not whole and (before in _DATE_BEFORE or (before in _EVENT_BEFORE and ends is not None))
    sums = re.match(r"\s*[=<>]", m.string[m.end():]) is not None or before == "ratio"  # 9/11 = 0.818
    if not whole and not measured and not sums and (top, bottom) in _SLASH_NAMES and not (dated and top <= 12):
        return _SLASH_NAMES[top, bottom]
    month_day = None if measured and not dated else numerals.slash_month_day(top, bottom, dated)
    if month_day and (dated or bottom > 16):  # 12/25, on 3/4: a date (uniflg.text.numerals); 5/16 may be either
        return f"{whole + ' ' if whole else ''}{_date(None, *month_day)}"
    if not whole and top == bottom:  # rated 10/10, all 12/12: out of; 50/50, 20/20 vision, 4/4 time: both said
        if _word_before(m) in _RATING_BEFORE | {"all"}:
            return f"{_words(top)} out of {_words(top)}"
        return f"{_words(top)} {_words(top)}"
    if month_day and not measured:  # 3/15 with nothing around it: a date
        return _date(None, *month_day) or m.group(0)
    if not 0 < top < bottom <= (100 if measured else 16):
        return m.group(0)
    name = {2: ("half", "halves"), 4: ("quarter", "quarters")}.get(bottom)
    if name is None:
        ordinal = _words(bottom, "ordinal")
        name = (ordinal, ordinal + "s")
    words = f"{_words(top)} {name[top != 1]}"
    return f"{read_number(whole)} and {words}" if whole else words


def _power(m: re.Match[str]) -> str:
    """``10^2`` (also ``10²``) -> "10 squared", ``2^10`` -> "2 to the power of 10" (numbers read later)."""
    special = {"2": "squared", "3": "cubed"}
    return f"{m.group(1)} {special.get(m.group(2)) or 'to the power of ' + m.group(2)}"


def _signs(text: str) -> str:
    text = _STAR.sub(lambda m: f"{m.group(1) or ''} star ", text)  # 5* hotel, A* search, dial *67
    text = numerals.ASTERISK.sub(" ", text)
    for sign, word in _SIGNS.items():
        text = text.replace(sign, word)
    return text


def _rating(m: re.Match[str]) -> str:
    """Rated 4.5/5, 100/100, give it 9/10 -> ... out of ...: a score out of 5, 10 or 100 (a whole score, a decimal
    one, or one after "rated", "it", "score" ...); 3/10 of them stays a fraction."""
    score, scale = m.group(1), int(m.group(2))
    if _word_before(m) in _DATE_BEFORE or m.string.startswith(" of", m.end()):  # on 5/5; 3/5 of the way
        return m.group(0)
    if float(score) > scale or not ("." in score or _word_before(m) in _RATING_BEFORE | {"all"}):
        return m.group(0)
    return f"{read_number(score)} out of {_words(scale)}"


def _range(m: re.Match[str]) -> str:
    """5-10 -> 5 to 10 (read later). Not a range: a phone number (555-1234), a level or a room (World 1-1,
    stage 3-2, Room 2-105, Chapter 3-2: :data:`_CODE_BEFORE`), a name (a 1-2 punch, 12-3 Maple Court: a capital or
    :data:`_CODE_AFTER` after it; 24-7, 50-50), a model (747-400: three digits or more, then a smaller number),
    a part or ZIP+4 number (1234-5678, 90210-1234: four digits or more on each side that are not years)."""
    left, right = m.group(1), m.group(2)
    digits = [re.sub(r"\D", "", x.split(".")[0]) for x in (left, right)]
    after = m.string[m.end() + len(right):].split()
    following = after[0].strip(".,;:!?\"'") if after else ""
    if ((re.fullmatch(r"\d{3}", left) and re.fullmatch(r"\d{4}", right)) or _word_before(m).rstrip(".") in _CODE_BEFORE
            or following.lower() in _CODE_AFTER or following[:1].isupper() or (left, right) in _FIXED_PAIRS):
        return m.group(0)  # a phone number, Chapter 3-2, a 1-2 punch, 12-3 Maple Court, 24-7
    if len(digits[0]) >= 3 and left.isdigit() and right.isdigit() and int(right) < int(left) \
            and _word_before(m) not in _SCORE_BEFORE:  # 747-400 is a model; won 110-105 a score
        return m.group(0)
    if min(map(len, digits)) >= 4 and not all(1000 <= int(d) <= 2100 for d in digits):
        return m.group(0)
    return f"{left} to "


def _counter(m: re.Match[str]) -> str:
    """Ammo 12/30 -> Ammo 12 out of 30 (a stat), Wave 10/20 -> Wave 10 of 20 (progress)."""
    label = m.group(1) or m.group(2)
    if (int(m.group(4)), int(m.group(5))) in _SLASH_NAMES or m.string.startswith(" of", m.end()):
        return m.group(0)  # life 24/7, Kills 1/2 of the bugs: no counter
    return f"{label}{m.group(3) or ' '}{m.group(4)} {'out of' if m.group(1) else 'of'} {m.group(5)}"


def _year_span(m: re.Match[str]) -> str:
    """2020–24 -> 2020 to 2024, 1939-45 -> 1939 to 1945 (the second year's century from the first; a later year)."""
    if int(m.group(4)) <= int(m.group(3)):
        return m.group(0)  # 2024-03 is no span of years (a date rule reads it, or it stays)
    return f"{m.group(1)} to {m.group(2)}{m.group(4)}"


def _per(m: re.Match[str]) -> str:
    """$5/hr -> an hour, $9.99/month -> a month, $20/person -> per person (after an amount only)."""
    before = m.string[:m.start()].split()
    if not before or not (before[-1][-1:].isdigit() or before[-1] in _AMOUNT_WORDS):
        return m.group(0)
    period = _PERIODS.get(m.group(1))
    if period is None:
        return f" per {m.group(1)}"
    return f" {'an' if period == 'hour' else 'a'} {period}"


def _unstretched(m: re.Match[str]) -> str:
    """Hiiii -> Hi, sooooo -> so, Hmmm -> Hmm (two where one would leave no vowel), NOOOO -> no (shouted: in lower
    case); goooood -> good, cooool -> cool, helllll -> hell, sweeeet -> sweet (the doubled form where it is one of
    :data:`_DOUBLED_WORDS`; loooove, looool, woooow stay single); a word of one letter
    (aaa, zzz, www, AAA), a Roman numeral (iii, viii, VIII, MMM) or an acronym of four capitals or fewer (IEEE,
    CCCP) stays."""
    word = m.group(0)
    if len(set(word.lower())) == 1 or _ROMAN_LOWER.fullmatch(word.lower()) or (word.isupper() and len(word) <= 4):
        return word
    if word.isupper():  # NOOOOO, YESSSS: shouted; read in lower case, as the word it is
        word = word.lower()

    def run(r: re.Match[str]) -> str:
        return r.group(1)

    single = re.sub(r"([a-z])\1{2,}", run, word)
    doubled = re.sub(r"([a-z])\1{2,}", r"\1\1", word)
    if doubled in _DOUBLED_WORDS:  # goooood, cooool, helllll, freeee: a word with a double letter
        return doubled
    return single if re.search(r"[aeiouy]", single) else doubled


def _times(m: re.Match[str]) -> str:
    """10x better, 3x already, I did it 5x -> ... times; in algebra (an = or an operator earlier in the clause:
    ``let f(x) = 3x;``) 3x stays a product."""
    clause = re.split(r"[.;!?]", m.string[:m.start()])[-1]
    if m.group(1) and re.search(r"[=+*/^(]", clause):
        return m.group(0)
    return f"{m.group(1) or m.group(2)} times"


def _scale_count(m: re.Match[str]) -> str:
    """10k subs -> ten thousand subs, 1.5M views -> one point five million views (only before a count noun:
    :data:`_COUNT_NOUNS`)."""
    return f"{read_number(m.group(1))} {_SCALES[m.group(2)]}"


def _duration(m: re.Match[str]) -> str:
    """1h30m -> one hour thirty minutes, 3h 20m 5s, 4m 30s (m between hours and seconds is minutes)."""
    parts = [(m.group(1), "hour"), (m.group(2), "minute"), (m.group(3), "second")]
    return " ".join(f"{_words(int(n))} {_plural(int(n), unit, unit + 's')}" for n, unit in parts if n)


_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"\b[a-z]+://[^\s]*[^\s.,!?;:]|\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b|\b(?:[A-Za-z0-9-]+\.)+(?:" + _TLDS
                + r")\b(?:/[^\s]*[^\s.,!?;:])?"), _web),
    (re.compile(r"(?<![\w.])(?P<cur>" + _CUR + r")?(?P<mant>\d+(?:\.\d+)?)[eE](?P<exp>[+\-\u2212]?\d{1,4})"
                r"(?:\s?(?P<unit>" + names(False, "en") + r"))?(?![\w]|\.\d)"), _scientific),
    (re.compile(r"(" + _NUM + r")\^(\d{1,3})(?!\d)"), _power),
    # x^2, mc^2, O(n^2): a variable's power, as spoken mathematics says it (uniflg.text.mathspeech)
    (re.compile(r"(?<=[A-Za-z])\^(\d{1,3})(?!\d)"),
     lambda m: {"2": " squared", "3": " cubed"}.get(m.group(1), f" to the power of {m.group(1)}")),
    (numerals.FOREIGN_AMOUNT, _foreign_money),
    (re.compile(r"(?P<cur>" + _CUR + r")\s?(?P<amount>" + _NUM + r")(?:\s?(?P<scale>thousand|million|billion"
                r"|trillion|bn|[kKmMB])\b)?"), _money),
    (re.compile(r"(?<![\w.])(?<!" + _CUR + r")(\d+(?:\.\d+)?)(k|K|M|B|bn)(?=\+?\s(?:" + _COUNT_NOUNS + r")\b)"),
     _scale_count),
    (re.compile(r"\b(" + "|".join(_WEEKDAYS) + r")\b\.?(?=,?\s+(?:(?:" + _MONTH_NAMES + r")\b|\d{1,2}(?:/\d"
                r"|(?:st|nd|rd|th)?\s(?:" + _MONTH_NAMES + r")\b)))"), lambda m: _WEEKDAYS[m.group(1)]),  # Mon, Jan 5
    (numerals.ISO_TIMESTAMP, _timestamp),
    (re.compile(r"\b(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\b"), _iso_date),
    (re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b"), _us_date),
    (numerals.DOTTED_DATE, lambda m: _date(m.group(3), int(m.group(2)), int(m.group(1))) or m.group(0)),
    (numerals.DOTTED, _dotted),
    (numerals.SHORT_VERSION, _short_version),
    # product lines whose model numbers are said in pairs: RTX 4090 (forty ninety), GTX 970, Xbox 360, Boeing 747
    (re.compile(r"\b(" + _MODEL_LINES + r")(\s?)(\d{3,4})\b(?![.,]\d)"),
     lambda m: f"{m.group(1)}{m.group(2) or ' '}{_words(int(m.group(3)), 'year')}"),
    (re.compile(r"(?<![\w\-.+])\+?(?:\d{1,4}-)?\d{2,4}-\d{3,4}-\d{4}(?![\w\-])"), _digits),  # 1-800-555-1234
    # +1 555 123 4567, +44 (20) 7946 0958, +81.90.1234.5678: an international number, grouped as written
    (re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .\-]\(?\d{1,4}\)?){2,5}(?![\w]|[.\-]\d)"),
     lambda m: "plus " + _digits(m)),
    # what is keyed in digit by digit: a PIN (in capitals: a chip's pin 220 is a count), a code, an extension; a
    # number dialled, called or texted where the clause ends or help follows (call 911 now, dial 999 for help; not
    # "call 100 people", "called 300 or so", "call 2008 and 2009 the worst years", "called 500 to confirm")
    (re.compile(r"(?:\bPIN|(?i:\b(?:passcode|password|otp|(?:verification|security|access|zip|postal) code|ext\.?"
                r"|extension)))(?:\s+(?:number|no\.|#))?(?:\s+(?:is|was|are))?:?\s+\d{3,12}(?![\w-]|[.,]\d)"
                r"|(?i:\b(?:call|calling|called|text|texting|texted|ring|dial|dialed|dialled|dialing)\s+)"
                r"(?!(?:19|20)\d\d\b)\d{3,12}(?=\s*(?:$|[.,!?;:)]|\s(?:now|immediately|right away|for help|for "
                r"an ambulance|for the police|or (?!more|so|fewer|less)|if|please|asap|first"
                r"|to (?:vote|donate|enter|join|subscribe|opt))\b))"), _keyed),
    (re.compile(r"(?<![\w-])(?:\(\d{3}\)\s?|\d{3}-)?\d{3}-\d{4}\b"), _digits),
    # 555 123 4567, (555) 123 4567, 555.123.4567: a ten-digit number grouped 3-3-4
    (re.compile(r"(?<![\w.+\-])(?:\(\d{3}\) ?|\d{3}([ .]))\d{3}(?(1)\1|[ .])\d{4}(?![\w]|[ .\-]\d)"), _digits),
    (re.compile(r"(?<![\w/.])(\d{1,3}(?:\.\d)?)/(100|10|5)(?![\w/])"), _rating),
    (re.compile(r"(?<![\w/])(?:(\d{1,3}) )?(\d{1,2})/(\d{1,2})(?![\w/])"), _fraction),
    (re.compile(r"(?<![\d:.])(\d{1,3}):(\d)(?![\d:])"),  # 16:9 (Genesis 1:1, after a name, stays)
     lambda m: m.group(0) if _name_before(m) else f"{m.group(1)} to {m.group(2)}"),
    (re.compile(r"\b(\d{1,2}):(\d{2})(?::(\d{2}))?(?!\d)(?:\s?([AaPp]\.?[Mm]\.?)(?![A-Za-z]))?"), _time),
    (re.compile(r"(?<![\w.])(\d+)\s?h\s?(\d+)\s?m(?:in)?(?:\s?(\d+)\s?s)?\b"), _duration),
    (re.compile(r"(?<![\w.])()(\d+)\s?m(?:in)?\s?(\d+)\s?s\b"), _duration),
    # 1920x1080 (not hex 0x10); 2x speed, 3x faster (not 2x+1); x2 damage, x10 combo (not x86, nor a variable x2)
    (re.compile(r"(?<![\w.])([1-9]\d*)x(\d+)(?![\w])"), lambda m: f"{m.group(1)} by {m.group(2)}"),
    # 10x better, I died 3x already, 3x faster; a count at a clause's end: I did it 5x.
    (re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)x(?=\s+(?:" + _TIMES_BEFORE + r")\b|(?<![^\d]1x)\s*(?:$|[.!?;)]))"
                r"|(?<=\bat )(\d+(?:\.\d+)?)x(?![\w])"),
     _times),
    (re.compile(r"(?<![\w.])x(\d+(?:\.\d+)?)(?=\s+(?:" + _GAME_WORDS + r")\b|!)"), lambda m: f"times {m.group(1)}"),
    (re.compile(r"(?<![\w.])(\d{3,4})p\b"), lambda m: f"{_words(int(m.group(1)), 'year')} p"),  # 1080p
    (re.compile(r"\b(\d{1,2})\.(\d{2})\s?([AaPp]\.[Mm]\.|[AaPp][Mm]\b)"),  # 10.45 am, as British text writes it
     lambda m: _clock(int(m.group(1)), int(m.group(2)), None, m.group(3)) or m.group(0)),
    (re.compile(r"\b(\d{1,2})\s?([AaPp]\.[Mm]\.|[AaPp][Mm]\b)"), _hour_ampm),
    (re.compile(r"\b(" + "|".join(_MONTHS) + "|" + "|".join(m[:3] + r"\.?" for m in _MONTHS)
                + r"|Sept\.?)\s+(\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s+(\d{4})\b)?"), _month_day),
    (re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s(" + _MONTH_NAMES + r")\b(?:\.(?=\s\d{4}))?(?:,?\s(\d{4})\b)?"),
     _day_month),
    (re.compile(r"(?<![\w.'])(\d)'\s?(\d{1,2})(?:\"|'')"), _feet_inches),
    (re.compile(r"\b(\d+)(?:st|nd|rd|th)\b"), _ordinal),
    (re.compile(r"(" + _NUM + r")\s?%"), _percent),
    (re.compile(r"(?<![\w.])(')?(\d{2}|\d{4})'?s\b"), _decade),
    (re.compile(r"(" + _NUM + r")\s?(" + names(False, "en") + r")(?![A-Za-z\d])"), _unit),
    (re.compile(r"(" + _NUM + r")(" + names(True, "en") + r")\b"), _attached_unit),
    (_ROMAN, _roman),
    (re.compile(r"\b(" + "|".join(re.escape(a) for a in sorted(ABBREVIATIONS, key=len, reverse=True))
                + r")\."), _abbreviation),
]
_YEAR = re.compile(r"(?<![\d.,])(1[1-9]\d\d|20\d\d)(?!\d|[.,]\d)")  # not the start of 12345 or 1999.5
_PLAIN_NUMBER = re.compile(r"(?<![\w.])(" + _NUM + r")(?![\w]|\.\d)")


def _year_or_number(m: re.Match[str]) -> str:
    value = int(m.group(1))
    return _words(value, "year") if not 2000 <= value <= 2009 else _words(value)


def normalize(text: str) -> str:
    """English ``text`` (NFKC-normalized) -> the words a reader says, clause punctuation kept."""
    for pattern, read in _RULES[:1]:  # web addresses keep their dashes
        text = pattern.sub(read, text)
    text = numerals.TERM.sub(lambda m: numerals.term(m)[0] + " ", _CHAT.sub(_chat, text))
    if not any(c.islower() for c in text) and len(re.findall(r"[A-Z]{2,}", text)) >= 2:
        text = _SHOUTED_WORDS.sub(_shouted_pronoun, text)
    text = _ORDERS_OF.sub(lambda m: _ORDER_WORDS[m.group(1).replace(",", "")], text)
    text = _VERSUS.sub("versus", _WITH.sub(lambda m: "without" if m.group(1) else "with ", text))
    text = _ABOUT.sub("about ", _DASH.sub(", ", _ELLIPSIS.sub("... ", text)))
    text = _SPACE_GROUPED.sub(lambda m: m.group(1) + m.group(2).replace(" ", ","), text)
    text = numerals.PRODUCT.sub(" times ", numerals.POWER.sub("^", text))  # before the money rule reads $10
    text = _COUNTER.sub(_counter, _COUNTED_OF.sub(lambda m: f"{m.group(1)} of {m.group(2)}", text))
    text = _DAY_SPAN.sub(lambda m: f"{_WEEKDAYS[m.group(1)]} to {_WEEKDAYS[m.group(2)]}", text)
    text = _YEAR_SPAN.sub(_year_span, _TIME_SPAN.sub(r"\1 to ", text))
    text = _SPACED_RANGE.sub(lambda m: f"{m.group(1)} to {m.group(2)}" if int(m.group(1)) < int(m.group(2))
                             else m.group(0), text)
    text = _MINUS.sub("minus ", _SIGN_AFTER_CURRENCY.sub(r"\2\1", text))
    text = _RANGE.sub(_range, text)
    for pattern, read in _RULES[1:]:
        text = pattern.sub(read, text)
    text = _PER.sub(_per, _HASHTAG.sub("hashtag ", _SHARP.sub(r"\1 sharp", text)))
    text = _WORD_PAIR.sub(lambda m: ("and or" if m.group(0).lower() == "and/or" else m.group(0).replace("/", " or "))
                          if m.group(0).lower() in _ALTERNATIVES else m.group(0), text)
    text = _STRETCHED.sub(_unstretched, read_greek(text, "en")).replace("~", " ")
    text = _signs(text)
    text = _YEAR.sub(_year_or_number, text)
    text = _PLAIN_NUMBER.sub(lambda m: read_number(m.group(1)), text)
    return re.sub(r"[ \t]+", " ", text).strip()
