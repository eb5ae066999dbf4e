"""Load and soak benchmark with a real gRPC client: concurrent Synthesize and Animate streams, mixed.

    python -m uniflg_bridge.loadtest --streams 16                    # one burst, in-process server, embedded voice
    python -m uniflg_bridge.loadtest --streams 64                    # beyond capacity: queued or UNAVAILABLE
    python -m uniflg_bridge.loadtest --target 127.0.0.1:50051 --pid 1234 \\
        --duration 1800 --concurrency 4 --rss-out soak.csv            # soak a running `uniflg serve`
    python -m uniflg_bridge.loadtest --voice-factory bridge_fakes:FakeVoice --path tests
    python -m uniflg_bridge.loadtest --target 127.0.0.1:50051 --token-file token   # a token-protected server
    python -m uniflg_bridge.loadtest --target npc.example:50051 --tls-ca server.pem --token-file token   # over TLS

A burst reports wall time, audio seconds produced per wall second, time to the first chunk (median and p95),
and each stream's outcome: ok, "busy" (UNAVAILABLE with a retry pause in the trailers: the documented refusal),
"status lost" (an Animate refusal that grpc.aio, which this client uses, turned into INTERNAL "Internal error from
Core" with no trailers because the upload was still running: grpc/grpc#36066; the sync client receives the real
status; counted, not an error), or an error (anything else; the exit status is 1 when there is one). A soak
(``--duration``) keeps ``--concurrency`` streams going, samples the server's resident memory every
``--sample-every`` seconds into a CSV and reports the memory slope after ``--warmup`` seconds (least squares,
MiB/min).

A bad option is one usage line and exit status 2; a target that cannot be reached or refuses GetInfo (a wrong or
missing token: UNAUTHENTICATED) is one line on stderr and exit status 1, as a stream error is.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import importlib
import itertools
import json
import logging
import os
import signal
import statistics
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from tqdm import tqdm
from uniflg import argtypes
from uniflg.audio import pcm16_bytes
from uniflg.cli import Parser, description
from uniflg.errors import UniFLGError
from uniflg.limits import Range
from uniflgapi.v1 import uniflg_pb2 as pb
from uniflgapi.v1 import uniflg_pb2_grpc as pb_grpc

from uniflg_bridge.client_connection import (
    ClientConnection,
    Metadata,
    add_connection_arguments,
    address,
    client_connection,
    unreachable_hint,
)
from uniflg_bridge.server import ServerConfig, Voice, build_server
from uniflg_bridge.status import RETRY_AFTER_KEY

log = logging.getLogger(__name__)

WEEK_S = 7 * 24 * 3600.0  # the longest soak and warm-up accepted


class TargetError(Exception):
    """The server cannot be load-tested: it cannot be reached, or it refused GetInfo (one line, naming it)."""


# Ordinary requests, including ones whose last chunk holds no landmark frame (issue: they once ended INTERNAL).
REQUESTS = (
    pb.SynthesizeRequest(text="こんにちは、今日はいい天気ですね。"),
    pb.SynthesizeRequest(text="一緒に散歩に行きませんか？", include_blendshapes=True),
    pb.SynthesizeRequest(text="こんにちは。", seed=5),
    pb.SynthesizeRequest(text="今日はいい天気ですね。", speed=4.0),
    pb.SynthesizeRequest(text="ありがとうございます。", speed=0.8, chunk_seconds=0.2),
)


def rss_mib(pid: int | None = None) -> float:
    """Resident set size of process ``pid`` (default: this one) from Linux /proc, MiB; NaN once it has exited
    (a server that dies in a soak shows as NaN samples and stream errors, not a traceback)."""
    try:
        with open(f"/proc/{pid or 'self'}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _mib(value: float) -> float | None:
    return round(value, 1) if np.isfinite(value) else None  # JSON has no NaN


@dataclass
class StreamResult:
    kind: str
    outcome: str  # "ok", "busy" (retryable refusal) or the gRPC code's name
    detail: str
    seconds: float
    first_chunk_s: float
    audio_s: float
    frames: int
    retry_after_ms: int = 0


STATUS_LOST = "status lost"  # see the module docstring (grpc/grpc#36066)


def _aio_lost_status(kind: str, exc: grpc.aio.AioRpcError, trailers: dict[str, Any]) -> bool:
    """grpc.aio's own failure when a server ends a client-streaming call it is still uploading: the client library
    reports INTERNAL with this exact text and no trailers, whatever status the server sent (an internal error of
    the server says "internal error (...); see the server log")."""
    return (kind == "animate" and exc.code() == grpc.StatusCode.INTERNAL and not trailers
            and (exc.details() or "") == "Internal error from Core")


async def _timed(kind: str, call: Callable[[], AsyncIterator[Any]]) -> StreamResult:
    """Run one stream (``call`` starts it), timed from the call to its final status."""
    t0 = time.perf_counter()
    first = 0.0
    try:
        async for r in call():
            which = r.WhichOneof("response")
            if which == "chunk" and not first:
                first = time.perf_counter() - t0
            if which == "status":
                return StreamResult(kind, "ok", "", time.perf_counter() - t0, first, r.status.audio_seconds,
                                    r.status.frame_count)
    except grpc.aio.AioRpcError as exc:
        trailers = dict(exc.trailing_metadata() or ())
        retry = int(trailers.get(RETRY_AFTER_KEY, 0) or 0)
        busy = exc.code() == grpc.StatusCode.UNAVAILABLE and retry > 0
        outcome = "busy" if busy else STATUS_LOST if _aio_lost_status(kind, exc, trailers) else exc.code().name
        return StreamResult(kind, outcome, (exc.details() or "")[:200], time.perf_counter() - t0, first, 0, 0,
                            retry)
    return StreamResult(kind, "NO_STATUS", "the stream ended without a Status", time.perf_counter() - t0,
                        first, 0, 0)


def _speech(seconds: float, sample_rate: int = 16000) -> np.ndarray:
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    return (0.3 * np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


async def _synthesize(client: pb_grpc.UniFLGServiceStub, request: pb.SynthesizeRequest,
                      metadata: Metadata = ()) -> StreamResult:
    return await _timed("synthesize", lambda: client.Synthesize(request, metadata=metadata, timeout=600))


async def _animate(client: pb_grpc.UniFLGServiceStub, audio: np.ndarray, sample_rate: int,
                   metadata: Metadata = ()) -> StreamResult:
    async def requests() -> Any:
        yield pb.AnimateRequest(header=pb.AudioHeader(sample_rate=sample_rate, channels=1))
        step = sample_rate // 10
        for i in range(0, len(audio), step):
            yield pb.AnimateRequest(audio=pcm16_bytes(audio[i:i + step]))
        yield pb.AnimateRequest(end_of_audio=pb.EndOfAudio())

    return await _timed("animate", lambda: client.Animate(requests(), metadata=metadata, timeout=600))


def _job(client: pb_grpc.UniFLGServiceStub, i: int, audio: np.ndarray, metadata: Metadata = ()) -> Any:
    """Stream ``i`` of the mix: odd ones Animate 16 kHz speech, even ones Synthesize REQUESTS in turn."""
    if i % 2:
        return _animate(client, audio, 16000, metadata)
    return _synthesize(client, REQUESTS[(i // 2) % len(REQUESTS)], metadata)


def _p95(values: list[float]) -> float | None:
    return round(float(np.percentile(values, 95)), 3) if values else None


def summarize(results: list[StreamResult], wall: float) -> dict[str, Any]:
    ok = [r for r in results if r.outcome == "ok"]
    firsts = [r.first_chunk_s for r in ok if r.first_chunk_s]
    busy = [r for r in results if r.outcome == "busy"]
    return {
        "streams": len(results),
        "outcomes": dict(Counter(r.outcome for r in results)),
        "errors": [asdict(r) for r in results if r.outcome not in ("ok", "busy", STATUS_LOST)][:20],
        "busy_refusal_s_max": round(max((r.seconds for r in busy), default=0.0), 3),
        "busy_retry_after_ms": sorted({r.retry_after_ms for r in busy})[:10],
        "wall_s": round(wall, 3),
        "audio_s_total": round(sum(r.audio_s for r in ok), 2),
        "audio_s_per_wall_s": round(sum(r.audio_s for r in ok) / wall, 3) if wall else None,
        "frames_per_s": round(sum(r.frames for r in ok) / wall, 1) if wall else None,
        "first_chunk_s_median": round(statistics.median(firsts), 3) if firsts else None,
        "first_chunk_s_p95": _p95(firsts),
        "stream_s_max": round(max((r.seconds for r in ok), default=0.0), 3),
    }


async def burst(client: pb_grpc.UniFLGServiceStub, streams: int, animate_seconds: float,
                metadata: Metadata = ()) -> dict[str, Any]:
    audio = _speech(animate_seconds)
    t0 = time.perf_counter()
    results = await asyncio.gather(*(_job(client, i, audio, metadata) for i in range(streams)))
    return summarize(list(results), time.perf_counter() - t0)


def slope_mib_per_min(samples: list[tuple[float, float]], after_s: float) -> float | None:
    """Least-squares slope of (seconds, MiB) samples taken at or after ``after_s``, in MiB per minute."""
    points = [(t, m) for t, m in samples if t >= after_s and np.isfinite(m)]
    if len(points) < 3:
        return None
    t, m = np.array(points).T
    return round(float(np.polyfit(t / 60.0, m, 1)[0]), 3)


async def soak(client: pb_grpc.UniFLGServiceStub, duration: float, concurrency: int, animate_seconds: float,
               pid: int | None, sample_every: float, warmup: float, rss_out: Path | None,
               metadata: Metadata = ()) -> dict[str, Any]:
    audio = _speech(animate_seconds)
    counter = itertools.count()
    results: list[StreamResult] = []
    samples: list[tuple[float, float]] = []
    t0 = time.perf_counter()
    end = t0 + duration

    async def worker() -> None:
        while time.perf_counter() < end:
            results.append(await _job(client, next(counter), audio, metadata))

    async def sampler() -> None:
        writer = None
        with (open(rss_out, "w", newline="") if rss_out else open(os.devnull, "w")) as fh:
            writer = csv.writer(fh)
            writer.writerow(["elapsed_s", "rss_mib", "calls", "errors"])
            with tqdm(total=int(duration), unit="s", desc="soak", disable=None) as bar:
                while True:
                    now = time.perf_counter() - t0
                    samples.append((now, rss_mib(pid)))
                    bad = sum(r.outcome not in ("ok", "busy", STATUS_LOST) for r in results)
                    writer.writerow([round(now, 1), round(samples[-1][1], 2), len(results), bad])
                    fh.flush()
                    bar.update(int(now) - bar.n)
                    bar.set_postfix(calls=len(results), errors=bad, rss=f"{samples[-1][1]:.1f}")
                    if now >= duration:
                        return
                    await asyncio.sleep(min(sample_every, max(0.0, duration - now)))

    sampling = asyncio.create_task(sampler())
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await sampling
    report = summarize(results, time.perf_counter() - t0)
    report.update({
        "concurrency": concurrency,
        "rss_mib_samples": [(round(t), _mib(m)) for t, m in samples],
        "rss_slope_mib_per_min_after_warmup": slope_mib_per_min(samples, warmup),
        "warmup_s": warmup,
    })
    return report


async def _get_info(channel: grpc.aio.Channel, target: str, connect_timeout: float,
                    connection: ClientConnection) -> pb.GetInfoResponse:
    """The server's GetInfo; TargetError when it cannot be reached in ``connect_timeout`` seconds or refuses."""
    try:
        await asyncio.wait_for(channel.channel_ready(), connect_timeout)
    except asyncio.TimeoutError:
        raise TargetError(f"cannot reach a server at {target} within {connect_timeout:g} s "
                          f"({unreachable_hint(connection, '--target', target)})") from None
    try:
        return await pb_grpc.UniFLGServiceStub(channel).GetInfo(pb.GetInfoRequest(), metadata=connection.metadata,
                                                                timeout=30)
    except grpc.aio.AioRpcError as exc:
        details = " ".join((exc.details() or "").split())  # one line
        hint = " (give the server's token: --token or --token-file)" \
            if exc.code() == grpc.StatusCode.UNAUTHENTICATED else ""
        raise TargetError(f"the server at {target} answered GetInfo with {exc.code().name}: {details}{hint}") \
            from None


async def run_load(voice: Voice | None, streams: int = 16, animate_seconds: float = 3.0, *,
                   target: str | None = None, config: ServerConfig | None = None, duration: float = 0.0,
                   concurrency: int = 4, pid: int | None = None, sample_every: float = 30.0,
                   warmup: float = 300.0, rss_out: Path | None = None, token: str | None = None,
                   connect_timeout: float = 5.0, connection: ClientConnection | None = None) -> dict[str, Any]:
    """A burst of ``streams`` (or, with ``duration``, a soak) against ``target`` or an in-process server on
    loopback serving ``voice`` with ``config`` (default settings; with ``token``, one that requires it). Every call
    sends ``token`` as ``authorization: Bearer``; ``connection`` (instead of ``token``) connects as it says, e.g.
    over TLS (a ``target`` only). TargetError (one line) when the server cannot be reached within
    ``connect_timeout`` seconds or refuses GetInfo."""
    server = None
    if connection is None:
        connection = ClientConnection.plaintext(token)
    elif target is None and connection.tls:
        raise ValueError("a TLS connection needs a target: the in-process server is plaintext on loopback")
    metadata = connection.metadata
    if target is None:
        assert voice is not None
        server = await build_server(voice, config or ServerConfig(bind="127.0.0.1:0", token=connection.token))
        warm_up = getattr(voice, "warm_up", None)
        if warm_up is not None:  # as `uniflg serve` does: the sessions' memory is not growth under load
            await asyncio.to_thread(warm_up)
        await server.grpc_server.start()
        target = f"127.0.0.1:{server.port}"
    rss_before = rss_mib(pid)
    try:
        async with connection.aio_channel(target) as channel:
            client = pb_grpc.UniFLGServiceStub(channel)
            info = await _get_info(channel, target, connect_timeout, connection)
            if duration > 0:
                report = await soak(client, duration, concurrency, animate_seconds, pid, sample_every, warmup,
                                    rss_out, metadata)
            else:
                report = await burst(client, streams, animate_seconds, metadata)
    except asyncio.CancelledError:  # Ctrl-C (see _interruptible): the open streams end now, inside the loop
        if server is not None:
            await server.stop(0)
            server = None
        raise
    finally:
        if server is not None:
            await server.stop(5)
    report.update({"max_concurrent_streams": info.limits.max_concurrent_streams,
                   "rss_mib_before": _mib(rss_before), "rss_mib_after": _mib(rss_mib(pid))})
    return report


async def _interruptible(work: Any) -> Any:
    """Run ``work``; Ctrl-C cancels it inside the event loop, so the in-process server cancels its open streams
    itself (asyncio.run's own Ctrl-C cancelled gRPC's call tasks from outside, and each printed a traceback), then
    KeyboardInterrupt."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    interrupted = False

    def interrupt() -> None:
        nonlocal interrupted
        interrupted = True
        task.cancel()

    try:
        loop.add_signal_handler(signal.SIGINT, interrupt)
    except (NotImplementedError, RuntimeError):  # Windows: asyncio.run's own handling
        return await task
    try:
        return await task
    except asyncio.CancelledError:
        if interrupted:
            raise KeyboardInterrupt from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGINT)


def _factory(spec: str) -> Voice:
    """The voice ``module:callable`` returns; ValueError (one line) when it cannot be imported or called."""
    module, _, name = spec.partition(":")
    if not module or not name:
        raise ValueError(f"--voice-factory {spec}: give module:callable")
    try:
        return getattr(importlib.import_module(module), name)()  # type: ignore[no-any-return]
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"--voice-factory {spec}: {exc} (--path adds a folder to search)") from None


def build_parser() -> argparse.ArgumentParser:
    seconds = {name: argtypes.within(Range(name, 0.0, WEEK_S)) for name in ("--duration", "--warmup")}
    parser = Parser(prog="python -m uniflg_bridge.loadtest", description=description(__doc__))
    parser.add_argument("--streams", type=argtypes.int_range(1, 10_000), default=16, metavar="N",
                        help="concurrent streams of a burst, 1 to 10_000 (default 16)")
    parser.add_argument("--animate-seconds", type=argtypes.within(Range("--animate-seconds", 0.1, 3600.0)),
                        default=3.0, metavar="SECONDS", help="audio per Animate stream, 0.1 to 3600 s (default 3)")
    parser.add_argument("--target", type=address, default=None, metavar="HOST:PORT",
                        help="a running server (default: one in this process, default settings)")
    add_connection_arguments(parser)  # --token, --token-file, --tls-* (TLS: with --target)
    parser.add_argument("--connect-timeout", type=argtypes.positive_seconds, default=5.0, metavar="SECONDS",
                        help="seconds to wait for the server (default 5)")
    parser.add_argument("--pid", type=argtypes.int_range(1, 2**22), default=None, metavar="PID",
                        help="the server's process, for its memory (a running process)")
    parser.add_argument("--duration", type=seconds["--duration"], default=0.0, metavar="SECONDS",
                        help="soak for this many seconds instead, up to a week (default 0: a burst)")
    parser.add_argument("--concurrency", type=argtypes.int_range(1, 10_000), default=4, metavar="N",
                        help="soak: streams kept going, 1 to 10_000 (default 4)")
    parser.add_argument("--sample-every", type=argtypes.positive_seconds, default=30.0, metavar="SECONDS",
                        help="soak: memory sample period (default 30)")
    parser.add_argument("--warmup", type=seconds["--warmup"], default=300.0, metavar="SECONDS",
                        help="soak: seconds before the slope, up to a week (default 300)")
    parser.add_argument("--rss-out", type=argtypes.path, default=None, metavar="CSV",
                        help="soak: CSV of the memory samples (its folder must exist)")
    parser.add_argument("--voice", type=argtypes.path, default=None, metavar="FOLDER",
                        help="voice folder (default: the embedded voice)")
    parser.add_argument("--backend", default="auto", choices=("auto", "torch", "onnxruntime", "tensorrt"),
                        help="inference backend (default: auto)")
    parser.add_argument("--voice-factory", default=None, metavar="MODULE:CALLABLE",
                        help="load-test the voice this returns (instead of --voice)")
    parser.add_argument("--path", action="append", default=[], metavar="FOLDER",
                        help="an extra sys.path entry for --voice-factory (repeatable; default none)")
    return parser


def _check_soak_options(args: argparse.Namespace) -> None:
    """ValueError (one line) for a --pid that names no process or an --rss-out that cannot be a file."""
    if args.pid is not None and not Path(f"/proc/{args.pid}").is_dir():
        raise ValueError(f"--pid {args.pid}: no such process (give the server's process id)")
    if args.rss_out is not None:
        if args.rss_out.is_dir():
            raise ValueError(f"--rss-out {args.rss_out}: a folder; give a CSV file name")
        if not args.rss_out.parent.is_dir():
            raise ValueError(f"--rss-out {args.rss_out}: no folder {args.rss_out.parent}")


def _voice(args: argparse.Namespace) -> Voice | None:
    """The voice of the in-process server (None with --target); ValueError (one line) when it cannot load."""
    if args.target is not None:
        return None
    if args.voice_factory:
        return _factory(args.voice_factory)
    from uniflg.voice import load_voice

    try:
        return load_voice(args.voice, backend=args.backend)
    except UniFLGError as exc:
        raise ValueError(f"--voice: {exc}") from None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")  # the report is stdout; stderr plain lines
    sys.path[:0] = args.path
    try:  # every local check (usage: exit 2) before the voice loads or a connection opens
        connection = client_connection(args)  # the token as `uniflg serve` reads it; TLS files checked
        if connection.tls and args.target is None:
            raise ValueError("--tls-* options need --target: the in-process server is plaintext on loopback")
        _check_soak_options(args)
        voice = _voice(args)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        report = asyncio.run(_interruptible(run_load(
            voice, args.streams, args.animate_seconds, target=args.target, duration=args.duration,
            concurrency=args.concurrency, pid=args.pid, sample_every=args.sample_every, warmup=args.warmup,
            rss_out=args.rss_out, connect_timeout=args.connect_timeout, connection=connection)))
    except TargetError as exc:
        log.error("error: %s", exc)
        return 1
    except KeyboardInterrupt:
        return 130
    sys.stdout.write(json.dumps(report, indent=2) + "\n")  # the report is this tool's output
    return 0 if not report["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
