"""Measure how well lip closures in a landmark track line up with bilabial closures in the audio.

For each bilabial after an open vowel, two times are measured from the signals themselves: the lip closure
in the landmarks (the inner-lip aperture, normalized by its maximum, falling through 10 %, interpolated
between the 30 fps frames) and the acoustic closure in the audio (the steepest drop of the 1-5 kHz band
energy near it: a bilabial closure stops the oral airflow, /p/ goes silent, /m/ and /b/ keep only a low
murmur). The error is landmark time minus audio time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from uniflg.landmarks import FPS

from uniflg_train.corpus.face import BILABIALS

HOP = 0.0025  # energy envelope hop (s)
OPEN_VOWELS = frozenset({"a", "i", "u", "e", "o"})


@dataclass(frozen=True)
class AlignmentReport:
    errors_ms: np.ndarray       # one per matched closure
    unmatched: int              # closures with no energy drop within the search window

    @property
    def mean_abs_ms(self) -> float:
        return float(np.abs(self.errors_ms).mean()) if self.errors_ms.size else float("nan")

    @property
    def median_ms(self) -> float:
        return float(np.median(self.errors_ms)) if self.errors_ms.size else float("nan")

    def summary(self) -> str:
        e = self.errors_ms
        if not e.size:
            return f"no closures matched ({self.unmatched} unmatched)"
        return (f"{e.size} closures: bias {e.mean():+.1f} ms, mean |err| {self.mean_abs_ms:.1f} ms, "
                f"p90 |err| {np.percentile(np.abs(e), 90):.1f} ms, unmatched {self.unmatched}")


def lip_aperture(landmarks: np.ndarray) -> np.ndarray:
    """Inner-lip gap per frame [T]: upper inner lip (61-63) to lower inner lip (67-65)."""
    return (landmarks[:, [67, 66, 65], 1] - landmarks[:, [61, 62, 63], 1]).mean(1)


def closure_time(aperture: np.ndarray, t_lo: float, t_hi: float, fps: int = FPS,
                 level: float = 0.1, open_level: float = 0.25) -> float | None:
    """First time in [t_lo, t_hi] at which the normalized aperture falls through ``level`` after having been
    above ``open_level`` (interpolated between frames); None if the lips were not open before it."""
    i0, i1 = max(int(np.floor(t_lo * fps)), 1), min(int(np.ceil(t_hi * fps)), aperture.size - 1)
    for i in range(i0, i1 + 1):
        if aperture[i - 1] > level >= aperture[i]:
            back = aperture[max(0, i - 6): i]           # the preceding 200 ms
            if back.max() < open_level:
                return None
            frac = (aperture[i - 1] - level) / max(aperture[i - 1] - aperture[i], 1e-9)
            return (i - 1 + frac) / fps
    return None


def band_energy_db(audio: np.ndarray, sr: int, band: tuple[float, float] = (1000.0, 5000.0)) -> np.ndarray:
    """Energy envelope in dB of one band, ``HOP`` seconds per value (10 ms windows)."""
    win, hop = int(0.010 * sr), int(HOP * sr)
    n = 1 + max(0, audio.size - win) // hop
    idx = np.arange(win)[None] + hop * np.arange(n)[:, None]
    frames = audio[idx] * np.hanning(win)[None]
    spec = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    freqs = np.fft.rfftfreq(win, 1 / sr)
    sel = (freqs >= band[0]) & (freqs < band[1])
    return 10 * np.log10(spec[:, sel].sum(1) + 1e-10)


def steepest_drop(energy_db: np.ndarray, t_lo: float, t_hi: float, min_drop_db: float = 10.0) -> float | None:
    """Time (s) of the steepest fall of the band energy in [t_lo, t_hi] (change over 20 ms, centred)."""
    e = np.convolve(energy_db, np.ones(3) / 3, mode="same")
    lag = int(round(0.01 / HOP))
    i0, i1 = max(int(t_lo / HOP), lag), min(int(t_hi / HOP), e.size - lag - 1)
    if i1 <= i0:
        return None
    slope = e[i0 + lag: i1 + lag] - e[i0 - lag: i1 - lag]
    k = int(np.argmin(slope))
    if slope[k] > -min_drop_db:
        return None
    return (i0 + k) * HOP + 0.005  # window centre


def measure(landmarks: np.ndarray, audio: np.ndarray, sr: int, symbols: Sequence[str], starts: np.ndarray,
            search: float = 0.05) -> AlignmentReport:
    """Lip-closure time vs audio closure time for every bilabial that follows an open vowel.

    The labels only say *which* events to look at: the lip closure is found in the landmarks within 150 ms
    before to 60 ms after the bilabial's label onset, and the audio closure is the steepest 1-5 kHz energy
    drop within +-``search`` s of that lip closure.
    """
    aperture = lip_aperture(landmarks)
    aperture = aperture / max(float(aperture.max()), 1e-9)
    energy = band_energy_db(audio, sr)
    errors, unmatched = [], 0
    for k in range(1, len(symbols)):
        if symbols[k] not in BILABIALS or symbols[k - 1] not in OPEN_VOWELS:
            continue
        t_lip = closure_time(aperture, starts[k] - 0.15, starts[k] + 0.06)
        t_audio = None if t_lip is None else steepest_drop(energy, t_lip - search, t_lip + search)
        if t_lip is None or t_audio is None:
            unmatched += 1
            continue
        errors.append((t_lip - t_audio) * 1000.0)
    return AlignmentReport(np.asarray(errors), unmatched)
