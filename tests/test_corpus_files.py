"""``uniflg preprocess`` on hostile corpora: bad items in worker pools, ids and paths that try to leave the
corpus, FIFOs and symlink loops, and a full disk (a real one on a small tmpfs where root may mount; else a fault
injected at the write call)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from uniflg_train.data.formats import BadItemError, read_manifest
from uniflg_train.data.preprocess import CacheFullError, prepare

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("sdk", "training", "engine_bridge",
                                                                              "engine_bridge/generated"))}
TEXT = "こんにちは。"


def make_corpus(folder: Path, n: int, paired: bool = True, rows: list[dict] | None = None) -> Path:
    """``n`` good items (1 s of tone, 30 landmark frames) in train.jsonl, plus the extra ``rows`` as given."""
    (folder / "w").mkdir(parents=True, exist_ok=True)
    lines = []
    t = np.arange(24000) / 24000
    for i in range(n):
        sf.write(str(folder / f"w/u{i}.wav"), 0.3 * np.sin(2 * np.pi * 220 * t), 24000, subtype="PCM_16")
        np.save(folder / f"w/u{i}.npy", np.random.default_rng(i).uniform(0.1, 0.9, (30, 70, 2)).astype(np.float32))
        lines.append({"id": f"u{i}", "audio": f"w/u{i}.wav", "text": TEXT, "speaker": "a",
                      "landmarks": f"w/u{i}.npy" if paired else None})
    lines += rows or []
    (folder / "train.jsonl").write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    return folder


def skipped(summary_or_cache: Path) -> dict[str, str]:
    index = json.loads((summary_or_cache / "index.json").read_text())
    return {s["file"]: s["reason"] for s in index["skipped"]}


def kept_ids(cache: Path) -> list[str]:
    index = json.loads((cache / "index.json").read_text())
    return sorted(m["id"] for ms in index["splits"].values() for m in ms)


def test_bad_item_error_survives_pickling() -> None:
    import pickle

    err = pickle.loads(pickle.dumps(BadItemError("x.wav", "why", fatal=True)))
    assert (err.path, err.reason, err.fatal, str(err)) == ("x.wav", "why", True, "x.wav: why")


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_bad_item_in_a_worker_pool_is_skipped_not_hung(tmp_path: Path, jobs: int) -> None:
    data = make_corpus(tmp_path / "c", 6)
    lm = np.load(data / "w/u2.npy")
    np.save(data / "w/u2.npy", lm[:-15])  # 15 frames short: a BadItemError inside the worker
    proc = subprocess.run([sys.executable, "-m", "uniflg.cli", "preprocess", "--data", str(data), "--jobs", str(jobs)],
                          env=ENV, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert kept_ids(data / "cache") == ["u0", "u1", "u3", "u4", "u5"]
    assert "15 landmark frames for 1.00 s" in json.dumps(skipped(data / "cache")) or \
        "landmark frames for 1.00 s of audio (expected 30)" in json.dumps(skipped(data / "cache"))



def test_a_second_preprocess_of_one_cache_waits_for_the_first(tmp_path: Path) -> None:
    """torchrun's ranks, or the recipe's two stage-1 runs side by side, each built the same feature cache at once:
    twice the work, and two writers of one index.json. Now one writes while the other waits. This test holds the
    cache's lock as another process would; a real `uniflg preprocess` waits, says so, and writes nothing until the
    lock is let go."""
    import threading
    import time

    from filelock import FileLock
    from uniflg_train.data.preprocess import CACHE_LOCK

    data = make_corpus(tmp_path / "c", 6)
    (data / "cache").mkdir()
    held = FileLock(data / "cache" / CACHE_LOCK)
    held.acquire()
    proc = subprocess.Popen([sys.executable, "-m", "uniflg.cli", "preprocess", "--data", str(data)], env=ENV,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    said: list[str] = []
    reader = threading.Thread(target=lambda: said.extend(proc.stderr or []), daemon=True)
    reader.start()
    deadline = time.time() + 120
    while not any("waiting for it" in line for line in said) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    time.sleep(1.0)  # it would have cached 6 items by now
    assert not (data / "cache" / "index.json").exists() and proc.poll() is None, "".join(said)
    held.release()
    assert proc.wait(timeout=120) == 0
    reader.join(timeout=10)
    assert any(f"another process is writing the feature cache {data / 'cache'}: waiting for it" in line
               for line in said), "".join(said)
    assert kept_ids(data / "cache") == [f"u{i}" for i in range(6)]


BAD_IDS = ["../../../escaped", "/tmp/absolute-id", "a/b", "nul\u0000byte", ".hidden", "..", "x" * 201, "tab\there"]


def test_ids_that_would_leave_the_cache_are_skipped(tmp_path: Path) -> None:
    rows = [{"id": bad, "audio": "w/u0.wav", "text": TEXT, "speaker": "a"} for bad in BAD_IDS]
    data = make_corpus(tmp_path / "deep" / "c", 2, rows=rows)
    summary = prepare(data, jobs=2, progress=False)
    assert summary.counts["train"] == 2 and len(summary.skipped) == len(BAD_IDS)
    assert all("must be a plain name" in s.reason for s in summary.skipped), [s.reason for s in summary.skipped]
    outside = [p for p in tmp_path.rglob("*.npz") if p.parent != data / "cache" / "items"]
    assert outside == [] and not Path("/tmp/absolute-id.npz").exists()
    assert kept_ids(data / "cache") == ["u0", "u1"]


@pytest.mark.parametrize("key,value", [("audio", "/etc/hostname"), ("audio", "../outside.wav"),
                                       ("audio", "w/../../outside.wav"), ("landmarks", "/etc/passwd")])
def test_paths_outside_the_corpus_are_skipped(tmp_path: Path, key: str, value: str) -> None:
    sf.write(str(tmp_path / "outside.wav"), np.zeros(24000), 24000)
    row = {"id": "bad", "audio": "w/u0.wav", "text": TEXT, "speaker": "a", key: value}
    data = make_corpus(tmp_path / "c", 1, rows=[row])
    items, bad = read_manifest(data / "train.jsonl")
    assert [i.id for i in items] == ["u0"] and len(bad) == 1
    assert "relative to the corpus folder" in bad[0].reason


def test_fifos_and_symlink_loops_are_skipped_with_the_real_reason(tmp_path: Path) -> None:
    rows = [{"id": "fifo", "audio": "w/pipe.wav", "text": TEXT, "speaker": "a"},
            {"id": "loop", "audio": "w/loop.wav", "text": TEXT, "speaker": "a"},
            {"id": "dir", "audio": "w", "text": TEXT, "speaker": "a"},
            {"id": "lmfifo", "audio": "w/u0.wav", "text": TEXT, "speaker": "a", "landmarks": "w/lm.npy"}]
    data = make_corpus(tmp_path / "c", 2, rows=rows)
    os.mkfifo(data / "w/pipe.wav")
    os.mkfifo(data / "w/lm.npy")
    (data / "w/loop.wav").symlink_to(data / "w/loop.wav")
    (data / "val.jsonl").symlink_to(data / "val.jsonl")  # a manifest that is a symlink loop
    for jobs in (1, 2):
        summary = prepare(data, jobs=jobs, progress=False)
        reasons = {Path(s.path).name: s.reason for s in summary.skipped}
        assert summary.counts == {"train": 2, "val": 0, "test": 0}
        assert reasons["pipe.wav"] == "audio file is a FIFO (named pipe), not a file"
        assert reasons["loop.wav"] == "audio file cannot be opened (Too many levels of symbolic links)"
        assert reasons["w"] == "audio file is a folder, not a file"
        assert reasons["lm.npy"] == "landmark file is a FIFO (named pipe), not a file"
        assert "Too many levels of symbolic links" in reasons["val.jsonl"] and "val split" in reasons["val.jsonl"]


def test_a_full_disk_stops_with_one_line_and_the_next_run_finishes(tmp_path: Path, monkeypatch) -> None:
    """Fault injection at the write call (the real full disk is the tmpfs tests below, where root may mount)."""
    import errno

    import uniflg_train.data.preprocess as pre

    data = make_corpus(tmp_path / "c", 5)
    savez = np.savez

    def full_at_u3(fh, **arrays):  # noqa: ANN001, ANN003
        if '"id": "u3"' in str(arrays["meta"]):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return savez(fh, **arrays)

    monkeypatch.setattr(pre.np, "savez", full_at_u3)
    with pytest.raises(CacheFullError, match="No space left on device") as info:
        prepare(data, jobs=1, progress=False)
    assert "index.json lists the 3 items" in str(info.value) and "\n" not in str(info.value)
    assert kept_ids(data / "cache") == ["u0", "u1", "u2"]  # written for what was done
    items = data / "cache" / "items"
    assert not [p for p in items.iterdir() if p.name.startswith(".")]  # no temporary left behind
    before = {p.name: p.stat().st_mtime_ns for p in items.glob("*.npz")}
    monkeypatch.setattr(pre.np, "savez", savez)
    summary = prepare(data, jobs=2, progress=False)  # space is back: the rerun finishes
    assert summary.counts["train"] == 5 and kept_ids(data / "cache") == ["u0", "u1", "u2", "u3", "u4"]
    assert all(items.joinpath(n).stat().st_mtime_ns == t for n, t in before.items())  # not recomputed


def test_cli_reports_a_really_full_disk_in_one_line(tmp_path: Path, small_tmpfs) -> None:
    data = make_corpus(tmp_path / "c", 12)
    cache = small_tmpfs(600)
    proc = subprocess.run([sys.executable, "-m", "uniflg.cli", "preprocess", "--data", str(data), "--out", str(cache),
                           "--jobs", "2"], env=ENV, capture_output=True, text=True, timeout=180)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
    assert proc.returncode == 2 and len(errors) == 1 and "No space left on device" in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr and 0 < len(kept_ids(cache)) < 12


def test_a_really_full_small_file_system(tmp_path: Path, small_tmpfs) -> None:
    data = make_corpus(tmp_path / "c", 12)
    cache = small_tmpfs(600)
    with pytest.raises(CacheFullError, match="No space left on device"):
        prepare(data, cache, jobs=2, progress=False)
    done = kept_ids(cache)
    assert 0 < len(done) < 12 and not [p for p in (cache / "items").iterdir() if p.name.startswith(".")]
