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
_MARKDOWN_SIGNS = re.compile(r"[*_`~\[#<>|\\&$]|^[ \t]*(?:[-+]|\d{1,9}[.)])[ \t]|^[ \t]*(?:-{3,}|={3,})[ \t]*$",
                             re.MULTILINE)
# The block and inline rules read. Off: indented code (four leading spaces are not code in chat text), HTML blocks
# (a tag at a line's start is read inline like any other) and linkify (addresses are read by the normalizers).
# Inline HTML tags are found by CommonMark's definition of a tag, so ``<3`` and ``a < b`` stay text.
_RULES = ["emphasis", "strikethrough", "backticks", "link", "image", "autolink", "escape", "entity", "newline",
          "heading", "lheading", "blockquote", "list", "fence", "table", "hr", "reference", "html_inline"]
# Tags that end a line where a page would (<br>, <p>, <div>, <li>, headings): a line break ends a sentence.
_BREAKING_TAG = re.compile(r"</?(?:br|p|div|li|h[1-6]|tr)\b", re.IGNORECASE)
_LINE_ENDS = {"paragraph_close", "heading_close", "tr_close"}
# TeX math as language models write it: $...$, $$...$$, \(...\), \[...\] (mdit-py-plugins). No space inside the
# dollars and no digit after the closing one, so "$5 and $10" stays money.
_MATH_INLINE = {"math_inline", "math_inline_double"}
_MATH_BLOCK = {"math_block", "math_block_label"}
# The HTML and SSML elements whose tags are markup; any other <word> is text (<Enter>, <branch-name>, List<String>)
_TAGS = frozenset((
    "a", "abbr", "b", "big", "blockquote", "br", "caption", "center", "cite", "code", "dd", "del", "details", "dfn",
    "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark",
    "ol", "p", "pre", "q", "s", "samp", "small", "span", "strike", "strong", "sub", "summary", "sup", "table", "tbody",
    "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul", "var",  # HTML
    "speak", "break", "prosody", "emphasis", "say-as", "phoneme", "voice", "audio", "lang", "w"))  # SSML
_TAG_NAME = re.compile(r"</?([A-Za-z][\w:-]*)")
_VOID_TAGS = frozenset(("br", "hr", "img", "break", "audio", "mark"))  # markup without a closing tag
# Signs that Markdown would take for its own but that are said (escaped before parsing, so they stay): an asterisk
# between numbers (2*3 and 4*5 is no emphasis; 2**10; 3*$10), and at a line's start "# of" (number of), ">50%"
# or "> 3" (greater than), "+ 1 more" (plus)
_SAID_SIGNS = re.compile(r"(?<=[\d)])[ \t]*\*{1,2}[ \t]*(?=[\d(]|[$€£¥₩₹])"
                         r"|^[ \t]*#(?=[ \t]*of\b)|^[ \t]*>(?=[ \t]*[\d=$])|^[ \t]*\+(?=[ \t]+\d)", re.MULTILINE)


@cache
def _parser() -> MarkdownIt:
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin
    from mdit_py_plugins.texmath import texmath_plugin

    logging.getLogger("markdown_it").setLevel(logging.INFO)  # its rule-by-rule debug lines flood `uniflg -v`
    parser = MarkdownIt("zero", {"html": True}).enable(_RULES)
    parser.use(dollarmath_plugin, allow_space=False, allow_digits=False, double_inline=True, allow_labels=False)
    return parser.use(texmath_plugin, delimiters="brackets")


def _looks_like_tex(content: str) -> bool:
    """Whether a ``$...$`` span holds a formula: a TeX sign (``\\ ^ _ = + - < > ( ) { }``), a digit, or one to three
    letters (``$x$``, ``$xy$``); not kana or kanji, not a word (``$HOME/$``, ``$hello$``)."""
    from uniflg.text.charset import is_japanese_script

    if any(is_japanese_script(c) for c in content) or re.fullmatch(r"[\s\d.,]*", content):  # $5$, $42$: money
        return False
    return bool(re.search(r"[\\^_=+\-<>(){}\d]", content)) or bool(re.fullmatch(r"\s*[A-Za-z]{1,3}\s*", content))


def _math_language(text: str) -> str:
    """The language a formula is read in: Japanese when the text around it has kana or kanji."""
    from uniflg.text.charset import is_japanese_script

    return "ja" if any(is_japanese_script(c) for c in text) else "en"


def _inline(children: list[Token], tags: list[str], text_lower: str, around: str) -> str:
    """The words of one inline run: text, code and image descriptions, formulas read out (``around``: the run's
    source, which decides their language); line breaks kept (they end sentences); HTML and SSML tags go into
    ``tags``."""
    from uniflg.text.mathspeech import read_tex

    out: list[str] = []
    for child in children:
        if child.type in ("text", "code_inline", "image"):
            out.append(child.content)
        elif child.type in _MATH_INLINE and not _looks_like_tex(child.content):
            # 損益は-$5、または$-5 (money), $HOME/$USER (shell), $BTC/$ETH (cashtags): not TeX
            out.append(f"{child.markup}{child.content}{child.markup}")
        elif child.type in _MATH_INLINE:
            out.append(read_tex(child.content, _math_language(around)))
        elif child.type in ("softbreak", "hardbreak"):
            out.append("\n")
        elif child.type == "html_inline":
            name = _TAG_NAME.match(child.content)
            tag = name.group(1).lower() if name else ""
            closed = f"</{tag}" in text_lower or child.content.endswith("/>") or tag in _VOID_TAGS
            if tag not in _TAGS or not closed:  # <Enter>, x<y and y>z, a<b>c (no </b>): text
                out.append(child.content)
                continue
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
    said = _SAID_SIGNS.sub(lambda m: re.sub(r"([*#>+])", r"\\\1", m.group(0)), text)
    heading, lowered = False, text.lower()  # (lowered once: each inline run looks for closing tags in it)
    for token in _parser().parse(said):
        heading = token.type == "heading_open" or (heading and token.type != "heading_close")
        if token.type == "inline":
            words = _inline(token.children or [], tags, lowered, token.content)
            # a numbered heading (## 1. Setup) reads its number then a short pause, as a numbered item does
            line.append(re.sub(r"^(\d+)[.)]\s+", r"\1, ", words) if heading else words)
        elif token.type in ("fence", "code_block"):
            lines.extend(token.content.splitlines())
        elif token.type in _MATH_BLOCK:
            from uniflg.text.mathspeech import read_tex

            lines.append(read_tex(token.content, _math_language(text)) if _looks_like_tex(token.content)
                         else f"$${token.content}$$")  # $$ money $$
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


# Stage directions. Actions, as a script or a role-play chat writes them (-s or -ing forms: laughs, sighing), are
# directions in ( ), [ ] or single asterisks anywhere: *sighs heavily*. Sounds named by a noun (music, applause,
# laughter) are directions only as captions write them: in [ ] at the start or end of a line ("[Music] hello",
# "thank you [Applause]"), never inside a sentence ("Tap [Pause]", "Genre (Music)", "a *static* IP"). Japanese notes
# in brackets ((笑), （泣）) anywhere. Closed lists: any other bracketed word is read.
_ACTIONS = (
    "laughs|laughing|chuckles|chuckling|giggles|giggling|snickers|sighs|sighing|coughs|coughing|clears throat|"
    "clearing throat|sniffs|sniffles|sniffling|gasps|gasping|yawns|yawning|groans|groaning|sobs|sobbing|cries|"
    "crying|sneezes|hiccups|gulps|hums|humming|whistles|whistling|screams|screaming|shouting|whispers|whispering|"
    "smiles|smiling|grins|grinning|winks|nods|nodding|shrugs|waves|waving|blushes|blushing|pauses|claps|clapping|"
    "cheering|sips|hugs|pats|pokes|blinks|stretches|bows|dances|pouts|facepalms|tilts|looks|stares|leans|hides|"
    "salutes|yawns|giggles")
# Role-play chat writes an action with what it is done to or with: *waves at chat*, *sips tea*, *tilts head* (up to
# four lower-case words, inside single asterisks only: emphasis is one or two words and rarely starts with a verb).
_ACTION_OBJECT = r"(?:\s+[a-z']+){0,4}"
_SOUNDS = ("laughter|applause|music|music playing|inaudible|indistinct|indistinct chatter|crosstalk|silence|static|"
           "background noise|cheering|clapping|beep|beeping|laughs|sighs|coughs")
_JAPANESE_NOTES = ("笑|爆笑|苦笑|微笑|笑い|泣|涙|汗|焦|怒|照|震え声|小声|棒読み|白目|真顔|ドヤ顔|拍手|沈黙|咳|"
                   "ため息|溜息|溜め息")
# Japanese captions name sounds in square brackets ([音楽], ［拍手］); in ( ) these are words: ジャンル(音楽).
_JAPANESE_CAPTIONS = "音楽|歓声|笑い声|効果音|BGM|雑音|ノイズ|無音|ナレーション"
_ACTION = re.compile(r"\((?i:" + _ACTIONS + r")(?:\s+[A-Za-z]+ly)?\)|\[(?i:" + _ACTIONS + r")(?:\s+[A-Za-z]+ly)?\]"
                     r"|(?<![*\w])\*(?i:" + _ACTIONS + r")(?:\s+[A-Za-z]+ly)?" + _ACTION_OBJECT + r"\*(?![*\w])"
                     r"|[(（](?:" + _JAPANESE_NOTES + r")[)）]|[\[［](?:" + _JAPANESE_NOTES + "|" + _JAPANESE_CAPTIONS
                     + r")[\]］]")  # noqa: RUF001
_CAPTION = re.compile(r"(?:^|(?<=\n))[ \t]*\[(?i:" + _SOUNDS + r")\](?=[ \t]|$|\n)"
                      r"|(?<=[^:：\s][ \t])\[(?i:" + _SOUNDS + r")\](?=[ \t]*(?:$|\n))"  # not "Category: [Music]"
                      r"|^\[(?i:" + _SOUNDS + r")\]$",
                      re.MULTILINE)


def split_directions(text: str) -> tuple[str, tuple[str, ...]]:
    """Take out stage directions (``(laughs)``, ``*sighs heavily*``, ``[Music]`` starting or ending a caption line,
    ``（笑）``): -> (text, the directions taken, as written). Other bracketed words are read (``(see below)``,
    ``[sic]``, ``Tap [Pause]``, ``Genre (Music)``), and so is emphasis (``**Music**``, ``a *static* IP``)."""
    taken: list[str] = []

    def take(m: re.Match[str]) -> str:
        if m.string.count("`", 0, m.start()) % 2:  # inside a code span: talked about (type `*sighs*`)
            return m.group(0)
        taken.append(m.group(0).strip())
        before, after = m.string[m.start() - 1:m.start()], m.string[m.end():m.end() + 1]
        return " " if before.isascii() and before.isalnum() and after.isascii() and after.isalnum() else ""

    text = _CAPTION.sub(take, _ACTION.sub(take, text))
    return (re.sub(r"[ \t]{2,}", " ", text).strip() if taken else text), tuple(taken)
