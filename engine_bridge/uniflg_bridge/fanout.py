"""Fan-out of every stream's frames to UDP sinks (OSC, VMC, Live Link) and local playback, paced in real
time against the audio sample clock.

Frame ``i`` is due at ``anchor + i / fps``: the anchor is taken once from a monotonic clock when the
stream's first frame (or, with playback, its first audio) is ready, and every deadline is computed from
the frame index, so sleeps never accumulate drift. Late frames are sent at once, never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from uniflg.retarget import ARKIT_52, VRM0, Retargeter
from uniflg.types import StreamInfo

log = logging.getLogger(__name__)

Clock = Callable[[], float]


@dataclass(frozen=True)
class StreamMeta:
    stream_id: str
    info: StreamInfo
    start_epoch: float


@dataclass(frozen=True)
class Blendshapes:
    """Retargeted weights of ``n`` frames, in [0, 1]: ARKit ``[n, 52]`` (ARKIT_52 order) and VRM0 ``[n, 17]``.
    Computed once per chunk and shared by the gRPC answer and every sink."""

    arkit: np.ndarray
    vrm: np.ndarray

    @classmethod
    def of(cls, retargeter: Retargeter, landmarks: np.ndarray) -> Blendshapes:
        """``[n, 70, 2]`` landmarks -> their weights (empty arrays for n = 0)."""
        if len(landmarks) == 0:
            return cls(np.zeros((0, len(ARKIT_52)), np.float32), np.zeros((0, len(VRM0)), np.float32))
        arkit = retargeter.arkit(landmarks)
        return cls(arkit, retargeter.vrm(landmarks, arkit))

    @property
    def weights(self) -> np.ndarray:
        """``[n, 69]``: ARKit then VRM0, the order of the gRPC header's ``blendshape_names``."""
        return np.concatenate([self.arkit, self.vrm], axis=-1)


@dataclass(frozen=True)
class FrameEvent:
    index: int
    points: np.ndarray  # (70, 2)
    arkit: np.ndarray   # (52,)
    vrm: np.ndarray     # (17,)
    time: float | None = None  # live input: wall-clock time (epoch s) its audio began to be captured


class FrameSink(Protocol):
    name: str

    def start(self, meta: StreamMeta) -> None: ...

    def frame(self, meta: StreamMeta, event: FrameEvent) -> None: ...

    def end(self, meta: StreamMeta, frame_count: int) -> None: ...

    def close(self) -> None: ...


class AudioOut(Protocol):
    """A playback stream (see :mod:`uniflg_bridge.player`): ``start`` returns the monotonic time at which
    sample 0 will be heard."""

    def start(self) -> float: ...

    def write(self, audio: np.ndarray) -> None: ...

    async def drain(self) -> None: ...

    def close(self) -> None: ...


class Pacer:
    """Deadlines ``anchor + index / fps`` on a monotonic clock; the anchor is set once."""

    def __init__(self, fps: int, clock: Clock = time.monotonic) -> None:
        self.fps = fps
        self.clock = clock
        self.anchor: float | None = None

    def set_anchor(self, when: float | None = None) -> None:
        if self.anchor is None:
            self.anchor = self.clock() if when is None else when

    def due(self, index: int) -> float:
        self.set_anchor()
        assert self.anchor is not None
        return self.anchor + index / self.fps

    async def wait(self, index: int) -> None:
        delay = self.due(index) - self.clock()
        if delay > 0:
            await asyncio.sleep(delay)


_END = object()


class StreamFanOut:
    """One stream's pacing task. Feed it with :meth:`frames` / :meth:`audio`, then :meth:`finish`."""

    def __init__(self, meta: StreamMeta, sinks: Sequence[FrameSink], player: AudioOut | None = None,
                 clock: Clock = time.monotonic) -> None:
        self.meta = meta
        self.sinks = list(sinks)
        self.player = player
        self.pacer = Pacer(meta.info.fps, clock)
        self.sent = 0
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name=f"fanout-{meta.stream_id}")

    def audio(self, audio: np.ndarray) -> None:
        if self.player is not None:
            if self.pacer.anchor is None:
                self.pacer.set_anchor(self.player.start())
            self.player.write(audio)

    def frames(self, first_frame: int, landmarks: np.ndarray, shapes: Blendshapes) -> None:
        """Queue frames ``first_frame ..`` (``[n, 70, 2]``) with their blendshapes for paced sending."""
        for k in range(len(landmarks)):
            self._queue.put_nowait(FrameEvent(first_frame + k, landmarks[k], shapes.arkit[k], shapes.vrm[k]))

    def finish(self) -> None:
        self._queue.put_nowait(_END)

    async def wait(self) -> None:
        await self._task

    def cancel(self) -> None:
        self._task.cancel()

    async def _run(self) -> None:
        for sink in self.sinks:
            sink.start(self.meta)
        try:
            while (item := await self._queue.get()) is not _END:
                assert isinstance(item, FrameEvent)
                await self.pacer.wait(item.index)
                for sink in self.sinks:
                    sink.frame(self.meta, item)
                self.sent += 1
            if self.player is not None:
                await self.player.drain()
        finally:
            for sink in self.sinks:
                sink.end(self.meta, self.sent)
            if self.player is not None:
                self.player.close()


class FanOut:
    """Server-wide fan-out: the UDP sinks (shared by all streams) and whether to play audio locally."""

    def __init__(self, sinks: Sequence[FrameSink] = (),
                 play: Callable[[int], AudioOut] | None = None) -> None:
        self.sinks = list(sinks)
        self.play = play
        self._streams: set[StreamFanOut] = set()

    @property
    def enabled(self) -> bool:
        return bool(self.sinks) or self.play is not None

    def open(self, meta: StreamMeta) -> StreamFanOut:
        player = self.play(meta.info.sample_rate) if self.play is not None else None
        stream = StreamFanOut(meta, self.sinks, player)
        self._streams.add(stream)
        stream._task.add_done_callback(lambda _t: self._streams.discard(stream))
        return stream

    async def aclose(self) -> None:
        """Cancel every open stream (each sends its end/neutral packet) and then close the sinks."""
        streams = list(self._streams)
        for stream in streams:
            stream.cancel()
        await asyncio.gather(*(s.wait() for s in streams), return_exceptions=True)
        for sink in self.sinks:
            with contextlib.suppress(OSError):
                sink.close()
