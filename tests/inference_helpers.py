"""Shared helpers for the inference/export tests: random voices and a stand-in for the text front end."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
from uniflg.config import PROSODY_CARDINALITIES


def utterance(n: int, seed: int = 0) -> SimpleNamespace:
    """What ``uniflg.text.frontend.encode`` returns, minus the text: ids (N,) and prosody (N, 3)."""
    rng = np.random.default_rng(seed)
    prosody = np.stack([rng.integers(0, c, n) for c in PROSODY_CARDINALITIES], axis=1)
    return SimpleNamespace(ids=rng.integers(1, 100, n), prosody=prosody)


def make_voice(config: str, folder: Path) -> Path:
    from uniflg.voice import random_voice

    return random_voice(config, folder, seed=0)


def calibrated_random_voice(folder: Path, config: str = "tiny", **changes: object) -> Path:
    """A random voice (torch weights only) with a face calibration stored from 6 texts (3 s on 2 cores): a voice
    without one measures it from all the texts on first use, 17-20 s, in every process that loads it."""
    from uniflg.avatar import CALIBRATION_TEXTS, store_face_calibration
    from uniflg.voice import load_voice, random_voice

    random_voice(config, folder, onnx=False, **changes)
    store_face_calibration(load_voice(folder, backend="torch"), folder, CALIBRATION_TEXTS[:6])
    return folder


def snr_db(reference: np.ndarray, test: np.ndarray) -> float:
    noise = float(np.sum((reference.astype(np.float64) - test) ** 2))
    return float("inf") if noise == 0 else 10 * np.log10(float(np.sum(reference.astype(np.float64) ** 2)) / noise)
