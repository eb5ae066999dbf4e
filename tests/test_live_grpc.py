"""gRPC Animate with AudioHeader.max_lookahead_ms on the shipped voice (real server on port 0, ONNX Runtime): the
field selects the live path and the header reports its look-ahead; an older client (no field) gets the offline path
unchanged; a bound no path meets is INVALID_ARGUMENT naming the paths."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
from bridge_server import running_server, stub
from uniflg.types import SynthesisOptions
from uniflg.voice import DEFAULT_VOICE_DIR, load_voice
from uniflg_bridge import wire
from uniflgapi.v1 import uniflg_pb2 as pb

pytestmark = pytest.mark.skipif(not (DEFAULT_VOICE_DIR / "voice.json").is_file(), reason="no embedded voice")
RATE = 16000


@pytest.fixture(scope="module")
def served():
    voice = load_voice(backend="onnxruntime")
    with running_server(voice, max_streams=2) as server:
        channel, client = stub(server)
        yield voice, client
        channel.close()


def animate(client, audio: np.ndarray, **header_fields) -> tuple[pb.StreamHeader, np.ndarray]:
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()

    def requests():
        yield pb.AnimateRequest(header=pb.AudioHeader(sample_rate=RATE, channels=1, **header_fields))
        for i in range(0, len(pcm), 3200):  # 100 ms chunks
            yield pb.AnimateRequest(audio=pcm[i:i + 3200])
        yield pb.AnimateRequest(end_of_audio=pb.EndOfAudio())

    responses = list(client.Animate(requests(), timeout=120))
    frames = [f for r in responses if r.HasField("chunk") for f in r.chunk.frames]
    assert [f.index for f in frames] == list(range(len(frames))) and responses[-1].HasField("status")
    return responses[0].header, wire.points_from_frames(frames)


def speech(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    rng = np.random.default_rng(0)
    return (0.2 * rng.standard_normal(t.size) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t))).astype(np.float32)


def test_max_lookahead_selects_the_live_path(served) -> None:
    voice, client = served
    audio = speech(3.0)
    header, frames = animate(client, audio, max_lookahead_ms=250)
    live = voice.speech_path(250)
    assert live.name != "offline" and header.lookahead_ms == pytest.approx(live.lookahead_ms, abs=0.05)
    pcm_audio = np.frombuffer((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes(), "<i2") / 32768
    local = voice.animate_array(pcm_audio.astype(np.float32), RATE, SynthesisOptions(max_lookahead_ms=250))
    assert frames.shape == (90, 70, 2) and np.abs(frames - local).max() <= 1e-4
    offline = voice.animate_array(pcm_audio.astype(np.float32), RATE)
    assert np.abs(frames - offline).max() > 1e-3  # another path really ran


def test_an_old_client_gets_the_offline_path_unchanged(served) -> None:
    voice, client = served
    audio = speech(2.0)
    header, frames = animate(client, audio)
    assert header.lookahead_ms == pytest.approx(voice.speech_path(None).lookahead_ms, abs=0.05)
    pcm_audio = np.frombuffer((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes(), "<i2") / 32768
    assert np.abs(frames - voice.animate_array(pcm_audio.astype(np.float32), RATE)).max() <= 1e-4


def test_a_bound_no_path_meets_is_invalid_argument(served) -> None:
    _, client = served
    with pytest.raises(grpc.RpcError) as info:
        animate(client, speech(1.0), max_lookahead_ms=100)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "offline" in info.value.details() and "100" in info.value.details()


def test_the_example_client_asks_for_the_live_path(tmp_path) -> None:
    """examples/grpc_client.py animate --max-lookahead-ms: what a new user tries the live gRPC path with."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import soundfile as sf

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(root / p) for p in (
        "sdk", "training", "engine_bridge", "engine_bridge/generated"))}
    voice = load_voice(backend="onnxruntime")
    audio = speech(2.0)
    sf.write(tmp_path / "in.wav", audio, RATE, subtype="PCM_16")
    pcm_audio, _ = sf.read(tmp_path / "in.wav", dtype="float32")
    with running_server(voice, max_streams=2) as server:
        done = subprocess.run([sys.executable, str(root / "examples" / "grpc_client.py"), "--address",
                               f"127.0.0.1:{server.port}", "animate", str(tmp_path / "in.wav"), "-o", str(tmp_path),
                               "--max-lookahead-ms", "250"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    local = voice.animate_array(pcm_audio, RATE, SynthesisOptions(max_lookahead_ms=250))
    assert np.abs(np.load(tmp_path / "animated.npy") - local).max() <= 1e-4  # the live path, not the offline one
