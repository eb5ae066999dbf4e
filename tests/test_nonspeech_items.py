"""Word-free (non-speech) corpus items: the ``nonspeech`` source, preprocess, stage 1 leaving them out and
stage 2 reading them through the speech path only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from uniflg.errors import InvalidInputError
from uniflg_train.corpus.align import lip_aperture
from uniflg_train.corpus.generate import NONSPEECH_SECONDS, CorpusSpec, make_corpus, plan, streams
from uniflg_train.corpus.nonspeech import KINDS, LEVEL_DBFS

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _rows(root: Path) -> list[dict]:
    return [json.loads(line) for s in ("train", "val", "test") for line in (root / f"{s}.jsonl").open()]


def _eye_opening(lm: np.ndarray) -> np.ndarray:
    """Upper (37, 38, 43, 44) to lower (41, 40, 47, 46) lid gap per frame."""
    return (lm[:, [41, 40, 47, 46], 1] - lm[:, [37, 38, 43, 44], 1]).mean(1)


def test_nonspeech_items_are_sound_under_a_closed_mouth_with_blinks(tmp_path: Path) -> None:
    spec = CorpusSpec(tmp_path / "ns", 10, seed=2029, sources=("nonspeech",), paired_speakers=("mei",))
    meta = make_corpus(spec, progress=False)
    rows = sorted(_rows(spec.out), key=lambda r: r["id"])
    assert [r["id"] for r in rows] == [f"ns2029_{i:06d}" for i in range(10)]
    assert meta["sources"] == {"nonspeech": 10} and meta["languages"] == {} and meta["language"] is None
    assert meta["nonspeech"] == {k: 2 for k in sorted(KINDS)} and meta["paired"] == 10
    blinked = 0
    for r in rows:
        assert (r["text"], r["language"], r["speaker"], r["source"]) == ("", None, "mei", "nonspeech")
        audio, sr = sf.read(spec.out / r["audio"], dtype="float64")
        seconds = audio.size / sr
        assert NONSPEECH_SECONDS[0] <= seconds <= NONSPEECH_SECONDS[1]
        level = 20 * np.log10(np.sqrt(np.mean(audio ** 2)) + 1e-12)
        if r["nonspeech"] == "silence":
            assert level < LEVEL_DBFS[1] - 55
        else:  # the drawn level, less a little for the fades and the breath's swell
            assert LEVEL_DBFS[0] - 6 < level < LEVEL_DBFS[1] + 1
        align = json.loads((spec.out / r["alignment"]).read_text())
        assert align["symbols"] == ["pau"] and align["ends"] == [pytest.approx(seconds, abs=1e-4)]
        lm = np.load(spec.out / r["landmarks"])
        assert lm.shape == (round(seconds * 30), 70, 2)
        face_height = float(np.median(lm[:, 8, 1] - lm[:, 27, 1]))
        assert np.abs(lip_aperture(lm)).max() < 0.01 * face_height  # closed all through
        eyes = _eye_opening(lm)
        blinked += int(eyes.min() < 0.3 * np.median(eyes))
    assert blinked >= 3  # blinks every ~3.5 s: most of these 1.5-6 s items hold one
    # Deterministic: the same seed writes the same files.
    again = CorpusSpec(tmp_path / "again", 10, seed=2029, sources=("nonspeech",), paired_speakers=("mei",))
    make_corpus(again, progress=False)
    for r in rows:
        for key in ("audio", "landmarks"):
            assert (spec.out / r[key]).read_bytes() == (again.out / r[key]).read_bytes()


def test_nonspeech_is_a_stream_only_when_named_and_whatever_the_languages() -> None:
    old = CorpusSpec(None, 8, sources=("hts", "kokoro", "espeak"))  # type: ignore[arg-type]
    assert streams(old) == [("hts", "ja"), ("kokoro", "ja"), ("espeak", "en")]  # as before the source existed
    en = CorpusSpec(None, 8, sources=("hts", "nonspeech", "espeak"), languages=("en",))  # type: ignore[arg-type]
    assert streams(en) == [("nonspeech", ""), ("espeak", "en")]
    mix = CorpusSpec(None, 20, sources=("hts", "nonspeech"))  # type: ignore[arg-type]
    plans = [plan(mix, i) for i in range(20)]
    assert [p.source for p in plans[:4]] == ["hts", "nonspeech", "hts", "nonspeech"]
    ns = [p for p in plans if p.source == "nonspeech"]
    assert [p.voice for p in ns] == list(KINDS) * 2  # kinds cycle over the source's own items
    assert {p.face for p in ns} == {"mei", "low", "bright", "soft"}  # unrestricted: the HTS speakers in turn
    assert all(p.paired and p.text == "" for p in ns)


def uniflg(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "uniflg.cli", *args], capture_output=True, text=True,
                          env=ENV, timeout=timeout)
    assert proc.returncode == 0, f"uniflg {' '.join(args)} failed:\n{proc.stderr[-3000:]}"
    return proc


@pytest.mark.slow
def test_preprocess_and_both_stages_read_word_free_items(tmp_path: Path) -> None:
    import torch
    from uniflg_train.trainer.common import make_loader
    from uniflg_train.trainer.data import open_training_data
    from uniflg_train.trainer.landmarks import LandmarkStage, load_stage1
    from uniflg_train.trainer.options import LandmarkTrainOptions

    data = tmp_path / "c"
    uniflg("corpus", "make", "--out", str(data), "--utterances", "16", "--seed", "3", "--sources", "hts,nonspeech",
           "--paired-fraction", "1", "--paired-speakers", "mei")
    uniflg("preprocess", "--data", str(data))
    index = json.loads((data / "cache" / "index.json").read_text())
    assert index["skipped"] == []
    wordless = [m for m in index["splits"]["train"] if m["text_len"] == 0]
    assert len(wordless) == 7 and all(m["nonspeech"] in KINDS and m["landmark_frames"] > 0 for m in wordless)

    run = tmp_path / "vits"
    proc = uniflg("train", "vits", "--data", str(data), "--config", "tiny", "--out", str(run), "--steps", "2",
                  "--batch-size", "4", "--threads", "1")
    assert "7 word-free (non-speech) items of the 'train' split left out" in proc.stderr
    proc = uniflg("train", "landmarks", "--data", str(data), "--vits", str(run), "--out", str(tmp_path / "lm"),
                  "--steps", "2", "--batch-size", "4", "--threads", "1")
    assert "word-free" not in proc.stderr  # stage 2 keeps them

    # Which items each path trains on: word-free ones only ever through the speech path.
    model = load_stage1(run)[0].eval()
    dataset, collate, _ = open_training_data(data, "train", True, 12.0, model.cfg.audio.sample_rate)
    stage = LandmarkStage(model, LandmarkTrainOptions(), torch.device("cpu"))
    seen: list[tuple[str, list[str]]] = []
    forward = stage.frozen_forward
    stage.frozen_forward = lambda b, which, g=None: (seen.append((which, list(b.item_ids))), forward(b, which, g))[1]
    free = {m["id"] for m in wordless}
    batch = next(iter(make_loader(dataset, collate, len(dataset), 0, 0)))
    assert free & set(batch.item_ids) and set(batch.item_ids) - free
    stage.train_step(batch, 0)  # a text step
    stage.train_step(batch, 1)  # a speech step
    only_free = batch.select(torch.tensor([i in free for i in batch.item_ids]))
    stage.train_step(only_free, 2)  # a text step without words: the speech path
    assert seen[0] == ("text", [i for i in batch.item_ids if i not in free])
    assert seen[1] == ("speech", batch.item_ids)
    assert seen[2] == ("speech", only_free.item_ids)

    # --speech-only-speakers: those speakers' items come without words, so they too take the speech path only
    speech_only, _, _ = open_training_data(data, "train", True, 12.0, model.cfg.audio.sample_rate)
    assert speech_only.read_speech_only(("mei",)) == len(speech_only)
    stage.train_step(next(iter(make_loader(speech_only, collate, len(speech_only), 0, 0))), 4)  # a text step
    assert seen[3][0] == "speech" and sorted(seen[3][1]) == sorted(batch.item_ids)
    with pytest.raises(InvalidInputError, match="no kept item of speaker nobody"):
        speech_only.read_speech_only(("nobody",))
    proc = uniflg("train", "landmarks", "--data", str(data), "--vits", str(run), "--out", str(tmp_path / "lm2"),
                  "--steps", "1", "--batch-size", "4", "--threads", "1", "--speech-only-speakers", "mei")
    assert f"{len(speech_only)} items of mei train the speech path only" in proc.stderr
