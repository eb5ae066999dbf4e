"""Where sentences and clauses end, for both languages.

A period, comma, colon or semicolon ends a clause only where it is followed by a space, a closing quote or
bracket, or the end of the text; never between digits (``1,500``, ``3.14``, ``10:30``), inside a name
(``example.com``), after a common abbreviation (``Mr.``, ``e.g.``, ``a.m.``) or after an initial
(``J. K. Rowling``). Japanese ``。！？`` always end a sentence and ``、`` a clause. A line break ends a
sentence.
"""

from __future__ import annotations

import re

from uniflg.text.normalize_en import ABBREVIATIONS

SENTENCE_END = ".!?。！？"
CLAUSE_END = ",;:、，；：" + SENTENCE_END
_ALWAYS = "。！？、，；："  # Japanese marks need no following space
_CLOSERS = "\"')]}」』）〕】”’»"
_ABBREVIATIONS = {a.lower() for a in ABBREVIATIONS} | {"a.m", "p.m", "u.s", "u.k", "u.s.a", "ph.d", "jan", "feb",
                                                        "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct",
                                                        "nov", "dec", "mon", "tue", "wed", "thu", "fri", "sat",
                                                        "sun", "fig", "eq", "ca", "cf", "al"}
_WORD_BEFORE = re.compile(r"[A-Za-z][A-Za-z.]*$")


def _is_break(text: str, i: int, marks: str) -> bool:
    """Whether the punctuation ``text[i]`` (one of ``marks``) ends a sentence/clause."""
    ch = text[i]
    if ch not in marks:
        return False
    if ch in _ALWAYS:
        return True
    j = i + 1
    while j < len(text) and (text[j] in _CLOSERS or text[j] in marks):
        j += 1
    if j < len(text) and not text[j].isspace():
        return False  # 1,500  3.14  10:30  example.com  e.g.x
    if ch == ".":
        word = _WORD_BEFORE.search(text[:i])
        if word is not None:
            w = word.group(0)
            if w.lower() in _ABBREVIATIONS:
                return False
            rest = text[j:].lstrip()
            if len(w.rstrip(".")) == 1 and w[0].isupper() and rest[:1].isupper():
                return False  # an initial: J. K. Rowling
    return True


def _split(text: str, marks: str) -> list[str]:
    parts: list[str] = []
    start = i = 0
    while i < len(text):
        if text[i] == "\n":
            parts.append(text[start:i])
            start = i + 1
        elif _is_break(text, i, marks):
            j = i + 1
            while j < len(text) and (text[j] in _CLOSERS or text[j] in marks):
                j += 1  # "Really?!" and closing quotes stay with their sentence
            parts.append(text[start:j])
            start = i = j
            continue
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def split_sentences(text: str) -> list[str]:
    """``text`` -> its sentences (punctuation kept), at sentence ends and line breaks."""
    return _split(text, SENTENCE_END)


def split_clauses(text: str) -> list[str]:
    """One sentence -> its clauses (punctuation kept), at clause punctuation that ends a clause."""
    return _split(text, CLAUSE_END)
