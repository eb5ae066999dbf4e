"""Speech for the procedural corpus: the HTS voice bundled with pyopenjtalk-plus, with exact phoneme timing.

Timing: HTS ignores label timings, and pyopenjtalk does not expose the engine's state durations. But at
speed 1.0 the engine rounds each state's mean duration on its own (no utterance-level rescaling), and a
phoneme's duration model reads only its own full-context label. So synthesizing each label alone yields
its exact duration in HTS frames (``get_fperiod`` samples); the sum matches the full synthesis sample for
sample (checked in tests/test_corpus.py). Every later change of the audio (resampling for timbre, time
stretching for speed) is a known time map, so the phoneme boundaries stay exact.

Speaker and emotion knobs:

* timbre: playing the 48 kHz signal as if it were ``48000 * formant`` Hz scales formants (vocal-tract
  size) and pitch by ``formant``; the HTS half-tone shift pre-compensates the pitch;
* pitch: HTS ``add_half_tone`` (speaker + emotion);
* speed: WSOLA time stretching on a piecewise-linear time map that stretches vowels and pauses twice
  as much as consonants (as speakers do);
* energy and spectral tilt (brighter when happy, darker and quieter when sad).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter, resample_poly

log = logging.getLogger(__name__)

HTS_RATE = 48000
SAMPLE_RATE = 24000


@dataclass(frozen=True)
class Speaker:
    name: str
    half_tone: float   # pitch shift in semitones
    formant: float     # vocal-tract scale (>1: smaller tract, higher formants)
    speed: float       # >1 faster
    tilt: float        # spectral tilt (>0 brighter)
    articulation: float  # how wide the mouth moves (face generator)


@dataclass(frozen=True)
class Emotion:
    name: str
    half_tone: float
    speed: float
    gain_db: float
    tilt: float


SPEAKERS: tuple[Speaker, ...] = (
    Speaker("mei", 0.0, 1.00, 1.00, 0.0, 1.00),
    Speaker("low", -11.0, 0.84, 0.94, -0.2, 0.90),
    Speaker("bright", 1.5, 1.08, 1.07, 0.3, 1.12),
    Speaker("soft", -5.0, 0.93, 0.97, -0.5, 0.85),
)

EMOTIONS: tuple[Emotion, ...] = (
    Emotion("normal", 0.0, 1.00, 0.0, 0.0),
    Emotion("happy", 2.5, 1.12, 3.0, 0.5),
    Emotion("sad", -2.0, 0.82, -6.0, -0.6),
)

VOICE_CREDIT = ('HTS voice "Mei" (MMDAgent Project, Nagoya Institute of Technology, CC BY 3.0), '
                "bundled with pyopenjtalk-plus")

_VOWELS = frozenset("aiueoAIUEO") | {"N", "pau", "^", "$"}


@dataclass(frozen=True)
class Speech:
    """24 kHz float32 audio with per-token boundaries in seconds (``starts[k]``, ``ends[k]``)."""

    audio: np.ndarray
    starts: np.ndarray
    ends: np.ndarray

    @property
    def seconds(self) -> float:
        return self.audio.size / SAMPLE_RATE


def hts_durations(labels: Sequence[str]) -> tuple[np.ndarray, int]:
    """Per-label durations in samples at 48 kHz (exact at speed 1.0), and the frame period."""
    import pyopenjtalk

    with pyopenjtalk._global_htsengine() as engine:  # the module's shared engine, under its lock
        fperiod = engine.get_fperiod()
        lengths = []
        for lab in labels:
            engine.set_speed(1.0)
            engine.add_half_tone(0.0)
            lengths.append(engine.synthesize([lab]).size)
    return np.asarray(lengths, dtype=np.int64), int(fperiod)


def hts_synthesize(labels: Sequence[str], half_tone: float) -> np.ndarray:
    import pyopenjtalk

    wav, rate = pyopenjtalk.synthesize(list(labels), speed=1.0, half_tone=half_tone)
    if rate != HTS_RATE:
        raise RuntimeError(f"HTS voice runs at {rate} Hz, expected {HTS_RATE}")
    return np.asarray(wav, dtype=np.float64) / 32768.0


def _rate_ratio(formant: float) -> tuple[int, int]:
    """(up, down) so that the 48 kHz signal read as 48000*formant Hz is resampled to 24 kHz."""
    src = int(round(HTS_RATE * formant / 100.0)) * 100
    g = math.gcd(src, SAMPLE_RATE)
    return SAMPLE_RATE // g, src // g


def stretch_factors(symbols: Sequence[str], durations: np.ndarray, total_factor: float) -> np.ndarray:
    """Per-token duration factors whose weighted mean is ``total_factor``; consonants change half as much."""
    vowel = np.array([s in _VOWELS for s in symbols])
    v, c = durations[vowel].sum(), durations[~vowel].sum()
    f_v = (total_factor * (v + c) - 0.5 * c) / (v + 0.5 * c)
    return np.where(vowel, f_v, 1.0 + 0.5 * (f_v - 1.0))


def wsola(x: np.ndarray, out_knots: np.ndarray, in_knots: np.ndarray, frame: int = 720,
          tolerance: int = 160) -> np.ndarray:
    """Waveform-similarity overlap-add along a piecewise-linear time map (output sample -> input sample).

    Each output frame copies the input segment near its mapped position that best continues the previous
    segment (cross-correlation within +-``tolerance`` samples), so pitch periods stay intact.
    """
    hop = frame // 2
    n_out = int(out_knots[-1])
    window = np.hanning(frame + 1)[:-1]  # periodic Hann: 50 % overlap sums to 1
    pad = frame + tolerance
    xp = np.pad(x, (pad, pad))
    y = np.zeros(n_out + frame)
    prev = None
    for start in range(0, n_out, hop):
        centre = float(np.interp(start + hop, out_knots, in_knots))
        nominal = int(round(centre)) - hop + pad
        if prev is None:
            pos = nominal
        else:
            target = xp[prev + hop: prev + hop + frame]
            lo = max(nominal - tolerance, 0)
            region = xp[lo: nominal + tolerance + frame]
            corr = np.correlate(region[::2], target[::2], mode="valid")  # decimated: 4x cheaper
            pos = lo + 2 * int(np.argmax(corr))
        y[start: start + frame] += xp[pos: pos + frame] * window
        prev = pos
    return y[hop: hop + n_out] if n_out > 0 else y[:0]


def _tilt(x: np.ndarray, amount: float) -> np.ndarray:
    """amount > 0: add high-frequency emphasis; < 0: blend towards a 2.5 kHz one-pole low-pass."""
    if amount == 0:
        return x
    if amount > 0:
        return x + amount * lfilter([1.0, -0.95], [1.0], x) * 0.5
    a = math.exp(-2 * math.pi * 2500 / SAMPLE_RATE)
    low = lfilter([1 - a], [1.0, -a], x)
    return (1 + amount) * x - amount * low


def render(labels: Sequence[str], symbols: Sequence[str], speaker: Speaker, emotion: Emotion) -> Speech:
    """Speech for one utterance with exact token boundaries."""
    durations, _ = hts_durations(labels)
    formant_shift = 12.0 * math.log2(speaker.formant)
    wav = hts_synthesize(labels, speaker.half_tone + emotion.half_tone - formant_shift)
    if wav.size != durations.sum():
        raise RuntimeError(f"HTS produced {wav.size} samples, durations sum to {durations.sum()}")
    up, down = _rate_ratio(speaker.formant)
    x = resample_poly(wav, up, down)
    # Token durations in resampled samples (the resampling scales time by up/down exactly).
    d_in = durations * (up / down)
    factors = stretch_factors(symbols, d_in, speaker.formant / (speaker.speed * emotion.speed))
    d_out = d_in * factors
    in_knots = np.concatenate([[0.0], np.cumsum(d_in)])
    out_knots = np.round(np.concatenate([[0.0], np.cumsum(d_out)]))
    y = wsola(x, out_knots, in_knots)
    y = _tilt(y, speaker.tilt + emotion.tilt)
    rms = float(np.sqrt(np.mean(y**2)) + 1e-9)
    y *= 10 ** ((-20.0 + emotion.gain_db) / 20) / rms  # -20 dBFS RMS, then the emotion's gain
    peak = float(np.abs(y).max())
    if peak > 0.95:
        y *= 0.95 / peak
    bounds = out_knots / SAMPLE_RATE
    return Speech(y.astype(np.float32), bounds[:-1], bounds[1:])
