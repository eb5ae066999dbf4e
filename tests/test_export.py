"""Export: `uniflg export` writes a verified voice folder; TensorRT engines where a GPU and TensorRT exist;
a fresh virtual environment with no torch runs `uniflg speak` / `uniflg animate` on an exported voice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")

from inference_helpers import make_voice, snr_db, utterance  # noqa: E402
from uniflg.backends import graphs  # noqa: E402
from uniflg.types import SynthesisOptions  # noqa: E402
from uniflg.voice import load_voice  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return make_voice("tiny", tmp_path_factory.mktemp("tiny"))


def test_graph_specs_are_consistent():
    for spec in graphs.GRAPHS.values():
        assert spec.filename == f"{spec.name}.onnx"
        for axes in spec.dynamic_axes().values():
            assert set(axes.values()) <= set(graphs.AXIS_RANGES)
    for lo, opt, hi in graphs.AXIS_RANGES.values():
        assert 0 < lo <= opt <= hi


def test_exported_graphs_have_the_specified_io(tiny_dir):
    import onnx

    for name, spec in graphs.GRAPHS.items():
        model = onnx.load(str(tiny_dir / spec.filename), load_external_data=False)
        inputs = [i.name for i in model.graph.input]
        assert set(inputs) <= set(spec.input_names), name  # unused inputs may be dropped (g of z_u-only graphs)
        assert [o.name for o in model.graph.output] == spec.output_names
        assert not any(n.op_type.startswith("Random") for n in model.graph.node), name


def test_export_command_from_voice(tmp_path, tiny_dir):
    from uniflg.cli import main

    out = tmp_path / "exported"
    assert main(["export", "--format", "onnx", "--voice", str(tiny_dir), "-o", str(out), "--no-weights"]) == 0
    spec = json.loads((out / "voice.json").read_text())
    assert spec["weights"] is None and set(spec["graphs"]) == set(graphs.GRAPHS)
    assert spec["latents"] == json.loads((tiny_dir / "voice.json").read_text())["latents"]
    ref, new = load_voice(tiny_dir, "torch"), load_voice(out, "onnxruntime")
    utt = utterance(30)
    a_r, l_r = ref.synthesize_all(utt, SynthesisOptions(seed=1))
    a_n, l_n = new.synthesize_all(utt, SynthesisOptions(seed=1))
    assert snr_db(a_r, a_n) >= 40 and np.abs(l_r - l_n).max() <= 1e-3


def test_export_language_speaker_is_stored_carried_over_and_checked(tmp_path, tiny_dir, caplog):
    from uniflg.cli import main

    common = ["export", "--no-weights", "--no-verify"]
    first, second = tmp_path / "first", tmp_path / "second"
    assert main([*common, "--voice", str(tiny_dir), "-o", str(first), "--language-speaker", "en=speaker0"]) == 0
    assert json.loads((first / "voice.json").read_text())["language_speakers"] == {"en": "speaker0"}
    assert main([*common, "--voice", str(tiny_dir), "-o", str(second)]) == 0  # the source has none
    assert "language_speakers" not in json.loads((second / "voice.json").read_text())  # optional: not written
    for bad, named in (("en=nobody", "'nobody'; it has: speaker0"), ("fr=speaker0", "one of ja, en"),
                       ("speaker0", "LANG=SPEAKER")):
        out = tmp_path / bad
        caplog.clear()
        assert main([*common, "--voice", str(tiny_dir), "-o", str(out), "--language-speaker", bad]) == 2
        assert named in caplog.text and not out.exists()  # refused before anything is written
    caplog.clear()
    twice = [*common, "--voice", str(tiny_dir), "-o", str(tmp_path / "twice"), "--language-speaker", "en=speaker0",
             "--language-speaker", "en=speaker1"]
    assert main(twice) == 2 and "names en twice" in caplog.text and not (tmp_path / "twice").exists()


def test_export_latents_file_is_checked_before_anything_is_written(tmp_path, tiny_dir, caplog):
    """--latents: a missing file, bad JSON, another shape or a latent of the wrong size is one ERROR line (exit 2)
    and no voice folder; a good table lands in voice.json."""
    from uniflg.cli import main
    from uniflg.voice_spec import read_spec

    size = read_spec(tiny_dir).config.vits.utterance_dim
    files = {"missing": None, "text": "not json", "shape": json.dumps({"emotion": {"normal": "x"}}),
             "kind": json.dumps({"mood": {"normal": [0.0] * size}}),
             "size": json.dumps({"emotion": {"normal": [0.0] * (size - 1)}}),
             "nan": '{"emotion": {"normal": [NaN' + ", 0.0" * (size - 1) + "]}}",
             "huge": '{"emotion": {"normal": [1e309' + ", 0.0" * (size - 1) + "]}}",
             "variant": json.dumps({"speaker": {"speaker0": [0.0] * size}}),
             "unknown": json.dumps({"emotion": {"furious": [0.0] * size}})}
    said = {"missing": "cannot read it", "text": "not JSON", "shape": '{"emotion" or "speaker"',
            "kind": '{"emotion" or "speaker"', "size": f"needs {size} numbers", "nan": "finite numbers",
            "huge": "finite numbers", "variant": "latents are named by emotion",
            "unknown": "the model has no emotion 'furious'; its emotions are"}
    for name, text in files.items():
        path = tmp_path / f"{name}.json"
        if text is not None:
            path.write_text(text)
        out = tmp_path / f"out-{name}"
        caplog.clear()
        assert main(["export", "--no-weights", "--no-verify", "--voice", str(tiny_dir), "-o", str(out),
                     "--latents", str(path)]) == 2, name
        assert said[name] in caplog.text and not out.exists(), name
    good = tmp_path / "good.json"
    emotion = read_spec(tiny_dir).emotions[-1]
    good.write_text(json.dumps({"emotion": {emotion: [0.5] * size}}))
    out = tmp_path / "out-good"
    assert main(["export", "--no-weights", "--no-verify", "--voice", str(tiny_dir), "-o", str(out),
                 "--latents", str(good)]) == 0
    assert read_spec(out).latents == {"emotion": {emotion: [0.5] * size}}


def test_live_paths_carry_over_only_onto_the_same_speech_path(tmp_path, tiny_dir, caplog):
    """--live-from VOICE: the default voice's own weights take its live paths (files and voice.json entries); a
    model whose speech path differs, or --live-from with --voice, is refused before anything is written."""
    from uniflg.cli import main
    from uniflg.voice import DEFAULT_VOICE_DIR
    from uniflg.voice_spec import read_spec

    default = read_spec(DEFAULT_VOICE_DIR)
    latents = tmp_path / "latents.json"
    latents.write_text(json.dumps(default.latents))
    out = tmp_path / "same"
    assert main(["export", "--checkpoint", str(DEFAULT_VOICE_DIR / default.weights), "-o", str(out), "--no-verify",
                 "--half-weights", "--latents", str(latents), "--live-from", str(DEFAULT_VOICE_DIR)]) == 0
    expected = {path: {"speakers": list(default.speakers), **entry} for path, entry in default.live.items()}
    assert read_spec(out).live == expected and read_spec(out).face_calibration is None
    for file in default.live_graph_files().values():
        assert (out / file).read_bytes() == (DEFAULT_VOICE_DIR / file).read_bytes()
    tiny = read_spec(tiny_dir)
    other_latents = tmp_path / "other.json"
    other_latents.write_text(json.dumps({"emotion": {"normal": [0.0] * len(default.latents["emotion"]["normal"])}}))
    for args, said in (([ "--checkpoint", str(tiny_dir / tiny.weights)], "distilled from another speech path"),
                       (["--voice", str(tiny_dir)], "--live-from goes with --checkpoint"),
                       (["--checkpoint", str(DEFAULT_VOICE_DIR / default.weights), "--half-weights", "--latents",
                         str(other_latents)], "pass that voice's latents with --latents"),
                       (["--checkpoint", str(tiny_dir / tiny.weights), "--live-from", str(tiny_dir)],
                        "it has no live paths to carry")):
        caplog.clear()
        refused = tmp_path / f"refused{len(said)}"
        live_from = [] if "--live-from" in args else ["--live-from", str(DEFAULT_VOICE_DIR)]
        assert main(["export", *args, "-o", str(refused), "--no-verify", *live_from]) == 2
        assert said in caplog.text and not refused.exists(), said


def test_live_paths_refuse_speakers_added_after_them(tmp_path):
    """A model that learned a new speaker after the live path was distilled (`train vits --freeze`) takes the live
    path with --live-from; the live path serves the speakers it knows and names them for the new one."""
    import torch
    from uniflg.cli import main
    from uniflg.errors import InvalidInputError
    from uniflg.model.io import load_model, save_model
    from uniflg.voice import DEFAULT_VOICE_DIR
    from uniflg.voice_spec import read_spec

    default = read_spec(DEFAULT_VOICE_DIR)
    model = load_model(DEFAULT_VOICE_DIR / default.weights, config=default.config)
    grown = type(model)(model.cfg.replace(speakers=(*model.cfg.speakers, "newcomer")))
    weights = model.state_dict()
    weights["g_embedding.weight"] = torch.cat([weights["g_embedding.weight"], weights["g_embedding.weight"][:1]])
    grown.load_state_dict(weights)
    save_model(grown, tmp_path / "grown.safetensors")
    latents = tmp_path / "latents.json"
    latents.write_text(json.dumps(default.latents))
    out = tmp_path / "grown"
    assert main(["export", "--checkpoint", str(tmp_path / "grown.safetensors"), "-o", str(out), "--no-verify",
                 "--half-weights", "--latents", str(latents), "--live-from", str(DEFAULT_VOICE_DIR)]) == 0
    assert read_spec(out).live["live250"]["speakers"] == list(default.speakers)
    voice = load_voice(out)
    speech = np.random.default_rng(0).standard_normal(voice.sample_rate).astype(np.float32) * 0.1
    live = SynthesisOptions(max_lookahead_ms=250)
    assert voice.path_speakers("live250") == default.speakers
    assert voice.animate_array(speech, voice.sample_rate, replace(live, speaker="low")).shape == (30, 70, 2)
    assert voice.animate_array(speech, voice.sample_rate, SynthesisOptions(speaker="newcomer")).shape == (30, 70, 2)
    with pytest.raises(InvalidInputError, match="live250 speech path knows mei, low, bright, soft, not newcomer"):
        voice.animate_array(speech, voice.sample_rate, replace(live, speaker="newcomer"))


def test_speech_path_from_joins_a_text_side_to_the_speech_path_it_shares_a_latent_space_with(tmp_path, tiny_dir,
                                                                                             caplog):
    """--speech-path-from SOURCE: the posterior and landmark decoder come from SOURCE, the text side (text encoder,
    duration predictor, decoder) stays; with --live-from the result takes the live paths. Refused, with nothing
    written, when the modules both paths read differ, the sizes differ, or with --voice."""
    import torch
    from safetensors.torch import load_file
    from uniflg.cli import main
    from uniflg.model.io import load_model, save_model
    from uniflg.voice import DEFAULT_VOICE_DIR
    from uniflg.voice_spec import read_spec

    default = read_spec(DEFAULT_VOICE_DIR)
    model = load_model(DEFAULT_VOICE_DIR / default.weights, config=default.config)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # a text side trained further: its posterior and decoder moved, the shared modules not
        for name in ("posterior", "decoder", "text_encoder"):
            for p in getattr(model, name).parameters():
                p.add_(torch.randn(p.shape, generator=generator) * 1e-2)
    save_model(model, tmp_path / "text_side.safetensors")
    latents = tmp_path / "latents.json"
    latents.write_text(json.dumps(default.latents))
    out = tmp_path / "joined"
    caplog.set_level("INFO")
    assert main(["export", "--checkpoint", str(tmp_path / "text_side.safetensors"), "-o", str(out), "--no-verify",
                 "--half-weights", "--latents", str(latents), "--speech-path-from", str(DEFAULT_VOICE_DIR),
                 "--live-from", str(DEFAULT_VOICE_DIR)]) == 0
    assert "speech path from" in caplog.text and "posterior" in caplog.text
    joined, shipped = load_file(str(out / "model.safetensors")), load_file(str(DEFAULT_VOICE_DIR / default.weights))
    moved = {k: v.half() for k, v in model.state_dict().items()}
    for key in joined:
        if key.startswith(("posterior.", "landmark_decoder.", "flow.")):
            assert torch.equal(joined[key], shipped[key]), key
        elif key.startswith(("decoder.", "text_encoder.")):
            assert torch.equal(joined[key], moved[key]) and not torch.equal(joined[key], shipped[key]), key
    assert set(read_spec(out).live) == set(default.live)
    # the joined voice's speech path is the shipped one: the same landmarks from the same speech
    speech = np.random.default_rng(1).standard_normal(default.config.audio.sample_rate).astype(np.float32) * 0.1
    ours, theirs = load_voice(out, backend="onnxruntime"), load_voice(backend="onnxruntime")
    np.testing.assert_allclose(ours.animate_array(speech, ours.sample_rate),
                               theirs.animate_array(speech, theirs.sample_rate), atol=1e-5)

    # float16 on either side: a float32 source whose shared modules round to the half voice's is accepted, both ways
    shipped_model = load_model(DEFAULT_VOICE_DIR / default.weights, config=default.config)
    with torch.no_grad():
        for p in shipped_model.flow.parameters():
            p.mul_(1 + 1e-5)  # far below float16's resolution: still the same weights at the stored precision
    save_model(shipped_model, tmp_path / "full.safetensors")
    for checkpoint, source in ((DEFAULT_VOICE_DIR / default.weights, tmp_path / "full.safetensors"),
                               (tmp_path / "full.safetensors", DEFAULT_VOICE_DIR)):
        assert main(["export", "--checkpoint", str(checkpoint), "-o", str(tmp_path / f"both{len(str(source))}"),
                     "--no-verify", "--speech-path-from", str(source)]) == 0
    grown = type(shipped_model)(shipped_model.cfg.replace(speakers=(*shipped_model.cfg.speakers, "newcomer")))
    weights = shipped_model.state_dict()
    weights["g_embedding.weight"] = torch.cat([weights["g_embedding.weight"], weights["g_embedding.weight"][:1]])
    grown.load_state_dict(weights)
    save_model(grown, tmp_path / "grown.safetensors")

    with torch.no_grad():
        next(model.flow.parameters()).add_(1e-2)
    save_model(model, tmp_path / "other_flow.safetensors")
    tiny = read_spec(tiny_dir)
    for args, said in ((["--checkpoint", str(tmp_path / "other_flow.safetensors")],
                        "do not share a latent space (they differ in: flow)"),
                       (["--checkpoint", str(tiny_dir / tiny.weights)], "has another shape"),
                       (["--voice", str(tiny_dir)], "--speech-path-from goes with --checkpoint"),
                       (["--checkpoint", str(DEFAULT_VOICE_DIR / default.weights), "--speech-path-from",
                         str(tmp_path / "grown.safetensors")], "this model has no speaker newcomer"),
                       (["--checkpoint", str(DEFAULT_VOICE_DIR / default.weights), "--speech-path-from",
                         str(tmp_path / "nowhere")], "it takes a checkpoint directory")):
        caplog.clear()
        refused = tmp_path / f"refused{len(said)}"
        source = [] if "--speech-path-from" in args else ["--speech-path-from", str(DEFAULT_VOICE_DIR)]
        assert main(["export", *args, "-o", str(refused), "--no-verify", *source]) == 2
        assert said in caplog.text and not refused.exists(), said


def test_reexporting_a_voice_keeps_its_live_paths_and_face_calibration(tmp_path, tiny_dir, caplog):
    from uniflg.cli import main
    from uniflg.voice import DEFAULT_VOICE_DIR, load_voice
    from uniflg.voice_spec import read_spec

    out = tmp_path / "again"
    assert main(["export", "--voice", str(DEFAULT_VOICE_DIR), "-o", str(out), "--no-weights", "--no-verify"]) == 0
    old, new = read_spec(DEFAULT_VOICE_DIR), read_spec(out)
    assert old.live and new.live == old.live and new.face_calibration == old.face_calibration
    for file in new.live_graph_files().values():
        assert (out / file).read_bytes() == (DEFAULT_VOICE_DIR / file).read_bytes()
    assert [p.name for p in load_voice(out, backend="onnxruntime").speech_paths()] == \
        [p.name for p in load_voice(backend="onnxruntime").speech_paths()]
    assert "drops" not in caplog.text
    # into itself (as the TensorRT build in docs/export.md does): both kept, the live graphs untouched
    import shutil

    itself = shutil.copytree(DEFAULT_VOICE_DIR, tmp_path / "itself")
    assert main(["export", "--voice", str(itself), "-o", str(itself), "--no-verify"]) == 0
    again = read_spec(itself)
    assert again.live == old.live and again.face_calibration == old.face_calibration and "drops" not in caplog.text
    for file in again.live_graph_files().values():
        assert (itself / file).read_bytes() == (DEFAULT_VOICE_DIR / file).read_bytes()
    assert load_voice(itself, backend="onnxruntime").speakers == load_voice(backend="onnxruntime").speakers
    # another voice exported over this folder drops them: the export says so
    assert main(["export", "--voice", str(tiny_dir), "-o", str(out), "--no-weights", "--no-verify"]) == 0
    assert f"{out} is a voice folder: exporting over it drops its live paths live250 and face calibration" \
        in caplog.text


def test_export_verification_report(tiny_dir):
    from uniflg.backends.modules import build_graph_modules, example_inputs
    from uniflg.model.io import load_model
    from uniflg_train.export.onnx_export import verify_graphs

    model = load_model(tiny_dir / "model.safetensors")
    from uniflg.backends.modules import prepare_for_inference

    prepare_for_inference(model)
    report = verify_graphs(model, tiny_dir, build_graph_modules(model), example_inputs)
    assert set(report) == set(graphs.GRAPHS) and max(report.values()) < 1e-3, report


@pytest.mark.slow
def test_fresh_venv_without_torch_runs_speak_and_animate(tmp_path, tiny_dir):
    """pip install . (no extras) into a new virtual environment; no torch; speak + animate an exported voice."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    install = subprocess.run([str(py), "-m", "pip", "install", "-q", str(REPO)], capture_output=True, text=True,
                             env=env, timeout=900)
    if install.returncode != 0:
        pytest.skip(f"pip install failed (no package index here?): {install.stderr[-500:]}")
    check = subprocess.run([str(py), "-c", "import importlib.util as u; assert u.find_spec('torch') is None"])
    assert check.returncode == 0, "torch must not be installed by `pip install .`"
    voice = tmp_path / "onnx_voice"
    from uniflg.cli import main

    assert main(["export", "--voice", str(tiny_dir), "-o", str(voice), "--no-weights"]) == 0
    uniflg = venv / "bin" / "uniflg"
    speak = subprocess.run([str(uniflg), "speak", "こんにちは、元気ですか。", "-o", str(tmp_path / "s"), "--voice",
                            str(voice), "--backend", "onnxruntime"], capture_output=True, text=True, timeout=300)
    assert speak.returncode == 0, speak.stderr
    for name in ("speech.wav", "landmarks.npy", "landmarks.json", "preview.mp4"):
        assert (tmp_path / "s" / name).is_file(), name
    animate = subprocess.run([str(uniflg), "animate", str(tmp_path / "s" / "speech.wav"), "-o", str(tmp_path / "a"),
                              "--voice", str(voice)], capture_output=True, text=True, timeout=300)
    assert animate.returncode == 0, animate.stderr
    landmarks = np.load(tmp_path / "a" / "landmarks.npy")
    meta = json.loads((tmp_path / "a" / "landmarks.json").read_text())
    assert landmarks.dtype == np.float32 and landmarks.shape[1:] == (70, 2)
    assert meta["fps"] == 30 and meta["layout"] == "openpose70" and len(meta["frames"]) == len(landmarks)


def test_half_weight_voice_is_half_the_size_and_backends_agree(tmp_path, tiny_dir):
    from uniflg.cli import main

    out = tmp_path / "half"
    assert main(["export", "--format", "onnx", "--voice", str(tiny_dir), "-o", str(out), "--half-weights"]) == 0
    import onnx

    def weight_bytes(folder: Path) -> int:
        return sum(i.ByteSize() for p in folder.glob("*.onnx") for i in onnx.load(str(p)).graph.initializer)

    assert weight_bytes(out) < 0.55 * weight_bytes(tiny_dir)  # float16 initializers
    assert (out / "model.safetensors").stat().st_size < 0.62 * (tiny_dir / "model.safetensors").stat().st_size
    options = SynthesisOptions(seed=3)
    torch_voice, onnx_voice = load_voice(out, "torch"), load_voice(out, "onnxruntime")
    audio_t, lm_t = torch_voice.synthesize_all(utterance(30), options)
    audio_o, lm_o = onnx_voice.synthesize_all(utterance(30), options)
    assert audio_t.shape == audio_o.shape and lm_t.shape == lm_o.shape
    assert snr_db(audio_t, audio_o) >= 40.0
    assert float(np.abs(lm_t - lm_o).max()) <= 1e-3


def test_a_refused_export_leaves_no_hidden_folder(tmp_path, tiny_dir, caplog):
    """A diverged checkpoint (NaN weights) is refused inside the export, after its hidden staging folder was made:
    that folder once stayed behind (`.NAME.export-partial`) until the next export to the same -o."""
    import torch
    from uniflg.cli import main
    from uniflg.model.io import load_model, save_model
    from uniflg.voice_spec import read_spec

    model = load_model(tiny_dir / "model.safetensors", config=read_spec(tiny_dir).config)
    with torch.no_grad():
        next(iter(model.parameters())).fill_(float("nan"))
    save_model(model, tmp_path / "diverged.safetensors")
    out = tmp_path / "voices" / "y2"
    caplog.clear()
    assert main(["export", "--checkpoint", str(tmp_path / "diverged.safetensors"), "-o", str(out),
                 "--no-verify"]) == 2
    assert "NaN or infinite weights" in caplog.text
    assert not (tmp_path / "voices").exists() or not any((tmp_path / "voices").iterdir())
