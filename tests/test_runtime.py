"""Runtime helpers: graceful stop on signals, seeding, TensorBoard logger and landmark previews."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import torch
from uniflg_train.seeding import seed_everything
from uniflg_train.tblog import TBLogger, draw_landmarks, landmark_strip
from uniflg_train.trainer.common import GracefulStop


def test_sigterm_and_sigint_set_the_flag_and_handlers_are_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with GracefulStop() as stop:
        assert not stop.should_stop()
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.requested and stop.should_stop() and stop.received == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is before
    with GracefulStop() as stop:
        os.kill(os.getpid(), signal.SIGINT)  # no KeyboardInterrupt on the first one
        assert stop.requested


def test_a_forked_worker_leaves_the_stop_to_the_trainer(caplog) -> None:
    # data-loader workers fork with the handler installed; one Ctrl-C to the process group reaches them too
    with GracefulStop() as stop:
        read, write = os.pipe()
        child = os.fork()
        if child == 0:
            os.kill(os.getpid(), signal.SIGINT)
            os.write(write, b"1" if stop.requested or caplog.records else b"0")
            os._exit(0)
        os.waitpid(child, 0)
        assert os.read(read, 1) == b"0"  # no flag and no "received SIGINT" line in the worker
        assert not stop.requested
        os.close(read)
        os.close(write)


def test_seed_everything_repeats_draws() -> None:
    seed_everything(5)
    a = (np.random.rand(), torch.rand(1))
    seed_everything(5)
    assert (np.random.rand(), torch.rand(1)) == a
    assert seed_everything(5, rank=2) == 7


def test_landmark_preview_and_tensorboard(tmp_path: Path) -> None:
    face = np.random.default_rng(0).uniform(0, 1, (70, 2))
    image = draw_landmarks([face, face + 0.01], size=128)
    assert image.shape == (128, 128, 3) and image.dtype == np.uint8
    assert (image != 255).any(axis=-1).sum() > 200  # lines were drawn
    strip = landmark_strip([np.repeat(face[None], 10, 0), np.repeat(face[None], 7, 0)], n_frames=4, size=64)
    assert strip.shape == (64, 256, 3)
    with TBLogger(tmp_path, enabled=True) as tb:
        tb.scalars({"loss/mel": 1.5}, step=1)
        tb.audio("sample", np.zeros(2400), 24000, step=1)
        tb.landmarks("preview", [np.repeat(face[None], 5, 0)], step=1)
    assert any(p.name.startswith("events.out.tfevents") for p in tmp_path.iterdir())
    TBLogger(tmp_path / "off", enabled=False).scalars({"x": 1.0}, 0)  # a no-op off rank 0
    assert not (tmp_path / "off").exists()
