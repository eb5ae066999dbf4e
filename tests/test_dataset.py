"""Manifests, validation with skip reports, feature cache and the collated batch."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import soundfile as sf

torch = pytest.importorskip("torch")

from uniflg.errors import InvalidInputError  # noqa: E402
from uniflg_train.data.dataset import UniFLGDataset, collate  # noqa: E402
from uniflg_train.data.preprocess import prepare  # noqa: E402


def _wav(path, seconds, rate=24000):
    t = np.arange(int(seconds * rate)) / rate
    sf.write(str(path), 0.3 * np.sin(2 * np.pi * 220 * t), rate, subtype="PCM_16")


def _lm(seconds, fps=30):
    rng = np.random.default_rng(0)
    return rng.uniform(0.1, 0.9, (int(round(seconds * fps)), 70, 2)).astype(np.float32)


@pytest.fixture()
def corpus(tmp_path):
    (tmp_path / "w").mkdir()
    rows = []

    def row(i, text="こんにちは。", audio=None, landmarks=None, speaker="a", emotion="normal"):
        rows.append({"id": f"u{i}", "audio": audio or f"w/u{i}.wav", "text": text, "language": "auto",
                     "speaker": speaker, "emotion": emotion, "landmarks": landmarks})

    _wav(tmp_path / "w/u0.wav", 1.0)
    np.save(tmp_path / "w/u0.npy", _lm(1.0))
    row(0, landmarks="w/u0.npy")
    _wav(tmp_path / "w/u1.wav", 0.8, rate=48000)                      # resampled to 24 kHz
    row(1, text="Good morning.", speaker="b", emotion="happy")          # unpaired
    _wav(tmp_path / "w/u2.wav", 1.2)
    (tmp_path / "w/u2.json").write_text(json.dumps({"fps": 30, "layout": "openpose70",
                                                    "frames": _lm(1.2).tolist()}))
    row(2, landmarks="w/u2.json", emotion="sad")
    _wav(tmp_path / "w/u3.wav", 0.5)
    op = tmp_path / "w/u3_openpose"
    op.mkdir()
    for k, frame in enumerate(_lm(0.5)):
        kp = np.concatenate([frame, np.ones((70, 1))], 1).ravel().tolist()
        (op / f"f_{k:04d}_keypoints.json").write_text(json.dumps({"people": [{"face_keypoints_2d": kp}]}))
    row(3, landmarks="w/u3_openpose")
    # bad items
    (tmp_path / "w/u4.wav").write_bytes(b"RIFF not really a wav")
    row(4)                                                              # unreadable audio
    _wav(tmp_path / "w/u5.wav", 1.0)
    np.save(tmp_path / "w/u5.npy", np.zeros((30, 68, 2), np.float32))
    row(5, landmarks="w/u5.npy")                                        # wrong landmark shape
    _wav(tmp_path / "w/u6.wav", 1.0)
    nan = _lm(1.0)
    nan[3, 5, 0] = np.nan
    np.save(tmp_path / "w/u6.npy", nan)
    row(6, landmarks="w/u6.npy")                                        # NaN
    _wav(tmp_path / "w/u7.wav", 1.0)
    row(7, text="  ")                                                   # empty transcript
    row(8, audio="w/missing.wav")                                       # missing file
    lines = [json.dumps(r, ensure_ascii=False) for r in rows] + ['{"id": "broken"']
    (tmp_path / "train.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "val.jsonl").write_text(json.dumps(rows[0] | {"id": "v0"}) + "\n")
    return tmp_path


def test_bad_items_are_reported_and_skipped(corpus, caplog):
    with caplog.at_level(logging.WARNING):
        summary = prepare(corpus, progress=False)
    assert summary.counts == {"train": 4, "val": 1, "test": 0}
    reasons = {b.path.split("/")[-1]: b.reason for b in summary.skipped}
    assert len(summary.skipped) == 6
    assert reasons["u4.wav"].startswith("unreadable audio")
    assert "shape (30, 68, 2)" in reasons["u5.npy"]
    assert "NaN" in reasons["u6.npy"]
    assert reasons["train.jsonl:8"].startswith("empty transcript")
    assert reasons["missing.wav"] == "audio file not found"
    assert reasons["train.jsonl:10"].startswith("bad manifest line")
    assert "6 skipped" in summary.report()
    assert sum("skipped" in r.message for r in caplog.records) == 6
    index = json.loads((corpus / "cache/index.json").read_text())
    assert len(index["skipped"]) == 6 and index["speakers"] == ["a", "b"]
    assert index["emotions"] == ["normal", "happy", "sad"]


def test_dataset_and_collate(corpus):
    prepare(corpus, progress=False)
    ds = UniFLGDataset(corpus / "cache", "train")
    assert len(ds) == 4 and ds.speakers == ("a", "b")
    batch = collate([ds[i] for i in range(4)])
    B = 4
    assert batch.ids.shape[0] == B and batch.prosody.shape == (*batch.ids.shape, 3)
    assert batch.text_lengths.max() == batch.ids.shape[1]
    assert batch.spec.shape[:2] == (B, 513) and batch.mel.shape[:2] == (B, 80)
    assert torch.equal(batch.wav_lengths, batch.spec_lengths * 256)
    assert batch.wav.shape == (B, 1, int(batch.wav_lengths.max()))
    assert batch.spec_lengths.tolist() == [24000 // 256, 19200 // 256, 28800 // 256, 12000 // 256]
    assert batch.has_landmarks.tolist() == [True, False, True, True]
    assert batch.landmarks.shape == (B, 36, 70, 2) and batch.landmark_lengths.tolist() == [30, 0, 36, 15]
    assert batch.speaker.tolist() == [0, 1, 0, 0] and batch.emotion.tolist() == [0, 1, 2, 0]
    assert batch.item_ids == ["u0", "u1", "u2", "u3"]
    # cached values round-trip
    np.testing.assert_allclose(batch.landmarks[0, :30].numpy(), _lm(1.0), atol=1e-6)
    unpaired = collate([ds[1]])
    assert unpaired.landmarks is None and unpaired.landmark_lengths is None
    assert len(UniFLGDataset(corpus / "cache", "train", paired_only=True)) == 3


def test_speaker_filter_keeps_class_ids(corpus):
    prepare(corpus, progress=False)
    only_b = UniFLGDataset(corpus / "cache", "train", only_speakers=("b",))
    assert [it["id"] for it in only_b.items] == ["u1"]
    assert only_b.speakers == ("a", "b") and only_b[0]["speaker"] == 1  # ids index the cache-wide list
    assert len(UniFLGDataset(corpus / "cache", "train", paired_only=True, only_speakers=("b",))) == 0
    with pytest.raises(InvalidInputError, match="no speaker zed; the corpus has a, b"):
        UniFLGDataset(corpus / "cache", "train", only_speakers=("zed",))


def test_speech_only_speakers_items_come_without_words(corpus):
    """read_speech_only (train landmarks --speech-only-speakers): those speakers' items lose their words, so the
    batch marks them word-free (text length 0) and the text path and its anchor pass them by."""
    prepare(corpus, progress=False)
    ds = UniFLGDataset(corpus / "cache", "train")
    assert ds.read_speech_only(("b",)) == 1
    batch = collate([ds[i] for i in range(4)])
    assert batch.text_lengths[1] == 0 and bool((batch.text_lengths[[0, 2, 3]] > 0).all())
    assert batch.with_text().item_ids == ["u0", "u2", "u3"]
    assert ds[1]["ids"].shape == (0,) and ds[1]["prosody"].shape == (0, 3) and ds[1]["spec"].shape[1] > 0
    paired = UniFLGDataset(corpus / "cache", "train", paired_only=True)
    with pytest.raises(InvalidInputError, match=r"no kept item of speaker b .*their speakers: a\)"):
        paired.read_speech_only(("b",))  # b's only item is unpaired: stage 2 does not keep it


def test_cache_follows_manifest_pairing_changes(corpus):
    prepare(corpus, progress=False)
    manifest = corpus / "train.jsonl"
    original = manifest.read_text()
    rows = [json.loads(line) for line in original.splitlines()[:4]]
    rows[0]["landmarks"], rows[1]["landmarks"] = None, "w/u0.npy"  # u0 loses its face, u1 gains one
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    prepare(corpus, progress=False)
    index = json.loads((corpus / "cache/index.json").read_text())
    frames = {m["id"]: m["landmark_frames"] for m in index["splits"]["train"]}
    assert frames["u0"] == 0 and frames["u1"] == 24 and frames["u2"] == 36  # u1: 0.8 s of audio -> 24 frames


def test_missing_cache_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="uniflg preprocess"):
        UniFLGDataset(tmp_path)


def test_a_damaged_cache_item_is_named_and_rebuilt_by_preprocess(corpus, caplog):
    """A cut-short .npz gave a BadZipFile traceback in training, and preprocess then dropped the item for good."""
    prepare(corpus, progress=False)
    item = corpus / "cache" / "items" / "u0.npz"
    good = UniFLGDataset(corpus / "cache", "train")[0]["wav"]
    item.write_bytes(item.read_bytes()[:200])
    ds = UniFLGDataset(corpus / "cache", "train")
    with pytest.raises(InvalidInputError, match=r"u0.npz: the cached item cannot be read \(BadZipFile: .*\); run "
                                                r"`uniflg preprocess --data .*` to rebuild it"):
        ds[0]
    prepare(corpus, progress=False)  # the wav is intact: the item comes back
    assert "rebuilding" in caplog.text and "u0.npz" in caplog.text
    np.testing.assert_array_equal(UniFLGDataset(corpus / "cache", "train")[0]["wav"], good)


def test_a_manifest_saved_with_a_byte_order_mark_keeps_its_first_row(tmp_path) -> None:
    from uniflg_train.data.formats import read_rows

    rows = [{"id": "a", "text": "はい"}, {"id": "b", "text": "いいえ"}]
    manifest = tmp_path / "train.jsonl"
    manifest.write_text("\ufeff" + "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n",
                        encoding="utf-8")  # as Windows Notepad saves "UTF-8 with BOM"
    assert [row for _, row in read_rows(manifest)] == rows


def test_open_dataset_brings_a_stale_or_partial_cache_up_to_date(corpus, caplog):
    """Review 20: a corpus grown after its first training went on training on its first items, and a cache a full
    disk had stopped stayed partial although the error said to rerun."""
    import os
    import time

    from uniflg_train.data.dataset import open_dataset

    assert len(open_dataset(corpus, "train")) == 4
    manifest = corpus / "train.jsonl"
    rows = [json.loads(line) for line in manifest.read_text().splitlines()[:4]]
    _wav(corpus / "w/u9.wav", 0.9)
    rows.append(rows[0] | {"id": "u9", "audio": "w/u9.wav", "landmarks": None})
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    later = time.time() + 5
    os.utime(manifest, (later, later))
    with caplog.at_level(logging.INFO, logger="uniflg_train.data.dataset"):
        assert len(open_dataset(corpus, "train")) == 5
    assert "train.jsonl changed since it was built" in caplog.text
    index = corpus / "cache/index.json"
    partial = json.loads(index.read_text())
    partial["splits"]["train"] = partial["splits"]["train"][:2]
    partial["complete"] = False  # as prepare writes it when a full disk stops it
    index.write_text(json.dumps(partial))
    assert len(open_dataset(corpus, "train")) == 5


def test_empty_manifests_are_one_line(tmp_path):
    from uniflg.errors import InvalidInputError

    for split in ("train", "val", "test"):
        (tmp_path / f"{split}.jsonl").write_text("")
    with pytest.raises(InvalidInputError, match="the manifests in .* hold no items"):
        prepare(tmp_path, progress=False)


def test_skip_reasons_read_whole(tmp_path, caplog):
    """Review 20: a 4 kHz item said "sample rate of must be ..." (the path cut out of the middle), and a numeric
    speaker was "missing or empty"."""
    (tmp_path / "w").mkdir()
    _wav(tmp_path / "w/low.wav", 1.0, rate=4000)
    _wav(tmp_path / "w/ok.wav", 1.0)
    rows = [{"id": "low", "audio": "w/low.wav", "text": "こんにちは。", "speaker": "a"},
            {"id": "num", "audio": "w/ok.wav", "text": "こんにちは。", "speaker": 7},
            {"id": "ok", "audio": "w/ok.wav", "text": "こんにちは。", "speaker": "a"}]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with caplog.at_level(logging.WARNING):
        prepare(tmp_path, progress=False)
    assert "unreadable audio (sample rate must be an integer from 8000 to 192000 Hz; got 4000)" in caplog.text
    assert "'speaker' must be a string; got 7" in caplog.text
