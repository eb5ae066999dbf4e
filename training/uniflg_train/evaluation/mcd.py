"""Mel-cepstral distortion (MCD) with DTW, on a numpy/scipy mel-cepstral analysis.

Analysis (stated, since MCD values depend on it): each frame (Blackman window of 1024 samples, hop
120 = 5 ms at 24 kHz) gives a log amplitude spectrum ln|X(w)|. Its frequency axis is warped by the
first-order all-pass of the mel-cepstrum (SPTK's convention, ``alpha`` fitted to the mel scale:
0.466 at 24 kHz, as SPTK/pysptk ``mcepalpha``), i.e. ln|X| is resampled on a uniform grid of warped
frequency, and the mel-cepstrum is the truncated cepstrum of that warped log spectrum in the
minimum-phase convention (c~_0 = c_0, c~_m = 2 c_m), so ln|X(w)| ~ sum_m c~_m cos(m beta(w)).
This is the least-squares cepstral fit of the log spectrum, not SPTK's iterative UELS ``mcep``; the
values are close for voiced speech but not identical. Coefficients c~_1..c~_24 are compared (c~_0,
the gain, is excluded):

    MCD = mean over DTW-aligned frame pairs of (10 / ln 10) * sqrt(2 * sum_{m=1..24} (c~_m - c^_m)^2)  [dB]

DTW runs on the same 24 coefficients (Euclidean). Silent frames are kept (no VAD).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import get_window, resample_poly

from uniflg_train.evaluation.dtw import dtw

MCD_CONST = 10.0 / np.log(10.0)


@dataclass(frozen=True)
class MelCepstrumOptions:
    sample_rate: int = 24000
    n_fft: int = 1024
    hop_length: int = 120
    window: str = "blackman"
    order: int = 24  # coefficients c~_1..c~_order are compared
    alpha: float | None = None  # None: fitted to the mel scale for sample_rate
    floor: float = 1e-8  # amplitude floor before the log (digital silence)


@lru_cache(maxsize=16)
def mel_alpha(sample_rate: int, points: int = 1000) -> float:
    """All-pass constant whose frequency warping best fits the mel scale (RMS over [0, fs/2])."""
    freqs = np.arange(points) * (sample_rate / 2.0) / points
    mel = np.log1p(freqs / 1000.0)
    mel /= mel[-1]
    omega = np.arange(points) * np.pi / points
    best, best_err = 0.0, np.inf
    for alpha in np.arange(0.0, 1.0, 0.001):
        warped = _warp(omega, alpha)
        err = float(np.sqrt(np.mean((warped / warped[-1] - mel) ** 2)))
        if err < best_err:
            best, best_err = float(alpha), err
    return round(best, 3)


def _warp(omega: np.ndarray, alpha: float) -> np.ndarray:
    """Phase response of the all-pass (z^-1 - a) / (1 - a z^-1): beta(w), monotone from 0 to pi."""
    return omega + 2.0 * np.arctan2(alpha * np.sin(omega), 1.0 - alpha * np.cos(omega))


def log_spectrogram(audio: np.ndarray, options: MelCepstrumOptions) -> np.ndarray:
    """ln|X| per frame, ``[frames, n_fft // 2 + 1]``; the signal is zero-padded by half a window."""
    wav = np.asarray(audio, dtype=np.float64).ravel()
    half = options.n_fft // 2
    padded = np.pad(wav, (half, half))
    if len(padded) < options.n_fft:
        padded = np.pad(padded, (0, options.n_fft - len(padded)))
    frames = sliding_window_view(padded, options.n_fft)[:: options.hop_length]  # (F, n_fft)
    spec = np.abs(np.fft.rfft(frames * get_window(options.window, options.n_fft), axis=-1))
    return np.log(np.maximum(spec, options.floor))


def cepstrum_from_log_spectrum(log_spec: np.ndarray, alpha: float, order: int) -> np.ndarray:
    """Mel-cepstrum c~_0..c~_order of log amplitude spectra ``[..., K]`` sampled on [0, pi]."""
    k = log_spec.shape[-1]
    omega = np.linspace(0.0, np.pi, k)
    target = _warp(omega, -alpha)  # beta^-1 on a uniform warped grid (the inverse all-pass is -alpha)
    flat = log_spec.reshape(-1, k)
    pos = np.clip(target / np.pi * (k - 1), 0.0, k - 1.0)  # fractional bin of each warped sample
    lo = np.minimum(pos.astype(np.int64), k - 2)
    frac = pos - lo
    warped = flat[:, lo] * (1.0 - frac) + flat[:, lo + 1] * frac  # (N, K) linear interpolation
    ceps = np.fft.irfft(warped, n=2 * (k - 1), axis=-1)[:, : order + 1]
    ceps[:, 1:] *= 2.0  # minimum-phase convention
    return ceps.reshape((*log_spec.shape[:-1], order + 1))


def mel_cepstrum(audio: np.ndarray, sample_rate: int,
                 options: MelCepstrumOptions = MelCepstrumOptions()) -> np.ndarray:
    """``[frames, order + 1]`` mel-cepstra (c~_0 first); audio is resampled to ``options.sample_rate``."""
    wav = np.asarray(audio, dtype=np.float64).ravel()
    if sample_rate != options.sample_rate:
        g = np.gcd(int(sample_rate), int(options.sample_rate))
        wav = resample_poly(wav, options.sample_rate // g, sample_rate // g)
    alpha = options.alpha if options.alpha is not None else mel_alpha(options.sample_rate)
    return cepstrum_from_log_spectrum(log_spectrogram(wav, options), alpha, options.order)


@dataclass(frozen=True)
class MCDSums:
    """Sum of per-pair MCD (dB) and pair count; add across utterances, then ``.mean``."""

    total_db: float = 0.0
    pairs: int = 0

    def __add__(self, other: MCDSums) -> MCDSums:
        return MCDSums(self.total_db + other.total_db, self.pairs + other.pairs)

    @property
    def mean(self) -> float:
        return self.total_db / self.pairs if self.pairs else float("nan")


def mcd_sums(reference: np.ndarray, prediction: np.ndarray, sample_rate: int,
             options: MelCepstrumOptions = MelCepstrumOptions(), use_dtw: bool = True,
             prediction_rate: int | None = None) -> MCDSums:
    """MCD statistics between two waveforms (c~_1..c~_order, DTW-aligned unless ``use_dtw=False``,
    in which case the shorter length is used frame by frame)."""
    ref = mel_cepstrum(reference, sample_rate, options)[:, 1:]
    pred = mel_cepstrum(prediction, prediction_rate or sample_rate, options)[:, 1:]
    if use_dtw:
        path = dtw(ref, pred).path
        diff = ref[path[:, 0]] - pred[path[:, 1]]
    else:
        n = min(len(ref), len(pred))
        diff = ref[:n] - pred[:n]
    per_pair = MCD_CONST * np.sqrt(2.0 * np.sum(diff * diff, axis=-1))
    return MCDSums(float(per_pair.sum()), len(per_pair))


def mcd(reference: np.ndarray, prediction: np.ndarray, sample_rate: int,
        options: MelCepstrumOptions = MelCepstrumOptions(), use_dtw: bool = True) -> float:
    """MCD in dB between two waveforms at ``sample_rate``."""
    return mcd_sums(reference, prediction, sample_rate, options, use_dtw).mean
