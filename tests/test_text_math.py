"""TeX math in language-model answers ($...$, $$...$$, \\(...\\), \\[...\\]) read as spoken mathematics, in English
or Japanese; money and shell variables written with dollars stay what they are (review 20: "dollar x two dollar",
"backslash frac a b")."""

from __future__ import annotations

import pytest
from uniflg.text import split_text
from uniflg.text.mathspeech import read_tex


@pytest.mark.parametrize(("tex", "english", "japanese"), [
    (r"E = mc^2", "E equals m c squared", "E イコール m cの2乗"),
    (r"\frac{a}{b}", "a over b", "b分のa"),
    (r"\frac{1}{2}", "1/2", "2分の1"),  # numbers: the normalizers read one half
    (r"x = \frac{-b \pm \sqrt{b^2 - 4ac}}{2a}",
     "x equals minus b plus or minus the square root of b squared minus 4 a c over 2 a",
     "x イコール 2 a分のマイナス b プラスマイナス ルートbの2乗 マイナス 4 a c"),
    (r"\int_0^1 x\,dx", "the integral from 0 to 1 of x d x", "インテグラル 0から 1まで x d x"),
    (r"\sum_{i=1}^{n} i", "the sum from i equals 1 to n of i", "シグマ i イコール 1から nまで i"),
    (r"\lim_{x \to 0} f(x)", "the limit as x approaches 0 of f(x)", "リミット x を 0 に近づけるとき f(x)"),
    (r"\sqrt[3]{8}", "the cube root of 8", "8の3乗根"),
    (r"\alpha \leq \beta", "α is less than or equal to β", "α 小なりイコール β"),
    (r"10^{-3}", "10 to the power of minus 3", "10のマイナス 3乗"),
    (r"90^\circ", "90 degrees", "90度"),
    (r"x_1, \ldots, x_n", "x sub 1, dot dot dot, x sub n", "x 1、x n"),
    (r"\hat{y} \neq \text{max}", "y hat is not equal to max", "yハット ノットイコール max"),
    (r"n!", "n factorial", "nの階乗"),
    (r"\frac{a}{b", "a over b", "b分のa"),  # unbalanced: closed at the end, never an error
])
def test_tex_is_read_as_spoken_mathematics(tex: str, english: str, japanese: str) -> None:
    assert read_tex(tex, "en") == english
    assert read_tex(tex, "ja") == japanese


@pytest.mark.parametrize(("written", "said"), [
    ("The area is $A = \\pi r^2$.", "The area is A equals pi r squared."),
    ("So \\(a^2+b^2=c^2\\) holds.", "So a squared plus b squared equals c squared holds."),
    ("$$\\int_0^1 x\\,dx = \\frac{1}{2}$$", "the integral from zero to one of x d x equals one half"),
    ("x^2 is positive and E=mc^2", "x squared is positive and E equals mc squared"),  # without dollars too
    # dollars that are not TeX: money, a shell variable
    ("It costs $5 and $10.", "It costs five dollars and ten dollars."),
    ("I paid $5, you paid $7", "I paid five dollars, you paid seven dollars"),
    ("Echo $HOME and $PATH", "Echo $HOME and $PATH"),
])
def test_math_in_english_text(written: str, said: str) -> None:
    assert " ".join(u.text for u in split_text(written).utterances) == said


def test_math_in_japanese_text_reads_in_japanese() -> None:
    assert split_text("数式 $x^2 + y^2 = r^2$ で表せます").utterances[0].text == \
        "数式 エックスの2乗 プラス ワイの2乗 イコール アールの2乗 で表せます"
    assert split_text("損益は-$5、または$-5").utterances[0].text == "損益はマイナス5ドル、またはマイナス5ドル"
