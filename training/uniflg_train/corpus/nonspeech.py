"""Non-speech sound for Paired items: the face stays neutral (mouth closed, natural blinks) while it plays.

Segments of music-like sound, coloured noise, mains hum, breath or near-silence are placed before and after an
utterance (lengthening its leading/trailing silence) and into its pauses. The labels there are ``^``, ``$`` and
``pau``, whose mouth target is the closed rest shape, so the face track needs no change beyond the new timing:
stage 2 learns from the speech path that these sounds do not open the mouth. Seeded; levels in dBFS (RMS).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from uniflg.text import symbols as S

from uniflg_train.evaluation.robustness import bandpass, chords, mains_hum, pink_noise

KINDS = ("music", "noise", "hum", "breath", "silence")
LEVEL_DBFS = (-40.0, -18.0)     # speech in the corpus sits at about -20 dBFS RMS
EDGE_SECONDS = (0.4, 2.0)       # added before / after the utterance
MIN_PAUSE = 0.12                # pauses shorter than this are left alone
FADE = 0.02                     # s raised-cosine fade in/out of every segment


def sound(kind: str, n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS float32 [n] of one kind (``silence``: a -60 dB-relative noise floor, not digital zero)."""
    if kind == "music":
        return chords(n, sample_rate, rng, float(rng.uniform(0.25, 0.8)))
    if kind == "noise":  # pink or white
        x = pink_noise(n, rng) if rng.random() < 0.5 else rng.standard_normal(n).astype(np.float32)
    elif kind == "hum":
        return mains_hum(n, sample_rate, 50.0 if rng.random() < 0.5 else 60.0)
    elif kind == "breath":  # band-limited noise under a slow swell, like an inhalation
        x = bandpass(rng.standard_normal(n), sample_rate, 400.0, min(4000.0, 0.45 * sample_rate), order=4)
        x = x * np.sin(np.pi * np.linspace(0, 1, n)) ** 2
    elif kind == "silence":
        x = rng.standard_normal(n) * 1e-3
    else:
        raise ValueError(f"unknown non-speech kind {kind!r}; choose from {', '.join(KINDS)}")
    x = np.asarray(x, np.float64)
    return (x / max(np.sqrt(np.mean(x ** 2)), 1e-12)).astype(np.float32)


def _fade(x: np.ndarray, sample_rate: int) -> np.ndarray:
    k = min(int(FADE * sample_rate), x.size // 2)
    if k > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(k) / k)
        x[:k] *= ramp
        x[-k:] *= ramp[::-1]
    return x


def segment(kind: str, n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A faded segment of ``kind`` at a level drawn from :data:`LEVEL_DBFS` (silence stays 60 dB lower)."""
    level = 10 ** (float(rng.uniform(*LEVEL_DBFS)) / 20)
    x = sound(kind, n, sample_rate, rng) * np.float32(level * (1e-3 if kind == "silence" else 1.0))
    return _fade(x, sample_rate)


@dataclass(frozen=True)
class Spliced:
    audio: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    seconds: float
    kind: str


def splice(audio: np.ndarray, sample_rate: int, symbols: Sequence[str], starts: np.ndarray, ends: np.ndarray,
           rng: np.random.Generator, kind: str | None = None) -> Spliced:
    """Put non-speech of one ``kind`` (drawn when None) before and after ``audio`` and into its pauses; the
    symbol times shift by the added lead, ``^`` and ``$`` grow to cover the new edges."""
    kind = kind or str(rng.choice(KINDS))
    lead, tail = (int(float(rng.uniform(*EDGE_SECONDS)) * sample_rate) for _ in range(2))
    x = np.concatenate([segment(kind, lead, sample_rate, rng), np.asarray(audio, np.float32),
                        segment(kind, tail, sample_rate, rng)])
    shift = lead / sample_rate
    st, en = np.asarray(starts, np.float64) + shift, np.asarray(ends, np.float64) + shift
    seconds = x.size / sample_rate
    if len(symbols) and symbols[0] == S.BOS:
        st[0] = 0.0
    if len(symbols) and symbols[-1] == S.EOS:
        en[-1] = seconds
    for k, sym in enumerate(symbols):
        if sym == S.PAUSE and en[k] - st[k] >= MIN_PAUSE:
            a, b = int(st[k] * sample_rate), int(en[k] * sample_rate)
            x[a:b] += segment(kind, b - a, sample_rate, rng)
    return Spliced(np.clip(x, -1.0, 1.0), st, en, seconds, kind)
