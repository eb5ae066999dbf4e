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
