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


class TailBuffer:
    """The recent end of an unbounded stream, indexed by global position along the last axis.

    :meth:`trim` forgets what is no longer needed, so a stream of any length holds a bounded window; appends
    are amortized O(appended): the live part moves to the front of the array only when the array's end is
    reached (a ring buffer that never wraps, so every window is one contiguous slice)."""

    def __init__(self, rows: tuple[int, ...] | None = (), capacity: int = 4096, dtype: type = np.float32) -> None:
        """``rows``: the shape of one item (None: taken from the first append)."""
        self._capacity, self._dtype = max(1, capacity), dtype
        self._data: np.ndarray | None = np.zeros((*rows, self._capacity), dtype) if rows is not None else None
        self._start = 0  # global index of the oldest kept item
        self._off = 0  # its position in _data
        self._n = 0  # kept items

    @property
    def start(self) -> int:
        """Global index of the oldest item kept."""
        return self._start

    @property
    def end(self) -> int:
        """Global index one past the newest item (the number of items ever appended)."""
        return self._start + self._n

    @property
    def capacity(self) -> int:
        return int(self._data.shape[-1]) if self._data is not None else 0

    def append(self, x: np.ndarray) -> None:
        if self._data is None:
            self._data = np.zeros((*x.shape[:-1], max(self._capacity, x.shape[-1])), self._dtype)
        m = x.shape[-1]
        if self._off + self._n + m > self.capacity:
            cap = self.capacity if 2 * (self._n + m) <= self.capacity else 2 * (self._n + m)
            data = self._data if cap == self.capacity else np.zeros((*self._data.shape[:-1], cap), self._data.dtype)
            data[..., : self._n] = self._data[..., self._off:self._off + self._n].copy()
            self._data, self._off = data, 0
        self._data[..., self._off + self._n:self._off + self._n + m] = x
        self._n += m

    def get(self, a: int, b: int) -> np.ndarray:
        """Items [a, b) as a view (copy it to keep it past the next append)."""
        if a < self._start or b > self.end or a > b or self._data is None:
            raise IndexError(f"[{a}, {b}) is outside the kept window [{self._start}, {self.end})")
        return self._data[..., self._off + a - self._start:self._off + b - self._start]

    def trim(self, before: int) -> None:
        """Forget the items before global index ``before``."""
        drop = min(max(0, before - self._start), self._n)
        self._start, self._off, self._n = self._start + drop, self._off + drop, self._n - drop
