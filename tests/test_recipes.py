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
    return subprocess.run(["bash", str(RECIPE)], capture_output=True, text=True, timeout=60,
                          env={**clean, "UNIFLG": "echo", "PY": "echo", "RUNS": str(tmp_path / "runs"), **env})


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
                      ({"STAGE": "eval", "ENGLISH_CHECKPOINT": "0"}, "is not a step")):
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
    assert flow["--init-from"] == f"{runs}/english-post/checkpoints/step_00003000" and flow["--steps"] == "2500"
    assert flow["--freeze"] == "utterance,u_projection,g_embedding" and flow["--out"] == f"{runs}/english-flow"
    paired = recipe(tmp_path, STAGE="english-pair", ENGLISH_CHECKPOINT="2500").stdout
    pair = command(paired, "corpus", "pair")
    assert pair["--model"] == f"{runs}/english-flow/checkpoints/step_00002500" and pair["--face"] == "mei"
    assert command(paired, "corpus", "merge")["--out"] == "data/faces-english-2500"
    stage2 = command(recipe(tmp_path, STAGE="english-landmarks", ENGLISH_CHECKPOINT="2500").stdout,
                     "train", "landmarks")
    assert stage2["--vits"] == f"{runs}/english-flow/checkpoints/step_00002500"
    assert stage2["--out"] == f"{runs}/uniflg-english-2500" and stage2["--data"] == "data/faces-english-2500"
    assert stage2["--unknown-speakers-as"] == "mei" and stage2["--steps"] == "875"
    assert stage2["--read-as-unknown"] == ("kokoro_jf_alpha,kokoro_jf_gongitsune,kokoro_jf_nezumi,"
                                           "kokoro_jf_tebukuro,kokoro_jm_kumo")
    moved = command(recipe(tmp_path, STAGE="english-landmarks", ENGLISH_CHECKPOINT="2500",
                           STAGE2_SPEAKERS="kokoro_jm_kumo,mei").stdout, "train", "landmarks")
    assert moved["--read-as-unknown"] == "kokoro_jm_kumo"  # the stand-in is left out wherever it is listed
    (runs / "latents.json").write_text("{}")
    exported = recipe(tmp_path, STAGE="english-export", ENGLISH_CHECKPOINT="2500").stdout
    export = command(exported, "export")
    assert export["--checkpoint"] == f"{runs}/uniflg-english-2500/checkpoints/step_00000875"
    assert export["-o"] == f"{runs}/voice-english-2500" and export["--language-speaker"] == "en=kokoro_jm_kumo"
    assert export["--latents"] == f"{runs}/latents.json" and "--half-weights" in exported
