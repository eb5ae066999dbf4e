"""The real-faces recipe's stage checks and the commands its English stages run (dry runs: every tool is `echo`)."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

RECIPE = Path(__file__).resolve().parents[1] / "training/recipes/real_faces.sh"


def recipe(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the recipe with `echo` for uniflg and python and its runs under tmp_path; nothing else of the caller's
    environment reaches it (an exported LANDMARK_STEPS would change what it runs)."""
    clean = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", str(tmp_path))}
    # stage base writes the base voice: under tmp_path too, never into the checkout's data/
    return subprocess.run(["bash", str(RECIPE)], capture_output=True, text=True, timeout=60,
                          env={**clean, "UNIFLG": "echo", "PY": "echo", "RUNS": str(tmp_path / "runs"),
                               "BASE_VOICE": str(tmp_path / "base-voice"), **env})


def command(stdout: str, *words: str) -> dict[str, str]:
    """The echoed command line that starts with ``words`` -> its ``--flag value`` pairs (and ``-o``)."""
    (line,) = [ln for ln in stdout.splitlines() if shlex.split(ln)[:len(words)] == list(words)]
    tokens = shlex.split(line)
    return {t: tokens[i + 1] for i, t in enumerate(tokens[:-1]) if t.startswith("-") and not
            tokens[i + 1].startswith("--")}


def test_stage_checks_refuse_before_anything_runs(tmp_path: Path) -> None:
    for env, said in (({"STAGE": "nope"}, "STAGE=nope is not a stage of this recipe"),
                      ({"STAGE": "english-landmarks"}, "needs ENGLISH_CHECKPOINT=STEP"),
                      ({"STAGE": "eval", "ENGLISH_CHECKPOINT": "1.5"}, "ENGLISH_CHECKPOINT=1.5 is not a step"),
                      ({"STAGE": "eval", "ENGLISH_CHECKPOINT": "0"}, "is not a step"),
                      ({"STAGE": "eval", "ENGLISH_RUN": "english"}, "ENGLISH_RUN=english: choose english-native")):
        proc = recipe(tmp_path, **env)
        assert proc.returncode == 2 and said in proc.stderr and not proc.stdout, env
    proc = recipe(tmp_path, STAGE="english-export", ENGLISH_CHECKPOINT="2500")
    assert proc.returncode == 1 and "latents.json: run STAGE=export first" in proc.stderr


def test_the_english_stages_chain_their_steps_and_read_kokoro_as_unknown(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    assert "run STAGE=landmarks first" in recipe(tmp_path, STAGE="english").stderr
    (runs / "uniflg/checkpoints/step_00000875").mkdir(parents=True)
    english = command(recipe(tmp_path, STAGE="english").stdout, "train", "vits")
    assert english["--steps"] == "3000" and english["--freeze"] == "posterior,flow,utterance,u_projection,g_embedding"
    assert english["--init-from"] == "runs/faces/uniflg/checkpoints/step_00000875".replace("runs/faces", str(runs))
    post = command(recipe(tmp_path, STAGE="english-posterior").stdout, "train", "vits")
    assert post["--init-from"] == f"{runs}/english/checkpoints/step_00003000" and post["--steps"] == "3000"
    assert post["--freeze"] == "flow,utterance,u_projection,g_embedding"
    flow = command(recipe(tmp_path, STAGE="english-flow", ENGLISH_CHECKPOINT="2500").stdout, "train", "vits")
    assert flow["--init-from"] == f"{runs}/english-post/checkpoints/step_00003000" and flow["--steps"] == "6000"
    assert flow["--freeze"] == "utterance,u_projection,g_embedding" and flow["--out"] == f"{runs}/english-flow"
    # the voices measured on english-flow (docs/model-card.md) are rebuilt with ENGLISH_RUN=english-flow
    paired = recipe(tmp_path, STAGE="english-pair", ENGLISH_CHECKPOINT="2500", ENGLISH_RUN="english-flow").stdout
    pair = command(paired, "corpus", "pair")
    assert pair["--out"] == "data/faces-kokoro-en-paired-2500"
    assert pair["--model"] == f"{runs}/english-flow/checkpoints/step_00002500" and pair["--face"] == "mei"
    assert command(paired, "corpus", "merge")["--out"] == "data/faces-english-2500"
    stage2 = command(recipe(tmp_path, STAGE="english-landmarks", ENGLISH_CHECKPOINT="2500",
                            ENGLISH_RUN="english-flow").stdout, "train", "landmarks")
    assert stage2["--vits"] == f"{runs}/english-flow/checkpoints/step_00002500"
    assert stage2["--out"] == f"{runs}/uniflg-english-2500" and stage2["--data"] == "data/faces-english-2500"
    assert stage2["--unknown-speakers-as"] == "mei" and stage2["--steps"] == "875"
    assert stage2["--read-as-unknown"] == ("kokoro_jf_alpha,kokoro_jf_gongitsune,kokoro_jf_nezumi,"
                                           "kokoro_jf_tebukuro,kokoro_jm_kumo")
    moved = command(recipe(tmp_path, STAGE="english-landmarks", ENGLISH_CHECKPOINT="2500", ENGLISH_RUN="english-flow",
                           STAGE2_SPEAKERS="kokoro_jm_kumo,mei").stdout, "train", "landmarks")
    assert moved["--read-as-unknown"] == "kokoro_jm_kumo"  # the stand-in is left out wherever it is listed
    (runs / "latents.json").write_text("{}")
    exported = recipe(tmp_path, STAGE="english-export", ENGLISH_CHECKPOINT="2500", ENGLISH_RUN="english-flow").stdout
    export = command(exported, "export")
    assert export["--checkpoint"] == f"{runs}/uniflg-english-2500/checkpoints/step_00000875"
    assert export["-o"] == f"{runs}/voice-english-2500" and export["--language-speaker"] == "en=kokoro_jm_kumo"
    assert export["--latents"] == f"{runs}/latents.json" and "--half-weights" in exported


def test_the_native_english_stages_continue_english_flow_and_add_the_pack_voices(tmp_path: Path) -> None:
    from uniflg_train.corpus.kokoro_voice import native_english_voices

    runs = tmp_path / "runs"
    runs.mkdir()
    proc = recipe(tmp_path, STAGE="english-native-corpus", VOICE_PACK=str(tmp_path / "pack"))
    assert proc.returncode == 1 and "set KOKORO_FASTAPI to a clone of" in proc.stderr and not proc.stdout
    built = recipe(tmp_path, STAGE="english-native-corpus", VOICE_PACK=str(tmp_path / "pack"),
                   KOKORO_FASTAPI="/src/kf").stdout
    assert command(built, "corpus", "voice-pack") == {"--source": "/src/kf", "--out": str(tmp_path / "pack")}
    make = command(built, "corpus", "make")
    assert (make["--sources"], make["--seed"], make["--utterances"]) == ("kokoro-en-native", "2033", "1600")
    assert command(built, "corpus", "merge")["--out"] == "data/english-native"
    (tmp_path / "pack").mkdir()
    again = recipe(tmp_path, STAGE="english-native-corpus", VOICE_PACK=str(tmp_path / "pack")).stdout
    # without a source the pack is not rebuilt; corpus make checks each of its voices
    assert not [ln for ln in again.splitlines() if ln.startswith("corpus voice-pack")]
    assert command(again, "corpus", "make")["--voice-pack"] == str(tmp_path / "pack")
    native = command(recipe(tmp_path, STAGE="english-native").stdout, "train", "vits")
    assert native["--init-from"] == f"{runs}/english-flow/checkpoints/step_00006000" and native["--steps"] == "40000"
    assert native["--data"] == "data/english-native" and native["--freeze"] == "utterance,u_projection,g_embedding"
    at = command(recipe(tmp_path, STAGE="english-native", ENGLISH_CHECKPOINT="9000").stdout, "train", "vits")
    assert at["--steps"] == "9000"  # trains exactly to the step the voice builds on
    paired = recipe(tmp_path, STAGE="english-pair", ENGLISH_CHECKPOINT="9000").stdout
    pairs = [shlex.split(line) for line in paired.splitlines() if shlex.split(line)[:2] == ["corpus", "pair"]]
    assert [p[2] for p in pairs] == ["data/corpus-kokoro-en", "data/corpus-kokoro-en-native"]
    assert all(p[p.index("--model") + 1] == f"{runs}/english-native/checkpoints/step_00009000" for p in pairs)
    merge = shlex.split(next(ln for ln in paired.splitlines() if ln.startswith("corpus merge")))
    assert merge[2:5] == ["data/faces", "data/faces-kokoro-en-paired-native-9000",
                          "data/faces-kokoro-en-native-paired-native-9000"]
    assert merge[-1] == "data/faces-native-9000"
    stage2 = command(recipe(tmp_path, STAGE="english-landmarks", ENGLISH_CHECKPOINT="9000").stdout,
                     "train", "landmarks")
    natives = [f"kokoro_{v}" for v in native_english_voices()]
    assert stage2["--paired-speakers"].split(",")[6:] == natives and stage2["--out"] == f"{runs}/uniflg-native-9000"
    assert stage2["--read-as-unknown"].split(",")[5:] == natives and "mei" not in stage2["--read-as-unknown"]
    (runs / "latents.json").write_text("{}")
    export = command(recipe(tmp_path, STAGE="english-export", ENGLISH_CHECKPOINT="9000").stdout, "export")
    assert export["-o"] == f"{runs}/voice-native-9000" and export["--language-speaker"] == "en=kokoro_af_heart"


def test_the_english_flow_route_trains_english_flow_to_its_step_and_runs_no_native_stage(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    (runs / "uniflg/checkpoints/step_00000875").mkdir(parents=True)
    (runs / "latents.json").write_text("{}")
    everything = recipe(tmp_path, STAGE="all", ENGLISH_RUN="english-flow", ENGLISH_CHECKPOINT="9000",
                        BASE_COMMIT="HEAD", VOICE_PACK=str(tmp_path / "none"))
    assert everything.returncode == 0, everything.stderr
    assert "kokoro-en-native" not in everything.stdout and "english-native" not in everything.stdout
    trained = [shlex.split(ln) for ln in everything.stdout.splitlines() if ln.startswith("train vits")]
    flow = next(t for t in trained if t[t.index("--out") + 1] == f"{runs}/english-flow")
    assert flow[flow.index("--steps") + 1] == "9000"
    stage2 = command(everything.stdout, "train", "landmarks", "--data", "data/faces-english-9000")
    assert stage2["--vits"] == f"{runs}/english-flow/checkpoints/step_00009000"
    assert stage2["--paired-speakers"].split(",")[-1] == "kokoro_jm_kumo"  # no native speakers


def test_polish_trains_the_waveform_decoder_alone_and_exports_it_on_the_voice(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    polish = command(recipe(tmp_path, STAGE="polish").stdout, "train", "vits")
    assert polish["--init-from"] == f"{runs}/uniflg/checkpoints/step_00000875"
    assert polish["--out"] == f"{runs}/polish-warm"
    assert polish["--freeze"] == "text_encoder,posterior,flow,duration,utterance,u_projection,g_embedding"
    assert polish["--adversarial-start"] == "0" and polish["--data"] == "data/faces-hts"
    assert polish["--discriminator-warmup"] == "500" and polish["--learning-rate"] == "1e-4"
    proc = recipe(tmp_path, STAGE="polish-export")
    assert proc.returncode == 2 and "needs POLISH_CHECKPOINT=STEP" in proc.stderr and not proc.stdout
    assert "no " in recipe(tmp_path, STAGE="polish-export", POLISH_CHECKPOINT="2000").stderr
    (runs / "latents.json").write_text("{}")
    export = command(recipe(tmp_path, STAGE="polish-export", POLISH_CHECKPOINT="2000",
                            VOICE_OUT="/v/shipped").stdout, "export")
    assert export["--checkpoint"] == f"{runs}/polish-warm/checkpoints/step_00002000"
    assert export["-o"] == f"{runs}/voice-polish-warm-2000" and export["--live-from"] == "/v/shipped"
    everything = recipe(tmp_path, STAGE="all", BASE_COMMIT="HEAD").stdout
    assert f"{runs}/polish" not in everything and "voice-polish" not in everything  # only when asked for


def test_the_settle_route_continues_english_native_at_vits_rate_and_the_voice_builds_on_it(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    settle = command(recipe(tmp_path, STAGE="english-settle").stdout, "train", "vits")
    assert settle["--init-from"] == f"{runs}/english-native/checkpoints/step_00006000"
    assert (settle["--learning-rate"], settle["--steps"]) == ("2e-4", "40000")
    assert settle["--out"] == f"{runs}/english-settle"
    assert settle["--data"] == "data/english-native" and settle["--freeze"] == "utterance,u_projection,g_embedding"
    later = command(recipe(tmp_path, STAGE="english-settle", ENGLISH_SETTLE_FROM="4500", ENGLISH_CHECKPOINT="3000")
                    .stdout, "train", "vits")
    assert later["--init-from"].endswith("english-native/checkpoints/step_00004500") and later["--steps"] == "3000"
    # on this route english-native stops where english-settle starts, and the voice reads english-settle's step
    native = command(recipe(tmp_path, STAGE="english-native", ENGLISH_RUN="english-settle",
                            ENGLISH_CHECKPOINT="3000").stdout, "train", "vits")
    assert native["--steps"] == "6000"
    paired = recipe(tmp_path, STAGE="english-pair", ENGLISH_RUN="english-settle", ENGLISH_CHECKPOINT="3000").stdout
    pairs = [shlex.split(line) for line in paired.splitlines() if shlex.split(line)[:2] == ["corpus", "pair"]]
    assert [p[2] for p in pairs] == ["data/corpus-kokoro-en", "data/corpus-kokoro-en-native"]
    assert all(p[p.index("--model") + 1] == f"{runs}/english-settle/checkpoints/step_00003000" for p in pairs)
    assert shlex.split(next(ln for ln in paired.splitlines() if ln.startswith("corpus merge")))[-1] == \
        "data/faces-settle-3000"
    # STAGE=all on this route runs english-native and english-settle, in that order
    (runs / "uniflg/checkpoints/step_00000875").mkdir(parents=True)
    (runs / "latents.json").write_text("{}")
    (tmp_path / "pack").mkdir()
    everything = recipe(tmp_path, STAGE="all", ENGLISH_RUN="english-settle", ENGLISH_CHECKPOINT="3000",
                        BASE_COMMIT="HEAD", VOICE_PACK=str(tmp_path / "pack"))
    assert everything.returncode == 0, everything.stderr
    outs = [t[t.index("--out") + 1] for t in (shlex.split(ln) for ln in everything.stdout.splitlines()
                                              if ln.startswith("train vits"))]
    assert outs[-2:] == [f"{runs}/english-native", f"{runs}/english-settle"]


def test_the_default_voice_recipe_exports_a_whole_voice(tmp_path: Path) -> None:
    """The from-nothing recipe ends in a voice avatars and live can use: export, then its face calibration, then
    its live path distilled from it (dry run: every tool is echo)."""
    script = RECIPE.with_name("default_voice.sh")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "UNIFLG": "echo", "PY": "echo",
           "RUNS": str(tmp_path / "runs"), "VOICE_OUT": str(tmp_path / "voice")}
    proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=60,
                          env={**env, "STAGE": "export"})
    assert proc.returncode == 0, proc.stderr
    lines = [shlex.split(ln)[:2] for ln in proc.stdout.splitlines()]
    assert lines == [["export", "--format"], ["calibrate-face", "--voice"]]
    live = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=60,
                          env={**env, "STAGE": "live"})
    assert [shlex.split(ln)[:3] for ln in live.stdout.splitlines()] == [
        ["-m", "uniflg_train.live", "train"], ["-m", "uniflg_train.live", "export"],
        ["-m", "uniflg_train.live", "evaluate"]]
    assert command(live.stdout, "-m", "uniflg_train.live", "export")["--voice"] == str(tmp_path / "voice")
    wrong = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=60,
                           env={**env, "STAGE": "nope"})
    assert wrong.returncode == 2 and "STAGE=nope is not a stage of this recipe" in wrong.stderr and not wrong.stdout
