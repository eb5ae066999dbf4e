"""Frame-rate bookkeeping between the spectrogram clock and the 30 fps landmark clock (no torch).

The landmark clock is derived from the audio: a clip of S samples has round(S / sample_rate * fps)
landmark frames, and text-path durations are converted by cumulative rounding so that the token
boundaries land on the nearest landmark frame and the total is exact.
"""

from __future__ import annotations

import numpy as np


def landmark_frames(n_samples: int, sample_rate: int, fps: int) -> int:
    """T_land = round(seconds * fps)."""
    return int(round(n_samples * fps / sample_rate))


def landmark_durations(d_spec: np.ndarray, n_land: int) -> np.ndarray:
    """Integer spectrogram-frame durations (N,) -> landmark-frame durations (N,) summing to n_land.

    d_land = diff(round(cumsum(d_spec) * n_land / sum(d_spec))): the paper's "multiply by a constant",
    rounded on the cumulative sum so that rounding errors never accumulate.
    """
    d_spec = np.asarray(d_spec, dtype=np.float64)
    total = d_spec.sum()
    if total <= 0:
        return np.zeros_like(d_spec, dtype=np.int64)
    ends = np.round(np.cumsum(d_spec) * (n_land / total)).astype(np.int64)
    return np.diff(np.concatenate([[0], ends]))


def durations_from_log(log_w: np.ndarray, length_scale: float = 1.0, max_frames: int | None = None) -> np.ndarray:
    """Predicted log durations -> integer frames per token (ceil, as VITS), at least 0 and at most ``max_frames``
    (a large duration noise draws tokens hours long: VITS does not bound them, a runtime must)."""
    w = np.exp(np.minimum(np.asarray(log_w, dtype=np.float64), 700.0)) * length_scale  # exp(710) overflows
    frames = np.maximum(np.ceil(w), 0)
    return (frames if max_frames is None else np.minimum(frames, max_frames)).astype(np.int64)
