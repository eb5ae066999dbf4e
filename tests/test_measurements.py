"""Measurements of issue 16 on synthetic tracks and signals whose answers are known: lip measures, lags, the
energy baseline, robustness perturbations (levels, SNR, band edges, RT60) and the `uniflg eval` commands."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import sosfreqz, welch
from uniflg_train.evaluation import lips, robustness
from uniflg_train.evaluation.devset import SETS, DevClip, clip_bytes, cut, read_manifest
from uniflg_train.evaluation.realav import to_30fps

SR = 24000


def _face(openings: np.ndarray, eye_dist: float = 2.0, widths: np.ndarray | None = None) -> np.ndarray:
    """A track whose lip opening (gap / eye distance) is ``openings``; eyes ``eye_dist`` apart."""
    T = openings.size
    lm = np.zeros((T, 70, 2), np.float32)
    lm[:, 42:48, 0] = eye_dist
    lm[:, 62, 1] = 1.0
    lm[:, 66, 1] = 1.0 + openings * eye_dist
    w = np.ones(T) if widths is None else widths
    lm[:, 48, 0], lm[:, 54, 0] = -w * eye_dist / 2, w * eye_dist / 2
    return lm


def test_lip_opening_and_width_are_relative_to_the_eye_distance() -> None:
    o = np.array([0.0, 0.1, 0.25])
    for scale in (1.0, 3.7):
        lm = _face(o, eye_dist=2.0 * scale, widths=np.array([0.8, 0.9, 1.0]))
        np.testing.assert_allclose(lips.lip_opening(lm), o, atol=1e-6)
        np.testing.assert_allclose(lips.mouth_width(lm), [0.8, 0.9, 1.0], atol=1e-6)


@pytest.mark.parametrize("shift", [-4, 0, 3])
def test_best_lag_finds_a_known_shift(shift: int) -> None:
    rng = np.random.default_rng(1)
    real = np.convolve(rng.standard_normal(300), np.ones(4) / 4, mode="same")
    pred = np.roll(real, shift)  # pred[t] = real[t - shift]: positive shift = the prediction comes later
    r, lag = lips.best_lag(pred[10:-10], real[10:-10], max_lag=5)
    assert lag == shift and r == pytest.approx(1.0, abs=1e-9)
    assert lips.lagged_r(pred[10:-10], real[10:-10], 0) < (0.9 if shift else 1.01)


def test_energy_track_is_rms_per_frame_averaged_over_three() -> None:
    amps = np.array([0.0, 0.3, 0.3, 0.0, 0.6, 0.6])
    audio = np.concatenate([a * np.sign(np.sin(np.arange(800) + 0.5)) for a in amps])  # 800 = 1/30 s
    raw = lips.energy_track(audio, SR, 6, smooth=1)
    np.testing.assert_allclose(raw, amps, atol=1e-9)
    smooth = lips.energy_track(audio, SR, 6)
    np.testing.assert_allclose(smooth, [0.1, 0.2, 0.2, 0.3, 0.4, 0.6], atol=1e-9)  # edge-padded


def test_score_clip_reports_scale_lag_and_baseline() -> None:
    t = np.arange(150)
    real_o = 0.2 + 0.1 * np.sin(2 * np.pi * t / 20)
    pred_o = 0.2 + 0.05 * np.sin(2 * np.pi * (t - 2) / 20)  # half the movement, 2 frames late
    audio = np.repeat(real_o - 0.1, 800) * np.sign(np.sin(np.arange(150 * 800) + 0.5))  # energy follows the lips
    s = lips.score_clip(_face(pred_o), _face(real_o), audio, SR)
    assert s.frames == 150 and s.lag == 2 and s.r_best == pytest.approx(1.0, abs=1e-6)
    assert s.std_ratio == pytest.approx(0.5, abs=0.01)
    assert s.energy_lag == 0 and s.energy_r == pytest.approx(0.99, abs=0.01)  # 3-frame average smooths a little
    with pytest.raises(ValueError, match="too short"):
        lips.score_clip(_face(pred_o[:5]), _face(real_o[:5]), audio, SR)


def test_tracks_resample_to_30_fps_and_devset_cuts_ranges() -> None:
    track = _face(np.linspace(0, 0.24, 25))  # 1 s at 25 fps
    out = to_30fps(track, 25.0)
    assert out.shape == (30, 70, 2)
    np.testing.assert_allclose(lips.lip_opening(out)[:29], np.arange(29) / 30 * 0.25, atol=1e-6)
    audio = np.arange(2 * 24000, dtype=np.float32)
    lm, a = cut(_face(np.zeros(50)), 25.0, audio, 0.5, 1.5)
    assert lm.shape[0] == 30 and a.size == 24000 and a[0] == 12000
    with pytest.raises(Exception, match="outside"):
        cut(track, 25.0, audio, 3.0, None)
    meta, clips = read_manifest()
    assert [c.name for c in clips] == ["d10", "d11", "d20"] and clips[0].end == 4.5
    assert "LivePortrait" in meta["source"]["repository"] and all(len(c.sha256) == 64 for c in clips)
    assert {c.commit for c in clips} == {meta["source"]["commit"]} and {c.source for c in clips} == {""}


def test_the_larger_devset_names_each_clips_repository_and_commit() -> None:
    meta, clips = read_manifest(SETS["more"])
    assert len(clips) == 19 and len({c.name for c in clips}) == 19
    assert set(meta["sources"]) == {"LivePortrait", "SadTalker", "Talking-Face_PC-AVS", "video-retalking", "MimicTalk"}
    for c in clips:
        assert meta["sources"][c.source]["repository"].startswith("https://github.com/")
        assert len(c.commit) == 40 and len(c.sha256) == 64 and c.name not in {"d10", "d11", "d20"}


def test_devset_build_names_every_missing_repository_before_any_work(tmp_path) -> None:
    from uniflg_train.evaluation.devset import build

    (tmp_path / "src" / "MimicTalk").mkdir(parents=True)
    with pytest.raises(Exception, match=r"lacks LivePortrait, SadTalker, Talking-Face_PC-AVS, video-retalking:"):
        build(tmp_path / "src", tmp_path / "out", SETS["more"])
    (tmp_path / "file").write_text("x")
    with pytest.raises(Exception, match=r"--source .*file is a file"):
        build(tmp_path / "file", tmp_path / "out", SETS["more"])
    assert not (tmp_path / "out").exists()


def test_devset_files_come_from_the_folder_or_from_the_commit_in_a_clone(tmp_path) -> None:
    """A clip's file is read from the repository copy when its checksum matches, else at the manifest's commit
    from git (the file may have moved since); anything else is one clear error naming what to clone."""
    import hashlib

    repo = tmp_path / "Repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(git[:3] + ["init", "-q"], check=True)
    (repo / "clip.mp4").write_bytes(b"first")
    subprocess.run(git + ["add", "clip.mp4"], check=True)
    subprocess.run(git + ["commit", "-qm", "a"], check=True)
    commit = subprocess.run(git[:3] + ["rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    sha = hashlib.sha256(b"first").hexdigest()
    clip = DevClip("c", "clip.mp4", 0.0, None, sha, "", source="Repo", commit=commit)
    assert clip_bytes(tmp_path, clip, "https://github.com/x/Repo") == b"first"
    (repo / "clip.mp4").write_bytes(b"changed since")  # the working tree moved on: the commit still has it
    subprocess.run(git + ["commit", "-qam", "b"], check=True)
    assert clip_bytes(tmp_path, clip, "https://github.com/x/Repo") == b"first"
    with pytest.raises(Exception, match=r"clip.mp4 has sha256 \w+\.\.\., not the pinned 000000000000.*Repo .*"
                                        r"git clone https://github.com/x/Repo"):
        clip_bytes(tmp_path, DevClip("c", "clip.mp4", 0.0, None, "0" * 64, "", "Repo", commit), "https://github.com/x/Repo")
    with pytest.raises(Exception, match=r"Other not found"):
        clip_bytes(tmp_path, DevClip("c", "clip.mp4", 0.0, None, sha, "", "Other", commit), "https://github.com/x/Other")


# ---- robustness signals ---------------------------------------------------------------------------------
def test_pink_noise_falls_3_db_per_octave() -> None:
    x = robustness.pink_noise(10 * SR, np.random.default_rng(0))
    f, p = welch(x, SR, nperseg=4096)
    band = (f > 50) & (f < 5000)
    slope = np.polyfit(np.log10(f[band]), 10 * np.log10(p[band]), 1)[0]
    assert slope == pytest.approx(-10.0, abs=1.0)  # -10 dB/decade = -3 dB/octave
    assert np.sqrt(np.mean(x ** 2)) == pytest.approx(1.0, abs=1e-3)


def test_mix_at_snr_and_hum_levels() -> None:
    rng = np.random.default_rng(2)
    speech = (0.1 * np.sin(2 * np.pi * 220 * np.arange(2 * SR) / SR)).astype(np.float32)
    noise = robustness.pink_noise(speech.size, rng)
    mixed = robustness.mix_at_snr(speech, noise, 10.0, SR)
    snr = 10 * np.log10(np.mean(speech ** 2) / np.mean((mixed - speech) ** 2))
    assert snr == pytest.approx(10.0, abs=0.05)
    hum = robustness.mains_hum(SR, SR)
    spec = np.abs(np.fft.rfft(hum)) / SR
    peaks = sorted(np.argsort(spec)[-4:])
    assert peaks == [50, 100, 150, 200]


def test_telephone_band_edges() -> None:
    from scipy.signal import butter

    sos = butter(6, [300, 3400], btype="bandpass", fs=SR, output="sos")  # the filter robustness.bandpass builds
    f, h = sosfreqz(sos, worN=[100, 300, 1000, 3400, 6000], fs=SR)
    db = 20 * np.log10(np.abs(h))
    assert db[1] == pytest.approx(-3.0, abs=0.2) and db[3] == pytest.approx(-3.0, abs=0.2)
    assert abs(db[2]) < 0.1 and db[0] < -40 and db[4] < -30
    tone = np.sin(2 * np.pi * 100 * np.arange(SR) / SR)
    assert np.std(robustness.bandpass(tone, SR, 300, 3400)[SR // 2:]) < 0.01


@pytest.mark.parametrize("rt60", [0.2, 0.5, 0.8])
def test_room_impulse_has_the_stated_rt60(rt60: float) -> None:
    h = robustness.room_impulse(SR, rt60, np.random.default_rng(3))
    edc = 10 * np.log10(np.cumsum((h ** 2)[::-1])[::-1] / np.sum(h ** 2))  # Schroeder integral
    i5, i25 = np.argmax(edc < -5), np.argmax(edc < -25)
    t20 = (i25 - i5) / SR * 3  # T20 extrapolated to 60 dB
    assert t20 == pytest.approx(rt60, rel=0.1)


def test_score_robustness_on_an_energy_meter() -> None:
    """An 'animator' whose lip gap is the audio energy: scale-free r, exact std ratio for -26 dB, and a
    stationary sound at the speech's level opens the mouth as much as (steady) speech does."""
    def meter(audio: np.ndarray, sr: int) -> np.ndarray:
        n = round(audio.size / sr * 30)
        return _face(lips.energy_track(audio - np.mean(audio), sr, n))

    t = np.arange(3 * SR) / SR
    speech = (0.1 * np.sin(2 * np.pi * 200 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    res = robustness.score_robustness("x", speech, SR, meter)
    assert res.r["-26 dB"] == pytest.approx(1.0, abs=1e-6)
    assert res.std_ratio["-26 dB"] == pytest.approx(10 ** (-26 / 20), rel=1e-3)
    assert res.r["DC offset 0.2"] == pytest.approx(1.0, abs=1e-6)  # the meter removes the mean itself
    assert res.std_ratio["x4 gain, clipped"] > 1.0
    assert set(res.non_speech) == {"music (chords)", "pink noise", "50 Hz hum"}
    assert res.non_speech["50 Hz hum"] == pytest.approx(1.0, abs=0.15)



def test_non_speech_ratios_of_a_mouth_that_never_opens_are_not_measurable(caplog) -> None:
    """An undertrained voice printed ratios such as -1153475.71x: a difference near 0 in the denominator."""
    def still(audio: np.ndarray, sr: int) -> np.ndarray:
        n = round(audio.size / sr * 30)
        return _face(np.full(n, 0.05) + 1e-7 * np.arange(n) * (np.abs(audio).max() > 0))  # all but shut on both

    t = np.arange(3 * SR) / SR
    speech = (0.1 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    res = robustness.score_robustness("still", speech, SR, still)
    assert all(np.isnan(v) for v in res.non_speech.values())
    assert "still: the mouth opens no more on the speech than on digital silence" in caplog.text
    from uniflg_train.evaluation.measure_command import robustness_markdown

    table = robustness_markdown([res])
    assert "| pink noise | not measurable (the mouth opens no more on speech) |" in table


# ---- the commands on the real default voice ------------------------------------------------------------
def test_eval_real_av_command_finds_a_known_lag(tmp_path, capsys) -> None:
    from uniflg.cli import main
    from uniflg.types import SynthesisOptions
    from uniflg.voice import load_voice

    voice = load_voice(backend="onnxruntime")
    audio, _ = voice.synthesize_all("今日はとても良い天気ですね。", SynthesisOptions(seed=3))
    pred = voice.animate_array(audio, voice.sample_rate)
    real = np.concatenate([pred[:1].repeat(2, 0), pred[:-2]])  # the 'real' lips: the same, 2 frames later
    sf.write(tmp_path / "a.wav", audio, voice.sample_rate)
    np.save(tmp_path / "a.npy", real)
    (tmp_path / "a.json").write_text(json.dumps({"fps": 30, "note": "synthetic"}))
    out = tmp_path / "r.json"
    assert main(["eval", "real-av", str(tmp_path), "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert "| a |" in table and "median" in table
    clip = json.loads(out.read_text())["clips"][0]
    assert clip["lag"] == -2 and clip["r_best"] > 0.999 and clip["std_ratio"] == pytest.approx(1.0, abs=0.02)
    assert main(["eval", "real-av", str(tmp_path / "none")]) == 2
    assert main(["eval"]) == 2


def test_eval_real_av_scores_the_live_path_when_asked(tmp_path, capsys, caplog) -> None:
    from uniflg.cli import main
    from uniflg.types import SynthesisOptions
    from uniflg.voice import load_voice

    voice = load_voice(backend="onnxruntime")
    audio, _ = voice.synthesize_all("明日も晴れるといいですね。", SynthesisOptions(seed=4))
    live = voice.animate_array(audio, voice.sample_rate, SynthesisOptions(max_lookahead_ms=250))
    sf.write(tmp_path / "a.wav", audio, voice.sample_rate)
    np.save(tmp_path / "a.npy", live)  # the 'real' lips: exactly what the live path draws
    (tmp_path / "a.json").write_text(json.dumps({"fps": 30}))
    scores = {}
    for name, extra in (("live", ["--max-lookahead-ms", "250"]), ("offline", [])):
        out = tmp_path / f"{name}.json"
        assert main(["eval", "real-av", str(tmp_path), "--out", str(out), *extra]) == 0
        data = json.loads(out.read_text())
        scores[name] = data["clips"][0]
        assert data["speech_path"] == ("live250" if extra else "offline")  # the saved figures say what was scored
    capsys.readouterr()
    assert scores["live"]["r"] > 0.999 and scores["live"]["lag"] == 0
    assert scores["offline"]["r"] < 0.99  # the two paths differ, so the option really chose the live one
    assert main(["eval", "real-av", str(tmp_path), "--max-lookahead-ms", "10"]) == 2
    assert "at most 10 ms of look-ahead; it has: live250" in caplog.text


def test_lip_energy_r_follows_the_mouth_against_the_speech_energy() -> None:
    from uniflg_train.evaluation.speech_quality import Rendering, lip_energy_r

    t = np.arange(SR * 2) / SR
    audio = (np.sin(2 * np.pi * 220 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 1.5 * t))).astype(np.float32)
    energy = lips.energy_track(audio, SR, 60)
    assert lip_energy_r(Rendering(audio, SR, _face(energy))) == pytest.approx(1.0, abs=1e-9)
    assert lip_energy_r(Rendering(audio, SR, _face(energy.max() - energy))) == pytest.approx(-1.0, abs=1e-9)
    late = _face(np.concatenate([energy[:5], energy[:-5]]))  # the mouth 5 frames (1/6 s) behind the voice
    assert 0.0 < lip_energy_r(Rendering(audio, SR, late)) < 0.9


def test_eval_speech_quality_states_the_sets_and_reports_wer_and_lip_r(tmp_path, capsys) -> None:
    pytest.importorskip("pocketsphinx", reason="pocketsphinx (the eval extra) is not installed")
    pytest.importorskip("speechmos", reason="speechmos (the eval extra) is not installed")
    from uniflg.cli import main
    from uniflg.voice import load_voice
    from uniflg_train.corpus.sentences_en import COVERAGE

    out = tmp_path / "q.json"
    assert main(["eval", "speech-quality", "--limit", "1", "--systems", "voice,voice-en,espeak:en-us",
                 "--backend", "onnxruntime", "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert "| WER (pocketsphinx) | lip r vs energy (median) |" in table
    shipped = load_voice(backend="onnxruntime")
    english = shipped.speaker_for("en") or shipped.speakers[0]  # the shipped voice's English speaker
    assert f"| voice-en (default, {english}) | en | held-out (1) |" in table
    assert "Sentences: ja held-out 1, en held-out 1" in table
    voice, voice_en, espeak = json.loads(out.read_text())
    assert (voice["language"], voice["wer"], voice["items"]) == ("ja", None, 1) and -1 <= voice["lip_r"] <= 1
    assert voice_en["language"] == "en" and -1 <= voice_en["lip_r"] <= 1
    assert voice_en["wer"] * 5 == pytest.approx(round(voice_en["wer"] * 5))  # errors / the 5 words of sentence 1
    assert espeak["lip_r"] is None and espeak["sentences"] == "held-out" and 1 < espeak["seconds"] < 5
    assert main(["eval", "speech-quality", "--limit", "1", "--systems", "espeak:en-us", "--english-sentences",
                 "coverage", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["sentences"] == "coverage" and row["items"] == 1 and len(COVERAGE) == 12
    for bad in (["--systems", "voice,nope"], ["--systems", "hts:x"]):
        assert main(["eval", "speech-quality", *bad]) == 2
    with pytest.raises(SystemExit) as stop:  # a usage error, refused by argparse
        main(["eval", "speech-quality", "--limit", "0"])
    assert stop.value.code == 2 and "--limit: must be from 1" in capsys.readouterr().err


def test_phone_baseline_opens_on_open_vowels_and_stays_shut_in_silence() -> None:
    pytest.importorskip("pocketsphinx", reason="pocketsphinx (the eval extra) is not installed")
    from uniflg.types import SynthesisOptions
    from uniflg.voice import load_voice
    from uniflg_train.evaluation.phone_baseline import PHONE_SHAPE, SHAPE_OPENING, PhoneRecognizer

    # (not espeak-ng: its audio depends on what it spoke before in the process, which would move other tests' figures)
    voice = load_voice(backend="onnxruntime")
    spoken, _ = voice.synthesize_all("私は朝早く、母と畑へ出かけました。", SynthesisOptions(seed=1))
    rate = voice.sample_rate
    silence = np.zeros(rate, np.float32)
    audio = np.concatenate([silence, spoken, silence])
    recognizer = PhoneRecognizer()
    phones = recognizer.phones(audio, rate)
    assert [p for p, *_ in phones][0] == "SIL" and {"AA", "AE", "AH"} & {p for p, *_ in phones}
    assert all(a < b for _, a, b in phones) and phones[-1][2] <= audio.size / rate + 0.02
    n = round(audio.size / rate * 30)
    track = recognizer.opening(audio, rate, n)
    assert track.shape == (n,) and track.min() >= 0 and track.max() <= 1
    # digital silence either side (0.67 s each) stays shut: the recognizer dithers, so zeros are not read as phones
    assert track[:20].max() < 0.05 and track[-20:].max() < 0.05
    assert track[30:-30].max() >= 0.55  # the /a/ of 私, 朝, 母, 畑: open (shape C or D) somewhere
    # the mapping: every shape has an opening, and closed lips (A) open least
    assert set(PHONE_SHAPE.values()) <= set(SHAPE_OPENING) and SHAPE_OPENING["A"] == min(SHAPE_OPENING.values())
    # the same audio gives the same track however often it was decoded (no state carried between clips)
    recognizer.opening(np.random.default_rng(0).normal(0, 0.1, rate).astype(np.float32), rate, 30)
    assert np.array_equal(recognizer.opening(audio, rate, n), track)


def test_eval_real_av_phone_baseline_column(tmp_path, capsys) -> None:
    pytest.importorskip("pocketsphinx", reason="pocketsphinx (the eval extra) is not installed")
    from uniflg.cli import main
    from uniflg.types import SynthesisOptions
    from uniflg.voice import load_voice
    from uniflg_train.evaluation.lips import lip_opening, pearson
    from uniflg_train.evaluation.phone_baseline import PhoneRecognizer

    voice = load_voice(backend="onnxruntime")
    audio, landmarks = voice.synthesize_all("今日はとても良い天気ですね。", SynthesisOptions(seed=3))
    sf.write(tmp_path / "a.wav", audio, voice.sample_rate)
    np.save(tmp_path / "a.npy", landmarks)  # the 'real' lips: the text path's own face
    out = tmp_path / "r.json"
    assert main(["eval", "real-av", str(tmp_path), "--out", str(out), "--phone-baseline"]) == 0
    table = capsys.readouterr().out
    assert "| phones r (lag 0) |" in table and "Phones r: the recognizer baseline" in table
    data = json.loads(out.read_text())
    clip = data["clips"][0]
    n = clip["frames"]
    expected = pearson(PhoneRecognizer().opening(audio, voice.sample_rate, n), lip_opening(landmarks[:n]))
    assert clip["phones_r"] == pytest.approx(expected, abs=1e-9) and data["median"]["phones_r"] == clip["phones_r"]
    assert clip["phones_r"] > 0.5  # Japanese read by an English phone recognizer still finds the open vowels (0.77)
    assert main(["eval", "real-av", str(tmp_path), "--out", str(out)]) == 0  # without the option: no column
    assert "phones_r" not in json.loads(out.read_text())["median"]


# ---- English speech with phoneme events, the sentence set, speech quality --------------------------------
def test_espeak_voices_report_ordered_phonemes_inside_the_audio() -> None:
    from uniflg_train.corpus.espeak_voice import synthesize

    # In a fresh process: after some earlier tests in the same process the first word's phoneme events went
    # missing once (a full-suite run on a fresh clone; not reproduced alone). Noted for follow-up.
    code = ("import json; from uniflg_train.corpus.espeak_voice import synthesize as s; a = s('The quick brown fox.', "
            "'en-us'); print(json.dumps([p.phoneme.strip(\"',\") for p in a.phonemes "
            "if not p.phoneme.startswith('_')][:4]))")
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(first) == ["D", "@2", "k", "w"]  # "the qu..."
    a = synthesize("The quick brown fox.", "en-us")
    b = synthesize("The quick brown fox.", "en-us", rate=120)
    assert a.sample_rate == 22050 and a.audio.dtype == np.float32 and 0.05 < np.abs(a.audio).max() <= 1.0
    starts = [p.phoneme and p.start for p in a.phonemes]
    assert starts == sorted(starts) and a.phonemes[-1].start <= a.audio.size / a.sample_rate + 1e-3
    spoken = [p.phoneme.strip("',") for p in a.phonemes if not p.phoneme.startswith("_")]
    assert {"k", "w", "f"} <= set(spoken)
    assert b.audio.size > 1.25 * a.audio.size  # slower rate, longer audio
    # libespeak-ng carries state between calls (pitch flutter), so the same sequence of calls in a fresh process
    # gives the same audio: check that across two processes
    code = ("import hashlib; from uniflg_train.corpus.espeak_voice import synthesize as s; "
            "print(hashlib.sha256(s('Hi there.').audio.tobytes() + s('Bye.', 'en+m3').audio.tobytes()).hexdigest())")
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(2)}
    assert len(runs) == 1
    with pytest.raises(ValueError, match="no voice"):
        synthesize("hello", "xx-nonexistent")


def test_english_sentence_set_covers_the_phonemes() -> None:
    from uniflg_train.corpus.espeak_voice import synthesize
    from uniflg_train.corpus.sentences_en import COVERAGE, make_sentence

    seen = {p.phoneme.strip("',") for s in COVERAGE for p in synthesize(s).phonemes}
    consonants = {"p", "b", "t", "d", "k", "g", "f", "v", "T", "D", "s", "z", "S", "Z", "h", "tS", "dZ", "m", "n",
                  "N", "l", "r", "w", "j"}
    vowels = {"i:", "I", "E", "a", "A:", "V", "U", "u:", "3:", "@", "eI", "aI", "OI", "aU", "oU"}
    assert consonants | vowels <= seen
    rng1, rng2 = np.random.default_rng(5), np.random.default_rng(5)
    assert [make_sentence(rng1) for _ in range(20)] == [make_sentence(rng2) for _ in range(20)]


def test_word_errors_and_dnsmos_rank_noise_below_speech() -> None:
    from uniflg_train.corpus.espeak_voice import synthesize
    from uniflg_train.evaluation.speech_quality import dnsmos, word_errors

    assert word_errors("The cat, sat!", "the cat sat") == (0, 3)
    assert word_errors("a b c", "a x c d") == (2, 3)  # one substitution, one insertion
    assert word_errors("a b c", "") == (3, 3)
    speech = synthesize("Please hand me the usual pleasure cruise brochure.")
    noise = np.random.default_rng(0).standard_normal(3 * 16000).astype(np.float32) * 0.1
    assert dnsmos(speech.audio, speech.sample_rate)["p808"] > dnsmos(noise, 16000)["p808"] + 0.5


def test_a_transcript_does_not_depend_on_what_was_transcribed_before() -> None:
    pytest.importorskip("pocketsphinx", reason="pocketsphinx (the eval extra) is not installed")
    from uniflg_train.evaluation.speech_quality import ENGLISH_SETS, Recognizer, espeak_synth

    spoken = [espeak_synth("en-us")(t) for t in ENGLISH_SETS["held-out"].sentences[:3]]
    fresh = [Recognizer().transcribe(x.audio, x.sample_rate) for x in spoken]
    used = Recognizer()  # pocketsphinx's cepstral mean and noise estimates would carry these forward
    noise = np.random.default_rng(0).normal(0, 0.1, 48000).astype(np.float32)
    used.transcribe(noise, 24000)
    used.transcribe(spoken[0].audio[::-1].copy(), spoken[0].sample_rate)
    again = []
    for x in reversed(spoken):
        again.append(used.transcribe(x.audio, x.sample_rate))
        used.transcribe(noise, 24000)
    assert again[::-1] == fresh
    assert all(fresh)


# ---- where the English text path stops (uniflg eval text-ceiling) ----------------------------------------------
def test_token_means_average_each_tokens_frames() -> None:
    import torch
    from uniflg.model.commons import generate_path
    from uniflg_train.evaluation.text_ceiling import token_means

    durations = torch.tensor([[2.0, 0.0, 3.0, 1.0]])  # token 1 has no frame
    path = generate_path(durations, torch.ones(1, 6, 4))  # (1, T=6, N=4)
    z_p = torch.arange(12, dtype=torch.float32).reshape(1, 2, 6)
    means = token_means(z_p, path)
    expected = torch.tensor([[[0.5, 0.5, 3.0, 3.0, 3.0, 5.0], [6.5, 6.5, 9.0, 9.0, 9.0, 11.0]]])
    assert torch.allclose(means, expected)
    assert torch.allclose(token_means(means, path), means)  # already one value per token: unchanged


def test_eval_text_ceiling_reports_each_paths_wer_and_refuses_what_it_cannot_read(tmp_path, capsys, caplog) -> None:
    pytest.importorskip("pocketsphinx", reason="pocketsphinx (the eval extra) is not installed")
    from uniflg.cli import main
    from uniflg.voice import DEFAULT_VOICE_DIR

    def fresh(*argv: str) -> str:
        """``uniflg ARGV`` in a new process -> its stdout. libespeak-ng carries state from one utterance to the next
        (its pitch flutter): only commands that start from a fresh library speak the same sentences the same way."""
        done = subprocess.run([sys.executable, "-m", "uniflg.cli", *argv], capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    out = tmp_path / "ceiling.json"
    table = fresh("eval", "text-ceiling", "--checkpoint", str(DEFAULT_VOICE_DIR), "--reference", "espeak:en-us",
                  "--limit", "2", "--out", str(out))
    assert "| reference | reconstruction | per_token | text_mas | text |" in table and "read by espeak:en-us" in table
    report = json.loads(out.read_text())
    # "The weather is nice today." + "Would you like to go for a walk?"
    assert report["sentences"] == 2 and report["words"] == 5 + 8
    assert set(report["wer"]) == {"reference", "reconstruction", "per_token", "text_mas", "text"}
    assert all(w >= 0 and (w * report["words"]) == pytest.approx(round(w * report["words"]))
               for w in report["wer"].values())
    # the reference is transcribed as speech-quality transcribes it: the same WER for the same sentences
    (row,) = json.loads(fresh("eval", "speech-quality", "--limit", "2", "--systems", "espeak:en-us", "--json"))
    assert report["wer"]["reference"] == pytest.approx(row["wer"])
    assert report["sentence_set"] == "held-out" and report["seed"] == 0 and "seed 0" in table
    # the runtime's noise scales unless told otherwise, stated in both forms
    assert (report["latent_noise"], report["duration_noise"]) == (0.667, 0.8)
    assert "latent noise 0.667, duration noise 0.8" in table
    # each path decodes the reference's own length (the MAS paths) or its text, and none is silence or a copy
    import torch
    from uniflg.model.io import load_model
    from uniflg.voice_spec import read_spec
    from uniflg_train.evaluation.speech_quality import ENGLISH_SETS, espeak_synth
    from uniflg_train.evaluation.text_ceiling import renderings

    spec = read_spec(DEFAULT_VOICE_DIR)
    model = load_model(DEFAULT_VOICE_DIR / spec.weights, config=spec.config).float().eval()
    text = ENGLISH_SETS["held-out"].sentences[0]
    spoken = espeak_synth("en-us")(text)
    waves = renderings(model, text, spoken, 0, 0.667, 0.8, seed=0)
    hop, rate = model.cfg.audio.hop_length, model.cfg.audio.sample_rate
    frames = len(spoken.audio) * rate // spoken.sample_rate // hop
    for name in ("reconstruction", "per_token", "text_mas"):
        assert abs(len(waves[name]) - frames * hop) <= hop, name
    assert 0.3 < len(waves["text"]) / (frames * hop) < 3
    rms = {name: float(np.sqrt(np.mean(w ** 2))) for name, w in waves.items()}
    assert all(r > 1e-3 for r in rms.values()), rms
    names = sorted(waves)
    assert all(not np.allclose(waves[a][:1000], waves[b][:1000]) for a in names for b in names if a < b)
    assert torch.equal(torch.from_numpy(waves["per_token"]),
                       torch.from_numpy(renderings(model, text, spoken, 0, 0.667, 0.8, seed=1)["per_token"]))
    # without noise the sampled paths no longer depend on the seed (so the noise options reach them)
    quiet = [renderings(model, text, spoken, 0, 0.0, 0.0, seed=k) for k in (0, 1)]
    assert all(np.array_equal(quiet[0][name], quiet[1][name]) for name in ("text_mas", "text"))
    assert not np.array_equal(waves["text_mas"], renderings(model, text, spoken, 0, 0.667, 0.8, seed=1)["text_mas"])
    for option in ("--latent-noise", "--duration-noise"):
        with pytest.raises(SystemExit) as exc:
            main(["eval", "text-ceiling", "--checkpoint", str(DEFAULT_VOICE_DIR), option, "-1"])
        assert exc.value.code == 2
        assert f"argument {option}: must be a finite number from 0 to 10; got -1" in capsys.readouterr().err
    for bad, said in ((["--reference", "kokoro:jf_alpha"], "the reference reads English"),
                      (["--reference", "espeak:fr"], "with an English espeak-ng voice"),
                      (["--speaker", "nobody"], "--speaker nobody: the model has no such speaker"),
                      (["--checkpoint", str(tmp_path / "none")], "it takes a checkpoint directory")):
        args = ["eval", "text-ceiling", "--checkpoint", str(DEFAULT_VOICE_DIR), "--limit", "1", *bad]
        caplog.clear()
        assert main(args) == 2, bad
        assert said in caplog.text, said
