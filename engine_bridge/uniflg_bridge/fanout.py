"""Fan-out of every stream's frames to UDP sinks (OSC, VMC, Live Link) and local playback, paced in real
time against the audio sample clock.

Frame ``i`` is due at ``anchor + i / fps``: the anchor is taken once from a monotonic clock when the
stream's first frame (or, with playback, its first audio) is ready, and every deadline is computed from
the frame index, so sleeps never accumulate drift. Late frames are sent at once, never dropped.

Targets that carry no stream identity (VMC, Live Link: sinks with ``exclusive = True``) drive one avatar, so one
stream at a time drives them (:class:`AvatarHold`): the stream whose frame is due first while the avatar is free
holds it until it ends, then a stream still talking takes it over from its next frame (docs/osc.md, "Several
streams at once"). OSC names the stream in every packet and gets every stream's frames. A sink that raises is
logged once per stream and left alone for the rest of that stream; the stream and the other sinks go on.
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
    """A UDP target (or anything else) fed by the fan-out. A sink may set ``exclusive = True`` when its packets
    carry no stream identity (one avatar): then one stream at a time is sent to it (:class:`AvatarHold`)."""

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

# Trailing metadata of a completed gRPC stream when the server has VMC or Live Link targets: how many of its frames
# drove the avatar (0: another stream held it the whole time). docs/grpc.md, docs/osc.md.
AVATAR_FRAMES_KEY = "uniflg-avatar-frames"


def is_exclusive(sink: FrameSink) -> bool:
    """True for a sink whose packets carry no stream identity (VMC, Live Link): one stream at a time."""
    return bool(getattr(sink, "exclusive", False))


class AvatarHold:
    """Which stream drives the exclusive targets (VMC, Live Link) now. A stream claims the avatar when one of its
    frames is due and nobody holds it, and keeps it until it ends; streams are told apart by object, never by their
    client-chosen ids (two calls may share one). Used from one event loop only."""

    def __init__(self) -> None:
        self.holder: StreamFanOut | None = None

    def claim(self, stream: StreamFanOut) -> bool:
        if self.holder is None:
            self.holder = stream
        return self.holder is stream

    def release(self, stream: StreamFanOut) -> None:
        if self.holder is stream:
            self.holder = None


class StreamFanOut:
    """One stream's pacing task. Feed it with :meth:`frames` / :meth:`audio`, then :meth:`finish`.

    With ``hold`` (the server's :class:`AvatarHold`) the exclusive sinks get this stream's frames only while it
    holds the avatar, and its end (neutral) packet only if it held it; without one (a single stream, e.g.
    ``examples/vtuber_vmc.py``) every sink gets every frame. ``avatar_frames`` counts the frames sent to them."""

    def __init__(self, meta: StreamMeta, sinks: Sequence[FrameSink], player: AudioOut | None = None,
                 clock: Clock = time.monotonic, hold: AvatarHold | None = None) -> None:
        self.meta = meta
        self.sinks = list(sinks)
        self.player = player
        self.pacer = Pacer(meta.info.fps, clock)
        self.hold = hold
        self.sent = 0
        self.avatar_frames = 0
        self._holding = False
        self._waiting_for_avatar = False  # logged once that another stream holds the avatar
        self._failed: set[int] = set()  # indices of sinks that raised during this stream
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name=f"fanout-{meta.stream_id}")

    @property
    def has_avatar_targets(self) -> bool:
        return any(is_exclusive(s) for s in self.sinks)

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

    def _call(self, index: int, what: str, *args: object) -> None:
        """``sinks[index].<what>(meta, *args)``. An exception is logged (one line, once per stream and sink) and
        that sink gets no more frames of this stream, only its end (a neutral frame may still encode): the stream
        and the other sinks go on."""
        failed = index in self._failed
        if failed and what != "end":
            return
        sink = self.sinks[index]
        try:
            getattr(sink, what)(self.meta, *args)
        except Exception as exc:  # a sink's encoder or socket: never the stream's end
            self._failed.add(index)
            if not failed:
                log.warning("stream %r: the %s sink failed (%s: %s in %s); it gets no more frames of this stream",
                            self.meta.stream_id, getattr(sink, "name", type(sink).__name__), type(exc).__name__,
                            exc, what)

    def _holds_avatar(self, index: int) -> bool:
        """Whether this stream drives the exclusive sinks for frame ``index`` (claiming a free avatar)."""
        if self._holding:
            return True
        if self.hold is None or self.hold.claim(self):
            self._holding = True
            if self._waiting_for_avatar:
                log.info("stream %r takes over the avatar (VMC, Live Link) at frame %d", self.meta.stream_id, index)
            for k, sink in enumerate(self.sinks):
                if is_exclusive(sink):
                    self._call(k, "start")
            return True
        if not self._waiting_for_avatar:
            self._waiting_for_avatar = True
            holder = self.hold.holder
            log.warning("stream %r: the avatar (VMC, Live Link) is driven by stream %r until it ends; this stream's "
                        "frames go to OSC only until then", self.meta.stream_id,
                        holder.meta.stream_id if holder is not None else None)
        return False

    async def _run(self) -> None:
        exclusive = [is_exclusive(s) for s in self.sinks]
        for k in range(len(self.sinks)):
            if not exclusive[k]:
                self._call(k, "start")  # the exclusive ones start when this stream takes the avatar
        try:
            while (item := await self._queue.get()) is not _END:
                assert isinstance(item, FrameEvent)
                await self.pacer.wait(item.index)
                avatar = any(exclusive) and self._holds_avatar(item.index)
                for k in range(len(self.sinks)):
                    if avatar or not exclusive[k]:
                        self._call(k, "frame", item)
                self.avatar_frames += avatar
                self.sent += 1
            if self.player is not None:
                await self.player.drain()
        finally:
            for k in range(len(self.sinks)):
                if self._holding or not exclusive[k]:  # the neutral frame only from the stream that drove it
                    self._call(k, "end", self.sent)
            if self.hold is not None:
                self.hold.release(self)
            if self.player is not None:
                self.player.close()


class FanOut:
    """Server-wide fan-out: the UDP sinks (shared by all streams) and whether to play audio locally."""

    def __init__(self, sinks: Sequence[FrameSink] = (),
                 play: Callable[[int], AudioOut] | None = None) -> None:
        self.sinks = list(sinks)
        self.play = play
        self.hold = AvatarHold()
        self._streams: set[StreamFanOut] = set()

    @property
    def enabled(self) -> bool:
        return bool(self.sinks) or self.play is not None

    def open(self, meta: StreamMeta) -> StreamFanOut:
        player = self.play(meta.info.sample_rate) if self.play is not None else None
        stream = StreamFanOut(meta, self.sinks, player, hold=self.hold)
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
