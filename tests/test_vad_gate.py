"""The voice-activity gate measured by ``uniflg eval robustness --vad`` (evaluation/vad.py): its envelope, what
each VAD calls speech, and the command's side-by-side report on the default voice."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from uniflg.conditioning import condition
from uniflg_train.evaluation import robustness
from uniflg_train.evaluation.vad import GateOptions, gate_envelope, speech_windows

SR = 16000


def test_envelope_holds_for_the_release_and_ramps_in_and_out() -> None:
    opts = GateOptions("webrtc", release_s=0.15, ramp_s=0.02)
    windows = np.zeros(20, bool)
    windows[2] = True  # one 30-ms speech window at 60-90 ms
    env = gate_envelope(windows, 20 * 480, SR, opts)
    w, ramp = 480, 320
    assert env[: 2 * w].max() == 0.0                       # closed before the speech
    assert env[2 * w + ramp - 1] == pytest.approx(1.0)     # open after one ramp
    assert env[2 * w + ramp // 2] == pytest.approx(0.5, abs=0.01)
    assert np.all(env[2 * w + ramp: 8 * w] == pytest.approx(1.0))  # the window, then 5 windows (150 ms) held
    assert env[8 * w + ramp // 2] == pytest.approx(0.5, abs=0.01)  # then a ramp down
    assert env[8 * w + ramp:].max() == 0.0
    with pytest.raises(Exception, match="--vad-mode"):
        GateOptions("webrtc", mode=4).validate()


@pytest.fixture(scope="module")
def speech() -> tuple[np.ndarray, int]:
    from uniflg.types import SynthesisOptions
    from uniflg.voice import load_voice

    voice = load_voice(backend="onnxruntime")
    audio, _ = voice.synthesize_all("今日はとても良い天気ですね。明日も晴れるといいですね。", SynthesisOptions(seed=3))
    return audio.astype(np.float32), voice.sample_rate


@pytest.mark.parametrize("vad", ["webrtc", "silero"])
def test_what_each_vad_calls_speech(vad: str, speech: tuple[np.ndarray, int]) -> None:
    pytest.importorskip("webrtcvad" if vad == "webrtc" else "silero_vad")
    audio, sr = speech
    opts = GateOptions(vad)
    rng = np.random.default_rng(0)
    level = np.float32(robustness.active_rms(audio, sr))
    # as the gate sees them: after the voice's input conditioning (level normalized)
    frac = {name: float(speech_windows(condition(x, sr), sr, opts).mean()) for name, x in {
        "speech": audio, "silence": np.zeros_like(audio),
        "hum": robustness.mains_hum(audio.size, sr) * level,
        "music": robustness.chords(audio.size, sr, rng) * level,
        "noise": robustness.pink_noise(audio.size, rng) * level}.items()}
    assert frac["speech"] > 0.5 and frac["silence"] == 0.0
    if vad == "webrtc":  # the GMM detector rejects hum but calls music and noise speech (docs/evaluation.md)
        assert frac["hum"] < 0.1 and frac["music"] > 0.9 and frac["noise"] > 0.9
    else:  # the neural one rejects all three
        assert max(frac["hum"], frac["music"], frac["noise"]) < 0.05


def test_robustness_command_reports_the_gate_beside_the_plain_voice(tmp_path, speech, capsys) -> None:
    pytest.importorskip("webrtcvad")
    from uniflg.cli import main

    audio, sr = speech
    sf.write(tmp_path / "a.wav", audio, sr)
    out = tmp_path / "r.json"
    assert main(["eval", "robustness", str(tmp_path / "a.wav"), "--vad", "webrtc", "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert "webrtc gate (mode 3)" in table and "digital silence" in table
    data = json.loads(out.read_text())
    plain, gated = data["clips"][0], data["gated"]["clips"][0]
    # the gate keeps the mouth shut on hum (the GMM detector rejects it), whatever the voice does without it
    assert abs(gated["non_speech"]["50 Hz hum"]) < 0.2 and "50 Hz hum" in plain["non_speech"]
    assert data["gated"]["clean_r_vs_ungated"][0] > 0.9  # and leaves clean speech's lips as they were
    assert main(["eval", "robustness", str(tmp_path / "a.wav"), "--vad", "webrtc", "--vad-mode", "4"]) == 2
