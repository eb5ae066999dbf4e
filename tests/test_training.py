"""Training end to end through the real CLI: procedural corpus -> stage 1 -> stage 2 (UniFLG and the
baselines) -> eval; resume after kill -9; the trainer under torchrun with 2 gloo processes."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from cli_in_process import Ran, refused_here, run_here
from uniflg_train.checkpoint import CheckpointManager

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def uniflg(*args: str) -> Ran:
    """``uniflg ARGS`` in this process (tests/cli_in_process.py), which must succeed."""
    ran = run_here(*args)
    assert ran.returncode == 0, f"uniflg {' '.join(args)} failed:\n{ran.stderr[-3000:]}"
    return ran


def uniflg_child(*args: str, timeout: float = 300) -> None:
    """``uniflg ARGS`` in a child process, which must succeed (commands that start worker pools)."""
    proc = subprocess.run([sys.executable, "-m", "uniflg.cli", *args], capture_output=True, text=True,
                          env=ENV, timeout=timeout)
    assert proc.returncode == 0, f"uniflg {' '.join(args)} failed:\n{proc.stderr[-3000:]}"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus") / "c50"
    uniflg_child("corpus", "make", "--out", str(out), "--utterances", "50", "--seed", "7", "--jobs", "2")
    return out


@pytest.fixture(scope="module")
def vits_run(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "vits"
    uniflg("train", "vits", "--data", str(corpus), "--config", "tiny", "--out", str(run), "--steps", "12",
           "--batch-size", "4", "--checkpoint-every", "6", "--adversarial-start", "6", "--threads", "1")
    return run


def test_stage1_writes_complete_checkpoints(vits_run: Path) -> None:
    manager = CheckpointManager(vits_run / "checkpoints")
    steps = [c.step for c in manager.checkpoints()]
    assert steps == [6, 12]
    latest = manager.latest()
    assert latest is not None and latest.verify()
    assert set(latest.modules) == {"model", "discriminator"}
    cfg = latest.config()
    assert cfg is not None and cfg.name == "tiny" and len(cfg.speakers) == 4 and cfg.emotions[0] == "normal"
    assert (vits_run / "logs").is_dir() and any((vits_run / "logs").iterdir())  # TensorBoard events


def test_stage1_init_from_a_run_with_a_fresh_module(corpus: Path, vits_run: Path, tmp_path: Path) -> None:
    """--init-from RUN --init-skip utterance: every other module starts from RUN's newest checkpoint."""
    source = CheckpointManager(vits_run / "checkpoints").latest()
    assert source is not None
    base = ["train", "vits", "--data", str(corpus), "--config", "tiny", "--batch-size", "4", "--threads", "1",
            "--init-from", str(vits_run)]
    bad = run_here(*base, "--out", str(tmp_path / "bad"), "--steps", "1", "--init-skip", "utterances")
    assert bad.returncode == 2 and "no module named utterances" in bad.stderr and "utterance," in bad.stderr
    assert "Traceback" not in bad.stderr

    out = tmp_path / "fresh"
    # Zero steps: the run starts, initializes and saves, so the saved weights are the initialization.
    uniflg(*base, "--out", str(out), "--steps", "0", "--init-skip", "utterance", "--checkpoint-every", "1")
    started = CheckpointManager(out / "checkpoints").latest()
    assert started is not None and started.step == 0
    before, after = source.state_dict("model"), started.state_dict("model")
    assert before.keys() == after.keys()
    for key in before:
        same = bool((before[key] == after[key]).all())
        assert same != key.startswith("utterance."), key
    options = json.loads((out / "train_vits.json").read_text())
    assert options["init_skip"] == ["utterance"] and options["c_kl_utterance"] == 0.02
    # its face decoder is the source's, so an export says so instead of "never trained" (a false warning once)
    done = uniflg("export", "--format", "onnx", "--checkpoint", str(out), "-o", str(tmp_path / "v"), "--no-verify")
    assert f"{out} is a stage-1 run started from {vits_run}: its face decoder is that model's" in done.stderr
    assert "never trained" not in done.stderr


def test_stage1_freeze_keeps_the_latent_space_and_refuses_another_resume(corpus: Path, vits_run: Path,
                                                                           tmp_path: Path) -> None:
    """--freeze posterior,flow,utterance,u_projection,g_embedding: two steps later those weights (and the landmark
    decoder) are the source's bit for bit while the text encoder and waveform decoder moved; resuming with other
    options is one ERROR line, exit 2."""
    source = CheckpointManager(vits_run / "checkpoints").latest()
    assert source is not None
    frozen = ("posterior", "flow", "utterance", "u_projection", "g_embedding", "landmark_decoder")
    out = tmp_path / "frozen"
    base = ["train", "vits", "--data", str(corpus), "--config", "tiny", "--batch-size", "4", "--threads", "1",
            "--out", str(out), "--init-from", str(vits_run), "--adversarial-start", "100"]
    uniflg(*base, "--steps", "2", "--checkpoint-every", "2", "--freeze", ",".join(frozen[:-1]))
    trained = CheckpointManager(out / "checkpoints").latest()
    assert trained is not None and trained.step == 2
    before, after = source.state_dict("model"), trained.state_dict("model")
    moved = {key.split(".")[0] for key in before if not bool((before[key] == after[key]).all())}
    assert not moved & set(frozen), moved
    assert {"text_encoder", "decoder", "duration"} <= moved
    assert json.loads((out / "fixed_rows.json").read_text()) == [0, 1, 2, 3]  # every speaker was carried over

    again = run_here(*base, "--steps", "4", "--freeze", "posterior")
    assert again.returncode == 2 and "freeze" in again.stderr and "Traceback" not in again.stderr
    assert "ERROR" in again.stderr and len(again.stderr.strip().splitlines()) == 1, again.stderr
    unknown = run_here(*base[:-6], "--out", str(tmp_path / "u"),
                       "--init-from", str(vits_run), "--steps", "1", "--freeze", "posterior,flows")
    assert unknown.returncode == 2 and "--freeze: no module named flows" in unknown.stderr
    alone = run_here(*base[:-6], "--out", str(tmp_path / "a"),
                     "--steps", "1", "--freeze", "flow")
    assert alone.returncode == 2 and "--freeze needs --init-from" in alone.stderr

    def refused(out_name: str, *extra: str) -> str:
        proc = run_here(*base[:-6], "--out", str(tmp_path / out_name),
                        "--init-from", str(vits_run), "--steps", "1", *extra)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
        assert not (tmp_path / out_name / "checkpoints").exists()
        return proc.stderr

    assert "both name utterance" in refused("both", "--init-skip", "utterance", "--freeze", "utterance,flow")
    everything = "text_encoder,posterior,flow,duration,decoder,utterance,u_projection,g_embedding,landmark_decoder"
    assert "leaves nothing to train" in refused("all", "--freeze", everything)
    # the listed order does not matter on resume; an option the record predates counts as its default then
    uniflg(*base, "--steps", "3", "--checkpoint-every", "3", "--freeze", ",".join(reversed(frozen[:-1])))
    record = json.loads((out / "train_vits.json").read_text())
    del record["freeze"]
    (out / "train_vits.json").write_text(json.dumps(record))
    older = run_here(*base, "--steps", "4", "--freeze", "flow")
    assert older.returncode == 2 and "freeze [] -> ['flow']" in older.stderr, older.stderr[-2000:]


def test_stage1_freeze_trains_only_new_speakers_rows(corpus: Path, vits_run: Path, tmp_path: Path) -> None:
    """A source without `soft`: a frozen g_embedding keeps the three carried rows bit for bit and trains soft's."""
    import torch
    from uniflg.model.io import save_model
    from uniflg_train.checkpoint import load_trained_model

    model, _ = load_trained_model(vits_run)
    keep = [model.cfg.speakers.index(n) for n in ("mei", "low", "bright")]
    smaller = type(model)(model.cfg.replace(speakers=("bright", "mei", "low")))
    weights = model.state_dict()
    weights["g_embedding.weight"] = weights["g_embedding.weight"][[keep[2], keep[0], keep[1]]]
    smaller.load_state_dict(weights)
    source = tmp_path / "three.safetensors"
    save_model(smaller, source)
    runs = {}
    for steps in (0, 3):  # zero steps saves the initialization
        runs[steps] = tmp_path / f"rows{steps}"
        uniflg("train", "vits", "--data", str(corpus), "--config", "tiny", "--batch-size", "4", "--threads", "1",
               "--out", str(runs[steps]), "--init-from", str(source), "--adversarial-start", "100", "--steps",
               str(steps), "--checkpoint-every", "3", "--freeze", "posterior,flow,g_embedding")
    out = runs[3]
    trained, _ = load_trained_model(out)
    started, _ = load_trained_model(runs[0])
    speakers = trained.cfg.speakers
    rows = json.loads((out / "fixed_rows.json").read_text())
    assert sorted(speakers[i] for i in rows) == ["bright", "low", "mei"]
    for name in ("mei", "low", "bright"):
        assert torch.equal(trained.g_embedding.weight[speakers.index(name)],
                           smaller.g_embedding.weight[smaller.cfg.speakers.index(name)])
    soft = speakers.index("soft")
    assert not torch.equal(trained.g_embedding.weight[soft], started.g_embedding.weight[soft])  # it trained


def test_condition_rows_are_carried_by_name() -> None:
    """A corpus with as many speakers as the source but other names: rows follow the names, not the positions;
    the carried indices are the rows a frozen g_embedding keeps."""
    import torch
    from uniflg.config import named_config
    from uniflg.model.system import UniFLG
    from uniflg_train.trainer.vits import _carry_condition_rows

    tiny = named_config("tiny")
    source = UniFLG(tiny.replace(speakers=("mei", "low", "bright"), emotions=("normal",)))
    target = UniFLG(tiny.replace(speakers=("bright", "kokoro_jm_kumo", "mei"), emotions=("normal",)))
    weights = source.state_dict()
    fresh = target.g_embedding.weight.detach().clone()
    carried = _carry_condition_rows(target, source, weights)
    assert carried == [0, 2]
    rows = weights["g_embedding.weight"]
    assert torch.equal(rows[0], source.g_embedding.weight[2]) and torch.equal(rows[2], source.g_embedding.weight[0])
    assert torch.equal(rows[1], fresh[1])


def test_stage2_variants_and_eval_table(corpus: Path, vits_run: Path, tmp_path: Path, caplog) -> None:
    runs = {}
    for variant in ("uniflg", "ttl", "stl", "stl-d"):
        runs[variant] = tmp_path / variant
        uniflg("train", "landmarks", "--data", str(corpus), "--vits", str(vits_run), "--out", str(runs[variant]),
               "--variant", variant, "--steps", "6", "--batch-size", "4", "--threads", "1", "--checkpoint-every", "3")
        latest = CheckpointManager(runs[variant] / "checkpoints").latest()
        assert latest is not None and latest.step == 6
    out = tmp_path / "eval.json"
    uniflg("eval", "--data", str(corpus), "--run", str(runs["uniflg"]), "--baseline", f"TTL={runs['ttl']}",
           "--baseline", f"STL={runs['stl']}", "--baseline", f"STL-D={runs['stl-d']}", "--split", "train",
           "--limit", "3", "--json", "--out", str(out))
    table = json.loads(out.read_text())
    rows = {r["method"]: r for r in table["methods"]}
    for method in ("UniFLG-T", "UniFLG-S", "UniFLG-P", "TTL", "STL", "STL-D", "mean-face"):
        assert method in rows, f"{method} missing from the eval table"
    for method in ("UniFLG-T", "UniFLG-S", "UniFLG-P", "TTL", "STL", "STL-D"):
        metrics = rows[method]
        for metric in ("D-LL", "D-VL", "D-A", "D-L", "D-V", "RTF"):
            assert isinstance(metrics[metric], float) and metrics[metric] >= 0, (method, metric)
    assert isinstance(rows["UniFLG-T"]["MCD"], float)
    # one checkpoint of the run (the one a voice shipped), not its newest
    earlier = tmp_path / "eval-3.json"
    uniflg("eval", "--data", str(corpus), "--run", str(runs["uniflg"] / "checkpoints" / "step_00000003"),
           "--split", "train", "--limit", "3", "--json", "--out", str(earlier))
    at_3 = {r["method"]: r for r in json.loads(earlier.read_text())["methods"]}
    assert at_3["UniFLG-S"]["D-LL"] != rows["UniFLG-S"]["D-LL"]
    assert at_3["mean-face"]["D-LL"] == rows["mean-face"]["D-LL"]  # the same items
    # --report keeps the table's shape: the methods that did not run are rows of nulls (review 20: they went)
    reported = tmp_path / "eval-report.json"
    uniflg("eval", "--data", str(corpus), "--run", str(runs["uniflg"] / "checkpoints" / "step_00000003"),
           "--split", "train", "--limit", "1", "--json", "--out", str(reported), "--report", str(tmp_path / "r.md"))
    with_report = {r["method"]: r for r in json.loads(reported.read_text())["methods"]}
    assert set(with_report) == set(at_3) and with_report["TTL"]["D-LL"] is None
    # a run under another system's label once printed that system's row with the wrong model (or a traceback)
    from uniflg.cli import main

    for argv, said in ((["--run", str(runs["ttl"])], f"--run {runs['ttl']} is a TTL run (its config's variant); "
                                                     "--run takes a UniFLG or UniFLG-AS run"),
                       (["--run", str(runs["uniflg"]), "--baseline", f"STL-D={runs['stl']}"],
                        f"--baseline STL-D={runs['stl']} is a STL run (its config's variant); --baseline STL-D takes "
                        "an STL-D run")):
        caplog.clear()
        assert main(["eval", "--data", str(corpus), *argv, "--split", "train", "--limit", "3"]) == 2
        assert said in caplog.text, caplog.text


def test_resume_after_kill_9(corpus: Path, tmp_path: Path) -> None:
    run = tmp_path / "killed"
    args = [sys.executable, "-m", "uniflg.cli", "train", "vits", "--data", str(corpus), "--config", "tiny",
            "--out", str(run), "--steps", "400", "--batch-size", "2", "--checkpoint-every", "3", "--threads", "1"]
    proc = subprocess.Popen(args, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    manager = CheckpointManager(run / "checkpoints")
    deadline = time.time() + 240
    while time.time() < deadline and (manager.latest() is None or manager.latest().step < 6):  # type: ignore[union-attr]
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = manager.latest()
    assert before is not None, "no checkpoint before the kill"
    assert all(c.verify() for c in manager.checkpoints()), "a checkpoint is corrupt after kill -9"
    rerun = [*args[:args.index("--steps")], "--steps", str(before.step + 3), "--batch-size", "2",
             "--checkpoint-every", "3", "--threads", "1"]
    rerun.insert(rerun.index("train"), "-v")
    resumed = subprocess.run(rerun, env=ENV, capture_output=True, text=True, timeout=240)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    match = re.search(r"resumed stage 1 from .*step_(\d+) \(step (\d+)\)", resumed.stderr)
    assert match and int(match.group(2)) == before.step, resumed.stderr[-2000:]
    after = manager.latest()
    assert after is not None and after.step == before.step + 3 and after.verify()


def test_a_signal_saves_and_exits_with_its_status_so_a_recipe_stops(corpus: Path, tmp_path: Path) -> None:
    run = tmp_path / "stopped"
    args = [sys.executable, "-m", "uniflg.cli", "train", "vits", "--data", str(corpus), "--config", "tiny",
            "--out", str(run), "--steps", "400", "--batch-size", "2", "--checkpoint-every", "3", "--threads", "1"]
    proc = subprocess.Popen(args, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    manager = CheckpointManager(run / "checkpoints")
    deadline = time.time() + 240
    while time.time() < deadline and manager.latest() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 128 + signal.SIGTERM, err[-2000:]  # 143: `set -e` in a recipe stops here
    match = re.search(r"stopped by SIGTERM at step (\d+) \(saved\); rerun the same command to resume", err)
    latest = manager.latest()
    assert match and latest is not None and latest.step == int(match.group(1)) < 400 and latest.verify(), err


def test_trainer_under_torchrun_gloo(corpus: Path, tmp_path: Path) -> None:
    run = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
           "-m", "uniflg.cli", "train", "vits", "--data", str(corpus), "--config", "tiny", "--out", str(run),
           "--steps", "4", "--batch-size", "2", "--checkpoint-every", "2", "--threads", "1"]
    proc = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "rank 1/2" in proc.stderr or "joined process group" in proc.stderr
    latest = CheckpointManager(run / "checkpoints").latest()
    assert latest is not None and latest.step == 4 and latest.verify()


def test_stage2_caches_deterministic_frozen_inputs(corpus: Path, vits_run: Path, monkeypatch: pytest.MonkeyPatch
                                                   ) -> None:
    import torch
    from uniflg_train.trainer.common import make_loader
    from uniflg_train.trainer.data import open_training_data
    from uniflg_train.trainer.landmarks import LandmarkStage, load_stage1
    from uniflg_train.trainer.options import LandmarkTrainOptions

    model = load_stage1(vits_run)[0].eval()  # as train_step runs it: frozen, no dropout
    dataset, collate, _ = open_training_data(corpus, "train", True, 12.0, model.cfg.audio.sample_rate,
                                             only_speakers=("mei",))
    assert {it["speaker"] for it in dataset.items} == {"mei"}
    batch = next(iter(make_loader(dataset, collate, 3, 0, 0)))
    assert LandmarkStage(model, LandmarkTrainOptions(), torch.device("cpu")).cached_paths == set()  # sampling
    stage = LandmarkStage(model, LandmarkTrainOptions(latent_noise_scale=0.0, posterior_noise_scale=0.0),
                          torch.device("cpu"))
    for which in ("text", "speech"):
        first = stage.decoder_input(batch, which)
        direct = stage.frozen_forward(batch, which)
        with monkeypatch.context() as m:
            m.setattr(stage, "frozen_forward", lambda *a, **k: pytest.fail("cached items ran VAE-VITS again"))
            again = stage.decoder_input(batch, which)
        for a, b, c in zip(first, direct, again, strict=True):
            assert a.shape == c.shape and torch.equal(a, c) and torch.allclose(a, b, atol=1e-6)
    assert len(stage.input_cache) == 2 * batch.ids.size(0)


def test_augmentation_reaches_only_the_speech_path(corpus: Path, vits_run: Path, tmp_path: Path) -> None:
    """--augment in both stages: the speech path reads the degraded copy, the text path and targets the clean
    speech; seeded; and both stages train with it through the CLI."""
    import torch
    from uniflg_train.data.augment import SpeechAugmenter, augment_batch
    from uniflg_train.trainer.common import make_loader
    from uniflg_train.trainer.data import open_training_data
    from uniflg_train.trainer.landmarks import LandmarkStage, load_stage1
    from uniflg_train.trainer.options import LandmarkTrainOptions

    model = load_stage1(vits_run)[0].eval()
    dataset, collate, _ = open_training_data(corpus, "train", True, 12.0, model.cfg.audio.sample_rate)
    batch = next(iter(make_loader(dataset, collate, 3, 0, 0)))
    aug = augment_batch(batch, SpeechAugmenter(model.cfg.audio.sample_rate), seed=5)
    assert aug.speech_wav is not None and aug.speech_wav.shape == batch.wav[:, 0].shape
    assert torch.equal(aug.wav, batch.wav)  # the clean speech (targets) is untouched
    for b, n in enumerate(batch.wav_lengths.tolist()):
        assert torch.all(aug.speech_wav[b, n:] == 0)  # padding stays silent
    assert torch.equal(augment_batch(batch, SpeechAugmenter(model.cfg.audio.sample_rate), seed=5).speech_wav,
                       aug.speech_wav)
    opts = LandmarkTrainOptions(latent_noise_scale=0.0, posterior_noise_scale=0.0, augment=True)
    stage = LandmarkStage(model, opts, torch.device("cpu"))
    assert stage.cached_paths == {"text"} and stage.augmenter is not None  # augmented speech is never cached
    g = torch.Generator().manual_seed(0)
    assert torch.equal(stage.frozen_forward(aug, "text", g)[0], stage.frozen_forward(batch, "text", g)[0])
    assert not torch.allclose(stage.frozen_forward(aug, "speech")[0], stage.frozen_forward(batch, "speech")[0])

    v_run, l_run = tmp_path / "v", tmp_path / "l"
    uniflg("train", "vits", "--data", str(corpus), "--config", "tiny", "--out", str(v_run), "--steps", "3",
           "--batch-size", "4", "--adversarial-start", "10", "--threads", "1", "--augment")
    uniflg("train", "landmarks", "--data", str(corpus), "--vits", str(v_run), "--out", str(l_run), "--steps", "4",
           "--batch-size", "4", "--threads", "1", "--augment")
    assert json.loads((v_run / "train_vits.json").read_text())["augment"] is True
    assert json.loads((l_run / "train_landmarks.json").read_text())["augment"] is True


def test_stage2_from_a_voice_model_file_numbers_speakers_as_the_model_does(corpus: Path, tmp_path: Path) -> None:
    """--vits takes a voice's model.safetensors: stage 2 retrains the shipped voice's face decoder on new faces,
    and each item is read with the model's row of its speaker, whatever order the corpus lists them in."""
    from uniflg.model.io import load_model
    from uniflg_train.data.dataset import open_dataset

    voice_model = Path(__file__).resolve().parents[1] / "sdk/uniflg/voices/default/model.safetensors"
    run = tmp_path / "from-voice"
    uniflg("train", "landmarks", "--data", str(corpus), "--vits", str(voice_model), "--out", str(run),
           "--steps", "2", "--batch-size", "2", "--threads", "1")
    latest = CheckpointManager(run / "checkpoints").latest()
    assert latest is not None and latest.step == 2
    cfg = latest.config()
    assert cfg is not None and cfg.speakers == load_model([voice_model]).cfg.speakers

    dataset = open_dataset(corpus, "train", paired_only=True)
    order = tuple(reversed(dataset.speakers))
    assert order != dataset.speakers
    name = dataset.items[0]["speaker"]
    dataset.use_label_order(order, dataset.emotions)
    assert dataset[0]["speaker"] == order.index(name)


def test_stage2_refuses_a_model_without_the_corpus_speakers(corpus: Path, tmp_path: Path) -> None:
    voice_model = Path(__file__).resolve().parents[1] / "sdk/uniflg/voices/default/model.safetensors"
    from uniflg.errors import InvalidInputError
    from uniflg_train.data.dataset import open_dataset

    dataset = open_dataset(corpus, "train", paired_only=True)
    with pytest.raises(InvalidInputError, match=r"has no speaker .*mei"):
        dataset.use_label_order(("someone",), dataset.emotions, owner=str(voice_model))
    with pytest.raises(InvalidInputError, match=r"has no emotion .*happy"):
        dataset.use_label_order(dataset.speakers, ("normal",))
    with pytest.raises(InvalidInputError, match="--unknown-speakers-as nobody: .* has no such speaker"):
        dataset.use_label_order(("someone",), dataset.emotions, unknown_speakers_as="nobody")
    # speakers the model never heard are read with the stand-in's row (the runtime's row 0 for unknown speech)
    dataset.use_label_order(("someone", "mei"), dataset.emotions, unknown_speakers_as="someone")
    rows = {dataset.items[i]["speaker"]: dataset[i]["speaker"] for i in range(len(dataset))}
    assert rows["mei"] == 1 and all(row == 0 for name, row in rows.items() if name != "mei") and len(rows) > 1
    proc = run_here("train", "landmarks", "--data", str(corpus),
                    "--vits", str(tmp_path / "nothing-here"), "--out", str(tmp_path / "r"), "--steps", "1")
    assert proc.returncode == 2 and "nothing-here" in proc.stderr and "Traceback" not in proc.stderr
    # a wrong stand-in is named before the data is read (here there is no corpus at all)
    proc = run_here("train", "landmarks", "--data", str(tmp_path / "none"),
                    "--vits", str(voice_model), "--out", str(tmp_path / "r"), "--steps", "1",
                    "--unknown-speakers-as", "nobody")
    assert proc.returncode == 2 and "--unknown-speakers-as nobody" in proc.stderr and "Traceback" not in proc.stderr
    # --read-as-unknown: speakers the model has rows for are read with the stand-in's row all the same
    heard = sorted({m["speaker"] for m in dataset.items} - {"mei"})
    dataset.use_label_order(("someone", "mei", *heard), dataset.emotions, unknown_speakers_as="someone",
                            as_unknown=tuple(heard))
    rows = {dataset.items[i]["speaker"]: dataset[i]["speaker"] for i in range(len(dataset))}
    assert rows["mei"] == 1 and all(rows[name] == 0 for name in heard) and heard
    dataset.use_label_order(("mei", "someone", *heard), dataset.emotions, unknown_speakers_as="someone",
                            as_unknown=(heard[0],))
    rows = {dataset.items[i]["speaker"]: dataset[i]["speaker"] for i in range(len(dataset))}
    assert rows["mei"] == 0 and rows[heard[0]] == 1 and all(rows[n] == 2 + i for i, n in enumerate(heard) if i)
    for kwargs, said in (({"as_unknown": ("mei",)}, "--read-as-unknown needs --unknown-speakers-as"),
                         ({"as_unknown": ("ghost",), "unknown_speakers_as": "mei"},
                          "--read-as-unknown ghost: .* no such"),
                         ({"as_unknown": ("mei",), "unknown_speakers_as": "mei"}, "that is the stand-in itself")):
        with pytest.raises(InvalidInputError, match=said):
            dataset.use_label_order(("mei", *heard), dataset.emotions, **kwargs)
    proc = run_here("train", "landmarks", "--data", str(tmp_path / "none"),
                    "--vits", str(voice_model), "--out", str(tmp_path / "r"), "--steps", "1",
                    "--read-as-unknown", "low")
    assert proc.returncode == 2 and "--read-as-unknown needs --unknown-speakers-as" in proc.stderr


def test_stage2_records_whose_row_reads_which_speaker_and_evaluation_reads_them_so(corpus: Path, vits_run: Path,
                                                                                    tmp_path: Path) -> None:
    """--unknown-speakers-as / --read-as-unknown (repeatable) are saved with the run: a resume with others is
    refused, and `uniflg eval` reads those speakers with the stand-in's row, as training did."""
    from uniflg_train.evaluation.command import load_systems
    from uniflg_train.evaluation.runner import EvalItem

    run = tmp_path / "as-unknown"
    args = ["train", "landmarks", "--data", str(corpus), "--vits", str(vits_run), "--out", str(run),
            "--batch-size", "2", "--threads", "1", "--unknown-speakers-as", "mei"]
    proc = uniflg(*args, "--steps", "1", "--read-as-unknown", "low", "--read-as-unknown", "bright,low")
    assert "read with mei's row: bright, low" in proc.stderr
    saved = json.loads((run / "train_landmarks.json").read_text())
    assert saved["unknown_speakers_as"] == "mei" and saved["read_as_unknown"] == ["bright", "low"]
    again = run_here(*args, "--steps", "2", "--read-as-unknown", "low")
    assert again.returncode == 2 and "read_as_unknown ['bright', 'low'] -> ['low']" in again.stderr

    system = load_systems(run, {})["UniFLG"]
    speakers = system.cfg.speakers
    rows = {name: int(system._g(EvalItem("x", "", np.zeros(1), 24000, np.zeros((1, 70, 2)), speaker=name)))
            for name in ("low", "bright", "soft", "mei", "stranger")}
    assert rows == {"low": speakers.index("mei"), "bright": speakers.index("mei"), "soft": speakers.index("soft"),
                    "mei": speakers.index("mei"), "stranger": speakers.index("mei")}


def test_tune_posterior_trains_only_the_posterior_and_the_decoder(corpus: Path, vits_run: Path, tmp_path: Path
                                                                   ) -> None:
    """--tune-posterior: speech steps move the posterior encoder (towards the text path's latent: an "anchor"
    loss) and the decoder; every other stage-1 weight stays as it was, MAS keeps reading stage 1's posterior, so
    the text path's input does not move; the CLI refuses its options where they mean nothing."""
    import torch
    from uniflg_train.trainer.common import make_loader
    from uniflg_train.trainer.data import open_training_data
    from uniflg_train.trainer.landmarks import LandmarkStage, load_stage1
    from uniflg_train.trainer.options import LandmarkTrainOptions

    model, _ = load_stage1(vits_run)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    dataset, collate, _ = open_training_data(corpus, "train", True, 12.0, model.cfg.audio.sample_rate)
    batch = next(iter(make_loader(dataset, collate, 4, 0, 0)))
    opts = LandmarkTrainOptions(latent_noise_scale=0.0, posterior_noise_scale=0.0, tune_posterior=True,
                                learning_rate=1e-2, posterior_learning_rate=1e-2)
    stage = LandmarkStage(model, opts, torch.device("cpu"))
    assert stage.cached_paths == {"text"}
    text_before = stage.frozen_forward(batch, "text")[0]
    logged = [stage.train_step(batch, step=1) for _ in range(3)]  # odd steps take the speech path
    assert all("anchor" in row and row["anchor"] > 0 for row in logged)
    changed = {k.split(".")[0] for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {"posterior", "landmark_decoder"}
    assert torch.allclose(stage.frozen_forward(batch, "text")[0], text_before, atol=1e-6)
    assert stage.stage1_posterior is not None
    for name, value in stage.stage1_posterior.state_dict().items():
        assert torch.equal(value, before[f"posterior.{name}"])

    run = tmp_path / "tuned"
    uniflg("train", "landmarks", "--data", str(corpus), "--vits", str(vits_run), "--out", str(run), "--steps", "2",
           "--batch-size", "4", "--threads", "1", "--tune-posterior", "--anchor-weight", "0.5")
    saved = json.loads((run / "train_landmarks.json").read_text())
    assert saved["tune_posterior"] is True and saved["anchor_weight"] == 0.5
    kept = tmp_path / "kept"  # --keep-last: every checkpoint of a short run stays
    uniflg("train", "landmarks", "--data", str(corpus), "--vits", str(vits_run), "--out", str(kept), "--steps", "5",
           "--batch-size", "4", "--threads", "1", "--checkpoint-every", "1", "--keep-last", "5")
    assert len(list((kept / "checkpoints").glob("step_*"))) == 5
    base = ["--steps", "2", "--batch-size", "4", "--threads", "1", "--tune-posterior"]
    uniflg("train", "landmarks", "--data", str(corpus), "--vits", str(vits_run), "--out", str(run), *base,
           "--anchor-weight", "0.5", "--steps", "3")  # a resume with the same options and more steps
    for changed, said in ((["--anchor-weight", "0.2"], "anchor_weight 0.5 -> 0.2"), ([], "tune_posterior")):
        args = base if changed else base[:-1]  # [] drops --tune-posterior itself
        proc = run_here("train", "landmarks", "--data", str(corpus),
                        "--vits", str(vits_run), "--out", str(run), *args, "--steps", "4", *changed)
        assert proc.returncode == 2 and "was trained with other options" in proc.stderr and said in proc.stderr
    for wrong, said in ((["--anchor-weight", "2"], "needs --tune-posterior"),
                        (["--tune-posterior", "--anchor-weight", "nan"], "--anchor-weight must be a finite number"),
                        (["--tune-posterior", "--posterior-learning-rate=-1e-3"], "must be a positive finite"),
                        (["--tune-posterior", "--variant", "stl-d"], "--tune-posterior needs a variant")):
        proc = run_here("train", "landmarks", "--data", str(corpus),
                        "--vits", str(vits_run), "--out", str(tmp_path / "no"), *wrong)
        assert proc.returncode == 2 and said in proc.stderr, proc.stderr[-500:]
        assert not (tmp_path / "no" / "checkpoints").exists()


def test_discriminator_warmup_trains_the_discriminators_alone_first(corpus: Path, tmp_path: Path) -> None:
    """--discriminator-warmup N: from --adversarial-start, N steps move only the discriminators (the generator
    sees reconstruction losses only), then the generator gets the GAN and feature-matching losses; the CLI
    records it and a resumed run may change it."""
    import torch
    from uniflg.config import named_config
    from uniflg_train.trainer.common import make_loader
    from uniflg_train.trainer.data import open_training_data
    from uniflg_train.trainer.options import VitsTrainOptions
    from uniflg_train.trainer.vits import VitsStage

    dataset, collate, meta = open_training_data(corpus, "train", False, 12.0, 24000, text_only=True)
    cfg = named_config("tiny").replace(speakers=meta.speakers, emotions=meta.emotions)
    torch.manual_seed(0)
    stage = VitsStage(cfg, VitsTrainOptions(adversarial_start=2, discriminator_warmup=3), torch.device("cpu"))
    batch = next(iter(make_loader(dataset, collate, 2, 0, 0)))
    keys = {step: set(stage.step(batch, step).losses) for step in (1, 2, 4, 5)}
    assert "disc" not in keys[1] and "gen" not in keys[1]
    assert "disc" in keys[2] and "disc" in keys[4] and not {"gen", "fm"} & (keys[2] | keys[4])
    assert {"disc", "gen", "fm"} <= keys[5]

    run = tmp_path / "v"
    uniflg("train", "vits", "--data", str(corpus), "--config", "tiny", "--out", str(run), "--steps", "2",
           "--batch-size", "4", "--adversarial-start", "1", "--discriminator-warmup", "5", "--threads", "1")
    assert json.loads((run / "train_vits.json").read_text())["discriminator_warmup"] == 5
    uniflg("train", "vits", "--data", str(corpus), "--config", "tiny", "--out", str(run), "--steps", "3",
           "--batch-size", "4", "--adversarial-start", "1", "--discriminator-warmup", "0", "--threads", "1")
    assert json.loads((run / "train_vits.json").read_text())["discriminator_warmup"] == 0


def test_resuming_with_another_model_or_from_a_damaged_checkpoint_is_refused_or_skipped(
        corpus: Path, vits_run: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    run = tmp_path / "vits"
    shutil.copytree(vits_run, run)
    base = ("train", "vits", "--data", str(corpus), "--out", str(run), "--steps", "13", "--batch-size", "4",
            "--checkpoint-every", "6", "--adversarial-start", "6", "--threads", "1")
    said = refused_here(*base, "--config", "small")
    assert "trains a model of other sizes than --config names: resume it with --config tiny" in said, said
    said = refused_here(*base, "--config", "tiny", "--variant", "as")
    assert "trains UniFLG, not UniFLG-AS" in said, said
    # a file damaged after it was written (same size): resuming skips that checkpoint for the one before
    newest = CheckpointManager(run / "checkpoints").latest()
    assert newest is not None and newest.step == 12
    weights = newest.path / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2: len(data) // 2 + 4000] = bytes(4000)
    weights.write_bytes(bytes(data))
    said = refused_here("export", "--format", "onnx", "--checkpoint", str(newest.path), "-o", str(tmp_path / "v"))
    assert "do not match their manifest's SHA-256" in said and not (tmp_path / "v").exists(), said
    caplog.clear()
    import logging

    from uniflg.cli import main

    with caplog.at_level(logging.INFO):
        assert main([*base, "--config", "tiny"]) == 0
    assert f"skipping {newest.path}" in caplog.text and "resumed stage 1 from" in caplog.text
    assert "step_00000006 (step 6)" in caplog.text  # from the checkpoint before the damaged one


def test_stage2_resume_refuses_another_variant(corpus: Path, vits_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "lm"
    uniflg("train", "landmarks", "--data", str(corpus), "--vits", str(vits_run), "--out", str(run), "--steps", "2",
           "--batch-size", "4", "--threads", "1")
    said = refused_here("train", "landmarks", "--data", str(corpus), "--vits", str(vits_run), "--out", str(run),
                    "--steps", "4", "--batch-size", "4", "--threads", "1", "--variant", "stl")
    assert "trains UniFLG, not STL" in said, said
    # the checkpoint holds the whole model: another stage 1 would be replaced without a word, so it is refused
    step6 = vits_run / "checkpoints" / "step_00000006"
    said = refused_here("train", "landmarks", "--data", str(corpus), "--vits", str(step6), "--out", str(run),
                    "--steps", "4", "--batch-size", "4", "--threads", "1")
    started = (vits_run / "checkpoints" / "step_00000012").resolve()  # what --vits RUN resolved to at the start
    assert said.startswith(f"{run} was started from another stage 1 (its ") and said.endswith(
        f"resume it with --vits {started} (the checkpoint it started from), or give a new --out"), said
    assert [c.step for c in CheckpointManager(run / "checkpoints").checkpoints()] == [2]
    uniflg("train", "landmarks", "--data", str(corpus), "--vits", str(vits_run / "checkpoints" / "step_00000012"),
           "--out", str(run), "--steps", "4", "--batch-size", "4", "--threads", "1")  # the same stage 1 resumes
    assert [c.step for c in CheckpointManager(run / "checkpoints").checkpoints()][-1] == 4


def test_stage2_reads_stage1_once_and_refuses_other_rows(corpus: Path, vits_run: Path, tmp_path: Path) -> None:
    """Another variant than stage 1's (STL here) loaded the stage-1 checkpoint twice, on every torchrun rank, and
    resolved a run folder's newest checkpoint a third time for its record (a training stage 1 may have moved on by
    then). Emotion rows (UniFLG-AS) on a speaker-conditioned stage 1 are one line, before any weight is read."""
    said = refused_here("train", "landmarks", "--data", str(corpus), "--vits", str(vits_run), "--out",
                        str(tmp_path / "as"), "--steps", "2", "--batch-size", "4", "--threads", "1", "--variant", "as")
    newest = vits_run / "checkpoints" / "step_00000012"
    assert said == (f"UniFLG-AS needs a stage 1 conditioned on emotion rows; {newest} is conditioned on speaker "
                    "rows (train stage 1 with the same --variant)"), said
    assert not (tmp_path / "as").exists()
    ran = run_here("train", "landmarks", "--data", str(corpus), "--vits", str(vits_run), "--out", str(tmp_path / "stl"),
                   "--steps", "1", "--batch-size", "4", "--threads", "1", "--variant", "stl")
    assert ran.returncode == 0, ran.stderr
    loads = ran.stderr.count("INFO uniflg_train.trainer.landmarks: loaded stage 1 from")
    resolved = ran.stderr.count(f"INFO uniflg_train.checkpoint: using {newest} (step 12)")
    assert loads == 1 and resolved == 1, ran.stderr
    assert json.loads((tmp_path / "stl" / "stage1.json").read_text())["vits"] == str(newest.resolve())


def test_bad_data_out_and_numbers_are_one_line_and_write_nothing(corpus: Path, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    (tmp_path / "empty").mkdir()
    for data, said in ((tmp_path / "nowhere", "is not a folder"), (tmp_path / "afile", "is not a folder"),
                       (tmp_path / "empty", "holds no train/val/test.jsonl")):
        line = refused_here("train", "vits", "--data", str(data), "--out", str(tmp_path / "run"),
                        "--config", "tiny", "--steps", "2")
        assert said in line, line
    assert not (tmp_path / "nowhere").exists() and not any((tmp_path / "empty").iterdir())
    line = refused_here("train", "vits", "--data", str(corpus), "--out", str(tmp_path / "afile"),
                    "--config", "tiny", "--steps", "2")
    assert "--out" in line and "is a file" in line, line
    (tmp_path / "lm").mkdir()
    (tmp_path / "lm" / "train_landmarks.json").write_text("{}")
    for out, said in ((tmp_path / "lm", "holds a stage 2 run"), (corpus, "holds a corpus")):
        before = sorted(p.name for p in out.iterdir())
        line = refused_here("train", "vits", "--data", str(corpus), "--out", str(out), "--config", "tiny",
                        "--steps", "2")
        assert said in line and sorted(p.name for p in out.iterdir()) == before, line
    for option, value in (("--steps", "-5"), ("--batch-size", "0"), ("--checkpoint-every", "0"),
                          ("--log-every", "0"), ("--learning-rate", "-1"), ("--workers", "-1"), ("--threads", "0")):
        proc = run_here("train", "vits", "--data", str(corpus), "--out",
                        str(tmp_path / "r"), option, value)
        assert proc.returncode == 2 and f"argument {option}: must be" in proc.stderr, (option, proc.stderr)
    assert not (tmp_path / "r").exists()


def test_export_refuses_nan_weights_before_writing(vits_run: Path, tmp_path: Path) -> None:
    import torch
    from uniflg.errors import InvalidInputError
    from uniflg_train.export.onnx_export import export_onnx, open_model

    model, _ = open_model(vits_run, "--checkpoint")
    with torch.no_grad():
        next(model.flow.parameters())[0].fill_(float("nan"))
    with pytest.raises(InvalidInputError, match=r"NaN or infinite weights in 1 tensors \(the first: flow\."):
        export_onnx(model, tmp_path / "voice", "nan")
    assert not (tmp_path / "voice").exists()


def test_export_swaps_the_voice_in_whole_and_refuses_foreign_folders(vits_run: Path, tmp_path: Path) -> None:
    voice = tmp_path / "voice"
    done = uniflg("export", "--format", "onnx", "--checkpoint", str(vits_run), "-o", str(voice), "--no-verify")
    assert f"{vits_run} is a stage-1 run: its face decoder was never trained" in done.stderr  # said, not refused
    before = {p.name: p.read_bytes() for p in voice.iterdir() if p.is_file()}
    # an export killed half way (SIGKILL: no handler runs) leaves the old voice as it was
    args = [sys.executable, "-m", "uniflg.cli", "export", "--format", "onnx", "--checkpoint",
            str(vits_run / "checkpoints" / "step_00000006"), "-o", str(voice)]
    proc = subprocess.Popen(args, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    staged = tmp_path / ".voice.export-partial"
    deadline = time.time() + 120
    while time.time() < deadline and not (staged.is_dir() and any(staged.glob("*.onnx"))):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert {p.name: p.read_bytes() for p in voice.iterdir() if p.is_file()} == before
    # the next export clears the leftover and replaces the voice whole
    uniflg("export", "--format", "onnx", "--checkpoint", str(vits_run / "checkpoints" / "step_00000006"), "-o",
           str(voice), "--no-verify")
    assert not staged.exists() and (voice / "voice.json").is_file()
    assert (voice / "model.safetensors").read_bytes() != before["model.safetensors"]
    # named after the run, not "step_00000006"
    assert json.loads((voice / "voice.json").read_text())["name"] == vits_run.name
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("keep")
    said = refused_here("export", "--format", "onnx", "--checkpoint", str(vits_run), "-o", str(tmp_path / "notes"))
    assert "is not empty and holds no voice" in said and [p.name for p in (tmp_path / "notes").iterdir()] == [
        "mine.txt"]


def test_eval_refuses_a_stage1_run_whose_face_decoder_never_trained(corpus: Path, vits_run: Path) -> None:
    said = refused_here("eval", "--data", str(corpus), "--run", str(vits_run), "--limit", "2")
    assert said == (f"--run {vits_run} is a stage-1 run: its face decoder was never trained; give the stage-2 run "
                    f"trained on it (uniflg train landmarks --vits {vits_run})"), said
    missing = vits_run / "checkpoints" / "step_00099999"
    said = refused_here("eval", "--data", str(corpus), "--run", str(missing), "--limit", "2")
    assert said.startswith(f"--run {missing} is a stage-1 run"), said  # the run behind a checkpoint is checked
    from uniflg.voice import DEFAULT_VOICE_DIR

    said = refused_here("eval", "--data", str(corpus), "--run", str(DEFAULT_VOICE_DIR), "--limit", "2")
    assert "is a voice folder; --run takes a stage-2 run" in said, said


def test_a_run_folder_being_trained_refuses_a_second_trainer(corpus: Path, tmp_path: Path) -> None:
    """Two `train` processes into one --out overwrote each other's checkpoints and mixed their logs (review 16)."""
    from uniflg_train.trainer.common import RUN_LOCK, run_dirs

    out = tmp_path / "busy"
    run_dirs(out, "stage 1")  # this process trains it now (holds the lock until it exits)
    args = [sys.executable, "-m", "uniflg.cli", "train", "vits", "--data", str(corpus), "--config", "tiny", "--out",
            str(out), "--steps", "2", "--batch-size", "2", "--threads", "1"]
    done = subprocess.run(args, capture_output=True, text=True, env=ENV, timeout=300)
    assert done.returncode == 2 and done.stderr.strip().endswith(
        f"--out {out} is being trained by another process (it holds {RUN_LOCK}); wait for it to finish or give "
        "another folder"), done.stderr[-2000:]
    assert not (out / "checkpoints").exists()


def test_export_for_tensorrt_without_it_writes_nothing(vits_run: Path, tmp_path: Path) -> None:
    """It swapped a new ONNX voice in over -o, then said TensorRT was missing (review 16)."""
    import importlib.util

    if importlib.util.find_spec("tensorrt") is not None:
        pytest.skip("TensorRT is installed here: the export would build engines")
    out = tmp_path / "vt"
    said = refused_here("export", "--format", "tensorrt", "--checkpoint", str(vits_run), "-o", str(out))
    assert said == "the tensorrt backend needs TensorRT: pip install 'uniflg[trt]'" and not out.exists()
    assert not list(tmp_path.glob(".vt*"))  # no staging folder either


def test_export_names_its_own_option_for_a_bad_latents_corpus(vits_run: Path, tmp_path: Path) -> None:
    said = refused_here("export", "--checkpoint", str(vits_run), "-o", str(tmp_path / "v"), "--latents-from",
                    str(tmp_path / "nope"))
    assert said.startswith(f"--latents-from {tmp_path / 'nope'} is not a folder")  # was "--data ..."
    assert not (tmp_path / "v").exists()


def test_a_resume_already_past_steps_says_so(corpus: Path, vits_run: Path, tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    import logging
    import shutil

    from uniflg.cli import main

    run = tmp_path / "copy"
    shutil.copytree(vits_run, run)
    with caplog.at_level(logging.INFO):
        assert main(["train", "vits", "--data", str(corpus), "--config", "tiny", "--out", str(run), "--steps", "2",
                     "--batch-size", "4", "--adversarial-start", "6", "--threads", "1",
                     "--init-from", str(vits_run)]) == 0
    assert "the run is already at step 12 (>= --steps 2): nothing to train; raise --steps to go on" in caplog.text
    assert f"--init-from {vits_run} is not used: a resumed run continues from its own checkpoint" in caplog.text


def test_a_run_whose_loss_diverges_stops_without_saving_it(corpus: Path, tmp_path: Path) -> None:
    """NaN losses once trained on and saved NaN checkpoints, which then fed resumes, stage 2 and exports."""
    run = tmp_path / "diverging"
    proc = run_here("train", "vits", "--data", str(corpus), "--config",
                    "tiny", "--out", str(run), "--steps", "40", "--batch-size", "4", "--checkpoint-every", "1",
                    "--adversarial-start", "1000", "--learning-rate", "1e12", "--threads", "1")
    assert proc.returncode == 2, proc.stderr[-2000:]
    said = proc.stderr.strip().splitlines()[-1]
    assert "the loss became non-finite at step" in said and "stopped without saving it" in said, said
    import torch
    from safetensors.torch import load_file

    for checkpoint in CheckpointManager(run / "checkpoints").checkpoints():  # every one saved is finite
        weights = load_file(str(checkpoint.path / "model.safetensors"))
        assert all(bool(torch.isfinite(t).all()) for t in weights.values() if t.is_floating_point()), checkpoint


def test_stage1_resume_reads_the_corpus_speakers_with_the_runs_rows(corpus: Path, vits_run: Path, tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    """Review 20: resuming with a corpus whose speakers came in another order trained the wrong rows silently, and
    one with a speaker the run lacks died with an IndexError."""
    import logging

    from uniflg.cli import main

    run, data = tmp_path / "vits", tmp_path / "data"
    shutil.copytree(vits_run, run)
    shutil.copytree(corpus, data, ignore=shutil.ignore_patterns("cache"))
    meta = json.loads((data / "corpus.json").read_text())
    meta["speakers"] = meta["speakers"][::-1]  # the new cache numbers the speakers in this order
    (data / "corpus.json").write_text(json.dumps(meta))

    def train(steps: int) -> list[str]:
        return ["train", "vits", "--data", str(data), "--config", "tiny", "--out", str(run), "--steps", str(steps),
                "--batch-size", "4", "--checkpoint-every", "6", "--adversarial-start", "6", "--threads", "1"]

    with caplog.at_level(logging.INFO):
        assert main(train(13)) == 0
    lines = (data / "train.jsonl").read_text().splitlines()
    lines[0] = json.dumps(json.loads(lines[0]) | {"speaker": "zed"})
    (data / "train.jsonl").write_text("\n".join(lines) + "\n")
    said = refused_here(*train(14))
    assert f"{run} has no row for speaker zed of this --data" in said and "--init-from" in said, said


def test_a_stage2_run_whose_stage1_checkpoint_was_pruned_resumes_from_its_own(
        corpus: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Review 20: the refusal named the deleted stage-1 checkpoint, a dead end."""
    import logging

    from uniflg.cli import main

    s1, s2 = tmp_path / "s1", tmp_path / "s2"
    common = ("--data", str(corpus), "--batch-size", "4", "--checkpoint-every", "2", "--threads", "1")
    stage1 = ("train", "vits", "--config", "tiny", "--out", str(s1), "--adversarial-start", "100", *common)
    uniflg(*stage1, "--steps", "2")
    uniflg("train", "landmarks", "--vits", str(s1), "--out", str(s2), "--steps", "2", *common)
    uniflg(*stage1, "--steps", "6")
    shutil.rmtree(s1 / "checkpoints" / "step_00000002")  # pruned (retention keeps the last N and the best)
    said = refused_here("train", "landmarks", "--vits", str(s1), "--out", str(s2), "--steps", "4", *common)
    own = s2 / "checkpoints" / "step_00000002"
    assert "is gone; resume it with --vits " + str(own) in said, said
    with caplog.at_level(logging.INFO):
        assert main(["train", "landmarks", "--vits", str(own), "--out", str(s2), "--steps", "4", *common]) == 0
    assert "(step 2)" in caplog.text


def test_a_run_refused_before_it_started_leaves_no_folder(corpus: Path, tmp_path: Path) -> None:
    """Review 20: --init-skip without --init-from left RUN/.uniflg-train.lock behind."""
    run = tmp_path / "never"
    said = refused_here("train", "vits", "--data", str(corpus), "--config", "tiny", "--out", str(run),
                    "--init-skip", "utterance")
    assert "--init-skip needs --init-from" in said and not run.exists(), said
    run.mkdir()  # a folder the user made stays
    refused_here("train", "vits", "--data", str(corpus), "--config", "tiny", "--out", str(run),
             "--init-skip", "utterance")
    assert run.is_dir()


def test_a_checkpoint_pruned_while_it_is_read_falls_back_to_the_newest(vits_run: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Review 20: an export while the run trained named a checkpoint retention had just removed as not existing."""
    import uniflg_train.checkpoint as checkpoint

    run = tmp_path / "vits"
    shutil.copytree(vits_run, run)
    real = checkpoint.load_model
    calls: list[int] = []

    def pruned_first(files, **kwargs):  # the trainer's retention removes the checkpoint as it is read
        calls.append(1)
        if len(calls) == 1:
            shutil.rmtree(Path(files[0]).parent)
            raise FileNotFoundError(files[0])
        return real(files, **kwargs)

    monkeypatch.setattr(checkpoint, "load_model", pruned_first)
    _, where = checkpoint.load_trained_model(run)
    assert where.name == "step_00000006" and len(calls) == 2


def test_training_reads_a_cache_made_elsewhere(corpus: Path, tmp_path: Path) -> None:
    """Review 20: `uniflg preprocess --out CACHE` made a cache no other command could use, and a read-only corpus
    could not be trained on; --cache names the cache."""
    data, cache = tmp_path / "data", tmp_path / "features"
    shutil.copytree(corpus, data, ignore=shutil.ignore_patterns("cache"))
    uniflg_child("preprocess", "--data", str(data), "--out", str(cache), "--jobs", "2")
    uniflg("train", "vits", "--data", str(data), "--cache", str(cache), "--config", "tiny", "--out",
           str(tmp_path / "run"), "--steps", "1", "--batch-size", "4", "--threads", "1")
    assert not (data / "cache").exists() and (tmp_path / "run" / "checkpoints").is_dir()
