"""The UniFLG gRPC service (``uniflgapi.v1.UniFLGService``) on grpc.aio.

:func:`build_server` makes a ready-to-start server (tests bind port 0); :func:`serve` runs one until
SIGTERM/SIGINT, then stops accepting calls, lets open streams finish within a grace period, and exits.
Inference is CPU-bound and runs in a thread pool, so the event loop keeps serving other streams,
health checks and cancellations.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import queue
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import grpc
import numpy as np
import uniflg
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from uniflg.audio import float_from_pcm16_bytes
from uniflg.avatar import AvatarStream, face_calibration
from uniflg.blinks import BlinkTrack
from uniflg.errors import InvalidInputError, LimitExceededError
from uniflg.limits import SAMPLE_RATE, check_text
from uniflg.retarget import ARKIT_52, VRM0, Retargeter
from uniflg.text import MAX_CHARS
from uniflg.types import FrameChunk, StreamInfo, SynthesisChunk, SynthesisOptions
from uniflgapi.v1 import uniflg_pb2 as pb
from uniflgapi.v1 import uniflg_pb2_grpc as pb_grpc

from uniflg_bridge import wire
from uniflg_bridge.auth import BearerTokenInterceptor, is_loopback
from uniflg_bridge.fanout import Blendshapes, FanOut, StreamMeta
from uniflg_bridge.status import CapacityError, ProtocolError, status_for

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["UniFLGService"].full_name
API_VERSION = "uniflgapi.v1"
BLENDSHAPE_NAMES: tuple[str, ...] = ARKIT_52 + VRM0
R = TypeVar("R")  # a response message type


class Voice(Protocol):
    """What the service needs from a voice (``uniflg.voice.Voice`` satisfies it)."""

    @property
    def name(self) -> str: ...

    @property
    def speakers(self) -> tuple[str, ...]: ...

    @property
    def emotions(self) -> tuple[str, ...]: ...

    def stream_info(self, options: SynthesisOptions) -> StreamInfo: ...

    def synthesize(self, text: str, options: SynthesisOptions) -> Iterator[SynthesisChunk]: ...

    @property
    def neutral_face(self) -> np.ndarray | None:
        """``[70, 2]`` face the blendshape retargeter calibrates on; None: the stream's first frame."""

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


@dataclass(frozen=True)
class ServerConfig:
    bind: str = "127.0.0.1:50051"
    max_streams: int = 8
    # An overall cap; the SDK splits long text into sentences and holds each language to its own limit
    # (uniflg.text.MAX_CHARS: Japanese 1000, English 3000; docs/frontend.md).
    max_text_chars: int = max(MAX_CHARS.values())
    max_audio_seconds: float = 300.0
    max_message_bytes: int = 4 * 1024 * 1024
    token: str | None = None
    tls_cert: bytes | None = field(default=None, repr=False)
    tls_key: bytes | None = field(default=None, repr=False)
    tls_client_ca: bytes | None = field(default=None, repr=False)
    grace_seconds: float = 30.0
    workers: int | None = None  # inference threads; default max_streams + 2
    blinks: bool = True  # run-time blinks in the blendshapes (uniflg.blinks); landmarks are left as decoded
    blink_seed: int = 0  # stream k of this server blinks with the seed (blink_seed, k)

    def validate(self) -> None:
        host = self.bind.rpartition(":")[0]
        if not is_loopback(host) and not self.token:
            raise ValueError(f"binding {self.bind} (not loopback) needs a bearer token (--token or "
                             "UNIFLG_TOKEN)")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("TLS needs both a certificate and a key")
        bad = {name: value for name, value in (("max_streams", self.max_streams),
                                                ("max_text_chars", self.max_text_chars),
                                                ("max_audio_seconds", self.max_audio_seconds)) if value <= 0}
        if bad:
            raise ValueError(f"limits must be positive; got {bad}")


# ---------------------------------------------------------------- running blocking iterators in threads

class _AbortedError(Exception):
    """Raised inside the voice's audio iterator to stop a cancelled Animate stream."""


_DONE = object()


def _step(iterator: Iterator[Any]) -> Any:
    return next(iterator, _DONE)


class ThreadedIterator:
    """Steps a blocking iterator in a thread pool, one item at a time, and closes it on the worker
    thread once any in-flight step has returned (cancellation can't interrupt a running step)."""

    def __init__(self, pool: concurrent.futures.Executor, iterator: Iterator[Any]) -> None:
        self._pool = pool
        self._iterator = iterator
        self._inflight: concurrent.futures.Future[Any] | None = None

    async def next(self) -> Any:
        self._inflight = self._pool.submit(_step, self._iterator)
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

        self._pool.submit(close_after)


# ---------------------------------------------------------------- the service

@dataclass
class _Tally:
    """What a stream has produced so far (for its final Status)."""

    frames: int = 0
    samples: int = 0


Chunk = SynthesisChunk | FrameChunk


class UniFLGServicer(pb_grpc.UniFLGServiceServicer):
    def __init__(self, voice: Voice, config: ServerConfig, fanout: FanOut | None = None) -> None:
        self.voice = voice
        self.config = config
        self.fanout = fanout or FanOut()
        self.pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=config.workers or config.max_streams + 2, thread_name_prefix="uniflg-infer")
        self.active = 0
        self.retargeter = _voice_retargeter(voice)
        self._streams = 0  # streams given blendshapes so far: stream k blinks with the seed (blink_seed, k)

    # -- helpers

    @contextlib.contextmanager
    def _slot(self) -> Iterator[None]:
        if self.active >= self.config.max_streams:
            raise CapacityError(f"the server is running its limit of {self.config.max_streams} streams")
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1

    async def _fail(self, context: grpc.aio.ServicerContext, exc: BaseException) -> None:
        code, message = status_for(exc)
        if code == grpc.StatusCode.INTERNAL:
            log.exception("stream failed", exc_info=exc)
        else:
            log.info("rejected: %s %s", code.name, message)
        await context.abort(code, message)

    def _stream_start(self, request_id: str, info: StreamInfo,
                      include_blendshapes: bool) -> tuple[pb.StreamHeader, StreamMeta]:
        """-> (the stream's header, its fan-out metadata). The wall clock is read once, for the header's start
        time; every frame's time code is that start plus frame index / fps (the sample clock)."""
        meta = StreamMeta(request_id or uuid.uuid4().hex, info, time.time())
        names = BLENDSHAPE_NAMES if include_blendshapes else ()
        header = wire.stream_header(info, request_id=meta.stream_id, voice=self.voice.name,
                                    start_epoch=meta.start_epoch, blendshape_names=names)
        return header, meta

    def _avatar(self, retargeter: Retargeter) -> AvatarStream:
        """One stream's source of blendshapes (with its run-time blinks, unless switched off)."""
        self._streams += 1
        blinks = BlinkTrack((self.config.blink_seed, self._streams)) if self.config.blinks else None
        return AvatarStream(retargeter, blinks)

    async def _pump(self, response: Callable[..., R], header: pb.StreamHeader, meta: StreamMeta,
                    chunks: AsyncIterator[Chunk], include_blendshapes: bool,
                    audio_seconds: Callable[[_Tally], Awaitable[float]]) -> AsyncIterator[R]:
        """The one header -> chunks -> status pump of Synthesize and Animate. Blendshapes are computed once
        per chunk, for the client and the fan-out alike; a chunk goes on the wire when it carries audio or
        frames. The fan-out finishes when the stream completes and is cancelled otherwise."""
        yield response(header=header)
        avatar = self._avatar(self.retargeter) if self.retargeter is not None else None
        fan = self.fanout.open(meta) if self.fanout.enabled and avatar is not None else None
        tally = _Tally()
        try:
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
                    yield response(chunk=wire.media_chunk(chunk, meta.info.fps, wanted))
                if fan is not None:
                    if audio is not None:
                        fan.audio(audio)
                    if shapes is not None:
                        fan.frames(chunk.first_frame, chunk.landmarks, shapes)
                tally.frames += len(chunk.landmarks)
                tally.samples += 0 if audio is None else len(audio)
            seconds = await audio_seconds(tally)
            yield response(status=wire.final_status(tally.frames, seconds))
            if fan is not None:
                fan.finish()
                fan = None
        finally:
            if fan is not None:
                fan.cancel()

    # -- RPCs

    async def GetInfo(self, request: pb.GetInfoRequest,  # noqa: N802 - the proto's method name
                      context: grpc.aio.ServicerContext) -> pb.GetInfoResponse:
        info = self.voice.stream_info(SynthesisOptions())
        limits = pb.Limits(max_text_chars=self.config.max_text_chars,
                           max_audio_seconds=self.config.max_audio_seconds,
                           max_concurrent_streams=self.config.max_streams)
        return pb.GetInfoResponse(
            voice=self.voice.name, speakers=list(self.voice.speakers), emotions=list(self.voice.emotions),
            layout=info.layout, point_count=info.n_points, fps=info.fps, sample_rate=info.sample_rate,
            blendshape_names=list(BLENDSHAPE_NAMES), limits=limits,
            sdk_version=getattr(uniflg, "__version__", ""), api_version=API_VERSION)

    async def Synthesize(self, request: pb.SynthesizeRequest,  # noqa: N802
                         context: grpc.aio.ServicerContext) -> AsyncIterator[pb.SynthesizeResponse]:
        stream: ThreadedIterator | None = None
        try:
            with self._slot():
                text = check_text(request.text, self.config.max_text_chars)
                options = wire.synthesis_options(request)
                info = self.voice.stream_info(options)
                iterator = await asyncio.wrap_future(self.pool.submit(self.voice.synthesize, text, options))
                stream = ThreadedIterator(self.pool, iterator)
                first = await stream.next()  # validation inside a generator surfaces here
                header, meta = self._stream_start(request.request_id, info, request.include_blendshapes)

                async def seconds(tally: _Tally) -> float:
                    return tally.samples / info.sample_rate

                async for response in self._pump(pb.SynthesizeResponse, header, meta, stream.chunks(first),
                                                 request.include_blendshapes, seconds):
                    yield response
        except asyncio.CancelledError:
            log.info("Synthesize cancelled by the client or a deadline")
            raise
        except Exception as exc:
            await self._fail(context, exc)
        finally:
            if stream is not None:
                stream.close()

    async def Animate(self, request_iterator: AsyncIterator[pb.AnimateRequest],  # noqa: N802
                      context: grpc.aio.ServicerContext) -> AsyncIterator[pb.AnimateResponse]:
        stream: ThreadedIterator | None = None
        reader: asyncio.Task[int] | None = None
        audio: queue.Queue[Any] = queue.Queue()
        try:
            with self._slot():
                header = await self._read_header(request_iterator)
                sample_rate = header.sample_rate
                info = StreamInfo(sample_rate=sample_rate, fps=self.voice.stream_info(SynthesisOptions()).fps)
                stream_header, meta = self._stream_start(header.request_id, info, header.include_blendshapes)
                reader = asyncio.create_task(self._read_audio(request_iterator, audio, sample_rate))
                iterator = self.voice.animate(_drain(audio), sample_rate, SynthesisOptions())
                stream = ThreadedIterator(self.pool, iterator)

                async def seconds(tally: _Tally) -> float:
                    assert reader is not None
                    return await reader / sample_rate  # re-raises a protocol error found while reading

                async for response in self._pump(pb.AnimateResponse, stream_header, meta, stream.chunks(),
                                                 header.include_blendshapes, seconds):
                    yield response
        except asyncio.CancelledError:
            log.info("Animate cancelled by the client or a deadline")
            raise
        except Exception as exc:
            cause: BaseException = exc
            if reader is not None and reader.done() and not reader.cancelled() and reader.exception():
                cause = reader.exception() or exc  # the reader's protocol error explains the failure
            await self._fail(context, cause)
        finally:
            audio.put(_AbortedError)
            if reader is not None:
                reader.cancel()
            if stream is not None:
                stream.close()

    async def _read_header(self, requests: AsyncIterator[pb.AnimateRequest]) -> pb.AudioHeader:
        try:
            first = await anext(requests)
        except StopAsyncIteration:
            raise ProtocolError("the stream ended before an AudioHeader") from None
        if first.WhichOneof("request") != "header":
            kind = first.WhichOneof("request")
            raise ProtocolError(f"the first message must be an AudioHeader, got {kind}")
        header = first.header
        SAMPLE_RATE.check(header.sample_rate)
        if header.channels != 1:
            raise InvalidInputError(f"only mono audio (channels=1) is accepted, got {header.channels}")
        return header

    async def _read_audio(self, requests: AsyncIterator[pb.AnimateRequest], out: queue.Queue[Any],
                          sample_rate: int) -> int:
        """Validates and forwards audio to the voice's input queue until EndOfAudio (or half-close);
        -> samples received."""
        limit = int(self.config.max_audio_seconds * sample_rate)
        received = 0
        try:
            async for message in requests:
                kind = message.WhichOneof("request")
                if kind == "header":
                    raise ProtocolError("a second AudioHeader in one stream")
                if kind == "end_of_audio":
                    break
                if kind != "audio":
                    raise ProtocolError("an empty AnimateRequest")
                samples = float_from_pcm16_bytes(message.audio)
                received += len(samples)
                if received > limit:
                    raise LimitExceededError(f"more than {self.config.max_audio_seconds} s of audio")
                if len(samples):
                    out.put(samples)
            else:
                log.debug("Animate: the client half-closed without EndOfAudio; treating it as the end")
            extra = await _next_or_none(requests)
            if extra is not None:
                raise ProtocolError("messages after EndOfAudio")
            out.put(_DONE)
            return received
        except BaseException:
            out.put(_AbortedError)
            raise


async def _next_or_none(requests: AsyncIterator[Any]) -> Any:
    try:
        return await anext(requests)
    except StopAsyncIteration:
        return None


def _drain(source: queue.Queue[Any]) -> Iterator[np.ndarray]:
    """The blocking audio iterator the voice consumes (runs on a worker thread)."""
    while True:
        item = source.get()
        if item is _DONE:
            return
        if item is _AbortedError:
            raise _AbortedError()
        yield item


# ---------------------------------------------------------------- building and serving

@dataclass
class Server:
    grpc_server: grpc.aio.Server
    servicer: UniFLGServicer
    health: health.aio.HealthServicer
    port: int

    async def stop(self, grace: float | None) -> None:
        """Stop accepting calls, let open streams finish within ``grace`` seconds, then release all."""
        await self.health.enter_graceful_shutdown()
        await self.grpc_server.stop(grace)
        await self.servicer.fanout.drain()
        self.servicer.fanout.close()
        self.servicer.pool.shutdown(wait=False, cancel_futures=True)


async def build_server(voice: Voice, config: ServerConfig, fanout: FanOut | None = None) -> Server:
    """A bound, not yet started server (``bind`` port 0 picks a free port; see ``Server.port``)."""
    config.validate()
    interceptors = [BearerTokenInterceptor(config.token)] if config.token else []
    options = [("grpc.max_receive_message_length", config.max_message_bytes),
               ("grpc.max_send_message_length", config.max_message_bytes),
               ("grpc.so_reuseport", 0)]
    server = grpc.aio.server(interceptors=interceptors, options=options)
    servicer = UniFLGServicer(voice, config, fanout)
    pb_grpc.add_UniFLGServiceServicer_to_server(servicer, server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
        server)
    if config.tls_cert and config.tls_key:
        creds = grpc.ssl_server_credentials([(config.tls_key, config.tls_cert)],
                                            root_certificates=config.tls_client_ca,
                                            require_client_auth=config.tls_client_ca is not None)
        port = server.add_secure_port(config.bind, creds)
    else:
        port = server.add_insecure_port(config.bind)
    if port == 0:
        raise OSError(f"could not bind {config.bind}")
    return Server(server, servicer, health_servicer, port)


async def serve(voice: Voice, config: ServerConfig, fanout: FanOut | None = None,
                ready: asyncio.Event | None = None) -> None:
    """Run until SIGTERM or SIGINT, then drain open streams (up to ``grace_seconds``) and return."""
    server = await build_server(voice, config, fanout)
    await server.grpc_server.start()
    host = config.bind.rpartition(":")[0]
    log.info("serving voice %r on %s:%d (%s)", voice.name, host, server.port,
             "TLS" if config.tls_cert else "plaintext")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    if ready is not None:
        ready.set()
    await stop.wait()
    log.info("shutting down: draining %d open stream(s) for up to %.0f s", server.servicer.active,
             config.grace_seconds)
    await server.stop(config.grace_seconds)
    log.info("stopped")
