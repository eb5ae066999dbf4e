"""A real gRPC server on port 0 and a real client: streams, limits, cancellation, health, reflection."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest
from bridge_fakes import FakeVoice
from bridge_server import running_server, stub
from uniflg.audio import pcm16_bytes
from uniflg.retarget import ARKIT_52, VRM0
from uniflgapi.v1 import uniflg_pb2 as pb

FPS = 30


@pytest.fixture(scope="module")
def server(voice: FakeVoice):
    with running_server(voice, max_streams=4, max_text_chars=200, max_audio_seconds=5.0) as srv:
        yield srv


def test_get_info(client) -> None:
    info = client.GetInfo(pb.GetInfoRequest(), timeout=5)
    assert info.voice == "fake" and list(info.speakers) == ["alice", "bob"]
    assert (info.fps, info.point_count, info.layout) == (30, 70, "openpose70")
    assert info.limits.max_text_chars == 200 and info.api_version == "uniflgapi.v1"
    assert list(info.blendshape_names) == list(ARKIT_52 + VRM0)


def test_synthesize_stream(client, voice: FakeVoice) -> None:
    responses = list(client.Synthesize(pb.SynthesizeRequest(text="こんにちは、世界。" * 2, speaker="bob",
                                                            chunk_seconds=0.25), timeout=30))
    kinds = [r.WhichOneof("response") for r in responses]
    assert kinds[0] == "header" and kinds[-1] == "status" and set(kinds[1:-1]) == {"chunk"}
    header = responses[0].header
    assert (header.fps, header.point_count, header.channels) == (30, 70, 1)
    assert header.request_id and header.start_time_code_since_epoch > 1.6e9
    chunks = [r.chunk for r in responses[1:-1]]
    samples = sum(len(c.audio) // 2 for c in chunks)
    frames = [f for c in chunks for f in c.frames]
    seconds = samples / header.sample_rate
    assert abs(len(frames) - seconds * FPS) <= 1
    assert [f.index for f in frames] == list(range(len(frames)))
    codes = [c.time_code for c in chunks]
    assert all(b > a for a, b in zip(codes, codes[1:], strict=False))
    times = [f.time_code for f in frames]
    assert all(b > a for a, b in zip(times, times[1:], strict=False))
    for c in chunks:  # each chunk's frames start inside the chunk's audio
        dur = len(c.audio) / 2 / header.sample_rate
        assert all(c.time_code - 1e-9 <= f.time_code < c.time_code + dur + 1e-9 for f in c.frames)
    assert all(len(f.points) == 140 and not f.blendshapes for f in frames)
    status = responses[-1].status
    assert responses[-1].HasField("status") and status.frame_count == len(frames)
    assert status.audio_seconds == pytest.approx(seconds)


def test_synthesize_with_blendshapes(client) -> None:
    responses = list(client.Synthesize(pb.SynthesizeRequest(text="あいうえお", include_blendshapes=True),
                                       timeout=30))
    names = list(responses[0].header.blendshape_names)
    assert names == list(ARKIT_52 + VRM0)
    frames = [f for r in responses[1:-1] for f in r.chunk.frames]
    assert frames and all(len(f.blendshapes) == len(names) for f in frames)
    values = np.array([f.blendshapes for f in frames])
    assert values.min() >= 0 and values.max() <= 1 and values[:, names.index("jawOpen")].max() > 0.2


def audio_file(tmp_path, seconds: float = 2.0, sr: int = 16000):
    import soundfile as sf

    t = np.arange(int(sr * seconds)) / sr
    path = tmp_path / "speech.wav"
    sf.write(path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr, subtype="PCM_16")
    data, rate = sf.read(path, dtype="int16")
    return data, rate


def test_animate_streams_frames_before_the_audio_ends(client, tmp_path) -> None:
    pcm, sr = audio_file(tmp_path)
    step = sr // 10  # 100 ms chunks
    pieces = [pcm[i:i + step].astype("<i2").tobytes() for i in range(0, len(pcm), step)]
    first_frames = threading.Event()
    sent_last_after_first_frames: list[bool] = []

    def requests() -> Iterator[pb.AnimateRequest]:
        yield pb.AnimateRequest(header=pb.AudioHeader(sample_rate=sr, channels=1))
        for piece in pieces[:-1]:
            yield pb.AnimateRequest(audio=piece)
        # Hold the last chunk back until frames have arrived: a server that waited for the whole clip
        # would never answer, and the wait below would time out.
        sent_last_after_first_frames.append(first_frames.wait(timeout=10))
        yield pb.AnimateRequest(audio=pieces[-1])
        yield pb.AnimateRequest(end_of_audio=pb.EndOfAudio())

    frames = []
    responses = list_and_flag(client.Animate(requests(), timeout=30), first_frames, frames)
    assert sent_last_after_first_frames == [True]
    assert responses[0].WhichOneof("response") == "header" and responses[0].header.sample_rate == sr
    assert responses[-1].HasField("status")
    assert abs(len(frames) - len(pcm) / sr * FPS) <= 1
    assert [f.index for f in frames] == list(range(len(frames)))
    assert responses[-1].status.audio_seconds == pytest.approx(len(pcm) / sr)


def list_and_flag(stream, event: threading.Event, frames: list) -> list:
    out = []
    for response in stream:
        out.append(response)
        if response.WhichOneof("response") == "chunk" and response.chunk.frames:
            frames.extend(response.chunk.frames)
            event.set()
    return out


def test_animate_half_close_counts_as_end(client) -> None:
    pcm = pcm16_bytes(np.zeros(16000, np.float32))
    reqs = [pb.AnimateRequest(header=pb.AudioHeader(sample_rate=16000, channels=1)),
            pb.AnimateRequest(audio=pcm)]
    responses = list(client.Animate(iter(reqs), timeout=10))
    assert responses[-1].HasField("status") and responses[-1].status.frame_count == 30


def test_health_and_reflection(server) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    channel, _ = stub(server)
    health = health_pb2_grpc.HealthStub(channel)
    for name in ("", "uniflgapi.v1.UniFLGService"):
        reply = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    refl = reflection_pb2_grpc.ServerReflectionStub(channel)
    answer = next(refl.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
    names = {s.name for s in answer.list_services_response.service}
    assert "uniflgapi.v1.UniFLGService" in names and "grpc.health.v1.Health" in names
    channel.close()
