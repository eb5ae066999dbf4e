"""TeX math as words: what a reader says for ``$E = mc^2$`` or ``\\frac{-b \\pm \\sqrt{b^2-4ac}}{2a}``.

Language models write formulas in TeX between ``$...$``, ``$$...$$``, ``\\(...\\)`` or ``\\[...\\]``;
:mod:`uniflg.text.markup` finds them (with the ``dollarmath`` and ``texmath`` plugins of ``mdit-py-plugins``, which
tell ``$x$`` from ``$5 and $10``) and :func:`read_tex` says them, in English or Japanese, in the words of spoken
mathematics (ClearSpeak's style, simplified: "x squared", "a over b", "the square root of x", "the sum from i
equals 1 to n of"; in Japanese "xの2乗", "b分のa", "ルートx"). Numbers stay digits and Greek letters stay letters:
the normalizers read them (``1/2`` one half, ``π`` pi / パイ). TeX is parsed here: the formulas are short, and a
general LaTeX parser (pylatexenc) leaves ``^`` and ``_`` inside runs of characters, which is all the structure a
reading needs. Unknown commands are read by name (``\\nabla`` nabla).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from uniflg.text.greek import GREEK


@dataclass(frozen=True)
class _Group:
    items: tuple[_Item, ...]
    optional: bool = False  # [..]: the optional argument of \sqrt


_Item = str | _Group  # one character, a command ("\\frac"), or a group


def _parse(tex: str) -> tuple[_Item, ...]:
    """TeX -> items: characters, commands and ``{...}`` groups (nested); ``[...]`` right after ``\\sqrt`` is an
    optional group. An unbalanced brace closes at the end of the text."""
    stack: list[list[_Item]] = [[]]
    closers: list[str] = []
    i = 0
    while i < len(tex):
        ch = tex[i]
        if ch == "\\" and i + 1 < len(tex):
            j = i + 1
            while j < len(tex) and tex[j].isalpha():
                j += 1
            j = max(j, i + 2)  # \, \; \\ \{ : one sign after the backslash
            stack[-1].append(tex[i:j])
            i = j
            if stack[-1][-1] == "\\sqrt" and tex[i:i + 1] == "[":
                stack.append([])
                closers.append("]")
                i += 1
            continue
        if ch == "{":
            stack.append([])
            closers.append("}")
        elif closers and ch == closers[-1]:
            items = stack.pop()
            stack[-1].append(_Group(tuple(items), optional=closers.pop() == "]"))
        else:
            stack[-1].append(ch)
        i += 1
    while closers:  # unbalanced: close what is open
        items = stack.pop()
        stack[-1].append(_Group(tuple(items), optional=closers.pop() == "]"))
    return tuple(stack[0])


# Words per language. English follows spoken-mathematics usage; Japanese follows how formulas are read aloud in
# Japanese classrooms (イコール, かける, 小なり).
_SIGNS = {
    "en": {"+": "plus", "-": "minus", "=": "equals", "<": "is less than", ">": "is greater than", "*": "times",
           "/": "over", "!": "factorial", "'": "prime", ",": ",", "|": "", ":": ":", ";": ","},
    "ja": {"+": "プラス", "-": "マイナス", "=": "イコール", "<": "小なり", ">": "大なり", "*": "かける", "/": "わる",
           "!": "の階乗", "'": "プライム", ",": "、", "|": "", ":": "、", ";": "、"},
}
_COMMANDS = {
    "en": {"\\times": "times", "\\cdot": "times", "\\div": "divided by", "\\pm": "plus or minus",
           "\\mp": "minus or plus", "\\leq": "is less than or equal to", "\\le": "is less than or equal to",
           "\\geq": "is greater than or equal to", "\\ge": "is greater than or equal to", "\\neq": "is not equal to",
           "\\ne": "is not equal to", "\\approx": "is approximately", "\\equiv": "is equivalent to",
           "\\sim": "is similar to", "\\propto": "is proportional to", "\\infty": "infinity", "\\to": "to",
           "\\rightarrow": "to", "\\Rightarrow": "implies", "\\iff": "if and only if", "\\in": "in",
           "\\notin": "not in", "\\subset": "subset of", "\\cup": "union", "\\cap": "intersection",
           "\\forall": "for all", "\\exists": "there exists", "\\partial": "partial", "\\nabla": "nabla",
           "\\ldots": "dot dot dot", "\\cdots": "dot dot dot", "\\dots": "dot dot dot", "\\%": "percent",
           "\\sin": "sine", "\\cos": "cosine", "\\tan": "tangent", "\\log": "log", "\\ln": "natural log",
           "\\exp": "exponential", "\\max": "max", "\\min": "min", "\\det": "determinant", "\\circ": "degrees",
           "\\\\": ",", "\\{": "", "\\}": ""},
    "ja": {"\\times": "かける", "\\cdot": "かける", "\\div": "わる", "\\pm": "プラスマイナス",
           "\\mp": "マイナスプラス", "\\leq": "小なりイコール", "\\le": "小なりイコール", "\\geq": "大なりイコール",
           "\\ge": "大なりイコール", "\\neq": "ノットイコール", "\\ne": "ノットイコール",
           "\\approx": "ニアリーイコール",
           "\\equiv": "合同", "\\sim": "相似", "\\propto": "比例", "\\infty": "無限大", "\\to": "から",
           "\\rightarrow": "から", "\\Rightarrow": "ならば", "\\iff": "同値", "\\in": "属する", "\\notin": "属さない",
           "\\subset": "部分集合", "\\cup": "和集合", "\\cap": "共通部分", "\\forall": "任意の", "\\exists": "存在する",
           "\\partial": "パーシャル", "\\nabla": "ナブラ", "\\ldots": "", "\\cdots": "", "\\dots": "",
           "\\%": "パーセント", "\\sin": "サイン", "\\cos": "コサイン", "\\tan": "タンジェント", "\\log": "ログ",
           "\\ln": "エルエヌ", "\\exp": "エクスポネンシャル", "\\max": "マックス", "\\min": "ミン",
           "\\det": "デターミナント", "\\circ": "度", "\\\\": "、", "\\{": "", "\\}": ""},
}
_ACCENTS = {"en": {"\\hat": "{} hat", "\\bar": "{} bar", "\\overline": "{} bar", "\\vec": "vector {}",
                   "\\dot": "{} dot", "\\ddot": "{} double dot", "\\tilde": "{} tilde"},
            "ja": {"\\hat": "{}ハット", "\\bar": "{}バー", "\\overline": "{}バー", "\\vec": "ベクトル{}",
                   "\\dot": "{}ドット", "\\ddot": "{}ツードット", "\\tilde": "{}チルダ"}}
_BIG = {"en": {"\\sum": "the sum", "\\prod": "the product", "\\int": "the integral", "\\lim": "the limit"},
        "ja": {"\\sum": "シグマ", "\\prod": "パイ", "\\int": "インテグラル", "\\lim": "リミット"}}
# Commands whose argument is read as written (text, fonts) and those that draw nothing (sizes, spaces).
_AS_WRITTEN = {"\\text", "\\textrm", "\\textbf", "\\textit", "\\mathrm", "\\mathbf", "\\mathit", "\\mathbb",
               "\\mathcal", "\\mathsf", "\\mathtt", "\\boldsymbol", "\\operatorname", "\\mbox"}
_SILENT = {"\\left", "\\right", "\\big", "\\Big", "\\bigg", "\\Bigg", "\\,", "\\;", "\\:", "\\!", "\\ ", "\\quad",
           "\\qquad", "\\displaystyle", "\\limits", "\\nolimits", "\\mathrm{d}"}
_FRACTIONS = {"\\frac", "\\dfrac", "\\tfrac"}
# \alpha -> α, \Gamma -> Γ: the letter, which the normalizers name in either language
_TEX_GREEK = {(en.capitalize() if letter.isupper() else en): letter for letter, (en, _) in GREEK.items()}
_TEX_GREEK |= {"varepsilon": "ε", "varphi": "φ", "vartheta": "θ", "varpi": "π", "varrho": "ρ", "varsigma": "σ"}


def read_tex(tex: str, language: str = "en") -> str:
    """TeX math -> the words a reader says, in ``language`` ("en" or "ja"; numbers and Greek letters stay for the
    normalizers). Never raises: what it does not know it reads by name."""
    lang = "ja" if language == "ja" else "en"
    words = " ".join(_Reader(lang).say(_parse(tex)).split())
    words = re.sub(r"(?<=\w) \((?=\w)", "(", re.sub(r"\(\s*", "(", re.sub(r"\s*\)", ")", words)))  # f(x)
    return re.sub(r"\s*、[\s、]*", "、", words.replace(" ,", ","))


class _Reader:
    def __init__(self, language: str) -> None:
        self.lang = language

    def say(self, items: tuple[_Item, ...]) -> str:
        out: list[str] = []
        i = 0
        while i < len(items):
            i = self._one(items, i, out)
        return " ".join(out)

    def _arg(self, items: tuple[_Item, ...], i: int) -> tuple[_Item | None, int]:
        """The argument at ``i`` (a group, or one character/command, as TeX takes it), skipping spaces."""
        while i < len(items) and items[i] == " ":
            i += 1
        return (items[i], i + 1) if i < len(items) else (None, i)

    def _text(self, item: _Item | None) -> str:
        if item is None:
            return ""
        return self.say(item.items) if isinstance(item, _Group) else self.say((item,))

    def _script(self, items: tuple[_Item, ...], i: int, mark: str) -> tuple[str | None, int]:
        """A ``_`` or ``^`` script at ``i`` (after spaces): its words, or None when there is none."""
        j = i
        while j < len(items) and items[j] == " ":
            j += 1
        if j < len(items) and items[j] == mark:
            arg, k = self._arg(items, j + 1)
            return self._text(arg), k
        return None, i

    def _power(self, exponent: str) -> str:
        if self.lang == "ja":
            return "度" if exponent in ("degrees", "度") else f"の{exponent}乗"
        return {"2": "squared", "3": "cubed", "degrees": "degrees"}.get(exponent, f"to the power of {exponent}")

    def _one(self, items: tuple[_Item, ...], i: int, out: list[str]) -> int:
        item = items[i]
        ja = self.lang == "ja"
        if isinstance(item, _Group):
            out.append(self.say(item.items))
            return i + 1
        if item.isdigit() or item == ".":
            digits: list[str] = []
            while i < len(items):
                part = items[i]
                if not isinstance(part, str) or not (part.isdigit() or part == "."):
                    break
                digits.append(part)
                i += 1
            out.append("".join(digits))
            return i
        if item == "^":
            arg, j = self._arg(items, i + 1)
            power = self._power(self._text(arg))
            if ja and out:
                out[-1] += power  # xの2乗: the particle joins the base
            else:
                out.append(power)
            return j
        if item == "_":
            arg, j = self._arg(items, i + 1)
            out.append(self._text(arg) if ja else f"sub {self._text(arg)}")
            return j
        if item in _FRACTIONS:
            top, j = self._arg(items, i + 1)
            bottom, j = self._arg(items, j)
            a, b = self._text(top), self._text(bottom)
            if a.isdigit() and b.isdigit():
                out.append(f"{b}分の{a}" if ja else f"{a}/{b}")  # the normalizers read 1/2 one half
            else:
                out.append(f"{b}分の{a}" if ja else f"{a} over {b}")
            return j
        if item == "\\sqrt":
            arg, j = self._arg(items, i + 1)
            degree = None
            if isinstance(arg, _Group) and arg.optional:
                degree = self.say(arg.items)
                arg, j = self._arg(items, j)
            radicand = self._text(arg)
            if ja:
                out.append(f"{radicand}の{degree}乗根" if degree else f"ルート{radicand}")
            else:
                root = {"3": "cube", None: "square"}.get(degree, f"{degree}th")
                out.append(f"the {root} root of {radicand}")
            return j
        if item == "\\binom":
            n, j = self._arg(items, i + 1)
            k, j = self._arg(items, j)
            out.append(f"{self._text(n)}C{self._text(k)}" if ja else f"{self._text(n)} choose {self._text(k)}")
            return j
        if item in _BIG[self.lang]:
            lower, j = self._script(items, i + 1, "_")
            upper, j = self._script(items, j, "^")
            if lower is None:  # \sum^{n}_{i=1}
                lower, j = self._script(items, j, "_")
            if ja and item == "\\lim":
                approach = lower.replace(" から ", " を ") + " に近づけるとき" if lower else ""
                out.append(" ".join(w for w in ("リミット", approach) if w))
            elif ja:
                out.append(" ".join(w for w in (_BIG["ja"][item], lower and f"{lower}から",
                                                upper and f"{upper}まで") if w))
            elif item == "\\lim":
                out.append("the limit" + (f" as {lower.replace(' to ', ' approaches ')}" if lower else "") + " of")
            else:
                out.append(_BIG["en"][item] + (f" from {lower}" if lower else "") + (f" to {upper}" if upper else "")
                           + " of")
            return j
        if item in _ACCENTS[self.lang]:
            arg, j = self._arg(items, i + 1)
            out.append(_ACCENTS[self.lang][item].format(self._text(arg)))
            return j
        if item in _AS_WRITTEN:
            arg, j = self._arg(items, i + 1)
            out.append(" ".join(_flat(arg)) if arg is not None else "")
            return j
        if item in _SILENT or item.isspace():
            return i + 1
        if item in _COMMANDS[self.lang]:
            out.append(_COMMANDS[self.lang][item])
            return i + 1
        if item.startswith("\\"):
            name = item[1:]
            out.append(_TEX_GREEK.get(name, name))  # \alpha -> α (read by the normalizers), \nabla -> nabla
            return i + 1
        if item.isalpha():  # letters in math are variables: mc is m times c
            out.append(item)
            return i + 1
        word = _SIGNS[self.lang].get(item, item)
        if ja and item == "!" and out:
            out[-1] += word  # nの階乗
        else:
            out.append(word)
        return i + 1


def _flat(item: _Item | None) -> list[str]:
    """The characters of an argument as written (\\text{if } x: "if")."""
    if item is None:
        return []
    if isinstance(item, _Group):
        return ["".join(c for sub in item.items for c in _flat(sub))]
    return [item if not item.startswith("\\") else item[1:]]
