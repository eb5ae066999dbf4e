"""`uniflg corpus pair`: untimed (Kokoro) items timed by MAS with a trained model and given faces, in a new
corpus folder; the source untouched, timed items linked, reruns resume."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from uniflg.cli import main
from uniflg.errors import InvalidInputError
from uniflg.landmarks import FPS
from uniflg.text import encode
from uniflg_train.corpus.generate import CorpusSpec, make_corpus

pytest.importorskip("torch")


def _rows(folder):
    return [json.loads(line) for s in ("train", "val", "test") for line in (folder / f"{s}.jsonl").open()]


@pytest.fixture(scope="module")
def untimed(tmp_path_factory):
    """An HTS corpus whose odd items are relabelled as Kokoro's (no faces, no alignment) and a random model
    that knows its speakers."""
    from uniflg.voice import random_voice

    root = tmp_path_factory.mktemp("pair")
    corpus = root / "corpus"
    meta = make_corpus(CorpusSpec(corpus, 6, seed=3, paired_fraction=1.0), progress=False)
    for split in ("train", "val", "test"):
        rows = [json.loads(line) for line in (corpus / f"{split}.jsonl").open()]
        for r in rows:
            if int(r["id"][-1]) % 2:
                r.update(source="kokoro", landmarks=None, alignment=None)
        (corpus / f"{split}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    model = random_voice("tiny", root / "voice", onnx=False, speakers=tuple(meta["speakers"])) / "model.safetensors"
    return corpus, model


def test_pair_times_untimed_items_and_links_the_rest(untimed, tmp_path):
    corpus, model = untimed
    before = {p: p.read_bytes() for p in corpus.glob("*.jsonl")}
    out = tmp_path / "paired"
    assert main(["corpus", "pair", str(corpus), "--model", str(model), "--out", str(out), "--face", "mei"]) == 0
    assert {p: p.read_bytes() for p in corpus.glob("*.jsonl")} == before  # the source is never written
    rows, source_rows = _rows(out), {r["id"]: r for r in _rows(corpus)}
    timed = [r for r in rows if r["source"] == "kokoro"]
    assert len(timed) == 3 and all(r["landmarks"] and r["face"] == "mei" for r in timed)
    for r in timed:
        align = json.loads((out / r["alignment"]).read_text())
        starts, ends = np.asarray(align["starts"]), np.asarray(align["ends"])
        assert align["symbols"] == list(encode(r["text"], r["language"]).symbols)
        assert starts[0] == 0 and np.all(ends > starts) and np.allclose(starts[1:], ends[:-1], atol=1e-4)
        assert ends[-1] == pytest.approx(align["seconds"], abs=1e-4)  # MAS gives every frame to one symbol
        track = np.load(out / r["landmarks"])
        assert track.shape == (round(align["seconds"] * FPS), 70, 2) and np.isfinite(track).all()
        assert os.path.samefile(out / r["audio"], corpus / r["audio"])
    kept = [r for r in rows if r["source"] == "hts"]
    assert kept and all(r == source_rows[r["id"]] for r in kept)
    assert all(os.path.samefile(out / r["landmarks"], corpus / r["landmarks"]) for r in kept)
    meta = json.loads((out / "corpus.json").read_text())
    assert (meta["paired"], meta["unpaired"], meta["timed_by"]["items"]) == (6, 0, 3)
    stamp = {r["id"]: (out / r["landmarks"]).stat().st_mtime_ns for r in timed}
    assert main(["corpus", "pair", str(corpus), "--model", str(model), "--out", str(out)]) == 0  # resumes
    assert {r["id"]: (out / r["landmarks"]).stat().st_mtime_ns for r in timed} == stamp


def test_pair_refuses_an_unknown_speaker_and_an_out_inside_the_source(untimed, tmp_path, caplog):
    from uniflg.voice import random_voice
    from uniflg_train.corpus.pairing import pair_corpus

    corpus, model = untimed
    other = random_voice("tiny", tmp_path / "other", onnx=False, speakers=("nobody",)) / "model.safetensors"
    with pytest.raises(InvalidInputError, match=r"has no speaker .* \(it has nobody\).*--unknown-speakers-as"):
        pair_corpus(corpus, other, tmp_path / "o1", "mei")
    assert not (tmp_path / "o1").exists()  # every speaker checked before anything is written
    with pytest.raises(InvalidInputError, match="inside the source"):
        pair_corpus(corpus, model, corpus / "inner", "mei")
    assert main(["corpus", "pair", str(corpus), "--model", str(tmp_path / "none.safetensors"),
                 "--out", str(tmp_path / "o2")]) == 2
    assert "no such file" in caplog.text and not (tmp_path / "o2").exists()


def test_pair_reads_speakers_the_model_lacks_with_the_stand_in_row(untimed, tmp_path):
    """--unknown-speakers-as: items of speakers the model never heard are timed with that speaker's row, exactly as
    if they were its own (the runtime reads unknown speech with row 0)."""
    import soundfile as sf
    from uniflg.voice import random_voice
    from uniflg_train.corpus.pairing import MasAligner, pair_corpus

    corpus, _ = untimed
    other = random_voice("tiny", tmp_path / "other", onnx=False, speakers=("nobody", "somebody")) / "model.safetensors"
    with pytest.raises(InvalidInputError, match="--unknown-speakers-as mei: the model has no such speaker"):
        MasAligner(other, "mei")
    aligner = MasAligner(other, "somebody")
    row = next(r for r in _rows(corpus) if r["source"] == "kokoro")
    assert aligner.condition_index(row["speaker"], "normal") == 1
    wav, _ = sf.read(str(corpus / row["audio"]), dtype="float32")
    as_unknown = aligner(wav, row["text"], row["language"], row["speaker"])
    as_stand_in = aligner(wav, row["text"], row["language"], "somebody")
    as_other_row = aligner(wav, row["text"], row["language"], "nobody")
    assert np.array_equal(as_unknown.ends, as_stand_in.ends)
    assert not np.array_equal(as_unknown.ends, as_other_row.ends)  # the row matters, so the check can fail

    speakers = sorted({r["speaker"] for r in _rows(corpus) if r["source"] == "kokoro"})
    with pytest.raises(InvalidInputError, match=f"has no speaker {', '.join(speakers)} .*--unknown-speakers-as"):
        pair_corpus(corpus, other, tmp_path / "o3", "mei")  # every missing speaker named at once
    out = tmp_path / "paired"
    assert main(["corpus", "pair", str(corpus), "--model", str(other.parent), "--out", str(out),
                 "--unknown-speakers-as", "somebody"]) == 0  # a voice folder names its model file
    meta = json.loads((out / "corpus.json").read_text())
    assert meta["timed_by"]["unknown_speakers_as"] == "somebody" and meta["paired"] == 6
    assert (meta["timed_by"]["items"], meta["timed_by"]["this_run"]) == (3, 3)
    before = (out / "corpus.json").read_bytes()
    # a rerun with another stand-in would mix two timings in one corpus: refused, nothing rewritten
    assert main(["corpus", "pair", str(corpus), "--model", str(other.parent), "--out", str(out),
                 "--unknown-speakers-as", "nobody"]) == 2
    assert (out / "corpus.json").read_bytes() == before
    assert main(["corpus", "pair", str(corpus), "--model", str(other.parent), "--out", str(out),
                 "--unknown-speakers-as", "somebody"]) == 0
    assert json.loads((out / "corpus.json").read_text())["timed_by"]["this_run"] == 0


def test_a_pair_rerun_resumes_with_the_same_model_named_another_way_and_refuses_other_timings(untimed, tmp_path,
                                                                                              monkeypatch):
    corpus, model = untimed
    out = tmp_path / "paired"
    assert main(["corpus", "pair", str(corpus), "--model", str(model.parent), "--out", str(out)]) == 0
    monkeypatch.chdir(model.parent)  # the voice folder, then its model file by a relative path: the same weights
    assert main(["corpus", "pair", str(corpus), "--model", "model.safetensors", "--out", str(out)]) == 0
    legacy = tmp_path / "legacy"  # as a folder paired before the record existed
    assert main(["corpus", "pair", str(corpus), "--model", str(model), "--out", str(legacy)]) == 0
    (legacy / ".uniflg-corpus.json").unlink()
    before = (legacy / "corpus.json").read_bytes()
    from uniflg_train.corpus.pairing import pair_corpus

    with pytest.raises(InvalidInputError, match="other settings \\(--face mei -> low\\)"):
        pair_corpus(corpus, model, legacy, "low")
    other = tmp_path / "other"
    make_corpus(CorpusSpec(other, 2, seed=9, paired_fraction=1.0), progress=False)
    with pytest.raises(InvalidInputError, match=f"source corpus {corpus.resolve()} -> {other.resolve()}"):
        pair_corpus(other, model, legacy, "mei")
    assert (legacy / "corpus.json").read_bytes() == before
    assert pair_corpus(corpus, model, legacy, "mei")["paired"] == 6  # the same timing resumes
