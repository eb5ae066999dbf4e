"""Robustness of the speech-driven lips to microphone, room and non-speech input (``uniflg eval robustness``).

For each speech clip the lips from the clean input are the reference. Each perturbation below is applied to
the clip and scored by the lip-opening r against the clean result and the std ratio (perturbed / clean). For
non-speech at the clip's speech level (its active RMS) the mean lip opening is reported relative to that of
the speech, both above the opening on digital silence: 0 = the mouth stays as shut as on silence,
1 = it opens as much as for speech; the opening on digital silence itself is reported relative to the speech's
(0 = shut). Signals are seeded; levels are in dB; all arrays mono float32.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, fftconvolve, sosfilt

from uniflg_train.evaluation.lips import lip_opening, pearson

log = logging.getLogger(__name__)

Animate = Callable[[np.ndarray, int], np.ndarray]  # (audio, sample_rate) -> landmarks [T, 70, 2]


# ---- signals ------------------------------------------------------------------------------------------------
def active_rms(x: np.ndarray, sample_rate: int, floor_db: float = -50.0) -> float:
    """RMS over the 10-ms blocks within ``floor_db`` of the loudest block (speech without its pauses)."""
    b = max(1, sample_rate // 100)
    blocks = np.asarray(x, np.float64)[: x.size // b * b].reshape(-1, b)
    p = (blocks ** 2).mean(1)
    keep = p >= p.max() * 10 ** (floor_db / 10)
    return float(np.sqrt(p[keep].mean())) if keep.any() else 0.0


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / max(np.sqrt(np.mean(x ** 2)), 1e-12)).astype(np.float32)


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS noise with power spectral density proportional to 1/f (FFT shaping of white noise)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spec.size, dtype=np.float64)
    f[0] = 1.0
    return _unit(np.fft.irfft(spec / np.sqrt(f), n))


def mains_hum(n: int, sample_rate: int, base_hz: float = 50.0,
              harmonics: tuple[float, ...] = (1.0, 0.5, 0.35, 0.2)) -> np.ndarray:
    """Unit-RMS hum: ``base_hz`` and its harmonics with the given amplitudes."""
    t = np.arange(n) / sample_rate
    x = np.zeros(n)
    for k, a in enumerate(harmonics):
        x += a * np.sin(2 * np.pi * base_hz * (k + 1) * t)
    return _unit(x)


def chords(n: int, sample_rate: int, rng: np.random.Generator, seconds_per_chord: float = 0.5) -> np.ndarray:
    """Unit-RMS music-like sound: major/minor triads of harmonic tones (5 partials), a new chord every
    ``seconds_per_chord`` with a plucked (decaying) envelope."""
    out = np.zeros(n)
    step = int(seconds_per_chord * sample_rate)
    t = np.arange(step) / sample_rate
    for start in range(0, n, step):
        root = 110.0 * 2 ** (rng.integers(0, 24) / 12)
        third = 4 if rng.random() < 0.5 else 3
        tone = np.zeros(step)
        for semis in (0, third, 7):
            f = root * 2 ** (semis / 12)
            tone += sum(np.sin(2 * np.pi * f * k * t) / k for k in range(1, 6) if f * k < sample_rate / 2)
        seg = tone * np.exp(-3.0 * t)
        out[start:start + step] = seg[: n - start]
    return _unit(out)


# Vowel formants (F1, F2, F3 in Hz) of a sung background line: /a/ /o/ /u/ /e/ /i/ (a mid-range voice).
SUNG_VOWELS = ((800.0, 1200.0, 2500.0), (500.0, 900.0, 2400.0), (350.0, 1100.0, 2300.0),
               (500.0, 1800.0, 2500.0), (300.0, 2200.0, 2900.0))


def _resonate(x: np.ndarray, sample_rate: int, formants: tuple[float, ...], bandwidth: float = 90.0) -> np.ndarray:
    """``x`` through parallel two-pole resonators at ``formants`` (a crude vocal tract)."""
    from scipy.signal import lfilter

    out = np.zeros_like(x)
    for k, f in enumerate(formants):
        r = np.exp(-np.pi * bandwidth / sample_rate)
        a = [1.0, -2 * r * np.cos(2 * np.pi * f / sample_rate), r * r]
        out += lfilter([1.0 - r], a, x) / (k + 1)
    return out


def band(n: int, sample_rate: int, rng: np.random.Generator, vocals: bool | None = None) -> np.ndarray:
    """Unit-RMS popular music, the kind played under vlogs and streams: a drum kit (kick: a 150->50 Hz sine
    sweep; snare: a band-passed noise burst; closed hi-hat: high-passed noise ticks on eighth notes) at 80-150
    BPM, a bass line on the chord roots, the :func:`chords` pads and, unless ``vocals`` is False (None: drawn,
    half the time), a sung line: a vibrato (5.5 Hz) harmonic voice on a pentatonic melody through vowel
    formants (:data:`SUNG_VOWELS`). Each part's level is drawn (+-6 dB) so no single one always dominates."""
    bpm = float(rng.uniform(80.0, 150.0))
    beat = 60.0 / bpm
    hit = int(0.25 * sample_rate)
    t = np.arange(n + hit) / sample_rate
    drums = np.zeros(n + hit)  # every hit is drawn whole, then the clip is cut: a hit near the end is no shorter
    for k in range(int(n / sample_rate / (beat / 2)) + 1):  # eighth notes
        start = int(k * beat / 2 * sample_rate)
        if start >= n:
            break
        seg = slice(start, start + hit)
        tt = t[seg] - t[start]
        if k % 4 == 0:  # kick on beats 1 and 3
            drums[seg] += np.sin(2 * np.pi * (50.0 * tt + 100.0 * (1 - np.exp(-tt / 0.03)) * 0.03)) * np.exp(-tt / 0.08)
        if k % 4 == 2:  # snare on beats 2 and 4
            drums[seg] += 0.6 * bandpass(rng.standard_normal(tt.size), sample_rate, 300.0, 5000.0, 2) \
                * np.exp(-tt / 0.06)
        hat = rng.standard_normal(tt.size) * np.exp(-tt / 0.015)  # hi-hat on every eighth
        drums[seg] += 0.25 * (hat - np.convolve(hat, np.ones(8) / 8, "same"))  # crude high-pass
    drums, t = drums[:n], t[:n]
    pads = chords(n, sample_rate, rng, seconds_per_chord=2 * beat)
    bass = np.zeros(n)
    step = int(beat * sample_rate)
    for start in range(0, n, step):
        f = 55.0 * 2 ** (rng.choice([0, 3, 5, 7, 10]) / 12)
        tt = t[start:start + step] - t[start]
        bass[start:start + step] = np.sign(np.sin(2 * np.pi * f * tt)) * np.exp(-tt / 0.4)
    bass = bandpass(bass, sample_rate, 40.0, 400.0, 2)
    parts = [_unit(drums), pads, _unit(bass)]
    if vocals if vocals is not None else rng.random() < 0.5:
        parts.append(_sung_line(n, sample_rate, rng, beat))
    gains = 10 ** (rng.uniform(-6.0, 6.0, len(parts)) / 20)
    return _unit(sum(g * p for g, p in zip(gains, parts, strict=True)))


def _sung_line(n: int, sample_rate: int, rng: np.random.Generator, beat: float) -> np.ndarray:
    """A sung melody: one note (and vowel) per beat or two, vibrato, a glottal-pulse-like source."""
    pitch = np.zeros(n)
    vowel = np.zeros(n, np.int64)
    start = 0
    while start < n:
        length = int(beat * sample_rate * rng.choice([1, 2]))
        pitch[start:start + length] = 220.0 * 2 ** (rng.choice([0, 2, 4, 7, 9, 12]) / 12)
        vowel[start:start + length] = rng.integers(len(SUNG_VOWELS))
        start += length
    t = np.arange(n) / sample_rate
    f = pitch * (1 + 0.02 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(f) / sample_rate
    source = sum(np.sin(k * phase) / k ** 1.2 for k in range(1, 20))
    out = np.zeros(n)
    for v, formants in enumerate(SUNG_VOWELS):
        mask = vowel == v
        if mask.any():
            out += np.where(mask, _resonate(source, sample_rate, formants), 0.0)
    return _unit(out)


def room_impulse(sample_rate: int, rt60: float, rng: np.random.Generator) -> np.ndarray:
    """A diffuse-tail impulse response: the direct path, then (after 2 ms) exponentially decaying noise whose
    energy falls 60 dB in ``rt60`` seconds, as much energy in the tail as in the direct path (0 dB
    direct-to-reverberant ratio: a talker about a metre from the microphone in a small room)."""
    n = int(rt60 * 1.5 * sample_rate)
    t = np.arange(n) / sample_rate
    tail = rng.standard_normal(n) * np.exp(-6.908 * t / rt60)  # amplitude 10**(-60/20) = exp(-6.908) at rt60
    tail[: int(0.002 * sample_rate)] = 0.0
    h = tail / np.sqrt(np.sum(tail ** 2))
    h[0] = 1.0
    return h


def bandpass(x: np.ndarray, sample_rate: int, low: float, high: float, order: int = 6) -> np.ndarray:
    sos = butter(order, [low, high], btype="bandpass", fs=sample_rate, output="sos")
    return sosfilt(sos, x).astype(np.float32)


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float, sample_rate: int) -> np.ndarray:
    """``speech`` plus ``noise`` scaled so speech active RMS / noise RMS = ``snr_db``."""
    level = active_rms(speech, sample_rate) * 10 ** (-snr_db / 20)
    return (speech + _unit(noise) * level).astype(np.float32)


# ---- the measurement ----------------------------------------------------------------------------------------
Perturb = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]

PERTURBATIONS: dict[str, Perturb] = {
    "DC offset 0.2": lambda x, sr, rng: x + np.float32(0.2),
    "-26 dB": lambda x, sr, rng: x * np.float32(10 ** (-26 / 20)),
    "x4 gain, clipped": lambda x, sr, rng: np.clip(4 * x, -1, 1),
    "telephone 300-3400 Hz": lambda x, sr, rng: bandpass(x, sr, 300, 3400),
    "pink noise 10 dB SNR": lambda x, sr, rng: mix_at_snr(x, pink_noise(x.size, rng), 10, sr),
    "reverb RT60 0.5 s": lambda x, sr, rng: fftconvolve(x, room_impulse(sr, 0.5, rng))[: x.size].astype(np.float32),
    "50 Hz hum 10 dB below": lambda x, sr, rng: mix_at_snr(x, mains_hum(x.size, sr), 10, sr),
}

NON_SPEECH: dict[str, Callable[[int, int, np.random.Generator], np.ndarray]] = {
    "music (chords)": lambda n, sr, rng: chords(n, sr, rng),
    "pink noise": lambda n, sr, rng: pink_noise(n, rng),
    "50 Hz hum": lambda n, sr, rng: mains_hum(n, sr),
}


@dataclass(frozen=True)
class ClipRobustness:
    name: str
    r: dict[str, float]  # perturbation -> lip-opening r against the clean input's
    std_ratio: dict[str, float]
    non_speech: dict[str, float]  # sound -> mean opening relative to speech, above silence (NaN: not measurable)
    silence: float = 0.0  # mean opening on digital silence / mean opening on the speech


def score_robustness(name: str, audio: np.ndarray, sample_rate: int, animate: Animate,
                     seed: int = 0) -> ClipRobustness:
    """Run ``animate`` on the clean clip, every perturbation and every non-speech sound (see module doc)."""
    rng = np.random.default_rng(seed)
    x = np.asarray(audio, np.float32)
    clean = lip_opening(animate(x, sample_rate))
    r, ratio = {}, {}
    for label, perturb in PERTURBATIONS.items():
        o = lip_opening(animate(perturb(x, sample_rate, rng).astype(np.float32), sample_rate))
        n = min(o.size, clean.size)
        r[label] = pearson(o[:n], clean[:n])
        ratio[label] = float(o[:n].std() / max(clean[:n].std(), 1e-12))
    silence = float(lip_opening(animate(np.zeros_like(x), sample_rate)).mean())
    speech_open = float(clean.mean()) - silence
    level = active_rms(x, sample_rate)
    rel = {}
    # a ratio to how much more the mouth opens on speech than on silence: with (almost) no difference, e.g. an
    # undertrained voice, it would print six-digit factors; NaN says it cannot be measured on this clip
    measurable = speech_open > max(0.05 * float(clean.mean()), 1e-3)
    if not measurable:
        log.warning("%s: the mouth opens no more on the speech than on digital silence (%.4f vs %.4f IOD): "
                    "non-speech ratios cannot be measured", name, float(clean.mean()), silence)
    for label, make in NON_SPEECH.items():
        sound = make(x.size, sample_rate, rng) * np.float32(level)
        opened = float(lip_opening(animate(sound, sample_rate)).mean())
        rel[label] = (opened - silence) / speech_open if measurable else float("nan")
    return ClipRobustness(name, r, ratio, rel, silence / max(float(clean.mean()), 1e-9))
