"""Faces drawn with characters: kaomoji (``(´・ω・`)``, ``(≧▽≦)``, ``m(_ _)m``) and ASCII emoticons (``:D``,
``<3``, ``T_T``, ``\\o/``). Readers do not say them, any more than emoji: they are decoration, removed with the
emoji (docs/frontend.md, "Symbol policy"). Found on the raw text, before NFKC, which would split ``´`` into a
space and a combining accent.

A bracketed run is a kaomoji when it holds no digit and no two letters in a row (a word: ``(笑)``, ``(see above)``,
``(1)`` stay) and either two different face marks outside ASCII (:data:`FACE_MARKS`: ``´ ・ ω ▽ ≧``...; one alone is a
list or a symbol: ``(土・日)``, ``(°C)``, ``(A∩B)``) or, in plain ASCII, two eyes
around a mouth (``^_^ T_T -_- >_< ^^;``: :data:`_ASCII_FACE`), so code and math in brackets stay: ``(a-z)``,
``(x=y)``, ``(a*b)``, ``print('a')``, ``(-)``. Arms around it (``ヽ( )ノ``, ``m( )m``, ``( )/``) go with it. An emoticon
is a whole space-separated token, and not a comparison after a number or a one-letter name or before a lower-case word
(``x <3``, ``n =3``, ``<3 years old``).
"""

from __future__ import annotations

import re

# Eyes, mouths, cheeks, sweat and tears of kaomoji outside ASCII: one of them makes a bracket a face.
FACE_MARKS = frozenset("´・ω∀▽△≧≦°ﾟ゜•○◕◡‿ಠ益≡ｰ＾＿；＊｀＠๑ㅂ∇дД∩⊂⊃┐┌╯╰□◇◎●◉⊙☆★♡♥〃¬εз＞＜＝"
                       "ᴗᴥˊˋᗜʖツ｡ᵔᵕ◔◠▿ಥ﹏˘⌒ᐛ\u0300\u0301\u0361\u035c")  # (｡•̀ᴗ-) ʕ•ᴥ•ʔ ( ͡° ͜ʖ ͡°)
# A face in plain ASCII: eye, mouth, eye, then sweat (^_^ ^^; T_T -_- >_< o_O x_x ;_; =_= ._.), at least one of
# ^ _ ; in it (so (a-b), (x=y) and (a*b) stay).
_ASCII_FACE = re.compile(r"[*]?([\^;><TtoOxXuU\-=@._])[_.o\-~\^]?([\^;><TtoOxXuU\-=@._])[;'*]*")
_DIGITS = re.compile(r"[0-9０-９]")
_WORD = re.compile(r"[A-Za-zＡ-Ｚａ-ｚ\u3041-\u3096\u30a1-\u30fa\u4e00-\u9fff々]{2}")
_BRACKETED = re.compile(r"(?:(?<![A-Za-z])[mｍoｏ]|[ヽ٩\\＼ヾ⊂σง])?[(（ʕ]([^()（）ʕʔ\n]{1,16})[)）ʔ]"
                        r"(?:[ノﾉ۶و/／ゞ⊃✧彡ง╯︵]|[mｍoｏ](?![A-Za-z])|\s?┻━*┻)*")  # (╯°□°）╯︵ ┻━┻
# The shrug, whose face is one mark between arms: ¯\_(ツ)_/¯ (also with the backslash doubled, as Markdown escapes it)
_SHRUG = re.compile(r"¯\\*_?[(（]ツ[)）]_?/?¯")
# Korean chat reactions in letters: ㅋㅋㅋ (laughter), ㅎㅎ (a chuckle), ㅠㅠ ㅜㅜ (tears), in any text
_HANGUL_REACTION = re.compile(r"[\u314b\u314e\u3160\u315c]{2,}")
# The sweat face (^^; in Japanese chat, unclosed and right after the words: いいね(^^;
_SWEAT = re.compile(r"[(（]\^[_\-.o]?\^[;；]+[)）]?")
_EMOTICON = re.compile(
    r"(?<!\S)(?:"
    r"[:;=][-'^o]?[)(\]\[DPpOo3/\\|*$@>]{1,3}"  # :) :-) ;) :D :P :O :3 :/ :'( =)
    r"|[>}][:;][-']?[)(\]\[DPp/\\|]"  # >:( }:)
    r"|</?3+"  # <3 <333 </3
    r"|>_<|>\.<|[Tt;][_.\-][Tt;]|\(?\^[_\-.o]?\^;*\)?|-_-;*|[oO0]_[oO0]|[xX]_[xX]|[uU]_[uU]"  # >_< T_T ;-;
    # ^_^ (^^; -_- o_O
    r"|\\o/|o/|\\o|\(:"  # \o/ o/ \o (:
    r")(?=$|[\s.,!?。、！？])")


# Words after "<3" that leave it a heart ("love you <3 and see you"): before other words it compares (<3 years).
_AFTER_A_HEART = {"and", "or", "but", "so", "you", "u", "lol", "too", "guys", "everyone", "all", "thanks", "thank",
                  "love", "xoxo", "always", "forever", "see", "bye", "lots", "much"}
_COMPARED = re.compile(r"(?:^|\s)(?:[A-Za-z]|\d+(?:\.\d+)?)\s$")  # a one-letter name or a number, then a space


def _is_kaomoji(inside: str) -> bool:
    if _DIGITS.search(inside) or _WORD.search(inside) or inside.isspace():
        return False
    if len({c for c in inside if c in FACE_MARKS}) >= 2:  # eyes and a mouth: (・∀・); not (土・日), (°C), (A∩B)
        return True
    face = _ASCII_FACE.fullmatch(inside.replace(" ", "_"))  # m(_ _)m: a bowed face
    return face is not None and any(c in "^_;" for c in inside.replace(" ", "_"))


def split_faces(text: str) -> tuple[str, tuple[str, ...]]:
    """-> (``text`` without kaomoji and emoticons, the removed faces in order, unique). A face between two
    words leaves a space."""
    removed: list[str] = []

    def drop(m: re.Match[str]) -> str:
        face = m.group(0)
        if m.re is _BRACKETED and not _is_kaomoji(m.group(1)):
            return face
        after = re.match(r"\s+([a-z0-9]+)", m.string[m.end():])
        if m.re is _EMOTICON and face[0] in "<>=" and (_COMPARED.search(m.string[:m.start()])
                                                        or (after and after.group(1) not in _AFTER_A_HEART)):
            return face  # x <3, n =3, <3 years old: a comparison
        if face not in removed:
            removed.append(face)
        left = m.string[m.start() - 1:m.start()]
        right = m.string[m.end():m.end() + 1]
        return " " if left.isalnum() and right.isalnum() else ""

    text = _SWEAT.sub(drop, _HANGUL_REACTION.sub(drop, _SHRUG.sub(drop, text)))
    text = _BRACKETED.sub(drop, text)
    text = _EMOTICON.sub(drop, text)
    return text, tuple(removed)
