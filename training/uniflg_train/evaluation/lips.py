"""Lip measures on OpenPose-70 tracks and an audio-energy baseline, shared by the real-people and the
robustness measurements.

Lip opening is the inner-lip gap (points 62 and 66, the centres of the upper and lower inner lip) divided by
the distance between the eye centres (means of points 36-41 and 42-47), so it is free of face size and
distance from the camera; mouth width is the distance between the outer corners (48, 54) over the same
eye distance. Tracks are ``[T, 70, 2]`` at 30 fps (DESIGN section 4).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from uniflg.errors import InvalidInputError

FPS = 30


def _eye_distance(lm: np.ndarray) -> np.ndarray:
    return np.linalg.norm(lm[:, 36:42].mean(1) - lm[:, 42:48].mean(1), axis=-1)


def inner_lip_gap(landmarks: np.ndarray) -> np.ndarray:
    """``[T]`` inner-lip gap |p62 - p66| in the landmarks' own units (Table 1's lip correlations, whose faces are
    aligned to one scale)."""
    lm = np.asarray(landmarks, np.float64)
    return np.linalg.norm(lm[:, 62] - lm[:, 66], axis=-1)


def lip_opening(landmarks: np.ndarray) -> np.ndarray:
    """``[T]`` inner-lip gap |p62 - p66| over the eye-centre distance (dimensionless)."""
    lm = np.asarray(landmarks, np.float64)
    return inner_lip_gap(lm) / _eye_distance(lm)


def mouth_width(landmarks: np.ndarray) -> np.ndarray:
    """``[T]`` mouth-corner distance |p48 - p54| over the eye-centre distance."""
    lm = np.asarray(landmarks, np.float64)
    return np.linalg.norm(lm[:, 48] - lm[:, 54], axis=-1) / _eye_distance(lm)


def energy_track(audio: np.ndarray, sample_rate: int, n_frames: int, smooth: int = 3) -> np.ndarray:
    """The audio-energy baseline: RMS per 1/30-s frame (frame i covers [i/30, (i+1)/30) s; zero-padded past
    the end) averaged over ``smooth`` centred frames. Returns ``[n_frames]``."""
    x = np.asarray(audio, np.float64).reshape(-1)
    edges = np.round(np.arange(n_frames + 1) * sample_rate / FPS).astype(np.int64)
    x = np.pad(x, (0, max(0, int(edges[-1]) - x.size)))
    rms = np.array([np.sqrt(np.mean(x[a:b] ** 2)) if b > a else 0.0 for a, b in zip(edges, edges[1:], strict=False)])
    if smooth > 1:
        rms = np.convolve(np.pad(rms, (smooth // 2, smooth - 1 - smooth // 2), mode="edge"),
                          np.ones(smooth) / smooth, mode="valid")
    return rms


def pearson(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """Pearson r of two equal-length 1-D series; NaN when either is constant or shorter than 2. ValueError when the
    lengths differ."""
    x, y = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"pearson needs two tracks of equal length, got {x.shape} and {y.shape}")
    if x.size < 2:
        return float("nan")
    x, y = x - x.mean(), y - y.mean()
    den = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / den) if den > 0 else float("nan")


def lagged_r(pred: np.ndarray, real: np.ndarray, lag: int) -> float:
    """r of ``pred[t]`` against ``real[t - lag]`` over the overlap: a positive lag means the prediction comes
    ``lag`` frames later than the real lips (the real lips lead)."""
    n = min(pred.size, real.size)
    pred, real = pred[:n], real[:n]
    if lag >= 0:
        return pearson(pred[lag:], real[:n - lag])
    return pearson(pred[:lag], real[-lag:])


def best_lag(pred: np.ndarray, real: np.ndarray, max_lag: int = 5) -> tuple[float, int]:
    """The highest :func:`lagged_r` over lags in ``[-max_lag, max_lag]`` and its lag (ties: smallest |lag|)."""
    scores = [(lagged_r(pred, real, k), -abs(k), k) for k in range(-max_lag, max_lag + 1)]
    scores = [s for s in scores if np.isfinite(s[0])]
    if not scores:
        return float("nan"), 0
    r, _, k = max(scores)
    return r, k


@dataclass(frozen=True)
class LipScore:
    """One clip: predicted (or baseline) lip opening against the real one."""

    frames: int
    r: float  # lag 0
    r_best: float  # best lag within +-max_lag
    lag: int  # frames; positive: the prediction comes later than the real lips
    energy_r: float
    energy_r_best: float
    energy_lag: int
    std_ratio: float  # std(predicted opening) / std(real opening)
    width_r: float
    median_opening_pred: float
    median_opening_real: float


class ClipTooShortError(InvalidInputError):
    """A clip has fewer frames than :func:`score_clip` needs for its lag search."""


def min_frames(max_lag: int) -> int:
    """Frames a clip needs for :func:`score_clip` with a lag search of ``+-max_lag`` frames."""
    return 2 * max_lag + 3


def score_clip(pred: np.ndarray, real: np.ndarray, audio: np.ndarray, sample_rate: int,
               max_lag: int = 5) -> LipScore:
    """Score predicted landmarks ``[T, 70, 2]`` against a real track ``[T', 70, 2]`` (both 30 fps, frame 0 at
    audio time 0; the shorter length is used) and the energy baseline of ``audio``. Raises ClipTooShortError
    when the shorter one has fewer than :func:`min_frames` frames."""
    n = min(len(pred), len(real))
    if n < min_frames(max_lag):
        raise ClipTooShortError(f"clip too short to score: {n} frames; need at least {min_frames(max_lag)} "
                                f"for a lag search of +-{max_lag} frames")
    po, ro = lip_opening(pred[:n]), lip_opening(real[:n])
    energy = energy_track(audio, sample_rate, n)
    r_best, lag = best_lag(po, ro, max_lag)
    e_best, e_lag = best_lag(energy, ro, max_lag)
    return LipScore(frames=n, r=pearson(po, ro), r_best=r_best, lag=lag, energy_r=pearson(energy, ro),
                    energy_r_best=e_best, energy_lag=e_lag, std_ratio=float(po.std() / max(ro.std(), 1e-12)),
                    width_r=pearson(mouth_width(pred[:n]), mouth_width(real[:n])),
                    median_opening_pred=float(np.median(po)), median_opening_real=float(np.median(ro)))
