"""The shipped default voice: present, within its size budget, loads with no --voice on ONNX Runtime, and
speaks and animates with consistent lengths (what `make demo` relies on)."""

from __future__ import annotations

import numpy as np
from uniflg.timing import landmark_frames
from uniflg.types import SynthesisOptions
from uniflg.voice import DEFAULT_VOICE_DIR, load_voice


def test_shipped_files_fit_the_budget() -> None:
    files = [p for p in DEFAULT_VOICE_DIR.iterdir() if p.is_file()]
    names = {p.name for p in files}
    assert {"voice.json", "model.safetensors", "text_encoder.onnx", "latent_to_speech.onnx"} <= names
    assert sum(p.stat().st_size for p in files) <= 60 * 1024 * 1024


def test_default_voice_speaks_and_animates() -> None:
    voice = load_voice(backend="onnxruntime")
    assert voice.name == "default" and "happy" in voice.emotions and len(voice.speakers) == 4
    options = SynthesisOptions(seed=1, emotion="happy")
    audio, landmarks = voice.synthesize_all("こんにちは、今日はいい天気ですね。", options)
    assert audio.dtype == np.float32 and 1.0 < audio.size / 24000 < 6.0
    assert landmarks.shape == (landmark_frames(audio.size, 24000, 30), 70, 2)
    # The mean face fits the unit square; expressions and head motion may step slightly outside it.
    assert np.isfinite(landmarks).all() and landmarks.min() >= -0.1 and landmarks.max() <= 1.1
    # Speech-driven on the synthesized audio: one frame per 1/30 s, and the lips move.
    animated = voice.animate_array(audio, 24000)
    assert animated.shape[0] == landmarks.shape[0]
    lip = np.linalg.norm(animated[:, 62] - animated[:, 66], axis=-1)
    assert lip.std() > 1e-3


def test_default_voice_emotions_change_tempo_and_mouth_corners() -> None:
    """The stored emotion latents carry what the corpus's emotions do: speaking rate (happy 1.12x, sad
    0.82x as fast as normal) and mouth corners (happy raised, sad lowered)."""
    voice = load_voice(backend="onnxruntime")
    seconds, corner_drop = {}, {}
    for emotion in ("happy", "normal", "sad"):
        audio, lm = voice.synthesize_all("今日はとても良い天気ですね。", SynthesisOptions(seed=1, emotion=emotion))
        seconds[emotion] = audio.size / 24000
        iod = np.linalg.norm(lm[:, 36:42].mean(1) - lm[:, 42:48].mean(1), axis=-1).mean()
        # Corners (48, 54) below the nose base (33), in inter-ocular distances; y points down.
        corner_drop[emotion] = float(((lm[:, [48, 54], 1].mean(1) - lm[:, 33, 1]) / iod).mean())
    assert seconds["happy"] < seconds["normal"] < seconds["sad"]
    assert seconds["sad"] / seconds["happy"] > 1.2  # the corpus: 1.12 / 0.82 = 1.37
    assert corner_drop["happy"] + 0.02 < corner_drop["normal"] < corner_drop["sad"] - 0.02


def test_a_large_duration_noise_is_bounded_not_hours_long() -> None:
    """Review 20: noise_scale_duration 10 (inside its range) drew 3.8 h of speech for こんにちは, or a 121 GiB
    MemoryError. Each token is capped at MAX_TOKEN_SECONDS (in proportion for slower speech)."""
    from uniflg.inference import MAX_TOKEN_SECONDS
    from uniflg.text import encode
    from uniflg.timing import durations_from_log

    assert durations_from_log(np.array([1e6, 2.0, -50.0]), 1.0, 100).tolist() == [100, 8, 1]
    voice = load_voice(backend="onnxruntime")
    tokens = len(encode("こんにちは", "ja"))
    for seed in (0, 2):
        options = SynthesisOptions(noise_scale_duration=10.0, seed=seed)
        seconds = voice.speech_seconds("こんにちは", options)
        assert 0.1 < seconds <= tokens * MAX_TOKEN_SECONDS + 1.0
        audio, landmarks = voice.synthesize_all("こんにちは", options)
        assert np.isfinite(audio).all() and landmarks.shape[0] == landmark_frames(audio.size, 24000, 30)


def test_a_self_driven_speech_animator_checks_what_it_is_given() -> None:
    """Review 20: push took NaN (NaN faces), stereo (interleaved: twice the frames), int16 (unscaled), and went on
    after finish; a speaker row out of range was an IndexError inside the error message."""
    import pytest
    from uniflg.errors import InvalidInputError

    voice = load_voice(backend="onnxruntime")
    g = np.zeros(1, np.int64)
    for bad, said in ((np.array([99]), "g must be an integer array [1] holding a speaker row 0..3"),
                      (np.array([-1]), "g must be an integer array [1]"), (0, "g must be an integer array [1]")):
        with pytest.raises(InvalidInputError, match=said.replace("[", r"\[").replace("]", r"\]")):
            voice.speech_animator(bad, None)
    with pytest.raises(InvalidInputError, match=r"z_u must be finite floats of shape \[1, 16\]"):
        voice.speech_animator(g, np.zeros((1, 5), np.float32))
    animator = voice.speech_animator(g, None, "live250")
    for bad, said in ((np.full(4800, np.nan, np.float32), "NaN or infinite"),
                      (np.zeros((4800, 2), np.float32), "push takes mono float samples"),
                      (np.zeros(4800, np.int16), "push takes mono float samples")):
        with pytest.raises(InvalidInputError, match=said):
            animator.push(bad)
    frames = sum(len(b) for b in animator.push(np.zeros(24000, np.float32)) + animator.finish())
    assert frames == 30
    with pytest.raises(InvalidInputError, match="this stream is finished"):
        animator.push(np.zeros(10, np.float32))
