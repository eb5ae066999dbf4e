"""Checkpoints on a full disk: a real small tmpfs (root only; skipped elsewhere with the reason).

A run keeps ``keep_last`` checkpoints and needs room for one more while saving. When the disk would not hold
it, old checkpoints are pruned first; when even that is not enough the save stops with one line saying how
much space is needed, leaves nothing half-written, and the next run resumes from the newest checkpoint.
"""

from __future__ import annotations

import os

import pytest

torch = pytest.importorskip("torch")

from uniflg_train.checkpoint import CheckpointManager, CheckpointSpaceError  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Linear(256, 256)  # about 263 KB of weights per checkpoint


def _size(manager: CheckpointManager) -> int:
    latest = manager.latest()
    assert latest is not None
    return sum(f.stat().st_size for f in latest.path.iterdir())


def test_old_checkpoints_are_pruned_before_saving_when_space_is_short(small_tmpfs) -> None:
    model = _model()
    probe = CheckpointManager(small_tmpfs(4096) / "probe")
    probe.save(1, {"m": model})
    size = _size(probe)
    disk = small_tmpfs(int(size * 3.6 / 1024) + 8)  # room for 3 checkpoints, not for 3 + the one being written
    manager = CheckpointManager(disk / "ckpt", keep_last=3)
    for step in range(1, 7):
        manager.save(step, {"m": model})
        assert [c.step for c in manager.checkpoints()] == list(range(max(1, step - 2), step + 1))
    assert not [p for p in (disk / "ckpt").iterdir() if p.name.startswith(".tmp")]


def test_a_disk_too_small_for_two_says_how_much_is_needed_and_the_rerun_resumes(small_tmpfs) -> None:
    model = _model()
    probe = CheckpointManager(small_tmpfs(4096) / "probe")
    probe.save(1, {"m": model})
    size = _size(probe)
    disk = small_tmpfs(int(size * 1.5 / 1024) + 8)
    manager = CheckpointManager(disk / "ckpt", keep_last=1)
    manager.save(1, {"m": model})
    with pytest.raises(CheckpointSpaceError, match="not enough space for a checkpoint") as info:
        manager.save(2, {"m": model})
    message = str(info.value)
    assert "\n" not in message and "MB needed" in message and "resumes from step_00000001" in message
    again = CheckpointManager(disk / "ckpt", keep_last=1)
    assert again.latest() is not None and again.latest().step == 1 and again.latest().verify()
    assert again.resume({"m": _model()}) is not None


def test_a_write_that_hits_a_full_disk_leaves_nothing_behind(small_tmpfs) -> None:
    disk = small_tmpfs(128)  # smaller than one checkpoint: the very first save fails while writing
    manager = CheckpointManager(disk / "ckpt", keep_last=3)
    with pytest.raises(CheckpointSpaceError, match="No space left on device|needs at least"):
        manager.save(1, {"m": _model()})
    assert list((disk / "ckpt").iterdir()) == [] and manager.latest() is None
