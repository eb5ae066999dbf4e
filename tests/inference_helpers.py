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


def snr_db(reference: np.ndarray, test: np.ndarray) -> float:
    noise = float(np.sum((reference.astype(np.float64) - test) ** 2))
    return float("inf") if noise == 0 else 10 * np.log10(float(np.sum(reference.astype(np.float64) ** 2)) / noise)
