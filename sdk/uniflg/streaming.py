"""Streaming helpers with no model in them."""

from __future__ import annotations

import math

import numpy as np

from uniflg.errors import InvalidInputError


class StreamResampler:
    """Polyphase resampling of a stream, equal to ``scipy.signal.resample_poly`` on the whole signal.

    Input is cut at multiples of ``down`` and each block is resampled with ``context`` input samples of real
    signal on each side (more than the filter's half length), keeping only the block's own outputs. Latency:
    ``context`` input samples (under 1 ms at common rates)."""

    def __init__(self, source_rate: int, target_rate: int) -> None:
        if source_rate <= 0 or target_rate <= 0:
            raise InvalidInputError(f"sample rates must be positive; got {source_rate} -> {target_rate}")
        g = math.gcd(source_rate, target_rate)
        self.up, self.down = target_rate // g, source_rate // g
        half = math.ceil(10 * max(self.up, self.down) / self.up) + 4  # resample_poly's filter: 10 zero crossings
        self.context = math.ceil(half / self.down) * self.down
        self._buf = np.zeros(0, np.float32)
        self._base = 0  # global index of _buf[0]
        self._done = 0  # input samples whose outputs were emitted (a multiple of down)

    def push(self, x: np.ndarray) -> np.ndarray:
        if self.up == self.down:
            return np.asarray(x, np.float32)
        self._buf = np.concatenate([self._buf, np.asarray(x, np.float32)])
        end = self._base + self._buf.size
        stop = (end - self.context) // self.down * self.down
        return self._emit(stop, final=False)

    def finish(self) -> np.ndarray:
        if self.up == self.down:
            return np.zeros(0, np.float32)
        return self._emit(self._base + self._buf.size, final=True)

    def _emit(self, stop: int, final: bool) -> np.ndarray:
        if stop <= self._done:
            return np.zeros(0, np.float32)
        start = max(0, self._done - self.context)
        hi = self._base + self._buf.size if final else stop + self.context
        seg = self._buf[start - self._base:hi - self._base]
        from scipy.signal import resample_poly  # only a stream at another rate needs scipy

        y = resample_poly(seg, self.up, self.down).astype(np.float32)
        offset = (self._done - start) * self.up // self.down
        n_out = (math.ceil(stop * self.up / self.down) if final else stop * self.up // self.down) \
            - self._done * self.up // self.down
        out = y[offset:offset + n_out]
        self._done = stop
        keep_from = max(0, self._done - self.context)
        self._buf = self._buf[keep_from - self._base:]
        self._base = keep_from
        return out
