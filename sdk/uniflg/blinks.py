"""Run-time eye blinks for avatars, drawn from human blink statistics.

The landmark decoder cannot know when a person blinks (blinks carry no speech information), so avatars get
blinks at run time, added to the blendshapes only (``eyeBlinkLeft/Right`` and VRM ``Blink``); the landmarks
stay the model's output, which the metrics score and which other solvers may retarget themselves.

Statistics used (defaults of :class:`BlinkParams`):

* rate: spontaneous blinking in healthy adults averages ~17 blinks/min at rest and ~26/min in conversation,
  ~4.5/min while reading (Bentivoglio et al., "Analysis of blink rate patterns in normal subjects",
  Movement Disorders 12(6):1028-1034, 1997). Default mean interval 3.3 s (~18/min).
* intervals: inter-blink intervals are strongly right-skewed (many short, a long tail; Ponder & Kennedy,
  "On the act of blinking", Q. J. Exp. Physiol. 18:89-110, 1927); drawn here log-normal (sigma 0.6 in log
  space) above a 0.4 s refractory minimum, with the mean set by the rate.
* duration: a spontaneous blink lasts ~100-400 ms, the lid closing faster than it reopens (Caffier,
  Erdmann & Ullsperger, "Experimental evaluation of eye-blink parameters as a drowsiness measure",
  Eur. J. Appl. Physiol. 89:319-325, 2003). Drawn log-normal around 0.2 s, clipped to [0.1, 0.4] s;
  closing takes 35 % of it.

Blinks are a deterministic function of (seed, frame index): any chunking of a stream gives the same curve
(frames are asked for in order; blinks more than 60 s behind the latest request are forgotten).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from uniflg.errors import InvalidInputError
from uniflg.landmarks import FPS
from uniflg.limits import check_seed


@dataclass(frozen=True)
class BlinkParams:
    """Blink statistics; see the module docstring for their sources."""

    rate_per_minute: float = 18.0
    interval_sigma: float = 0.6       # log-normal shape of the inter-blink interval
    min_interval: float = 0.4         # s, refractory minimum between blink onsets
    duration_median: float = 0.2      # s
    duration_sigma: float = 0.25
    duration_range: tuple[float, float] = (0.1, 0.4)
    closing_share: float = 0.35       # fraction of a blink spent closing

    def __post_init__(self) -> None:
        if not 0.5 <= self.rate_per_minute <= 60:
            raise InvalidInputError(f"blink rate must be in [0.5, 60] per minute; got {self.rate_per_minute}")


class BlinkTrack:
    """Blink weights in [0, 1] per frame of one stream: ``weights(first_frame, n)`` -> float32 ``[n]``."""

    def __init__(self, seed: int | Sequence[int] | None = 0, fps: int = FPS, params: BlinkParams | None = None) -> None:
        if fps <= 0:
            raise InvalidInputError(f"fps must be positive; got {fps}")
        self.fps = fps
        self.params = params or BlinkParams()
        if seed is not None:
            for part in seed if isinstance(seed, (list, tuple)) else (seed,):
                check_seed(part, "blink seed")
        self._rng = np.random.default_rng(seed)
        self._events: list[tuple[float, float]] = []  # (onset s, duration s)
        self._next = self._interval() * self._rng.uniform()  # the stream starts mid-interval

    def _interval(self) -> float:
        p = self.params
        mean = 60.0 / p.rate_per_minute - p.min_interval
        mu = np.log(mean) - p.interval_sigma**2 / 2  # log-normal with that mean
        return p.min_interval + float(self._rng.lognormal(mu, p.interval_sigma))

    def _extend(self, until: float) -> None:
        p = self.params
        while self._next <= until:
            duration = float(np.clip(self._rng.lognormal(np.log(p.duration_median), p.duration_sigma),
                                     *p.duration_range))
            self._events.append((self._next, duration))
            self._next += max(self._interval(), duration)

    def onsets(self, seconds: float) -> np.ndarray:
        """Blink onset times (s) in [0, seconds)."""
        self._extend(seconds)
        return np.array([t for t, _ in self._events if t < seconds])

    def weights(self, first_frame: int, n: int) -> np.ndarray:
        """Lid closure (1 = shut) at frames ``first_frame .. first_frame + n - 1`` (times ``frame / fps``)."""
        if first_frame < 0 or n < 0:
            raise InvalidInputError(f"frames must be non-negative; got first_frame={first_frame}, n={n}")
        t = (first_frame + np.arange(n)) / self.fps
        out = np.zeros(n, np.float64)
        if n == 0:
            return out.astype(np.float32)
        self._extend(float(t[-1]))
        close = self.params.closing_share
        # Streams ask for frames in order: forget blinks that ended long ago so memory stays bounded.
        self._events = [e for e in self._events if e[0] + e[1] >= t[0] - 60.0]
        for onset, duration in self._events:
            if onset + duration < t[0] or onset > t[-1]:
                continue
            phase = (t - onset) / duration  # 0..1 through the blink
            shape = np.where(phase < close, phase / close, (1.0 - phase) / (1.0 - close))
            # Sampled at 30 fps a 100 ms blink may fall between frames: the frame nearest the lid's closure
            # still shows it shut.
            peak = int(np.rint((onset + close * duration) * self.fps)) - first_frame
            if 0 <= peak < n:
                shape[peak] = 1.0
            out = np.maximum(out, np.clip(shape, 0.0, 1.0))
        return out.astype(np.float32)
