"""Public Python API inputs of the wrong type or shape: one SDK error naming what is accepted (review 20 found each
of these raising a raw AttributeError, TypeError, IndexError or a NumPy error, or being taken silently)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pytest
from uniflg.avatar import AvatarStream, frame_symbols
from uniflg.errors import InvalidInputError, NotFoundError
from uniflg.text import encode, split_text
from uniflg.voice import load_voice


@pytest.fixture(scope="module")
def voice():
    return load_voice(backend="onnxruntime")


@pytest.mark.parametrize(("text", "said"), [(None, "text must be a str; got NoneType"), (3, "got int"),
                                            (b"abc", "got bytes (decode bytes first")])
def test_front_end_text_that_is_not_a_str(text: object, said: str) -> None:
    for call in (split_text, encode):
        with pytest.raises(InvalidInputError, match=re.escape(said)):
            call(text)  # type: ignore[arg-type]


def test_voice_arguments_of_the_wrong_type(voice) -> None:
    with pytest.raises(InvalidInputError, match="path must be a voice folder"):
        load_voice(5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="options must be a uniflg.backends.BackendOptions"):
        load_voice(options={"precision": "fp32"})  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=r"max_lookahead_ms must be above 0 ms .*got '250'"):
        voice.speech_path("250")  # type: ignore[arg-type]
    for chunks in (None, 5):
        with pytest.raises(InvalidInputError, match="animate takes an iterable of audio chunks"):
            voice.animate(chunks, 24000)  # type: ignore[arg-type]  # at the call, not at the first next()


def test_encoded_utterances_must_hold_whole_numbers(voice) -> None:
    u = encode("こんにちは", "ja")
    with pytest.raises(InvalidInputError, match="ids must be whole numbers"):
        voice.synthesize_all(SimpleNamespace(ids=u.ids + 0.7, prosody=u.prosody))  # it was truncated silently
    with pytest.raises(InvalidInputError, match="ids must be whole numbers"):
        voice.synthesize_all(SimpleNamespace(ids=["a", "b"], prosody=u.prosody[:2]))


def test_avatar_stream_arguments(voice) -> None:
    with pytest.raises(NotFoundError):
        AvatarStream.for_voice(voice, path="live999")  # it used the text path's calibration
    stream = AvatarStream.for_voice(voice)
    lm = voice.landmarks_from_text("こんにちは")
    for first in (1.5, None, "0", -1):
        with pytest.raises(InvalidInputError, match="first_frame must be a whole number >= 0"):
            stream.weights(first, lm)  # type: ignore[arg-type]
    arkit, _ = stream.weights(0, lm)
    with pytest.raises(InvalidInputError, match=rf"arkit must be \[T, 52\] for the {len(lm)} frames"):
        stream.retargeter.vrm(lm, arkit=arkit[:-1])
    with pytest.raises(InvalidInputError, match=r"vowels must be \[T, 5\]"):
        stream.retargeter.vrm(lm, vowels=np.zeros((len(lm), 4), np.float32))
    with pytest.raises(InvalidInputError, match="n_frames must be a whole number >= 0"):
        frame_symbols([("a", 0.0, 0.1)], -1)


def test_animate_array_in_blocks_equals_one_chunk(voice) -> None:
    """animate_array feeds its stream in blocks (memory grew 2.4 MB per second of audio); the frames are those of
    the whole clip."""
    audio, _ = voice.synthesize_all("こんにちは、今日はいい天気ですね。一緒に散歩に行きませんか？")
    assert audio.size > 65536
    whole = np.concatenate([c.landmarks for c in voice.animate([audio], 24000)])
    np.testing.assert_allclose(voice.animate_array(audio, 24000), whole, atol=1e-5)


def test_strict_must_be_a_bool() -> None:
    for call in (split_text, encode):
        with pytest.raises(InvalidInputError, match="strict must be True or False; got 'no'"):
            call("hello", strict="no")  # type: ignore[arg-type]
