"""The real-voices recipe (issue "Real voices, part 2": training/recipes/real_voices.sh) as dry runs: every tool is
`echo`, so each stage's command lines are checked without training anything."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest

RECIPE = Path(__file__).resolve().parents[1] / "training/recipes/real_voices.sh"


def stage(tmp_path: Path, name: str, **env: str) -> list[list[str]]:
    """The command lines STAGE=name echoes, split into words; nothing else of the caller's environment reaches
    the recipe (an exported VITS_STEPS would change what it runs)."""
    clean = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", str(tmp_path))}
    proc = subprocess.run(["bash", str(RECIPE)], capture_output=True, text=True, timeout=60,
                          env={**clean, "UNIFLG": "echo", "LIVE_PY": "echo", "RUNS": str(tmp_path / "runs"),
                               "STAGE": name, **env})
    assert proc.returncode == 0, proc.stderr
    return [shlex.split(line) for line in proc.stdout.splitlines()]


def flags(words: list[str]) -> dict[str, str]:
    """``--flag value`` pairs of one command line."""
    return {w: words[i + 1] for i, w in enumerate(words[:-1])
            if w.startswith("-") and not words[i + 1].startswith("--")}


def test_the_corpus_stage_makes_merges_and_caches_every_set(tmp_path: Path) -> None:
    lines = stage(tmp_path, "corpus")
    made = [flags(w)["--out"] for w in lines if w[:2] == ["corpus", "make"]]
    assert made == ["data/corpus-real-voices", "data/corpus-kokoro-en", "data/corpus-nonspeech", "data/corpus-short",
                    "data/corpus-held"]
    (merge,) = [w for w in lines if w[:2] == ["corpus", "merge"]]
    assert merge[2:6] == made[:4] and flags(merge)["--out"] == "data/real-voices"  # held items: stage 2 only
    (short,) = [w for w in lines if w[:2] == ["corpus", "make"] and flags(w)["--out"] == "data/corpus-short"]
    assert flags(short)["--sources"] == "hts-short" and flags(short)["--paired-speakers"] == "mei"
    assert ["preprocess", "--data", "data/real-voices", "--jobs", "2"] in lines


@pytest.mark.parametrize(("name", "variant"), [("vits", None), ("vits-as", "as")])
def test_both_stage1_runs_continue_from_the_shipped_voice_with_augmentation(tmp_path: Path, name: str,
                                                                            variant: str | None) -> None:
    (words,) = stage(tmp_path, name)
    got = flags(words)
    assert words[:2] == ["train", "vits"] and "--augment" in words and got.get("--variant") == variant
    assert got["--init-from"] == "sdk/uniflg/voices/default/model.safetensors" and got["--data"] == "data/real-voices"
    assert got["--out"] == str(tmp_path / "runs" / name) and got["--threads"] == "1"


@pytest.mark.parametrize(("name", "run", "variant"), [("landmarks", "vits", None), ("landmarks-as", "vits-as", "as")])
def test_stage2_reads_paired_and_held_items_with_a_telephone_band_share_of_0_3(tmp_path: Path, name: str, run: str,
                                                                               variant: str | None) -> None:
    (words,) = stage(tmp_path, name)
    got = flags(words)
    assert words[:2] == ["train", "landmarks"] and "--augment" in words and got.get("--variant") == variant
    assert got["--vits"] == str(tmp_path / "runs" / run) and got["--data"] == "data/real-voices-paired-held"
    assert got["--augment-telephone"] == "0.3" and "kokoro_jm_kumo" in got["--paired-speakers"].split(",")
    (words,) = stage(tmp_path, name, LANDMARK_TELEPHONE="0.5")
    assert flags(words)["--augment-telephone"] == "0.5"


def test_the_documented_smoke_run_moves_every_corpus_out_of_the_repository() -> None:
    """docs/training.md's smoke run sets every *_DATA folder of the recipe to /tmp; one it missed (a new set) would
    make its corpus inside the checkout."""
    import re

    folders = set(re.findall(r"^([A-Z0-9_]*DATA)=", RECIPE.read_text(), re.M))
    docs = (RECIPE.parents[2] / "docs" / "training.md").read_text()
    smoke = docs[docs.index("A smoke run with tiny sizes"):]
    smoke = smoke[:smoke.index("bash training/recipes/real_voices.sh")]
    assert {"MAIN_DATA", "SHORT_DATA", "HELD_DATA", "DATA"} <= folders
    assert {f for f in folders if not re.search(rf"\b{f}=/tmp/", smoke)} == set()
