"""A voice-activity gate in front of the speech-driven path, to measure whether it helps (``uniflg eval robustness
--vad webrtc|silero``; docs/evaluation.md has the figures and the decision).

A VAD labels short windows of the input (resampled to 16 kHz) speech or not: WebRTC's GMM detector
(``webrtcvad-wheels``; 30-ms windows, aggressiveness ``mode`` 0-3) or Silero's neural one (``silero-vad``, its
bundled ONNX model; 32-ms windows, speech from a probability of ``threshold`` on until it falls 0.15 below).
The gate keeps the input where a window is speech and for ``release_s`` after it, and silences it elsewhere,
with ``ramp_s`` linear ramps (opening at a speech window's start, closing after the release): on digital
silence the voice shows its silence face, the mouth closed. It runs after the voice's own input conditioning
(high-pass and level), as it would inside the SDK, so a quiet microphone is not gated away. Whole clips: a
window's decision applies from its own start (a stream would need one window of look-ahead for that).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from uniflg.audio import resample
from uniflg.conditioning import condition
from uniflg.errors import InvalidInputError

VAD_RATE = 16000
VADS = {"webrtc": 0.030, "silero": 0.032}  # name -> window length (s)


@dataclass(frozen=True)
class GateOptions:
    vad: str = "webrtc"
    mode: int = 3            # WebRTC aggressiveness 0 (keeps most) .. 3 (drops most non-speech)
    threshold: float = 0.5   # Silero: speech probability from which a window is speech (its default)
    release_s: float = 0.15  # kept open after the last speech window (word ends, short stops)
    ramp_s: float = 0.02     # linear fade in / out

    def validate(self) -> None:
        if self.vad not in VADS:
            raise InvalidInputError(f"--vad {self.vad!r}: choose from {', '.join(VADS)}")
        if self.mode not in (0, 1, 2, 3):
            raise InvalidInputError(f"--vad-mode must be 0, 1, 2 or 3; got {self.mode}")
        if not 0.0 < self.threshold < 1.0:
            raise InvalidInputError(f"the Silero threshold must be in (0, 1); got {self.threshold}")
        if not 0.0 <= self.release_s <= 2.0 or not 0.0 < self.ramp_s <= 0.2:
            raise InvalidInputError("release_s must be in [0, 2] s and ramp_s in (0, 0.2] s")

    @property
    def window_s(self) -> float:
        return VADS[self.vad]


def _pcm_windows(audio: np.ndarray, sample_rate: int, window_s: float) -> np.ndarray:
    """float32 [count, n]: the input at 16 kHz cut into windows of ``window_s`` (the last one zero-padded)."""
    x = np.clip(resample(np.asarray(audio, np.float32), sample_rate, VAD_RATE), -1.0, 1.0)
    n = int(round(window_s * VAD_RATE))
    count = -(-x.size // n)
    return np.pad(x, (0, count * n - x.size)).reshape(count, n)


def speech_windows(audio: np.ndarray, sample_rate: int, options: GateOptions | None = None) -> np.ndarray:
    """bool [ceil(seconds / window_s)]: the VAD's speech decision per window."""
    options = options or GateOptions()
    windows = _pcm_windows(audio, sample_rate, options.window_s)
    if options.vad == "webrtc":
        import webrtcvad

        vad = webrtcvad.Vad(options.mode)
        pcm = (windows * 32767).astype("<i2")
        return np.array([vad.is_speech(w.tobytes(), VAD_RATE) for w in pcm], bool)
    import torch
    from silero_vad import load_silero_vad

    model = load_silero_vad(onnx=True)  # its state runs on from window to window, as in a stream
    with torch.no_grad():
        prob = [float(model(torch.from_numpy(w), VAD_RATE)) for w in windows]
    # Silero's own hysteresis (get_speech_timestamps): speech from `threshold` on, until it falls below 0.15 less
    out, on = np.zeros(len(prob), bool), False
    for i, p in enumerate(prob):
        on = p >= options.threshold or (on and p >= options.threshold - 0.15)
        out[i] = on
    return out


def gate_envelope(windows: np.ndarray, n: int, sample_rate: int, options: GateOptions) -> np.ndarray:
    """float32 [n] in [0, 1]: 1 over speech windows and ``release_s`` after each, ramped (see module doc)."""
    per = options.window_s * sample_rate
    hold = int(np.ceil(options.release_s / options.window_s))
    open_ = windows.copy()
    for k in range(1, min(hold, windows.size - 1) + 1):  # release: open while one of the last `hold` was speech
        open_[k:] |= windows[:-k]
    idx = np.minimum((np.arange(n) / per).astype(np.int64), open_.size - 1)
    samples = open_[idx].astype(np.float32)
    ramp = max(1, int(options.ramp_s * sample_rate))
    # a causal moving average: opening and closing take `ramp` samples each
    smoothed = np.convolve(samples, np.full(ramp, 1.0 / ramp, np.float32))[:n]
    return np.clip(smoothed, 0.0, 1.0).astype(np.float32)


def gate(audio: np.ndarray, sample_rate: int, options: GateOptions | None = None) -> np.ndarray:
    """``audio`` with its non-speech silenced (module doc); same length, float32."""
    options = options or GateOptions()
    x = np.asarray(audio, np.float32)
    if x.size == 0:
        return x
    env = gate_envelope(speech_windows(x, sample_rate, options), x.size, sample_rate, options)
    return x * env


class GatedVoice:
    """A voice whose ``animate_array`` sits behind the gate: resample to the voice's rate, the voice's input
    conditioning, the gate, then the voice with its own conditioning switched off (it has been applied). Other
    attributes are the voice's."""

    def __init__(self, voice: Any, options: GateOptions) -> None:
        options.validate()
        self.voice, self.options = voice, options

    def __getattr__(self, name: str) -> Any:
        return getattr(self.voice, name)

    def animate_array(self, audio: np.ndarray, sample_rate: int, options: Any = None) -> np.ndarray:
        """As :meth:`uniflg.voice.Voice.animate_array` (``options``: its SynthesisOptions), behind the gate."""
        voice, rate = self.voice, self.voice.sample_rate
        x = condition(resample(np.asarray(audio, np.float32), sample_rate, rate), rate, voice.conditioning)
        saved = voice.conditioning
        voice.conditioning = replace(saved, enabled=False)
        try:
            return np.asarray(voice.animate_array(gate(x, rate, self.options), rate, options))
        finally:
            voice.conditioning = saved

    @property
    def label(self) -> str:
        o = self.options
        return f"{o.vad} gate" + (f" (mode {o.mode})" if o.vad == "webrtc" else "")
