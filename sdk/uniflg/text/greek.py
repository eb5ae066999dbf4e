"""Greek letters as readers say them in English and Japanese text (``β版`` ベータ版, ``π`` pi, ``α test``). After
a number, ``μ`` units and ``Ω`` are units (:mod:`uniflg.text.units`); everywhere else a Greek letter is its name.
Text written in Greek is still refused (docs/frontend.md, "Symbol policy"): only these letters are read, and
only one at a time between other letters."""

from __future__ import annotations

import re

# letter (after NFKC: µ is μ, Ω is Ω) -> (English, Japanese)
GREEK: dict[str, tuple[str, str]] = {
    "α": ("alpha", "アルファ"), "β": ("beta", "ベータ"), "γ": ("gamma", "ガンマ"), "δ": ("delta", "デルタ"),
    "ε": ("epsilon", "イプシロン"), "ζ": ("zeta", "ゼータ"), "η": ("eta", "イータ"), "θ": ("theta", "シータ"),
    "κ": ("kappa", "カッパ"), "λ": ("lambda", "ラムダ"), "μ": ("mu", "ミュー"), "ν": ("nu", "ニュー"),
    "ξ": ("xi", "クサイ"), "π": ("pi", "パイ"), "ρ": ("rho", "ロー"), "σ": ("sigma", "シグマ"), "τ": ("tau", "タウ"),
    "φ": ("phi", "ファイ"), "χ": ("chi", "カイ"), "ψ": ("psi", "プサイ"), "ω": ("omega", "オメガ"),
    "Γ": ("gamma", "ガンマ"), "Δ": ("delta", "デルタ"), "Θ": ("theta", "シータ"), "Λ": ("lambda", "ラムダ"),
    "Π": ("pi", "パイ"), "Σ": ("sigma", "シグマ"), "Φ": ("phi", "ファイ"), "Ψ": ("psi", "プサイ"),
    "Ω": ("omega", "オメガ"),
}
# one letter, not inside a Greek word (Greek text is a language the SDK does not read)
_LONE = re.compile(r"(?<![\u0370-\u03ff])[" + "".join(GREEK) + r"](?![\u0370-\u03ff])")


def is_lone_greek(text: str, index: int) -> bool:
    """Whether ``text[index]`` is a Greek letter :func:`read_greek` reads (one with a name, not in a Greek word)."""
    return _LONE.match(text, index) is not None


def read_greek(text: str, language: str) -> str:
    """Each lone Greek letter -> its name in ``language`` ("en" or "ja"), spaced from Latin letters beside it."""
    k = 0 if language == "en" else 1

    def name(m: re.Match[str]) -> str:
        word = GREEK[m.group(0)][k]
        if k == 1:
            return word
        left, right = m.string[m.start() - 1:m.start()], m.string[m.end():m.end() + 1]
        return (" " if left.isalnum() else "") + word + (" " if right.isalnum() else "")

    return _LONE.sub(name, text)
