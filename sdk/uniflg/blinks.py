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

Blinks are a deterministic function of (seed, frame index), asked for in any order: any chunking of a stream gives
the same curve, a stream whose frame numbers start again at 0 blinks again, and a frame far from 0 costs no more
than one near it. Time is cut into blocks of :data:`BLOCK_SECONDS`, each drawn from its own generator (seed, block);
a block's first blink keeps the refractory minimum after the last blink the block before drew.
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


BLOCK_SECONDS = 60.0  # blinks are drawn per block of this length, each from its own generator


class BlinkTrack:
    """Blink weights in [0, 1] per frame of one stream: ``weights(first_frame, n)`` -> float32 ``[n]``.
    ``seed``: an int, a sequence of ints (the server uses (seed, stream number)), or None for fresh entropy."""

    def __init__(self, seed: int | Sequence[int] | None = 0, fps: int = FPS, params: BlinkParams | None = None) -> None:
        if isinstance(fps, bool) or not isinstance(fps, (int, np.integer)) or fps <= 0:
            raise InvalidInputError(f"fps must be a positive whole number; got {fps!r}")
        self.fps = int(fps)
        self.params = params or BlinkParams()
        if seed is None:
            self._seed: tuple[int, ...] = (int(np.random.SeedSequence().entropy),)  # type: ignore[arg-type]
        else:
            parts = tuple(seed) if isinstance(seed, (list, tuple)) else (seed,)
            for part in parts:
                check_seed(part, "blink seed")
            self._seed = tuple(int(part) for part in parts)
        self._blocks: dict[int, list[tuple[float, float]]] = {}  # the few blocks asked for last

    def _raw_block(self, k: int) -> list[tuple[float, float]]:
        """Blinks (onset s, duration s) of block ``k`` as its own generator draws them."""
        p = self.params
        rng = np.random.default_rng([*self._seed, k])
        mean = 60.0 / p.rate_per_minute - p.min_interval
        mu = np.log(mean) - p.interval_sigma**2 / 2  # log-normal intervals with that mean

        def interval() -> float:
            return p.min_interval + float(rng.lognormal(mu, p.interval_sigma))

        start, end = k * BLOCK_SECONDS, (k + 1) * BLOCK_SECONDS
        events, t = [], start + interval() * rng.uniform()  # each block starts mid-interval
        while t < end:
            duration = float(np.clip(rng.lognormal(np.log(p.duration_median), p.duration_sigma), *p.duration_range))
            events.append((t, duration))
            t += max(interval(), duration)
        return events

    def _block(self, k: int) -> list[tuple[float, float]]:
        """Block ``k``'s blinks, without those too close after the last blink of block ``k - 1``."""
        if k not in self._blocks:
            events = self._raw_block(k)
            before = self._raw_block(k - 1) if k > 0 else []
            if before:
                onset, duration = before[-1]
                free = onset + max(self.params.min_interval, duration)
                events = [e for e in events if e[0] >= free]
            if len(self._blocks) >= 8:  # a stream asks for one or two blocks at a time: memory stays bounded
                self._blocks.pop(next(iter(self._blocks)))
            self._blocks[k] = events
        return self._blocks[k]

    def _events(self, t0: float, t1: float) -> list[tuple[float, float]]:
        """Blinks that overlap [t0, t1] (s)."""
        longest = self.params.duration_range[1]
        first, last = int((max(t0 - longest, 0.0)) // BLOCK_SECONDS), int(t1 // BLOCK_SECONDS)
        return [e for k in range(first, last + 1) for e in self._block(k) if e[0] + e[1] >= t0 and e[0] <= t1]

    def onsets(self, seconds: float) -> np.ndarray:
        """Blink onset times (s) in [0, seconds)."""
        return np.array([t for k in range(int(seconds // BLOCK_SECONDS) + 1) for t, _ in self._block(k)
                         if t < seconds])

    def weights(self, first_frame: int, n: int) -> np.ndarray:
        """Lid closure (1 = shut) at frames ``first_frame .. first_frame + n - 1`` (times ``frame / fps``).
        Raises InvalidInputError for a frame or count that is not a whole number >= 0."""
        for name, value in (("first_frame", first_frame), ("n", n)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise InvalidInputError(f"{name} must be a whole number >= 0; got {value!r}")
        first_frame, n = int(first_frame), int(n)
        out = np.zeros(n, np.float64)
        if n == 0:
            return out.astype(np.float32)
        t = (first_frame + np.arange(n)) / self.fps
        close = self.params.closing_share
        for onset, duration in self._events(float(t[0]), float(t[-1])):
            phase = (t - onset) / duration  # 0..1 through the blink
            shape = np.where(phase < close, phase / close, (1.0 - phase) / (1.0 - close))
            # Sampled at 30 fps a 100 ms blink may fall between frames: the frame nearest the lid's closure
            # still shows it shut.
            peak = int(np.rint((onset + close * duration) * self.fps)) - first_frame
            if 0 <= peak < n:
                shape[peak] = 1.0
            out = np.maximum(out, np.clip(shape, 0.0, 1.0))
        return out.astype(np.float32)
