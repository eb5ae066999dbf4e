"""Local audio playback through sounddevice (PortAudio). Optional: ``pip install 'uniflg[audio]'``.

Each stream gets its own output stream fed from a buffer by PortAudio's callback; :meth:`Player.start`
returns the monotonic time at which the first sample will be heard (now + the output latency), which
anchors the frame pacer, so frames follow the playback clock.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def portaudio_available() -> tuple[bool, str]:
    """(True, "") when sounddevice imports and lists an output device; else (False, the reason and what to
    install)."""
    try:
        import sounddevice as sd
    except ImportError:
        return False, "playback needs the 'audio' extra: pip install 'uniflg[audio]'"
    except OSError as exc:  # the package is there but the PortAudio library is not
        return False, f"playback needs the PortAudio library ({exc}): on Debian/Ubuntu apt install libportaudio2"
    try:
        sd.query_devices(kind="output")
    except Exception as exc:  # PortAudio raises its own error type when no output device exists
        return False, f"no audio output device: {exc}"
    return True, ""


class Player:
    def __init__(self, sample_rate: int, device: int | str | None = None) -> None:
        import sounddevice as sd

        self.sample_rate = sample_rate
        self._buffer: collections.deque[np.ndarray] = collections.deque()
        self._lock = threading.Lock()
        self._played = 0
        self._written = 0
        self._stream = sd.OutputStream(samplerate=sample_rate, channels=1, dtype="float32", device=device,
                                       callback=self._callback)
        self._started_at: float | None = None

    def _callback(self, out: np.ndarray, frames: int, _time: Any, _status: Any) -> None:
        filled = 0
        with self._lock:
            while filled < frames and self._buffer:
                head = self._buffer[0]
                take = min(frames - filled, len(head))
                out[filled:filled + take, 0] = head[:take]
                if take == len(head):
                    self._buffer.popleft()
                else:
                    self._buffer[0] = head[take:]
                filled += take
            self._played += filled
        out[filled:, 0] = 0.0

    def start(self) -> float:
        if self._started_at is None:
            self._stream.start()
            self._started_at = time.monotonic() + float(self._stream.latency)
        return self._started_at

    def write(self, audio: np.ndarray) -> None:
        chunk = np.asarray(audio, np.float32).reshape(-1)
        with self._lock:
            self._buffer.append(chunk)
            self._written += len(chunk)

    @property
    def played(self) -> int:
        return self._played

    async def drain(self) -> None:
        """Wait until everything written has been handed to PortAudio (bounded by the audio's length)."""
        limit = time.monotonic() + self._written / self.sample_rate + 2.0
        while self._played < self._written and time.monotonic() < limit:
            await asyncio.sleep(0.02)

    def close(self) -> None:
        try:
            self._stream.stop()
            self._stream.close()
        except Exception as exc:  # closing must never mask the stream's own outcome
            log.warning("closing the audio stream failed: %s", exc)
