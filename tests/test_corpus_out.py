"""Corpus commands and their --out folder: a rerun with the same settings resumes; another corpus, another
command's corpus or a foreign folder is refused with nothing written; an --out that cannot be made is one line."""

from __future__ import annotations

import json

import pytest
from uniflg.cli import main
from uniflg.errors import InvalidInputError
from uniflg_train.corpus.generate import CorpusSpec, make_corpus
from uniflg_train.corpus.merge import merge_corpora
from uniflg_train.corpus.out_folder import RECIPE


def _snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpora")
    make_corpus(CorpusSpec(root / "a", 2, seed=1, paired_fraction=1.0), progress=False)
    make_corpus(CorpusSpec(root / "b", 2, seed=2, paired_fraction=0.0), progress=False)
    merge_corpora([root / "a", root / "b"], root / "ab")
    return root


def test_make_resumes_its_own_corpus_and_refuses_to_write_into_another(two, tmp_path):
    a = two / "a"
    assert json.loads((a / RECIPE).read_text())["command"] == "corpus make"
    before = _snapshot(a)
    assert make_corpus(CorpusSpec(a, 2, seed=1, paired_fraction=1.0), progress=False)["utterances"] == 2
    assert _snapshot(a) == before  # the same settings: nothing to redo
    with pytest.raises(InvalidInputError, match=r"other settings \(--seed 1 -> 3\)"):
        make_corpus(CorpusSpec(a, 2, seed=3, paired_fraction=1.0), progress=False)
    with pytest.raises(InvalidInputError, match=r"\(--paired-fraction 1.0 -> 0.5\)"):
        make_corpus(CorpusSpec(a, 2, seed=1), progress=False)
    with pytest.raises(InvalidInputError, match="holds a corpus made by `uniflg corpus merge`"):
        make_corpus(CorpusSpec(two / "ab", 2, seed=1), progress=False)
    assert _snapshot(a) == before


def test_merge_resumes_its_own_merge_and_refuses_a_made_corpus_or_other_sources(two, tmp_path):
    ab = two / "ab"
    before = _snapshot(ab)
    assert merge_corpora([two / "a", two / "b"], ab)["utterances"] == 4
    assert _snapshot(ab) == before
    make_corpus(CorpusSpec(tmp_path / "c", 1, seed=4), progress=False)
    with pytest.raises(InvalidInputError, match="was made with other settings"):
        merge_corpora([two / "a", tmp_path / "c"], ab)
    with pytest.raises(InvalidInputError, match="holds a corpus made by `uniflg corpus make`"):
        merge_corpora([two / "b", tmp_path / "c"], two / "a")
    assert _snapshot(ab) == before


def test_a_corpus_from_before_recipes_resumes_only_as_what_made_it(two, tmp_path):
    old = tmp_path / "old"
    make_corpus(CorpusSpec(old, 2, seed=1, paired_fraction=1.0), progress=False)
    (old / RECIPE).unlink()  # as corpora made before this check
    with pytest.raises(InvalidInputError, match=r"other settings \(--seed 1 -> 5; --paired-fraction 1.0 -> 0.5\)"):
        make_corpus(CorpusSpec(old, 2, seed=5), progress=False)
    with pytest.raises(InvalidInputError, match=r"holds another corpus \(made by uniflg procedural corpus\)"):
        merge_corpora([two / "a", two / "b"], old)
    make_corpus(CorpusSpec(old, 2, seed=1, paired_fraction=1.0), progress=False)
    assert json.loads((old / RECIPE).read_text())["settings"]["--seed"] == 1  # recorded from now on


def test_a_folder_of_other_files_is_not_written_into(two, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(InvalidInputError, match="is not empty and holds no corpus"):
        make_corpus(CorpusSpec(tmp_path / "mine", 1, seed=1), progress=False)
    with pytest.raises(InvalidInputError, match="is not empty and holds no corpus"):
        merge_corpora([two / "a", two / "b"], tmp_path / "mine")
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]
    (tmp_path / "empty").mkdir()
    assert make_corpus(CorpusSpec(tmp_path / "empty", 1, seed=1), progress=False)["utterances"] == 1


def test_an_out_that_cannot_be_made_is_one_line(two, tmp_path, caplog):
    (tmp_path / "afile").write_text("x")
    for argv in (["corpus", "make", "--out", str(tmp_path / "afile" / "x"), "--utterances", "1"],
                 ["corpus", "merge", str(two / "a"), str(two / "b"), "--out", str(tmp_path / "afile" / "m")]):
        caplog.clear()
        assert main(argv) == 2, argv
        said = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
        assert len(said) == 1 and f"{tmp_path / 'afile'} is a file, not a folder" in said[0], said
        assert "Traceback" not in caplog.text


def test_a_merge_names_every_sources_paired_speakers_and_face(two, tmp_path):
    make_corpus(CorpusSpec(tmp_path / "ns", 2, seed=5, sources=("nonspeech",), paired_speakers=("low",)),
                progress=False)
    meta = merge_corpora([two / "a", tmp_path / "ns"], tmp_path / "m")
    a = json.loads((two / "a" / "corpus.json").read_text())
    assert meta["paired"] == a["paired"] + 2 and meta["paired_fraction"] == 1.0
    speakers_a = {json.loads(line)["speaker"] for s in ("train", "val", "test")
                  for line in (two / "a" / f"{s}.jsonl").read_text().splitlines()}
    assert set(meta["paired_speakers"]) == speakers_a | {"low"} != set(a["paired_speakers"])
    assert a["face"] is None and meta["face"] is None and meta["faces"] == [None, "low"]
    assert merge_corpora([two / "b", tmp_path / "ns"],
                         tmp_path / "m2")["face"] == "low"  # b has no paired item


def test_equivalent_options_and_source_orders_resume(two, tmp_path):
    a = two / "a"
    make_corpus(CorpusSpec(a, 2, seed=1, paired_fraction=1.0, languages=("ja",)), progress=False)  # hts is ja
    assert merge_corpora([two / "b", two / "a"], two / "ab")["utterances"] == 4  # the same sources, reordered
    old = tmp_path / "old-merge"
    merge_corpora([two / "a", two / "b"], old)
    (old / RECIPE).unlink()
    make_corpus(CorpusSpec(tmp_path / "c", 1, seed=4), progress=False)
    with pytest.raises(InvalidInputError, match=r"other settings \(sources .*/b -> .*/c\)"):
        merge_corpora([two / "a", tmp_path / "c"], old)
    assert merge_corpora([two / "b", two / "a"], old)["utterances"] == 4


def test_odd_out_folders_are_one_line(two, tmp_path):
    loop, broken, bad = tmp_path / "loop", tmp_path / "broken", tmp_path / "bad"
    loop.symlink_to(loop)
    broken.symlink_to(tmp_path / "nowhere")
    bad.mkdir()
    for record in ("not json{", '{"command": "corpus make", "settings": [1]}', ""):
        (bad / RECIPE).write_text(record)
        with pytest.raises(InvalidInputError, match=f"unreadable {RECIPE}"):
            make_corpus(CorpusSpec(bad, 1, seed=1), progress=False)
    for out, said in ((loop, "symbolic link to nothing"), (broken, "symbolic link to nothing"),
                      (loop / "x", "cannot be resolved"),
                      (two / "a" / "sub", "is inside the corpus")):
        with pytest.raises(InvalidInputError, match=said):
            make_corpus(CorpusSpec(out, 1, seed=1), progress=False)
    assert not (two / "a" / "sub").exists() and not (tmp_path / "nowhere").exists()


def test_faces_survive_merges_of_merges_whatever_the_order(two, tmp_path):
    several = make_corpus(CorpusSpec(tmp_path / "ml", 2, seed=8, paired_fraction=1.0, paired_speakers=("mei", "low")),
                          progress=False)
    assert several["face"] is None  # each item is drawn on its own speaker's face
    make_corpus(CorpusSpec(tmp_path / "m", 2, seed=6, paired_fraction=1.0, paired_speakers=("mei",)), progress=False)
    make_corpus(CorpusSpec(tmp_path / "ns", 2, seed=5, sources=("nonspeech",), paired_speakers=("low",)),
                progress=False)
    inner = merge_corpora([tmp_path / "m", tmp_path / "ns"], tmp_path / "inner")
    assert inner["faces"] == ["mei", "low"]
    for order, out in (([two / "b", tmp_path / "inner"], "o1"), ([tmp_path / "inner", two / "b"], "o2")):
        meta = merge_corpora(order, tmp_path / out)
        assert meta["face"] is None and meta["faces"] == ["mei", "low"], order
    assert merge_corpora([two / "b", tmp_path / "m"], tmp_path / "o3")["face"] == "mei"
    assert "faces" not in json.loads((tmp_path / "o3" / "corpus.json").read_text())


def test_a_folder_another_process_is_writing_into_is_refused_until_it_ends(tmp_path):
    import subprocess
    import sys

    from uniflg_train.corpus.out_folder import LOCK, claim_out

    out = tmp_path / "new"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, pathlib; from uniflg_train.corpus.out_folder import claim_out; "
         "claim_out(pathlib.Path(sys.argv[1]), 'corpus make', {'--seed': 1}, 'g'); print('held', flush=True); "
         "sys.stdin.read()", str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(InvalidInputError, match=rf"is being written by another corpus command \(it holds "
                                                    rf"{LOCK}\); wait for it"):
            claim_out(out, "corpus make", {"--seed": 1}, "g")
    finally:
        holder.communicate("", timeout=30)
    claim_out(out, "corpus make", {"--seed": 1}, "g")  # the lock went with the process
    assert json.loads((out / RECIPE).read_text())["settings"] == {"--seed": 1}


def test_a_refused_claim_leaves_no_new_folder_behind(two, tmp_path):
    from uniflg_train.corpus.out_folder import claim_out

    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "stray.txt").write_text("mine")
    with pytest.raises(InvalidInputError, match="not empty and holds no corpus"):
        claim_out(tmp_path / "x", "corpus make", {"--seed": 1}, "g")
    assert [p.name for p in (tmp_path / "x").iterdir()] == ["stray.txt"]
    claim_out(tmp_path / "new", "corpus make", {"--seed": 1}, "g")
    with pytest.raises(InvalidInputError, match=r"other settings \(--seed 1 -> 2\)"):
        claim_out(tmp_path / "new", "corpus make", {"--seed": 2}, "g")
    assert json.loads((tmp_path / "new" / RECIPE).read_text())["settings"] == {"--seed": 1}


def test_corpus_measure_refuses_a_non_corpus_and_skips_damaged_items(two, tmp_path, caplog, capsys):
    """A missing folder measured "0 items" with exit 0; a missing landmark file was a traceback (review 16)."""
    import shutil

    assert main(["corpus", "measure", str(tmp_path / "nope")]) == 2
    assert f"{tmp_path / 'nope'} is not a corpus folder (no train/val/test.jsonl)" in caplog.text
    copy = tmp_path / "a"
    shutil.copytree(two / "a", copy)
    assert main(["corpus", "measure", str(copy)]) == 0
    whole = capsys.readouterr().out
    assert whole.startswith("2 items: ")
    next(copy.glob("**/*.npy")).unlink()  # one item's face is gone
    assert main(["corpus", "measure", str(copy)]) == 0
    said = capsys.readouterr().out
    assert said.startswith("1 items: ") and "; 1 skipped (missing or damaged files, named above)" in said
    assert "skipped " in caplog.text and "No such file" in caplog.text


def test_a_rerun_with_fewer_utterances_says_it_keeps_the_first(tmp_path, caplog):
    import logging

    out = tmp_path / "c"
    assert main(["corpus", "make", "--out", str(out), "--utterances", "3", "--seed", "4"]) == 0
    with caplog.at_level(logging.WARNING):
        assert main(["corpus", "make", "--out", str(out), "--utterances", "2", "--seed", "4"]) == 0
    assert (f"--out {out} holds 3 utterances; with --utterances 2 its manifests keep the first 2 (the other 1 items' "
            "files stay; --utterances 3 brings them back)") in caplog.text
