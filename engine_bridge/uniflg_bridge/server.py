"""The UniFLG gRPC service (``uniflgapi.v1.UniFLGService``) on grpc.aio.

:func:`build_server` makes a ready-to-start server (tests bind port 0); :func:`serve` runs one until
SIGTERM/SIGINT/SIGHUP, then stops accepting calls, lets open streams finish within a grace period (a second
signal ends it at once), and exits.
Inference is CPU-bound and runs in a thread pool, so the event loop keeps serving other streams,
health checks and cancellations. What the server promises (admission, timeouts, statuses) is in docs/grpc.md.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import importlib
import logging
import signal
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeAlias

import grpc
import numpy as np
import uniflg
from google.protobuf.message import DecodeError
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from uniflg.audio import float_from_pcm16_bytes
from uniflg.avatar import AvatarStream, face_calibration
from uniflg.blinks import BlinkTrack
from uniflg.errors import InvalidInputError, LimitExceededError
from uniflg.limits import check_name, check_sample_rate, check_text
from uniflg.retarget import ARKIT_52, VRM0, Retargeter
from uniflg.text import MAX_CHARS
from uniflg.types import FrameChunk, StreamInfo, SynthesisChunk, SynthesisOptions
from uniflgapi.v1 import uniflg_pb2 as pb
from uniflgapi.v1 import uniflg_pb2_grpc as pb_grpc

from uniflg_bridge import wire
from uniflg_bridge.admission import Admission
from uniflg_bridge.auth import BearerTokenInterceptor
from uniflg_bridge.config import ServerConfig
from uniflg_bridge.fanout import AVATAR_FRAMES_KEY, Blendshapes, FanOut, StreamFanOut, StreamMeta
from uniflg_bridge.health import HealthServicer
from uniflg_bridge.status import MalformedMessageError, ProtocolError, StalledError, status_for

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["UniFLGService"].full_name
API_VERSION = "uniflgapi.v1"
BLENDSHAPE_NAMES: tuple[str, ...] = ARKIT_52 + VRM0
Chunk: TypeAlias = SynthesisChunk | FrameChunk


class _CallGoneError(Exception):
    """A response could not be sent: the client cancelled, its deadline passed or the server is stopping (grpc
    reports this from the write, with its own error, before the cancellation reaches the handler)."""


# grpc's own "Server already stopped", raised by a request read once the server has stopped (grpc then aborts the
# call itself: "Aborting method ... due to server stop"); a private class, so looked up by name
_SERVER_STOPPED: tuple[type[BaseException], ...] = tuple(
    t for t in (getattr(importlib.import_module("grpc._cython.cygrpc"), "_ServerStoppedError", None),)
    if isinstance(t, type))


def _rpc_over(context: grpc.aio.ServicerContext, *errors: BaseException | None) -> bool:
    """The call ended on the client's side (cancel, deadline) or by the server's stop: nothing can be answered any
    more. ``errors``: what the call (and its audio reader) failed with."""
    return (any(isinstance(e, (_CallGoneError, *_SERVER_STOPPED)) for e in errors)
            or bool(context.cancelled() or context.done()))


class Voice(Protocol):
    """What the service needs from a voice (``uniflg.voice.Voice`` satisfies it)."""

    @property
    def name(self) -> str: ...

    @property
    def speakers(self) -> tuple[str, ...]: ...

    @property
    def emotions(self) -> tuple[str, ...]: ...

    @property
    def neutral_face(self) -> np.ndarray | None:
        """``[70, 2]`` face the blendshape retargeter calibrates on; None: the stream's first frame."""

    def stream_info(self, options: SynthesisOptions) -> StreamInfo: ...

    def synthesize(self, text: str, options: SynthesisOptions) -> Iterator[SynthesisChunk]: ...

    def animate(self, chunks: Iterable[np.ndarray], sample_rate: int,
                options: SynthesisOptions) -> Iterator[FrameChunk]: ...


def _voice_retargeter(voice: Voice) -> Retargeter | None:
    """Calibrated on the voice's face calibration (:mod:`uniflg.avatar`: silence face, neutral band, vowels) when
    it is a uniflg voice that can measure one, else on its neutral face; None when neither calibrates."""
    if hasattr(voice, "phoneme_timing"):  # uniflg.voice.Voice: face_calibration needs its phoneme timing
        try:
            return Retargeter(face_calibration(voice))
        except InvalidInputError as exc:
            log.warning("no face calibration for this voice (%s); using its neutral face", exc)
    return _calibrate(voice.neutral_face, "the voice's neutral face")


def _calibrate(face: np.ndarray | None, what: str) -> Retargeter | None:
    """A retargeter calibrated on ``face``; None (and a warning) when there is none or it is degenerate
    (e.g. an untrained voice's face): the stream then carries no blendshapes and no fan-out."""
    if face is None:
        return None
    try:
        return Retargeter.from_neutral(np.asarray(face, np.float32))
    except InvalidInputError as exc:
        log.warning("blendshapes unavailable: cannot calibrate the retargeter on %s (%s)", what, exc)
        return None


# ---------------------------------------------------------------- running blocking iterators in threads

class _AbortedError(Exception):
    """Raised inside the voice's audio iterator to stop a cancelled Animate stream."""


_DONE = object()


def _step(iterator: Iterator[Any]) -> Any:
    return next(iterator, _DONE)


# The most frames one response message carries (30 s at 30 fps, about 1 MB with blendshapes): one large audio
# message at a low sample rate once gave a response over the 4 MiB message limit after all the work was done.
MAX_FRAMES_PER_MESSAGE = 900


def _pieces(chunk: Chunk, weights: np.ndarray | None) -> Iterator[tuple[Chunk, np.ndarray | None]]:
    """A speech-driven chunk of more than :data:`MAX_FRAMES_PER_MESSAGE` frames, in pieces of at most that many
    (text chunks, at most 2 s of audio, are sent whole)."""
    if isinstance(chunk, SynthesisChunk) or len(chunk.landmarks) <= MAX_FRAMES_PER_MESSAGE:
        yield chunk, weights
        return
    for start in range(0, len(chunk.landmarks), MAX_FRAMES_PER_MESSAGE):
        stop = start + MAX_FRAMES_PER_MESSAGE
        piece = replace(chunk, first_frame=chunk.first_frame + start, landmarks=chunk.landmarks[start:stop],
                                    is_last=chunk.is_last and stop >= len(chunk.landmarks))
        yield piece, None if weights is None else weights[start:stop]


class _Prepended:
    """An async iterator of requests with one already read put back in front (None: the stream had ended)."""

    def __init__(self, first: pb.AnimateRequest | None, rest: AsyncIterator[pb.AnimateRequest]) -> None:
        self._first, self._rest, self._ended = first, rest, first is None

    def __aiter__(self) -> _Prepended:
        return self

    async def __anext__(self) -> pb.AnimateRequest:
        if self._ended:
            raise StopAsyncIteration
        if self._first is not None:
            first, self._first = self._first, None
            return first
        return await anext(self._rest)


def _submit(pool: concurrent.futures.Executor, fn: Any, *args: Any) -> concurrent.futures.Future[Any]:
    """``pool.submit``; a pool already shut down (the server stopped) cancels the call rather than failing it."""
    try:
        return pool.submit(fn, *args)
    except RuntimeError as exc:
        raise asyncio.CancelledError("the server is shutting down") from exc


class ThreadedIterator:
    """Steps a blocking iterator in a thread pool, one item at a time, and closes it on the worker
    thread once any in-flight step has returned (cancellation can't interrupt a running step)."""

    def __init__(self, pool: concurrent.futures.Executor, iterator: Iterator[Any]) -> None:
        self._pool = pool
        self._iterator = iterator
        self._inflight: concurrent.futures.Future[Any] | None = None

    async def next(self) -> Any:
        self._inflight = _submit(self._pool, _step, self._iterator)
        return await asyncio.wrap_future(self._inflight)

    async def chunks(self, first: Any = _DONE) -> AsyncIterator[Any]:
        """The items (``first``, if given, then the rest); a cancelled Animate's audio ends them early."""
        item = first if first is not _DONE else await self.next()
        while item is not _DONE:
            yield item
            try:
                item = await self.next()
            except _AbortedError:
                return

    def close(self) -> None:
        inflight, iterator = self._inflight, self._iterator

        def close_after() -> None:
            if inflight is not None:
                concurrent.futures.wait([inflight])
            close = getattr(iterator, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    close()

        try:
            self._pool.submit(close_after)
        except RuntimeError:  # the pool is shut down (the server stopped): nothing runs the iterator any more
            if inflight is None or inflight.done():
                close_after()


class AudioBuffer:
    """Animate's audio between the async reader and the voice's worker thread, bounded in samples: a full
    buffer pauses the reader (and gRPC flow control then pauses the client's upload)."""

    def __init__(self, max_samples: int) -> None:
        self.max_samples = max_samples
        self._items: collections.deque[Any] = collections.deque()
        self._samples = 0
        self._cond = threading.Condition()
        self._loop = asyncio.get_running_loop()
        self._space = asyncio.Event()

    async def put(self, samples: np.ndarray) -> None:
        while True:
            with self._cond:
                if self._samples < self.max_samples:
                    self._items.append(samples)
                    self._samples += len(samples)
                    self._cond.notify()
                    return
                self._space.clear()
            await self._space.wait()

    def end(self, marker: object) -> None:
        """Queue ``_DONE`` (end of audio) or ``_AbortedError`` (stop the voice); never blocks."""
        with self._cond:
            self._items.append(marker)
            self._cond.notify()

    def __iter__(self) -> Iterator[np.ndarray]:
        """The blocking audio iterator the voice consumes (runs on a worker thread)."""
        while True:
            with self._cond:
                while not self._items:
                    self._cond.wait()
                item = self._items.popleft()
                if isinstance(item, np.ndarray):
                    self._samples -= len(item)
            if item is _DONE:
                return
            if item is _AbortedError:
                raise _AbortedError()
            self._loop.call_soon_threadsafe(self._space.set)
            yield item


# ---------------------------------------------------------------- the service


def _malformed(exc: DecodeError, message: str = "AnimateRequest") -> MalformedMessageError:
    """gRPC's decoding of a request failed: the client sent bytes that are no ``message``."""
    full = message if "." in message else f"uniflgapi.v1.{message}"
    return MalformedMessageError(f"not a valid {full}: its bytes do not parse ({exc})")


@dataclass(frozen=True)
class _Undecodable:
    """What a unary request's bytes decoded to when they do not parse (handed to the handler, which refuses it)."""

    error: DecodeError


class DecodeGuard(grpc.aio.ServerInterceptor):
    """A unary request whose bytes do not parse (bad UTF-8 in a string field, a truncated message) is
    ``INVALID_ARGUMENT`` with one log line, as a streamed one is; gRPC alone answered UNKNOWN and logged a
    traceback for every such call (health's Check included, which needs no token)."""

    async def intercept_service(
            self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
            details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        method = details.method  # type: ignore[attr-defined]  # grpc's stubs omit the field
        ours = method.startswith(f"/{SERVICE_NAME}/")  # (health's Watch streams from an async generator: not wrapped)
        if handler is None or handler.request_streaming or (handler.response_streaming and not ours):
            return handler
        decode, name = handler.request_deserializer, method.rsplit("/", 1)[-1] + "Request"
        if not ours:  # e.g. /grpc.health.v1.Health/Check -> grpc.health.v1.HealthCheckRequest
            service, call = method.strip("/").rsplit("/", 1)
            name = f"{service}{call}Request"

        def tolerant(data: bytes) -> Any:
            try:
                return decode(data)
            except DecodeError as exc:
                return _Undecodable(exc)

        async def refuse(request: _Undecodable, context: grpc.aio.ServicerContext) -> None:
            refusal = status_for(_malformed(request.error, name))
            log.info("refused: %s %s", refusal.code.name, refusal.message)
            await context.abort(refusal.code, refusal.message)

        behaviour = handler.unary_stream if handler.response_streaming else handler.unary_unary

        async def guarded(request: Any, context: grpc.aio.ServicerContext) -> Any:
            if isinstance(request, _Undecodable):
                return await refuse(request, context)
            return await behaviour(request, context)

        make = grpc.unary_stream_rpc_method_handler if handler.response_streaming \
            else grpc.unary_unary_rpc_method_handler
        return make(guarded, request_deserializer=tolerant, response_serializer=handler.response_serializer)


@dataclass
class _Tally:
    """What a stream has produced so far (for its final Status)."""

    frames: int = 0
    samples: int = 0


Respond = Callable[..., Any]  # pb.SynthesizeResponse or pb.AnimateResponse


class UniFLGServicer(pb_grpc.UniFLGServiceServicer):
    def __init__(self, voice: Voice, config: ServerConfig, fanout: FanOut | None = None) -> None:
        self.voice = voice
        self.config = config
        self.fanout = fanout or FanOut()
        self.pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=config.workers or config.max_streams + 2, thread_name_prefix="uniflg-infer")
        self.admission = Admission(config.max_streams, config.queue_size, config.queue_wait)
        # The SDK never speaks more than its largest per-language limit in one request, whatever --max-text-chars
        # allows: GetInfo reports what a request can really carry.
        self.max_text_chars = min(config.max_text_chars or max(MAX_CHARS.values()), max(MAX_CHARS.values()))
        self.retargeter = _voice_retargeter(voice)
        self._streams = 0  # streams given blendshapes so far: stream k blinks with the seed (blink_seed, k)
        self._open = 0

    @property
    def active(self) -> int:
        """Streams holding a slot now."""
        return self.admission.active

    @property
    def open_streams(self) -> int:
        """Synthesize and Animate calls being answered now, including those whose slot is released but whose
        frames are still paced out to the avatars."""
        return self._open

    # -- helpers

    async def _fail(self, context: grpc.aio.ServicerContext, exc: BaseException) -> None:
        refusal = status_for(exc)
        if refusal.code == grpc.StatusCode.INTERNAL:
            log.error("stream failed", exc_info=exc)
        else:
            log.info("refused: %s %s", refusal.code.name, refusal.message)
        await context.abort(refusal.code, refusal.message, trailing_metadata=refusal.trailers)

    async def _write(self, context: grpc.aio.ServicerContext, message: Any) -> None:
        """Send one response; a client that reads nothing for ``idle_timeout`` loses the stream (its unread
        answer would otherwise hold a slot and buffers forever)."""
        try:
            await asyncio.wait_for(context.write(message), self.config.idle_timeout)
        except TimeoutError:
            raise StalledError(f"the client read nothing for {self.config.idle_timeout:g} s") from None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # grpc's failed send: the call is gone before its cancel reaches this task
            raise _CallGoneError() from exc

    def _stream_start(self, request_id: str, info: StreamInfo, include_blendshapes: bool,
                      lookahead_ms: float = 0.0) -> tuple[pb.StreamHeader, StreamMeta]:
        """-> (the stream's header, its fan-out metadata). The wall clock is read once, for the header's start
        time; every frame's time code is that start plus frame index / fps (the sample clock)."""
        meta = StreamMeta(check_name("request_id", request_id) or uuid.uuid4().hex, info, time.time())
        names = BLENDSHAPE_NAMES if include_blendshapes else ()
        header = wire.stream_header(info, request_id=meta.stream_id, voice=self.voice.name,
                                    start_epoch=meta.start_epoch, blendshape_names=names, lookahead_ms=lookahead_ms)
        return header, meta

    def _speech_path(self, options: SynthesisOptions) -> tuple[str | None, float]:
        """(name, look-ahead ms) of the speech path an Animate call with ``options`` runs on (name None: a voice
        without paths); InvalidInputError when none fits."""
        pick = getattr(self.voice, "speech_path", None)
        if pick is not None:
            path = pick(options.max_lookahead_ms)
            return str(path.name), float(path.lookahead_ms)
        return None, float(getattr(self.voice, "lookahead_seconds", 0.0)) * 1000

    def _avatar(self, retargeter: Retargeter, style: str | None = None, path: str | None = None) -> AvatarStream:
        """One stream's source of blendshapes, read for the stored ``style`` (emotion) its faces are drawn in and
        the speech ``path`` that draws them, with its run-time blinks unless switched off."""
        self._streams += 1
        blinks = BlinkTrack((self.config.blink_seed, self._streams)) if self.config.blinks else None
        return AvatarStream(Retargeter(retargeter.calibration.for_style(style).for_path(path)), blinks)

    async def _pump(self, context: grpc.aio.ServicerContext, respond: Respond, header: pb.StreamHeader | None,
                    meta: StreamMeta, chunks: AsyncIterator[Chunk], include_blendshapes: bool,
                    audio_seconds: Callable[[_Tally], Awaitable[float]],
                    fans: list[StreamFanOut], style: str | None = None, path: str | None = None) -> pb.Status:
        """The one header -> chunks pump of Synthesize and Animate; -> the final Status, sent by the caller once
        the fan-out has finished. Blendshapes are computed once per chunk, for the client and the fan-out
        alike; a chunk goes on the wire when it carries audio or frames. The opened fan-out is put in
        ``fans`` so the caller can finish it or, for any other ending, cancel it."""
        if header is not None:  # (Animate sends its header before the slot)
            await self._write(context, respond(header=header))
        avatar = self._avatar(self.retargeter, style, path) if self.retargeter is not None else None
        fan = self.fanout.open(meta) if self.fanout.enabled and avatar is not None else None
        if fan is not None:
            fans.append(fan)
        tally = _Tally()
        async for chunk in chunks:
            if avatar is None and include_blendshapes and len(chunk.landmarks):
                retargeter = _calibrate(chunk.landmarks[0], "the stream's first frame")
                avatar = self._avatar(retargeter) if retargeter is not None else None
                include_blendshapes = avatar is not None
            shapes = Blendshapes(*avatar.weights(chunk.first_frame, chunk.landmarks)) \
                if avatar is not None and (include_blendshapes or fan is not None) else None
            audio = chunk.audio if isinstance(chunk, SynthesisChunk) else None
            if len(chunk.landmarks) or (audio is not None and len(audio)):
                wanted = shapes.weights if shapes is not None and include_blendshapes else None
                for piece, weights in _pieces(chunk, wanted):
                    await self._write(context, respond(chunk=wire.media_chunk(piece, meta.info.fps, weights)))
            if fan is not None:
                if audio is not None:
                    fan.audio(audio)
                if shapes is not None:
                    fan.frames(chunk.first_frame, chunk.landmarks, shapes)
            tally.frames += len(chunk.landmarks)
            tally.samples += 0 if audio is None else len(audio)
        return wire.final_status(tally.frames, await audio_seconds(tally))

    async def _complete(self, context: grpc.aio.ServicerContext, respond: Respond, status: pb.Status,
                        fans: list[StreamFanOut]) -> None:
        """Let the fan-out play to its end, then send the Status: the call stays open while the avatar talks, so
        a client that cancels (or a deadline, or shutdown) stops the avatar within a frame. With VMC or Live Link
        targets the trailers say how many frames drove the avatar (``uniflg-avatar-frames``; 0 when another
        stream held it throughout). The fan-out never fails the call: the client has every frame already."""
        for fan in fans:
            fan.finish()
            try:
                await fan.wait()
            except Exception as exc:  # e.g. local playback failing: the stream itself is complete
                log.warning("stream %r: the fan-out stopped early (%s: %s)", fan.meta.stream_id, type(exc).__name__,
                            exc)
            if fan.has_avatar_targets:
                context.set_trailing_metadata(((AVATAR_FRAMES_KEY, str(fan.avatar_frames)),))
        fans.clear()
        await self._write(context, respond(status=status))  # a call gone by now (shutdown) is no failure

    # -- RPCs

    async def GetInfo(self, request: pb.GetInfoRequest,  # noqa: N802 - the proto's method name
                      context: grpc.aio.ServicerContext) -> pb.GetInfoResponse:
        info = self.voice.stream_info(SynthesisOptions())
        limits = pb.Limits(max_text_chars=self.max_text_chars,
                           max_audio_seconds=self.config.max_audio_seconds,
                           max_concurrent_streams=self.config.max_streams)
        return pb.GetInfoResponse(
            voice=self.voice.name, speakers=list(self.voice.speakers), emotions=list(self.voice.emotions),
            layout=info.layout, point_count=info.n_points, fps=info.fps, sample_rate=info.sample_rate,
            blendshape_names=list(BLENDSHAPE_NAMES), limits=limits,
            sdk_version=getattr(uniflg, "__version__", ""), api_version=API_VERSION)

    async def Synthesize(self, request: pb.SynthesizeRequest,  # noqa: N802
                         context: grpc.aio.ServicerContext) -> None:
        stream: ThreadedIterator | None = None
        fans: list[StreamFanOut] = []
        failure: BaseException | None = None
        self._open += 1
        try:
            text = check_text(request.text, self.max_text_chars)
            options = wire.synthesis_options(request)
            check_name("request_id", request.request_id)  # before any work: it is echoed and sent over OSC
            info = self.voice.stream_info(options)
            async with self.admission.slot():
                iterator = await asyncio.wrap_future(_submit(self.pool, self.voice.synthesize, text, options))
                stream = ThreadedIterator(self.pool, iterator)
                first = await stream.next()  # validation inside a generator surfaces here
                header, meta = self._stream_start(request.request_id, info, request.include_blendshapes)

                async def seconds(tally: _Tally) -> float:
                    return tally.samples / info.sample_rate

                status = await self._pump(context, pb.SynthesizeResponse, header, meta, stream.chunks(first),
                                          request.include_blendshapes, seconds, fans, options.emotion)
            await self._complete(context, pb.SynthesizeResponse, status, fans)
        except asyncio.CancelledError:
            log.info("Synthesize cancelled by the client, a deadline or shutdown")
            raise
        except Exception as exc:
            if _rpc_over(context, exc):  # the client left, its deadline passed, or the shutdown cancelled it
                log.info("Synthesize cancelled by the client, a deadline or shutdown")
                return
            failure = exc
        finally:
            self._open -= 1
            for fan in fans:
                fan.cancel()
            if stream is not None:
                stream.close()
        if failure is not None:
            await self._fail(context, failure)

    async def Animate(self, request_iterator: AsyncIterator[pb.AnimateRequest],  # noqa: N802
                      context: grpc.aio.ServicerContext) -> None:
        stream: ThreadedIterator | None = None
        reader: asyncio.Task[int] | None = None
        buffer: AudioBuffer | None = None
        fans: list[StreamFanOut] = []
        failure: BaseException | None = None
        self._open += 1
        try:
            header = await self._read_header(request_iterator)
            sample_rate = header.sample_rate
            info = StreamInfo(sample_rate=sample_rate, fps=self.voice.stream_info(SynthesisOptions()).fps)
            options = wire.animate_options(header)
            path, lookahead_ms = self._speech_path(options)
            stream_header, meta = self._stream_start(header.request_id, info, header.include_blendshapes,
                                                     lookahead_ms)
            # the StreamHeader answers the AudioHeader at once (a live client may wait for its look-ahead before it
            # streams); the slot is taken when the first audio arrives: a client that sends a header and then
            # nothing waits out its idle timeout without holding a slot others could use
            await self._write(context, pb.AnimateResponse(header=stream_header))
            request_iterator = _Prepended(await self._next_message(request_iterator), request_iterator)
            async with self.admission.slot():
                buffer = AudioBuffer(int(self.config.buffer_seconds * sample_rate))
                reader = asyncio.create_task(self._read_audio(request_iterator, buffer, sample_rate))
                stream = ThreadedIterator(self.pool, self.voice.animate(buffer, sample_rate, options))

                async def seconds(tally: _Tally) -> float:
                    assert reader is not None
                    return await reader / sample_rate  # re-raises a protocol error found while reading

                status = await self._pump(context, pb.AnimateResponse, None, meta, stream.chunks(),
                                          header.include_blendshapes, seconds, fans, options.emotion, path)
            await self._complete(context, pb.AnimateResponse, status, fans)
        except asyncio.CancelledError:
            log.info("Animate cancelled by the client, a deadline or shutdown")
            raise
        except Exception as exc:
            read_error = reader.exception() if reader is not None and reader.done() and not reader.cancelled() \
                else None
            if _rpc_over(context, exc, read_error):  # the client left, its deadline passed, or the server stopped
                log.info("Animate cancelled by the client, a deadline or shutdown")
                return
            failure = read_error or exc  # the reader's protocol error explains the failure
        finally:
            self._open -= 1
            for fan in fans:
                fan.cancel()
            if buffer is not None:
                buffer.end(_AbortedError)
            if reader is not None:
                reader.cancel()
                # a reader that failed as the call ended ("RPC already finished") was never retrieved: asyncio
                # printed its traceback on shutdown
                reader.add_done_callback(lambda task: task.cancelled() or task.exception())
            if stream is not None:
                stream.close()
        if failure is not None:
            await self._fail(context, failure)

    async def _read_header(self, requests: AsyncIterator[pb.AnimateRequest]) -> pb.AudioHeader:
        try:
            first = await asyncio.wait_for(anext(requests), self.config.header_timeout)
        except StopAsyncIteration:
            raise ProtocolError("the stream ended before an AudioHeader") from None
        except TimeoutError:
            raise StalledError(f"no AudioHeader within {self.config.header_timeout:g} s") from None
        except DecodeError as exc:
            raise _malformed(exc) from None
        if first.WhichOneof("request") != "header":
            kind = first.WhichOneof("request")
            got = {"audio": "an audio message", "end_of_audio": "an EndOfAudio message"}.get(
                kind or "", f"a {kind} message" if kind else "an empty message")
            raise ProtocolError(f"the first message must be an AudioHeader, got {got}")
        header = first.header
        check_sample_rate(header.sample_rate, "AudioHeader.sample_rate")
        if header.channels != 1:
            raise InvalidInputError(f"only mono audio (channels=1) is accepted, got {header.channels}")
        return header

    async def _next_message(self, requests: AsyncIterator[pb.AnimateRequest]) -> pb.AnimateRequest | None:
        """The next request, None at the half-close; StalledError after ``idle_timeout`` of silence."""
        try:
            return await asyncio.wait_for(anext(requests), self.config.idle_timeout)
        except StopAsyncIteration:
            return None
        except TimeoutError:
            raise StalledError(f"no audio for {self.config.idle_timeout:g} s") from None
        except DecodeError as exc:
            raise _malformed(exc) from None

    async def _read_audio(self, requests: AsyncIterator[pb.AnimateRequest], out: AudioBuffer,
                          sample_rate: int) -> int:
        """Validates and forwards audio to the voice until EndOfAudio (or half-close); -> samples received.
        A client that keeps the stream open but sends audio slower than real time (by more than
        ``idle_timeout`` in all) is a stall, as is one that sends nothing for ``idle_timeout``."""
        limit = int(self.config.max_audio_seconds * sample_rate)
        received = 0
        waited = 0.0  # seconds spent waiting for the client (not for a full buffer)
        try:
            while True:
                t0 = time.monotonic()
                message = await self._next_message(requests)
                waited += time.monotonic() - t0
                if waited > received / sample_rate + self.config.idle_timeout:
                    raise StalledError(f"audio arrives slower than real time ({received / sample_rate:.1f} s "
                                       f"in {waited:.0f} s)")
                kind = None if message is None else message.WhichOneof("request")
                if kind is None and message is None:
                    log.debug("Animate: the client half-closed without EndOfAudio; treating it as the end")
                    break
                if kind == "header":
                    raise ProtocolError("a second AudioHeader in one stream")
                if kind == "end_of_audio":
                    if await self._next_message(requests) is not None:
                        raise ProtocolError("messages after EndOfAudio")
                    break
                if kind != "audio":
                    raise ProtocolError("an empty AnimateRequest")
                assert message is not None
                samples = float_from_pcm16_bytes(message.audio)
                received += len(samples)
                if received > limit:
                    raise LimitExceededError(f"more than {self.config.max_audio_seconds:g} s of audio")
                if len(samples):
                    await out.put(samples)
            out.end(_DONE)
            return received
        except BaseException:
            out.end(_AbortedError)
            raise


# ---------------------------------------------------------------- building and serving

@dataclass
class Server:
    grpc_server: grpc.aio.Server
    servicer: UniFLGServicer
    health: HealthServicer
    port: int

    async def stop(self, grace: float | None, now: asyncio.Event | None = None) -> None:
        """Stop accepting calls and let open streams finish within ``grace`` seconds (health watches send
        NOT_SERVING and end at once); streams still open then, or when ``now`` is set (a second Ctrl-C), are
        cancelled (their fan-outs included), so the avatars get their end packets. Then release all."""
        await self.health.enter_graceful_shutdown()
        stopping = asyncio.ensure_future(self.grpc_server.stop(grace))
        if now is not None:
            hurry = asyncio.ensure_future(now.wait())
            await asyncio.wait({stopping, hurry}, return_when=asyncio.FIRST_COMPLETED)
            hurry.cancel()
            if not stopping.done():
                await self.grpc_server.stop(0)  # grpc cancels every call still open
        await stopping
        for _ in range(200):  # the cancelled calls' cleanup (it hands work to the pool) runs first, up to 2 s
            if not self.servicer.open_streams:
                break
            await asyncio.sleep(0.01)
        await self.servicer.fanout.aclose()
        self.servicer.pool.shutdown(wait=False, cancel_futures=True)


async def build_server(voice: Voice, config: ServerConfig, fanout: FanOut | None = None) -> Server:
    """A bound, not yet started server (``bind`` port 0 picks a free port; see ``Server.port``). Raises
    ValueError for settings that cannot be served (including TLS material that does not load) and OSError
    when the address cannot be bound."""
    config.validate()
    interceptors: list[grpc.aio.ServerInterceptor] = [BearerTokenInterceptor(config.token)] if config.token else []
    interceptors.append(DecodeGuard())
    options = [("grpc.max_receive_message_length", config.max_message_bytes),
               ("grpc.max_send_message_length", config.max_message_bytes),
               ("grpc.so_reuseport", 0)]
    server = grpc.aio.server(interceptors=interceptors, options=options)
    servicer = UniFLGServicer(voice, config, fanout)
    pb_grpc.add_UniFLGServiceServicer_to_server(servicer, server)
    health_servicer = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
        server)
    try:
        if config.tls:
            assert config.tls_cert and config.tls_key  # check_tls refused anything less
            creds = grpc.ssl_server_credentials([(config.tls_key, config.tls_cert)],
                                                root_certificates=config.tls_client_ca,
                                                require_client_auth=config.tls_client_ca is not None)
            port = server.add_secure_port(config.bind, creds)
        else:
            port = server.add_insecure_port(config.bind)
    except RuntimeError as exc:  # grpc raises RuntimeError("Failed to bind ...")
        servicer.pool.shutdown(wait=False)
        raise OSError(f"cannot listen on {config.bind}: the address is in use or not available here") from exc
    if port == 0:
        servicer.pool.shutdown(wait=False)
        raise OSError(f"cannot listen on {config.bind}: the address is in use or not available here")
    return Server(server, servicer, health_servicer, port)


SIGNAL_NAMES = {signal.SIGTERM: "SIGTERM", signal.SIGINT: "SIGINT (Ctrl-C)"}
if hasattr(signal, "SIGHUP"):  # the terminal or ssh session closed: stop as for SIGTERM (not Windows)
    SIGNAL_NAMES[signal.SIGHUP] = "SIGHUP (the terminal closed)"


async def serve(voice: Voice, config: ServerConfig, fanout: FanOut | None = None,
                ready: asyncio.Event | None = None) -> None:
    """Run until SIGTERM, SIGINT or SIGHUP, then let open streams finish for up to ``grace_seconds`` and return; a
    second signal during the grace cancels them at once (each avatar still gets its end packet)."""
    server = await build_server(voice, config, fanout)
    await server.grpc_server.start()
    host = config.bind.rpartition(":")[0]
    log.info("serving voice %r on %s:%d (%s)", voice.name, host, server.port,
             "TLS, client certificates required" if config.tls_client_ca else "TLS" if config.tls else "plaintext")
    stop, now = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        if not stop.is_set():
            log.info("%s: shutting down; %d open stream(s) get up to %g s (signal again to stop them now)",
                     SIGNAL_NAMES[sig], server.servicer.open_streams, config.grace_seconds)
            stop.set()
        elif not now.is_set():
            log.warning("%s again: stopping now; %d open stream(s) are cancelled", SIGNAL_NAMES[sig],
                        server.servicer.open_streams)
            now.set()

    for sig in SIGNAL_NAMES:
        if sig == getattr(signal, "SIGHUP", None) and signal.getsignal(sig) == signal.SIG_IGN:
            continue  # started under nohup: keep ignoring the terminal's hang-up
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal, sig)
    if ready is not None:
        ready.set()
    await stop.wait()
    await server.stop(config.grace_seconds, now)
    log.info("stopped")
