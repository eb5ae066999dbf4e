"""Concurrent streams through a real gRPC server on one voice, each compared with the same request run alone:
the check that streams never cross-talk (shared contexts, shapes or buffers would mix them)."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from bridge_server import running_server, stub
from uniflgapi.v1 import uniflg_pb2 as pb

TEXTS = ("こんにちは、今日はいい天気ですね。", "一緒に散歩に行きませんか？", "ありがとうございます。また明日。",
         "おはようございます、元気ですか。")


def _request(i: int) -> pb.SynthesizeRequest:
    return pb.SynthesizeRequest(text=TEXTS[i % len(TEXTS)], seed=i, chunk_seconds=0.25)


def _collect(client: Any, request: pb.SynthesizeRequest) -> tuple[np.ndarray, np.ndarray, bool]:
    responses = list(client.Synthesize(request, timeout=300))
    chunks = [r.chunk for r in responses[1:-1]]
    audio = np.frombuffer(b"".join(c.audio for c in chunks), dtype="<i2")
    frames = np.array([list(f.points) for c in chunks for f in c.frames], np.float32)
    return audio, frames, responses[-1].HasField("status")  # a completed stream ends with its Status


def concurrent_streams(voice: Any, streams: int) -> dict[str, Any]:
    """Run ``streams`` Synthesize requests one after another, then all at once; -> a report with the worst
    audio difference (PCM16 steps), the worst landmark difference and the errors."""
    with running_server(voice, max_streams=streams, max_text_chars=200) as server:
        channel, client = stub(server)
        alone = [_collect(client, _request(i)) for i in range(streams)]
        together: list[Any] = [None] * streams
        errors: list[str] = []
        barrier = threading.Barrier(streams)

        def worker(i: int) -> None:
            try:
                barrier.wait()
                together[i] = _collect(client, _request(i))
            except Exception as exc:  # noqa: BLE001 - reported, the test asserts on it
                errors.append(f"stream {i}: {exc!r}")

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(streams)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)
        channel.close()
    audio_diff, frame_diff = 0, 0.0
    for i, (a, b) in enumerate(zip(alone, together, strict=True)):
        if b is None:
            errors.append(f"stream {i}: no result")
            continue
        if not a[2] or not b[2] or a[0].shape != b[0].shape or a[1].shape != b[1].shape:
            errors.append(f"stream {i}: completed {a[2]}/{b[2]}, shapes {a[0].shape}/{b[0].shape}")
            continue
        audio_diff = max(audio_diff, int(np.abs(a[0].astype(np.int32) - b[0]).max(initial=0)))
        frame_diff = max(frame_diff, float(np.abs(a[1] - b[1]).max(initial=0.0)))
    distinct = len({alone[i][0].tobytes() for i in range(streams)})
    return {"streams": streams, "errors": errors, "max_audio_diff_pcm16": audio_diff,
            "max_landmark_diff": frame_diff, "distinct_outputs": distinct}
