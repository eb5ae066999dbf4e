"""What written text marks up but does not say: Markdown formatting (with HTML and SSML tags) and stage directions.

Chat bots and language models write Markdown (``**bold**``, ``# headings``, ``- lists``, ``[links](url)``, tables,
code), and chat, scripts and captions carry stage directions (``(laughs)``, ``*sighs*``, ``[Music]``, ``(笑)``).
Read as written, a voice says "asterisk", "number Summary", "greater than" and the link's address, and speaks the
direction as a word. :func:`plain_text` keeps what the Markdown says and drops how it is drawn, with the CommonMark
parser of ``markdown-it-py`` (the Executable Books project; CommonMark 0.31 and GitHub's tables and
strikethrough); :func:`split_directions` takes out the stage directions, which the front end then reports with the
emoji and faces it drops (docs/frontend.md, "Markdown and stage directions").
"""

from __future__ import annotations

import logging
import re
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

log = logging.getLogger(__name__)

# What Markdown's own syntax needs (emphasis, code, links, headings, quotes, tables, escapes, entities, tags) or a
# list item, a thematic break or a setext underline at the start of a line: text without any of it is returned as
# it is, so plain text never meets the parser.
_MARKDOWN_SIGNS = re.compile(r"[*_`~\[#<>|\\&]|^[ \t]*(?:[-+]|\d{1,9}[.)])[ \t]|^[ \t]*(?:-{3,}|={3,})[ \t]*$",
                             re.MULTILINE)
# The block and inline rules read. Off: indented code (four leading spaces are not code in chat text), HTML blocks
# (a tag at a line's start is read inline like any other) and linkify (addresses are read by the normalizers).
# Inline HTML tags are found by CommonMark's definition of a tag, so ``<3`` and ``a < b`` stay text.
_RULES = ["emphasis", "strikethrough", "backticks", "link", "image", "autolink", "escape", "entity", "newline",
          "heading", "lheading", "blockquote", "list", "fence", "table", "hr", "reference", "html_inline"]
# Tags that end a line where a page would (<br>, <p>, <div>, <li>, headings): a line break ends a sentence.
_BREAKING_TAG = re.compile(r"</?(?:br|p|div|li|h[1-6]|tr)\b", re.IGNORECASE)
_LINE_ENDS = {"paragraph_close", "heading_close", "tr_close"}


@cache
def _parser() -> MarkdownIt:
    from markdown_it import MarkdownIt

    return MarkdownIt("zero", {"html": True}).enable(_RULES)


def _inline(children: list[Token], tags: list[str]) -> str:
    """The words of one inline run: text, code and image descriptions; line breaks kept (they end sentences);
    HTML and SSML tags go into ``tags``."""
    out: list[str] = []
    for child in children:
        if child.type in ("text", "code_inline", "image"):
            out.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            out.append("\n")
        elif child.type == "html_inline":
            tags.append(child.content)
            out.append("\n" if _BREAKING_TAG.match(child.content) else "")
    return "".join(out)


def plain_text(text: str) -> str:
    """Markdown -> what it says, one line per paragraph, heading, list item, table row or code line (a line break
    ends a sentence). Emphasis, strikethrough, code and link marks go, keeping their words (a link reads its text,
    an image its description; an address alone stays for the normalizers to read); heading, quote and bullet marks
    go; a numbered item keeps its number (``1. Open it.`` -> ``1, Open it.``); table cells are joined by commas;
    thematic breaks, link definitions and HTML or SSML tags go (``<br>``, ``<p>`` and the like end a line; one info
    line names the tags). Text with none of Markdown's signs is returned unchanged, and what is not Markdown in
    CommonMark's rules stays as written (``5 * 3``, ``snake_case``, ``#hashtag``, ``C#``, ``a < b > c``, ``<3``)."""
    if not _MARKDOWN_SIGNS.search(text):
        return text
    lines: list[str] = []
    line: list[str] = []
    tags: list[str] = []
    row_cells = 0
    for token in _parser().parse(text):
        if token.type == "inline":
            line.append(_inline(token.children or [], tags))
        elif token.type in ("fence", "code_block"):
            lines.extend(token.content.splitlines())
        elif token.type == "list_item_open" and token.info:  # an ordered item: its number, then a short pause
            line.append(f"{token.info}, ")  # (1. would end a sentence and speak the number alone)
        elif token.type in ("th_open", "td_open"):
            if row_cells:
                line.append(", ")
            row_cells += 1
        if token.type in _LINE_ENDS:
            lines.append("".join(line))
            line, row_cells = [], 0
    lines.append("".join(line))
    if tags:  # SSML is markup too: its <break> and <prosody> are not followed (docs/frontend.md)
        log.info("HTML/SSML tags are not read: %s", " ".join(dict.fromkeys(tags)))
    pieces = (re.sub(r"[ \t]{2,}", " ", piece.strip()) for piece in "\n".join(lines).split("\n"))
    return "\n".join(piece for piece in pieces if piece)


# Stage directions: an action or sound, alone inside ( ), [ ], full-width brackets or asterisks, in either
# language, optionally with an English manner adverb (*laughs nervously*). A closed list: a bracketed word that is
# not one of these ("(see below)", "[sic]", "(Japan)") is read.
_ENGLISH_DIRECTIONS = (
    "laugh|laughs|laughing|laughter|chuckle|chuckles|chuckling|giggle|giggles|giggling|snicker|snickers|"
    "sigh|sighs|sighing|cough|coughs|coughing|clears throat|sniff|sniffs|sniffles|gasp|gasps|yawn|yawns|yawning|"
    "groan|groans|sob|sobs|sobbing|cries|crying|sneeze|sneezes|hiccup|hiccups|gulp|gulps|hum|hums|humming|"
    "whistle|whistles|whistling|scream|screams|screaming|shouting|whisper|whispers|whispering|smile|smiles|"
    "grin|grins|wink|winks|nod|nods|shrug|shrugs|wave|waves|blush|blushes|pause|pauses|silence|"
    "applause|clapping|claps|cheering|cheers|music|music playing|inaudible|indistinct|crosstalk|static|"
    "background noise|beep|beeps")
_JAPANESE_DIRECTIONS = ("笑|爆笑|苦笑|微笑|笑い|泣|涙|汗|焦|怒|照|震え声|小声|棒読み|白目|真顔|ドヤ顔|拍手|沈黙|咳|"
                        "ため息|溜息|溜め息|ため息をつく")
_DIRECTION = re.compile(
    r"(?P<open>[(\[（［*])\s*(?:(?i:" + _ENGLISH_DIRECTIONS + r")(?:\s+[A-Za-z]+ly)?|" + _JAPANESE_DIRECTIONS
    + r")\s*(?P<close>[)\]）］*])")
_PAIRS = {"(": ")", "[": "]", "（": "）", "［": "］", "*": "*"}  # noqa: RUF001 - full-width brackets are the point


def split_directions(text: str) -> tuple[str, tuple[str, ...]]:
    """Take out stage directions (``(laughs)``, ``*sighs heavily*``, ``[Music]``, ``（笑）``): -> (text, the
    directions taken, as written). Brackets must pair (``(laughs]`` stays); the words are a closed list of actions
    and sounds, so other bracketed words are read."""
    taken: list[str] = []

    def take(m: re.Match[str]) -> str:
        if _PAIRS[m.group("open")] != m.group("close"):
            return m.group(0)
        taken.append(m.group(0))
        before, after = m.string[m.start() - 1:m.start()], m.string[m.end():m.end() + 1]
        return " " if before.isascii() and before.isalnum() and after.isascii() and after.isalnum() else ""

    text = _DIRECTION.sub(take, text)
    return (re.sub(r"[ \t]{2,}", " ", text).strip() if taken else text), tuple(taken)
