"""Input conditioning of speech before the speech-to-latent graph (speech-driven animation).

A microphone, a file and a gRPC stream all pass through :class:`InputConditioner` before the model sees
them, so a DC offset, rumble or a quiet/hot input level changes the face as little as possible:

1. **High-pass** (DC removal): a 4th-order Butterworth high-pass at ``highpass_hz`` run as second-order
   sections with carried state (``scipy.signal.sosfilt`` with ``zi``), so it is causal and the stream gives
   the same samples as the whole clip.
2. **Level normalization suited to streaming** (a causal automatic gain): the input is cut into fixed
   ``block_ms`` blocks; the active speech level is the mean power of the blocks that pass a
   gate (above ``gate_dbfs`` and within ``relative_gate_db`` of the current estimate): a running mean at
   first, then an exponential forgetting of ``memory_seconds``. The gain
   ``target_dbfs - level`` (clamped to ``[min_gain_db, max_gain_db]``) is applied with a linear ramp inside
   each block; silence and noise below the gate leave the gain unchanged. The gain therefore depends only on
   past and present blocks, never on how the input was chunked.

3. **A noise floor for empty input** (comfort noise, as telephony fills silence): a block whose mean power after
   the high-pass is below ``empty_dbfs`` (-80 dBFS: digital silence, dither, a muted or unplugged microphone;
   real rooms and our own voices' quiet tails sit above it) is replaced by seeded white noise at
   ``noise_floor_dbfs``. The speech path learned pauses as a quiet room under the speech, never as empty input:
   on digital silence the default voice's mouth hung open at 0.12x of its opening for speech; on the floor it is
   shut (0.03x). Blocks above ``empty_dbfs`` are conditioned as before, so the lips on real recordings do not
   change (22 clips: lip r +0.000 +- 0.001; docs/evaluation.md). The noise is drawn for every block from a fixed
   seed, so a stream gives the same samples as the whole clip. Which paths get the floor is the voice's choice
   (:meth:`uniflg.voice.Voice.input_conditioner`: the offline path; the live paths read empty input as silence).

Whole-clip and streamed results are equal (up to float rounding), at the price of holding back less than one
block (``block_ms``) of audio: :attr:`InputConditioner.latency_samples`.

The default target, -12 dBFS, was chosen on the current default voice: its training speech sits at -28 dBFS by
this estimator, but that voice opens the mouth too little, and on the real-people development set
(``uniflg eval real-av``) its lip-opening r is best with the input at -12 (median of 3 clips 0.23; at -28: 0.08;
unconditioned 0.27, where those clips are already at about -13 dBFS), while the DC, quiet and clipped cases are
fixed at any target. A voice trained with conditioning in the loop sets its own target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from uniflg.errors import InvalidInputError


@dataclass(frozen=True)
class ConditioningOptions:
    """How speech is conditioned before the speech-to-latent path (levels in dB re full scale, 1.0)."""

    enabled: bool = True
    highpass_hz: float = 60.0
    highpass_order: int = 4
    target_dbfs: float = -12.0
    block_ms: float = 10.0
    gate_dbfs: float = -70.0
    relative_gate_db: float = 20.0
    memory_seconds: float = 5.0
    min_gain_db: float = -20.0
    max_gain_db: float = 40.0
    empty_dbfs: float = -80.0  # a block (after the high-pass) below this is empty input
    noise_floor_dbfs: float | None = -40.0  # what empty blocks become; None leaves them
    noise_seed: int = 0

    def validate(self, sample_rate: int) -> None:
        """InvalidInputError (one line) for a field of the wrong type or out of its range."""
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "enabled":
                if not isinstance(value, bool):
                    raise InvalidInputError(f"enabled must be True or False; got {value!r}")
            elif value is None and f.name == "noise_floor_dbfs":
                continue
            elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise InvalidInputError(f"{f.name} must be a finite number; got {value!r}")
        if not -60.0 <= self.target_dbfs <= 0.0:
            raise InvalidInputError(f"target_dbfs must be in [-60, 0] (0 is full scale); got {self.target_dbfs}")
        if not (isinstance(self.noise_seed, int) and not isinstance(self.noise_seed, bool) and self.noise_seed >= 0):
            raise InvalidInputError(f"noise_seed must be an integer >= 0; got {self.noise_seed!r}")
        if not -200.0 <= self.empty_dbfs <= self.gate_dbfs:
            raise InvalidInputError(f"empty_dbfs must be in [-200, gate_dbfs = {self.gate_dbfs:g}]; got "
                                    f"{self.empty_dbfs}")
        if not 0 < self.highpass_hz < sample_rate / 4:
            raise InvalidInputError(f"highpass_hz must be in (0, {sample_rate / 4:g}); got {self.highpass_hz}")
        if self.highpass_order not in (1, 2, 3, 4, 5, 6):
            raise InvalidInputError(f"highpass_order must be 1..6; got {self.highpass_order}")
        if not 1.0 <= self.block_ms <= 100.0:
            raise InvalidInputError(f"block_ms must be in [1, 100]; got {self.block_ms}")
        if self.min_gain_db > self.max_gain_db:
            raise InvalidInputError(f"min_gain_db {self.min_gain_db} exceeds max_gain_db {self.max_gain_db}")
        if self.noise_floor_dbfs is not None and not -120.0 <= self.noise_floor_dbfs <= self.target_dbfs - 6.0:
            raise InvalidInputError(f"noise_floor_dbfs must be None or in [-120, target_dbfs - 6 = "
                                    f"{self.target_dbfs - 6.0:g}]; got {self.noise_floor_dbfs}")
        if self.memory_seconds <= 0:
            raise InvalidInputError(f"memory_seconds must be positive; got {self.memory_seconds}")


def _db(power: float) -> float:
    return 10.0 * float(np.log10(max(power, 1e-20)))


class InputConditioner:
    """Streaming high-pass + automatic gain + noise floor for mono float32 audio at ``sample_rate`` (module doc).

    ``push(x)`` returns the conditioned samples of every complete block so far; ``finish()`` returns the rest.
    Concatenated outputs have exactly as many samples as the input.
    """

    def __init__(self, sample_rate: int, options: ConditioningOptions | None = None) -> None:
        self.options = options = options or ConditioningOptions()
        if not isinstance(options, ConditioningOptions):  # e.g. voice.conditioning = "off"
            raise InvalidInputError(f"conditioning must be a uniflg.conditioning.ConditioningOptions; got "
                                    f"{type(options).__name__}")
        options.validate(sample_rate)
        self.sample_rate = sample_rate
        self.block = max(1, round(sample_rate * options.block_ms / 1000.0))
        self._sos: np.ndarray | None = None  # built on first audio: scipy.signal is a ~1 s import `speak` never needs
        self._zi: np.ndarray | None = None  # set from the first sample (no step transient from a DC offset)
        self._pending = np.zeros(0, np.float32)
        self._power = 0.0  # active speech level: mean power of the blocks that passed the gates
        self._level: float | None = None  # the same in dB
        self._active = 0
        self._gain_db = 0.0
        blocks_per_second = sample_rate / self.block
        self._forget = 1.0 / (options.memory_seconds * blocks_per_second)
        self._floor = 0.0 if options.noise_floor_dbfs is None else 10.0 ** (options.noise_floor_dbfs / 20.0)
        self._noise = np.random.default_rng(options.noise_seed)
        self._empty = 10.0 ** (options.empty_dbfs / 10.0)

    @property
    def latency_samples(self) -> int:
        """Most samples held back before they are returned (one block minus one)."""
        return self.block - 1 if self.options.enabled else 0

    @property
    def gain_db(self) -> float:
        """Gain applied at the end of the last returned block (dB)."""
        return self._gain_db

    def push(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float32).reshape(-1)
        if not self.options.enabled:
            return x
        buf = np.concatenate([self._pending, x]) if self._pending.size else x
        n = buf.size // self.block * self.block
        self._pending = buf[n:].copy()
        return self._process(buf[:n])

    def finish(self) -> np.ndarray:
        if not self.options.enabled:
            return np.zeros(0, np.float32)
        rest, self._pending = self._pending, np.zeros(0, np.float32)
        return self._process(rest)

    def _process(self, x: np.ndarray) -> np.ndarray:
        if x.size == 0:
            return np.zeros(0, np.float32)
        from scipy.signal import butter, sosfilt, sosfilt_zi

        if self._sos is None or self._zi is None:  # as if the input had sat at its first value forever: a DC
            opts = self.options                     # offset leaves no step transient
            self._sos = butter(opts.highpass_order, opts.highpass_hz, btype="highpass", fs=self.sample_rate,
                               output="sos")
            self._zi = sosfilt_zi(self._sos) * float(x[0])
        y, self._zi = sosfilt(self._sos, x.astype(np.float64), zi=self._zi)
        out = np.empty(x.size, np.float32)
        for start in range(0, x.size, self.block):
            seg = y[start:start + self.block]
            before = self._gain_db
            power = float(np.mean(seg * seg))
            self._update_level(power)
            after = self._gain_db
            ramp = before + (after - before) * (np.arange(1, seg.size + 1) / seg.size)
            out[start:start + seg.size] = seg * np.power(10.0, ramp / 20.0)
            if self._floor:  # drawn for every block, in order, so chunking cannot change the samples
                noise = self._noise.standard_normal(seg.size)
                if power < self._empty:
                    out[start:start + seg.size] = self._floor * noise
        return out

    def _update_level(self, power: float) -> None:
        o = self.options
        db = _db(power)
        if db < o.gate_dbfs:
            return
        if self._level is not None and db < self._level - o.relative_gate_db:
            return
        self._active += 1
        # a running mean over the first blocks, then exponential forgetting; in power, so that quiet blocks near
        # the gate (which a quiet input loses first) hardly move it
        rate = max(1.0 / self._active, self._forget)
        self._power = power if self._active == 1 else self._power + rate * (power - self._power)
        self._level = _db(self._power)
        self._gain_db = float(np.clip(o.target_dbfs - self._level, o.min_gain_db, o.max_gain_db))


def condition(audio: np.ndarray, sample_rate: int, options: ConditioningOptions | None = None) -> np.ndarray:
    """Whole clip -> conditioned clip (float32, same length); equals streaming it through
    :class:`InputConditioner`."""
    c = InputConditioner(sample_rate, options)
    return np.concatenate([c.push(audio), c.finish()])
