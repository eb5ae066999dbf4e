"""Bounded-memory streaming: TailBuffer against a plain array, and the speech animator on the shipped voice
(20 ms pushes equal the whole clip; its buffers do not grow with the stream's length)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from uniflg.streaming import TailBuffer


def test_tail_buffer_matches_the_whole_stream():
    rng = np.random.default_rng(0)
    whole = rng.standard_normal((2, 5000)).astype(np.float32)
    buf, pos, kept = TailBuffer((2,), capacity=64), 0, 0
    while pos < whole.shape[1]:
        n = int(rng.integers(1, 200))
        buf.append(whole[:, pos:pos + n])
        pos = min(whole.shape[1], pos + n)
        kept = max(kept, pos - int(rng.integers(0, 300)))
        buf.trim(kept)
        a = int(rng.integers(buf.start, buf.end + 1))
        assert buf.end == pos and buf.start == max(0, kept)
        np.testing.assert_array_equal(buf.get(a, buf.end), whole[:, a:pos])
    assert buf.capacity <= 2 * (300 + 200)  # the window, not the 5000-item stream
    with pytest.raises(IndexError):
        buf.get(buf.start - 1, buf.end)
    with pytest.raises(IndexError):
        buf.get(buf.start, buf.end + 1)


def test_tail_buffer_takes_its_row_shape_from_the_first_append():
    buf = TailBuffer(None, capacity=4)
    buf.append(np.ones((1, 3, 10), np.float32))
    assert buf.get(2, 10).shape == (1, 3, 8) and buf.capacity >= 10


@pytest.fixture(scope="module")
def voice():
    from uniflg.voice import DEFAULT_VOICE_DIR, load_voice

    if not (DEFAULT_VOICE_DIR / "voice.json").is_file():
        pytest.skip("no embedded default voice")
    return load_voice(backend="onnxruntime")


def test_animator_memory_is_bounded_and_streaming_equals_the_whole_clip(voice):
    from uniflg.inference import SpeechAnimator

    sr, step = voice.sample_rate, voice.sample_rate // 50
    audio = np.random.default_rng(1).standard_normal(40 * sr).astype(np.float32) * 0.1
    g = np.zeros(1, np.int64)
    once = SpeechAnimator(voice.backend, voice.runtime, g, None)
    whole = np.concatenate(once.push(audio) + once.finish())
    animator = SpeechAnimator(voice.backend, voice.runtime, g, None)
    blocks, caps = [], []
    for i in range(0, audio.size, step):
        blocks += animator.push(audio[i:i + step])
        caps.append(animator.buffer_capacity)
    blocks += animator.finish()
    streamed = np.concatenate(blocks)
    assert streamed.shape == whole.shape == (1200, 70, 2)
    assert np.abs(streamed - whole).max() <= 1e-5
    at_10s, at_end = caps[10 * 50], caps[-1]
    assert at_end == at_10s, (at_10s, at_end)  # nothing grew over the last 30 s
    assert at_end[0] <= 8 * sr  # audio: the initial allocation (8 s), never the 40-s stream


def test_speech_path_selection_names_what_the_voice_has(voice):
    from uniflg.errors import InvalidInputError
    from uniflg.types import SynthesisOptions

    paths = voice.speech_paths()
    offline = voice.speech_path(None)
    assert offline.name == "offline" and 1000 < offline.lookahead_ms < 1200  # the default voice: about 1.1 s
    assert paths[-1] == offline and [p.lookahead_ms for p in paths] == sorted(p.lookahead_ms for p in paths)
    assert voice.speech_path(offline.lookahead_ms + 1) == offline  # the most look-ahead within the bound
    live = paths[0]
    assert live.name == "live250" and live.lookahead_ms <= 250 and voice.speech_path(250) == live
    listed = rf"live250 {live.lookahead_ms:.0f} ms, offline {offline.lookahead_ms:.0f} ms"  # each path's look-ahead
    with pytest.raises(InvalidInputError, match=listed):
        voice.speech_path(200)
    with pytest.raises(InvalidInputError):
        list(voice.animate([np.zeros(24000, np.float32)], 24000, SynthesisOptions(max_lookahead_ms=200)))
    audio = np.random.default_rng(5).standard_normal(3 * 24000).astype(np.float32) * 0.1
    fine = SynthesisOptions(max_lookahead_ms=2000)
    chunks = list(voice.animate((audio[i:i + 480] for i in range(0, audio.size, 480)), 24000, fine))
    sizes = [len(c.landmarks) for c in chunks[:-1] if len(c.landmarks)]
    assert sizes and max(sizes) <= 4  # small blocks for low latency (3 frames, +1 at a block's rounding)
    streamed = np.concatenate([c.landmarks for c in chunks])
    assert np.abs(streamed - voice.animate_array(audio, 24000, fine)).max() <= 1e-5
    # live input takes z_u from the voice's stored latent, not from the first second (which would delay frames)
    assert np.abs(streamed - voice.animate_array(audio, 24000)).max() > 1e-4


def test_warm_up_opens_every_speech_path():
    from uniflg.voice import load_voice

    voice = load_voice(backend="onnxruntime")  # a fresh voice: ONNX sessions open on first use
    voice.warm_up()
    opened = set(voice.backend.sessions)
    assert {"speech_to_latent", "latent_to_landmarks", "live250/speech_to_latent",
            "live250/latent_to_landmarks"} <= opened


def test_after_warm_up_the_first_live_audio_imports_nothing():
    """The input conditioning builds its filter (scipy.signal, ~0.3 s) on first audio; ``warm_up`` must have
    done that, or a live stream's first frames wait for the import (gRPC Animate: 540 ms instead of 270 ms)."""
    code = (
        "import sys, numpy as np\n"
        "from uniflg.voice import load_voice\n"
        "from uniflg.types import SynthesisOptions\n"
        "v = load_voice(backend='onnxruntime')\n"
        "cold = 'scipy.signal' in sys.modules\n"
        "v.warm_up()\n"
        "before = set(sys.modules)\n"
        "audio = (0.1 * np.sin(np.arange(v.sample_rate) / 7)).astype(np.float32)\n"
        "chunks = (audio[i:i + 4800] for i in range(0, audio.size, 4800))\n"
        "blocks = list(v.animate(chunks, 48000, SynthesisOptions(max_lookahead_ms=250)))\n"
        "print(cold, sorted(set(sys.modules) - before), len(blocks) > 0)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False [] True", out
