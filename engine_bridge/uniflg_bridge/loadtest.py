"""Load test: N concurrent streams, Synthesize and Animate mixed, against an in-process server on loopback.

    python -m uniflg_bridge.loadtest --streams 16                       # the embedded voice
    python -m uniflg_bridge.loadtest --voice-factory bridge_fakes:FakeVoice --path tests

Reports wall time, audio seconds and frames produced per wall second, per-stream latency to the first
chunk, errors, and the process's resident memory before and after (the server runs in this process).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from typing import Any

import grpc
import numpy as np
from uniflg.audio import pcm16_bytes
from uniflgapi.v1 import uniflg_pb2 as pb
from uniflgapi.v1 import uniflg_pb2_grpc as pb_grpc

from uniflg_bridge.server import ServerConfig, Voice, build_server

log = logging.getLogger(__name__)

TEXTS = ("こんにちは、今日はいい天気ですね。", "一緒に散歩に行きませんか？", "ありがとうございます。")


def rss_mib() -> float:
    """Resident set size of this process (Linux /proc), MiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class StreamResult:
    kind: str
    ok: bool
    error: str
    seconds: float
    first_chunk_s: float
    audio_s: float
    frames: int


async def _timed(kind: str, call: Callable[[], AsyncIterator[Any]]) -> StreamResult:
    """Run one stream (``call`` starts it), timed from the call to its final status."""
    t0 = time.perf_counter()
    first = 0.0
    async for r in call():
        if r.WhichOneof("response") == "chunk" and not first:
            first = time.perf_counter() - t0
        if r.WhichOneof("response") == "status":
            return StreamResult(kind, True, "", time.perf_counter() - t0,
                                first, r.status.audio_seconds, r.status.frame_count)
    return StreamResult(kind, False, "no status", time.perf_counter() - t0, first, 0, 0)


async def _synthesize(client: pb_grpc.UniFLGServiceStub, text: str) -> StreamResult:
    return await _timed("synthesize", lambda: client.Synthesize(pb.SynthesizeRequest(text=text), timeout=600))


async def _animate(client: pb_grpc.UniFLGServiceStub, audio: np.ndarray, sample_rate: int) -> StreamResult:
    async def requests() -> Any:
        yield pb.AnimateRequest(header=pb.AudioHeader(sample_rate=sample_rate, channels=1))
        step = sample_rate // 10
        for i in range(0, len(audio), step):
            yield pb.AnimateRequest(audio=pcm16_bytes(audio[i:i + step]))
        yield pb.AnimateRequest(end_of_audio=pb.EndOfAudio())

    return await _timed("animate", lambda: client.Animate(requests(), timeout=600))


async def _guarded(coro: Any, kind: str) -> StreamResult:
    try:
        return await coro  # type: ignore[no-any-return]
    except grpc.aio.AioRpcError as exc:
        return StreamResult(kind, False, f"{exc.code().name}: {exc.details()}", 0, 0, 0, 0)


async def run_load(voice: Voice, streams: int, animate_seconds: float = 3.0) -> dict[str, Any]:
    rss_before = rss_mib()
    server = await build_server(voice, ServerConfig(bind="127.0.0.1:0", max_streams=streams))
    await server.grpc_server.start()
    sample_rate = 16000
    t = np.arange(int(sample_rate * animate_seconds)) / sample_rate
    audio = (0.3 * np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        client = pb_grpc.UniFLGServiceStub(channel)
        await client.GetInfo(pb.GetInfoRequest(), timeout=30)
        rss_ready = rss_mib()
        t0 = time.perf_counter()
        jobs = [_guarded(_synthesize(client, TEXTS[i % len(TEXTS)]), "synthesize") if i % 2 == 0
                else _guarded(_animate(client, audio, sample_rate), "animate") for i in range(streams)]
        results = await asyncio.gather(*jobs)
        wall = time.perf_counter() - t0
    await server.stop(5)
    rss_after = rss_mib()
    ok = [r for r in results if r.ok]
    return {
        "streams": streams,
        "errors": [asdict(r) for r in results if not r.ok],
        "wall_s": round(wall, 3),
        "audio_s_total": round(sum(r.audio_s for r in ok), 2),
        "audio_s_per_wall_s": round(sum(r.audio_s for r in ok) / wall, 3),
        "frames_per_s": round(sum(r.frames for r in ok) / wall, 1),
        "first_chunk_s_median": round(statistics.median(r.first_chunk_s for r in ok), 3) if ok else None,
        "stream_s_max": round(max((r.seconds for r in ok), default=0.0), 3),
        "rss_mib_before": round(rss_before, 1),
        "rss_mib_loaded": round(rss_ready, 1),
        "rss_mib_after": round(rss_after, 1),
    }


def _factory(spec: str) -> Voice:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)()  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=16)
    parser.add_argument("--voice", default=None, help="voice folder (default: the embedded voice)")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--voice-factory", default=None, help="module:callable returning a voice")
    parser.add_argument("--path", action="append", default=[], help="extra sys.path entries")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    sys.path[:0] = args.path
    if args.voice_factory:
        voice = _factory(args.voice_factory)
    else:
        from uniflg.voice import load_voice

        voice = load_voice(args.voice, backend=args.backend)
    report = asyncio.run(run_load(voice, args.streams))
    sys.stdout.write(json.dumps(report, indent=2) + "\n")  # the report is this tool's output
    return 0 if not report["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
