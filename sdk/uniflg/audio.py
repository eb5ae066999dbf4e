"""Audio features shared by training and the runtime (NumPy; the torch twin is uniflg.model.features).

Spectrogram convention (as VITS): reflect-pad (n_fft - hop) / 2 on both sides, no centring, Hann
window, magnitude sqrt(re^2 + im^2 + 1e-6). A clip of S samples gives S // hop frames, so T frames of
latent decode to exactly T * hop samples.
"""

from __future__ import annotations

import numpy as np

from uniflg.config import AudioConfig
from uniflg.errors import InvalidInputError
from uniflg.limits import MAX_CHANNELS


def mel_filterbank(cfg: AudioConfig) -> np.ndarray:
    """Slaney-style mel filterbank (area-normalized triangles), shape (n_mels, n_fft // 2 + 1)."""
    f_max = cfg.f_max if cfg.f_max is not None else cfg.sample_rate / 2

    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        f = np.asarray(f, dtype=np.float64)
        lin = f / (200.0 / 3)
        log_region = 27.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(f >= 1000.0, log_region, lin)

    def mel_to_hz(m: np.ndarray) -> np.ndarray:
        lin = m * (200.0 / 3)
        log_region = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 27.0))
        return np.where(m >= 27.0, log_region, lin)

    fft_freqs = np.linspace(0, cfg.sample_rate / 2, cfg.n_fft // 2 + 1)
    mel_pts = mel_to_hz(np.linspace(hz_to_mel(np.array(cfg.f_min)), hz_to_mel(np.array(f_max)), cfg.n_mels + 2))
    fdiff = np.diff(mel_pts)
    ramps = mel_pts[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_pts[2:] - mel_pts[:-2]))[:, None]
    return weights.astype(np.float32)


def linear_spectrogram(wav: np.ndarray, cfg: AudioConfig) -> np.ndarray:
    """Mono float waveform (S,) -> magnitude spectrogram (n_fft // 2 + 1, S // hop) float32."""
    wav = np.asarray(wav, dtype=np.float32)
    pad = (cfg.n_fft - cfg.hop_length) // 2
    if wav.size <= pad:
        raise InvalidInputError(f"audio too short for a spectrogram: {wav.size} samples, need > {pad}")
    x = np.pad(wav, (pad, pad), mode="reflect")
    n_frames = 1 + (x.size - cfg.n_fft) // cfg.hop_length
    idx = np.arange(cfg.n_fft)[None, :] + cfg.hop_length * np.arange(n_frames)[:, None]
    window = np.hanning(cfg.win_length + 1)[:-1].astype(np.float32)  # periodic Hann
    if cfg.win_length < cfg.n_fft:
        left = (cfg.n_fft - cfg.win_length) // 2
        window = np.pad(window, (left, cfg.n_fft - cfg.win_length - left))
    spec = np.fft.rfft(x[idx] * window, axis=1)
    return np.sqrt(spec.real**2 + spec.imag**2 + 1e-6).T.astype(np.float32)


def log_mel(spec: np.ndarray, cfg: AudioConfig, basis: np.ndarray | None = None) -> np.ndarray:
    """Magnitude spectrogram (F, T) -> log mel (n_mels, T), floor 1e-5."""
    basis = mel_filterbank(cfg) if basis is None else basis
    return np.log(np.maximum(basis @ spec, 1e-5)).astype(np.float32)


# Float audio is nominally in [-1, 1]. Louder input is levelled by the input conditioning, up to this peak: 2**31 is
# the full scale of int32 PCM, the largest that arrives by mistake as unscaled floats; float32 arithmetic on
# power spectra overflows (NaN landmarks) from about 1e19.
MAX_FLOAT_PEAK = 2.0**31


def to_mono_float(audio: np.ndarray) -> np.ndarray:
    """Audio ``(S,)`` or ``(S, C)`` -> float32 mono ``(S,)``: channels averaged; integer PCM scaled to [-1, 1]
    (int16 / int32 / int8 by their full scale, uint8 around 128); float kept as it is. InvalidInputError (one line)
    for NaN/inf, a peak above :data:`MAX_FLOAT_PEAK`, another shape or a non-audio dtype (text, bytes, complex, int64:
    NumPy's default integer has no PCM full scale, and read as one it was silence)."""
    a = np.asarray(audio)
    if a.dtype.kind in "iu":
        if a.dtype.kind == "u" and a.dtype.itemsize != 1:
            raise InvalidInputError(f"audio of dtype {a.dtype} is not PCM; give float, int16, int32, int8 or uint8")
        if a.dtype.itemsize == 8:  # NumPy's default integer (np.array of Python ints): no PCM has that full scale
            raise InvalidInputError(f"audio of dtype {a.dtype} has no PCM full scale; give float, or the samples' own "
                                    "PCM type, e.g. audio.astype(np.int16) for 16-bit values")
        full = float(2 ** (8 * a.dtype.itemsize - 1))
        a = (a.astype(np.float64) - (full if a.dtype.kind == "u" else 0.0)) / full
    elif a.dtype.kind != "f":
        raise InvalidInputError(f"audio must be numbers (float, or int16/int32 PCM); got an array of dtype {a.dtype}")
    if a.ndim == 2:
        if a.shape[1] == 0:
            raise InvalidInputError(f"audio has no channels: shape {a.shape}")
        if a.shape[1] > MAX_CHANNELS and a.shape[0] <= MAX_CHANNELS:  # (2, 48000); a short block (1, 2) is not
            raise InvalidInputError(f"audio of shape {a.shape} looks channels-first; give (samples, channels), "
                                    "e.g. audio.T")
        if a.shape[1] > MAX_CHANNELS:
            raise InvalidInputError(f"audio has {a.shape[1]} channels; at most {MAX_CHANNELS} are accepted")
        a = a.mean(axis=1)
    if a.ndim != 1:
        raise InvalidInputError(f"audio must be (samples,) or (samples, channels); got shape {a.shape}")
    a = a.astype(np.float32, copy=False)
    if not np.all(np.isfinite(a)):
        raise InvalidInputError("audio contains NaN or infinite samples")
    peak = float(np.abs(a).max()) if a.size else 0.0
    if peak > MAX_FLOAT_PEAK:
        raise InvalidInputError(f"audio peaks at {peak:.3g}; float audio is expected in [-1, 1] (louder input is "
                                f"levelled up to {MAX_FLOAT_PEAK:.3g}); int16 and int32 PCM are scaled")
    return a


def resample(audio: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """Polyphase resampling (exact rational ratio)."""
    if source_rate <= 0 or target_rate <= 0:
        raise InvalidInputError(f"sample rates must be positive; got {source_rate} -> {target_rate}")
    if source_rate == target_rate:
        return np.asarray(audio, dtype=np.float32)
    from scipy.signal import resample_poly  # imported here: half of a cold `uniflg speak` otherwise

    g = np.gcd(source_rate, target_rate)
    return resample_poly(audio, target_rate // g, source_rate // g).astype(np.float32)


# The one float <-> PCM16 codec (WAV files, the training cache, the gRPC wire): encoding clips to [-1, 1]
# and rounds x * 32767 to the nearest integer; decoding divides by 32768, as to_mono_float does.
PCM16_SCALE = 32767.0


def pcm16(audio: np.ndarray) -> np.ndarray:
    """float samples (any shape) -> int16, clipped to [-1, 1] and rounded to the nearest step."""
    return np.rint(np.clip(np.asarray(audio, np.float32), -1.0, 1.0) * PCM16_SCALE).astype(np.int16)


def pcm16_bytes(audio: np.ndarray) -> bytes:
    """float samples -> PCM16 little-endian bytes (see :func:`pcm16`)."""
    return pcm16(audio).astype("<i2").tobytes()


def float_from_pcm16_bytes(data: bytes) -> np.ndarray:
    """PCM16 little-endian bytes -> float32 samples in [-1, 1); an odd byte count raises InvalidInputError."""
    if len(data) % 2:
        raise InvalidInputError(f"PCM16 audio needs an even number of bytes, got {len(data)}")
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
