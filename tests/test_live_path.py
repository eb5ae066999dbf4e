"""The low-latency speech path: bounded right context (measured), training from a teacher voice, ONNX export
with parity against torch, streaming equal to the whole clip on the live graphs, and path selection."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from inference_helpers import make_voice  # noqa: E402
from uniflg.errors import InvalidInputError  # noqa: E402
from uniflg.model.live import LivePathConfig, LiveStackConfig, right_pads  # noqa: E402
from uniflg.types import SynthesisOptions  # noqa: E402
from uniflg.voice import load_voice  # noqa: E402
from uniflg_train import live  # noqa: E402


@pytest.mark.parametrize("right", [0, 1, 3, 7])
def test_stack_reads_exactly_its_right_budget(right):
    from uniflg.model.live import BoundedStack

    cfg = LiveStackConfig(channels=8, layers=5, dilations=(1, 2, 4), right_frames=right)
    assert sum(right_pads(cfg)) == min(right, sum((cfg.kernel_size - 1) * d // 2 for d in (1, 2, 4, 1, 2)))
    stack = BoundedStack(4, 3, cfg, 2).eval()
    x, cond = torch.randn(1, 4, 200), torch.randn(1, 2)
    left, measured_right = live.measure_left_right(stack, (x, cond), 1, 2)
    assert measured_right == sum(right_pads(cfg)) + 1  # + the measurement's margin
    assert left == sum((cfg.kernel_size - 1) * d for d in (1, 2, 4, 1, 2)) - sum(right_pads(cfg)) + 1


def test_path_config_fits_the_look_ahead():
    with pytest.raises(ValueError, match="109 ms"):
        live.path_config(100, 256, 24000, 30)
    for ms in (120, 150, 250):
        cfg = live.path_config(ms, 256, 24000, 30)
        predicted = (cfg.landmarks.right_frames + 2) / 30 + (cfg.speech.right_frames + 4) * 256 / 24000
        assert predicted * 1000 <= ms


def _noise_corpus(corpus, voice_dir, items, speaker):
    """``items`` noise utterances of ``speaker`` (1.5 s, 1.75 s, ...); every other one has a face track near the
    voice's neutral face; the same rows in train and test."""
    import soundfile as sf

    (corpus / "wavs").mkdir(parents=True)
    (corpus / "landmarks").mkdir()
    rng = np.random.default_rng(0)
    face = np.asarray(json.loads((voice_dir / "voice.json").read_text())["neutral_face"], np.float32)
    rows = []
    for i in range(items):
        seconds = 1.5 + 0.25 * i
        wav = (0.1 * rng.standard_normal(int(seconds * 24000))).astype(np.float32)
        sf.write(str(corpus / "wavs" / f"u{i}.wav"), wav, 24000)
        lm = None
        if i % 2 == 0:
            track = face + 0.01 * rng.standard_normal((round(seconds * 30), 70, 2)).astype(np.float32)
            np.save(corpus / "landmarks" / f"u{i}.npy", track)
            lm = f"landmarks/u{i}.npy"
        rows.append({"id": f"u{i}", "audio": f"wavs/u{i}.wav", "speaker": speaker, "landmarks": lm})
    for split in ("train", "test"):
        (corpus / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return corpus


@pytest.mark.parametrize("conditioning", ["speaker", "emotion"])
def test_teacher_conditions_each_item_as_the_runtime_does(tmp_path, conditioning):
    """UniFLG: g is the corpus speaker's row. UniFLG-AS (g = emotion): g is the default emotion and z_u comes from
    the speech, also for a speaker whose row lies past the emotion table (5 speakers, 3 emotions)."""
    from uniflg.config import VariantConfig
    from uniflg.voice import random_voice

    teacher = random_voice("tiny", tmp_path / "teacher", variant=VariantConfig(conditioning=conditioning),
                           speakers=("a", "b", "c", "d", "e"))
    corpus = _noise_corpus(tmp_path / "corpus", teacher, 2, "e")
    items = live.teacher_items(teacher, corpus, "train")
    assert [it.g for it in items] == [4 if conditioning == "speaker" else 0] * 2
    voice = load_voice(teacher, backend="onnxruntime")
    offline = voice.animate_array(items[1].wav, 24000, live.speech_options(voice, "e"))
    np.testing.assert_allclose(items[1].landmarks, offline, atol=1e-6)  # the unlabelled item's target
    assert live.main(["train", "--corpus", str(corpus), "--voice", str(teacher), "--out", str(tmp_path / "run"),
                      "--lookahead-ms", "250", "--speech-steps", "1", "--landmark-steps", "1", "--batch", "2"]) == 0
    live.export_path(tmp_path / "run", teacher, tmp_path / "voice")
    result = live.evaluate(tmp_path / "voice", corpus, "test", limit=1)
    assert result["items"] == 1 and len(result["metrics"]) == 2


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny random teacher voice, a 6-item corpus, a few steps of both phases, exported to a copy."""
    root = tmp_path_factory.mktemp("livepath")
    teacher = make_voice("tiny", root / "teacher")
    corpus = _noise_corpus(root / "corpus", teacher, 6, "speaker0")
    run = root / "run"
    assert live.main(["train", "--corpus", str(corpus), "--voice", str(teacher), "--out", str(run),
                      "--lookahead-ms", "250", "--speech-steps", "3", "--landmark-steps", "3", "--batch", "2",
                      "--checkpoint-every", "2"]) == 0
    out = root / "voice"
    entry = live.export_path(run, teacher, out)
    return out, corpus, entry


def test_exported_path_is_in_voice_json_with_its_measured_look_ahead(trained):
    out, _, entry = trained
    (name,) = [k for k in entry if k != "voice_mb"]
    voice = load_voice(out, backend="onnxruntime")
    paths = {p.name: p.lookahead_ms for p in voice.speech_paths()}
    assert set(paths) == {name, "offline"} and paths[name] <= 250 and paths[name] == entry[name]["lookahead_ms"]
    assert voice.speech_path(250).name == name and voice.speech_path(None).name == "offline"
    with pytest.raises(InvalidInputError, match=name):
        voice.speech_path(50)
    assert [p.name for p in load_voice(out, backend="torch").speech_paths()] == ["offline"]  # ONNX graphs only


def test_onnx_graphs_match_the_torch_modules(trained):
    out, _, entry = trained
    (name,) = [k for k in entry if k != "voice_mb"]
    spec = json.loads((out / "voice.json").read_text())
    cfg = LivePathConfig.from_dict(spec["live"][name]["config"])
    from uniflg.voice import VoiceSpec

    vspec = VoiceSpec.from_json((out / "voice.json").read_text())
    s2l, dec = live.build_modules(vspec, cfg)
    saved = torch.load(out.parent / "run" / "live.pt", weights_only=False)
    s2l.load_state_dict(saved["s2l"]), dec.load_state_dict(saved["dec"])
    from uniflg.voice_writer import round_to_half

    round_to_half(s2l), round_to_half(dec)  # the ONNX files store float16 initializers
    voice = load_voice(out, backend="onnxruntime")
    wav = 0.1 * np.random.default_rng(1).standard_normal((1, 30 * 256)).astype(np.float32)
    g, z_u = np.zeros(1, np.int64), np.random.default_rng(2).standard_normal((1, 16)).astype(np.float32)
    got = voice.backend.run(f"{name}/speech_to_latent", {"wav": wav, "g": g, "z_u": z_u})["latent"]
    want = s2l.eval()(torch.from_numpy(wav), torch.from_numpy(g), torch.from_numpy(z_u)).detach().numpy()
    assert got.shape == want.shape == (1, 32, 30) and np.abs(got - want).max() <= 1e-4
    lat = np.random.default_rng(3).standard_normal((1, 32, 25)).astype(np.float32)
    got = voice.backend.run(f"{name}/latent_to_landmarks", {"latent": lat, "g": g, "z_u": z_u})["landmarks"]
    want = dec.eval()(torch.from_numpy(lat), torch.from_numpy(g), torch.from_numpy(z_u)).detach().numpy()
    assert got.shape == (1, 25, 70, 2) and np.abs(got - want).max() <= 1e-4


def test_live_path_streams_equal_to_the_whole_clip_and_sooner(trained):
    out, _, entry = trained
    (name,) = [k for k in entry if k != "voice_mb"]
    voice = load_voice(out, backend="onnxruntime")
    rate, piece = 24000, 480
    audio = np.random.default_rng(4).standard_normal(4 * rate).astype(np.float32) * 0.1
    opts = SynthesisOptions(max_lookahead_ms=250)
    sent = [0]

    def feed():
        for i in range(0, audio.size, piece):
            sent[0] = min(audio.size, i + piece)
            yield audio[i:i + piece]

    chunks, lag = [], []
    for chunk in voice.animate(feed(), rate, opts):
        chunks.append(chunk.landmarks)
        if not chunk.is_last and len(chunk.landmarks) and sent[0] > rate:  # after z_u's first second
            lag.append(sent[0] / rate - (chunk.first_frame + len(chunk.landmarks)) / 30)
    streamed = np.concatenate(chunks)
    whole = np.concatenate([c.landmarks for c in voice.animate([audio], rate, opts)])
    assert streamed.shape == (120, 70, 2) and np.abs(streamed - whole).max() <= 1e-5
    assert max(lag) <= entry[name]["lookahead_ms"] / 1000 + 4 / 30 + piece / rate  # look-ahead + a block
    offline = voice.animate_array(audio, rate)
    assert not np.allclose(offline, streamed)  # a different path really ran


def test_evaluate_reports_every_path(trained):
    out, corpus, entry = trained
    result = live.evaluate(out, corpus, "test", limit=2)
    assert set(result["metrics"]) == {"offline", *[k for k in entry if k != "voice_mb"]}
    assert result["items"] == 2 and result["d_ll_ratio_to_offline"]["offline"] == 1.0


def test_live_commands_are_one_line_and_write_nothing_half_made(trained, tmp_path, caplog):
    """Review 20: ordinary mistakes were tracebacks, a resume ignored a changed --lookahead-ms, and an export from
    another voice's run left a copy of the voice without the live path behind."""
    import logging
    import shutil

    voice, corpus, _ = trained
    run = voice.parent / "run"

    def refused(*argv: str) -> str:
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            assert live.main(list(argv)) == 2
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and "Traceback" not in caplog.text, errors
        return errors[0]

    teacher = voice.parent / "teacher"
    train = ("train", "--corpus", str(corpus), "--voice", str(teacher), "--speech-steps", "1", "--landmark-steps",
             "1", "--batch", "2")
    assert "not a voice folder" in refused("train", "--corpus", str(corpus), "--voice", str(tmp_path / "nope"), "--out",
                                   str(tmp_path / "r"))
    (tmp_path / "afile").write_text("x")
    assert "is a file" in refused(*train, "--out", str(tmp_path / "afile"), "--lookahead-ms", "250")
    said = refused(*train, "--out", str(tmp_path / "short"), "--lookahead-ms", "50")
    assert said.startswith("--lookahead-ms 50: no live path fits") and not (tmp_path / "short").exists(), said
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    said = refused(*train, "--out", str(copy), "--lookahead-ms", "150")
    assert "was trained with other options (--lookahead-ms 250.0 -> 150.0)" in said, said
    assert "holds no live.pt" in refused("export", "--run", str(tmp_path / "nope"), "--voice", str(teacher), "--out",
                                         str(tmp_path / "v"))
    other = make_voice("small", tmp_path / "other")
    said = refused("export", "--run", str(run), "--voice", str(other), "--out", str(tmp_path / "v"))
    assert "was not distilled from --voice" in said and not (tmp_path / "v").exists(), said
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staged leftovers
