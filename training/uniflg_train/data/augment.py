"""On-the-fly augmentation of the speech that enters the speech-to-latent path (microphones, rooms, noise).

:class:`SpeechAugmenter` turns one clean waveform into a degraded one of the same length, drawing every choice
from the seed it is given, so an item's augmentation is reproducible (``seed = hash(run seed, epoch, item)``).
Each transform runs with its own probability, in the order a signal meets them: the talker (a vocal-tract-length
warp: formants and pitch scaled together by 2**(semitones/12), timing unchanged), room (reverb), then additive
sound (coloured noise, babble from other utterances, music-like chords or a band with drums, bass and
an optional sung line, mains hum), the microphone chain
(gain, DC offset, clipping) and the channel (telephone band, 8/16 kHz resampling).

Speed perturbation is not done here: it would move the speech against its frame-aligned targets; the corpus
varies speed instead (HTS tempo per emotion, Kokoro speeds 0.85-1.2, espeak-ng rates 140-190 wpm).

Libraries: ``audiomentations`` (gain, coloured noise, clipping, the warp: its PitchShift, a resampler plus
Signalsmith time-stretch that keeps the length), ``pyroomacoustics`` (shoebox room impulse
responses by the image-source method, absorption from the inverse Sabine formula), ``soxr`` (resampling),
``scipy`` (the telephone band-pass). audiomentations draws from Python's ``random`` and ``numpy.random``: the
augmenter seeds both from the item's seed before applying it. Targets (landmarks, the reconstruction target of
stage 1) stay clean; only the speech path's input is augmented.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from uniflg_train.data.dataset import Batch
from uniflg_train.evaluation.robustness import active_rms, band, bandpass, chords, mains_hum, mix_at_snr

# Additive noise kinds: coloured noise, babble, chords ("music"), and "band" (drums, bass, pads, maybe a sung
# line: evaluation.robustness.band). The default leaves "band" out: the shipped recipe's stage 1 ran without it.
NOISE_KINDS = ("color", "babble", "music", "band")


@dataclass(frozen=True)
class AugmentOptions:
    """Probabilities (p_*) and ranges of each transform; dB re full scale or SNR against active speech."""

    p_warp: float = 0.2
    warp_semitones: tuple[float, float] = (-2.0, 2.0)  # +-2 semitones: formant scale 0.89-1.12 (VTLP-like)
    p_reverb: float = 0.3
    rt60: tuple[float, float] = (0.1, 0.8)
    p_noise: float = 0.4
    snr_db: tuple[float, float] = (0.0, 30.0)
    noise_kinds: tuple[str, ...] = ("color", "babble", "music")
    p_hum: float = 0.1
    hum_snr_db: tuple[float, float] = (0.0, 30.0)
    p_gain: float = 0.8
    gain_db: tuple[float, float] = (-30.0, 6.0)
    p_dc: float = 0.1
    dc: tuple[float, float] = (-0.3, 0.3)
    p_clip: float = 0.1
    p_telephone: float = 0.1
    p_resample: float = 0.15
    resample_rates: tuple[int, ...] = (8000, 16000)

    def __post_init__(self) -> None:
        for name in ("p_warp", "p_reverb", "p_noise", "p_hum", "p_gain", "p_dc", "p_clip", "p_telephone", "p_resample"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]; got {getattr(self, name)}")
        if not 0.05 <= self.rt60[0] <= self.rt60[1] <= 1.5:
            raise ValueError(f"rt60 must satisfy 0.05 <= low <= high <= 1.5 s; got {self.rt60}")
        unknown = set(self.noise_kinds) - set(NOISE_KINDS)
        if unknown or not self.noise_kinds:
            raise ValueError(f"noise_kinds must be a non-empty subset of {', '.join(NOISE_KINDS)}; "
                             f"got {', '.join(self.noise_kinds) or 'none'}")


def _shoebox_rir(sample_rate: int, rt60: float, dims: np.ndarray, src: np.ndarray, mic: np.ndarray) -> np.ndarray:
    import pyroomacoustics as pra

    absorption, max_order = pra.inverse_sabine(rt60, dims)
    room = pra.ShoeBox(dims, fs=sample_rate, materials=pra.Material(absorption), max_order=min(max_order, 25))
    room.add_source(list(src))
    room.add_microphone(list(mic))
    room.compute_rir()
    return np.asarray(room.rir[0][0], np.float64)


def room_impulse_response(sample_rate: int, rt60: float, rng: np.random.Generator) -> np.ndarray:
    """A shoebox room's impulse response (pyroomacoustics image-source method, wall absorption from the inverse
    Sabine formula) whose reverberation time, measured on it (T20 of the Schroeder curve), is about ``rt60`` s.
    Sabine overestimates short times in absorbent rooms, so the request is corrected once by the measured
    ratio. Source and microphone at random places at least 0.5 m from the walls; unit peak."""
    import pyroomacoustics as pra

    scale = 0.8 + 1.6 * rt60  # small rooms for short reverberation
    dims = np.array([3.0 + rng.random(), 2.5 + rng.random(), 2.4 + 0.4 * rng.random()]) * np.array([scale, scale, 1])
    src, mic = 0.5 + rng.random(3) * (dims - 1.0), 0.5 + rng.random(3) * (dims - 1.0)
    h = _shoebox_rir(sample_rate, rt60, dims, src, mic)
    measured = float(pra.experimental.measure_rt60(h, fs=sample_rate, decay_db=20))
    if measured > 0 and abs(measured / rt60 - 1) > 0.1:
        # the corrected time may need more absorption than a wall can have: then keep the first
        with contextlib.suppress(ValueError):
            h = _shoebox_rir(sample_rate, rt60 * rt60 / measured, dims, src, mic)
    return h / np.abs(h).max()


class SpeechAugmenter:
    """``augmenter(wav, seed) -> wav'`` (float32, same length; see the module doc). ``babble`` is a pool of
    other utterances (float32 at ``sample_rate``) for babble noise; without it babble falls back to coloured noise."""

    def __init__(self, sample_rate: int, options: AugmentOptions | None = None,
                 babble: Sequence[np.ndarray] = ()) -> None:
        import audiomentations as am

        self.sample_rate = sample_rate
        self.options = o = options or AugmentOptions()
        self.babble = list(babble)
        self._gain = am.Gain(min_gain_db=o.gain_db[0], max_gain_db=o.gain_db[1], p=1.0)
        self._color = am.AddColorNoise(min_snr_db=o.snr_db[0], max_snr_db=o.snr_db[1], p=1.0)
        self._clip = am.ClippingDistortion(min_percentile_threshold=1, max_percentile_threshold=20, p=1.0)
        self._warp = am.PitchShift(min_semitones=o.warp_semitones[0], max_semitones=o.warp_semitones[1], p=1.0)

    def __call__(self, wav: np.ndarray, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        random.seed(seed)  # audiomentations' own draws
        np.random.seed(seed % 2**32)
        o, sr = self.options, self.sample_rate
        x = np.asarray(wav, np.float32).copy()
        n = x.size
        if n == 0 or active_rms(x, sr) == 0.0:
            return x
        if rng.random() < o.p_warp:
            x = np.asarray(self._warp(x, sr), np.float32)[:n]
        if rng.random() < o.p_reverb:
            h = room_impulse_response(sr, float(rng.uniform(*o.rt60)), rng)
            from scipy.signal import fftconvolve

            delay = int(np.argmax(np.abs(h)))  # keep the speech where its labels are: drop the direct-path delay
            x = fftconvolve(x, h)[delay:delay + n].astype(np.float32)
        if rng.random() < o.p_noise:
            x = self._add_noise(x, rng)
        if rng.random() < o.p_hum:
            hum = mains_hum(n, sr, 50.0 if rng.random() < 0.5 else 60.0)
            x = mix_at_snr(x, hum, float(rng.uniform(*o.hum_snr_db)), sr)
        if rng.random() < o.p_gain:
            x = self._gain(x, sr)
        if rng.random() < o.p_dc:
            x = x + np.float32(rng.uniform(*o.dc))
        if rng.random() < o.p_clip:
            x = self._clip(x, sr)
        if rng.random() < o.p_telephone:
            x = bandpass(x, sr, 300.0, 3400.0)
        if rng.random() < o.p_resample:
            x = self._resample_through(x, int(rng.choice(o.resample_rates)))
        return np.asarray(x, np.float32)[:n]

    def _add_noise(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        o, sr, n = self.options, self.sample_rate, x.size
        kind = str(rng.choice(o.noise_kinds))
        snr = float(rng.uniform(*o.snr_db))  # drawn for every kind, so later draws do not depend on the kind
        if kind == "babble" and self.babble:
            mix = np.zeros(n, np.float32)
            for _ in range(int(rng.integers(2, 5))):  # 2-4 talkers
                other = self.babble[int(rng.integers(len(self.babble)))]
                start = int(rng.integers(max(1, other.size - n + 1)))
                piece = other[start:start + n]
                mix[: piece.size] += piece / max(active_rms(piece, sr), 1e-6)
            return mix_at_snr(x, mix, snr, sr)
        if kind == "music":
            return mix_at_snr(x, chords(n, sr, rng), snr, sr)
        if kind == "band":
            return mix_at_snr(x, band(n, sr, rng), snr, sr)
        return self._color(x, sr)  # its SNR is drawn from o.snr_db by audiomentations (seeded above)

    def _resample_through(self, x: np.ndarray, rate: int) -> np.ndarray:
        import soxr

        if rate >= self.sample_rate:
            return x
        y = soxr.resample(soxr.resample(x, self.sample_rate, rate), rate, self.sample_rate)
        return np.pad(y, (0, max(0, x.size - y.size)))[: x.size].astype(np.float32)


def augment_batch(batch: Batch, augmenter: SpeechAugmenter, seed: int) -> Batch:
    """A copy of ``batch`` whose ``speech_wav`` (B, S) is each item's waveform (its true length; padding stays
    zero) through ``augmenter``, seeded by ``seed`` and the item's place in the batch."""
    import torch

    wav = batch.wav[:, 0].detach().cpu().numpy()
    out = np.zeros_like(wav)
    for b, n in enumerate(batch.wav_lengths.tolist()):
        out[b, :n] = augmenter(wav[b, :n], seed * 1009 + b)
    return dataclasses.replace(batch, speech_wav=torch.from_numpy(out).to(batch.wav.device))
