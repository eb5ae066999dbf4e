"""The real-faces recipe's stage checks and the commands its English stages run (dry runs: every tool is `echo`)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

RECIPE = Path(__file__).resolve().parents[1] / "training/recipes/real_faces.sh"


def recipe(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the recipe with `echo` for uniflg and python, its runs under tmp_path."""
    return subprocess.run(["bash", str(RECIPE)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "UNIFLG": "echo", "PY": "echo", "RUNS": str(tmp_path / "runs"), **env})


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
    flow = recipe(tmp_path, STAGE="english-flow", ENGLISH_CHECKPOINT="2500").stdout
    assert f"--init-from {runs}/english-post/checkpoints/step_00003000" in flow and "--steps 2500" in flow
    assert "--freeze utterance,u_projection,g_embedding" in flow
    post = recipe(tmp_path, STAGE="english-posterior").stdout
    assert f"--init-from {runs}/english/checkpoints/step_00003000" in post and "--steps 3000" in post
    pair = recipe(tmp_path, STAGE="english-pair", ENGLISH_CHECKPOINT="2500").stdout
    assert f"--model {runs}/english-flow/checkpoints/step_00002500" in pair
    assert "corpus merge data/faces data/faces-kokoro-en-paired-2500 --out data/faces-english-2500" in pair
    stage2 = recipe(tmp_path, STAGE="english-landmarks", ENGLISH_CHECKPOINT="2500").stdout
    assert f"--vits {runs}/english-flow/checkpoints/step_00002500 --out {runs}/uniflg-english-2500" in stage2
    assert "--data data/faces-english-2500" in stage2 and "--unknown-speakers-as mei" in stage2
    assert ("--read-as-unknown kokoro_jf_alpha,kokoro_jf_gongitsune,kokoro_jf_nezumi,kokoro_jf_tebukuro,"
            "kokoro_jm_kumo ") in stage2
    moved = recipe(tmp_path, STAGE="english-landmarks", ENGLISH_CHECKPOINT="2500",
                   STAGE2_SPEAKERS="kokoro_jm_kumo,mei").stdout
    assert "--read-as-unknown kokoro_jm_kumo " in moved  # the stand-in is left out wherever it is listed
    (runs / "latents.json").parent.mkdir(parents=True)
    (runs / "latents.json").write_text("{}")
    export = recipe(tmp_path, STAGE="english-export", ENGLISH_CHECKPOINT="2500").stdout
    assert f"--checkpoint {runs}/uniflg-english-2500/checkpoints/step_00000875" in export
    assert f"-o {runs}/voice-english-2500" in export and "--language-speaker en=kokoro_jm_kumo" in export
