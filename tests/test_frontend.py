"""Text front end: golden features, interrogative flag, English phonemes, bad characters."""

from __future__ import annotations

import numpy as np
import pytest
from uniflg.config import N_SYMBOLS, PROSODY_CARDINALITIES
from uniflg.errors import InvalidInputError, UnsupportedTextError
from uniflg.text import SYMBOLS, detect_language, encode


def test_table_fits_the_model_constants():
    assert SYMBOLS[0] == "_" and len(SYMBOLS) <= N_SYMBOLS == 128
    assert PROSODY_CARDINALITIES == (4, 4, 2)


def test_japanese_golden_features():
    u = encode("こんにちは、今日はいい天気ですね。")
    assert u.language == "ja"
    assert " ".join(u.symbols) == "^ k o N n i ch i w a pau ky o o w a i i t e N k i d e s U n e $"
    assert u.ids.dtype == np.int64 and u.ids.shape == (30,) and u.prosody.shape == (30, 3)
    accent, boundary, question = u.prosody.T
    # こんにちは is flat (type 0): first mora low, the rest high. 今日は is head-high (type 1).
    assert accent[:10].tolist() == [0, 1, 1, 2, 2, 2, 2, 2, 2, 2]
    assert accent[11:16].tolist() == [2, 2, 1, 1, 1]
    # Breath-group final before the pause and at the end; phrase-final after "kyoowa" and "ii".
    assert boundary.tolist() == [3, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 1, 1, 1, 1, 2, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1,
                                 1, 1, 3, 3]
    assert not question.any()
    assert [SYMBOLS[i] for i in u.ids] == list(u.symbols)


def test_interrogative_flag_marks_the_final_phrase_of_a_question():
    q = encode("一緒に散歩に行きませんか？")
    flags = q.prosody[:, 2]
    phrase = "".join(s for s, f in zip(q.symbols, flags, strict=True) if f)
    assert phrase == "ikimaseNka"
    assert not encode("一緒に散歩に行きます。").prosody[:, 2].any()


def test_english_phonemes_and_stress():
    u = encode("Hello world, how are you?")
    assert u.language == "en"
    assert " ".join(u.symbols) == "^ h ə l oʊ w ɜ l d pau h aʊ ɑ ɹ y u $"
    accent, boundary, question = u.prosody.T
    assert accent[u.symbols.index("oʊ")] == 2            # primary stress
    assert accent[u.symbols.index("ə")] == 1             # unstressed
    assert boundary[u.symbols.index("oʊ")] == 2          # word-final
    assert boundary[8] == 3                              # clause-final "d" of world
    assert question.tolist() == [0] * 14 + [1, 1, 0]     # only "you" of the question


def test_english_shares_consonants_with_japanese():
    u = encode("church judge", "en")
    assert [s for s in u.symbols if s in ("ch", "j")] == ["ch", "ch", "j", "j"]


def test_language_detection_and_errors():
    assert detect_language("今日は") == "ja" and detect_language("Good morning") == "en"
    with pytest.raises(UnsupportedTextError) as err:
        encode("안녕 hello")
    assert err.value.characters == ("안", "녕") and "U+C548" in str(err.value)
    with pytest.raises(UnsupportedTextError) as err:
        encode("こんにちは😀", strict=True)
    assert err.value.characters == ("😀",)
    with pytest.raises(InvalidInputError):
        encode("   ")
    with pytest.raises(UnsupportedTextError):
        encode("。、", "ja")
    with pytest.raises(UnsupportedTextError):
        encode("hello", "fr")
