"""CheckpointManager: bit-exact round trips, atomicity under kill -9, retention, RNG restore."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from uniflg.config import ModelConfig, tiny_config
from uniflg.model.io import load_weights, save_weights
from uniflg_train.checkpoint import CheckpointManager
from uniflg_train.seeding import rng_state, set_rng_state

ROOT = Path(__file__).resolve().parents[1]


def _pair() -> dict[str, nn.Module]:
    gen = nn.Sequential(nn.Conv1d(4, 8, 3), nn.BatchNorm1d(8), nn.Linear(5, 3))
    disc = nn.Sequential(nn.Linear(3, 6), nn.ReLU(), nn.Linear(6, 1))
    return {"generator": gen, "discriminator": disc}


def _train_a_bit(modules: dict[str, nn.Module], opts: dict, scheds: dict, steps: int = 3) -> None:
    for _ in range(steps):
        x = torch.randn(2, 4, 7)
        loss = modules["discriminator"](modules["generator"](x)).pow(2).mean()
        for o in opts.values():
            o.zero_grad()
        loss.backward()
        for o in opts.values():
            o.step()
        for s in scheds.values():
            s.step()


def _setup() -> tuple[dict[str, nn.Module], dict, dict]:
    mods = _pair()
    opts = {k: torch.optim.AdamW(m.parameters(), lr=1e-3, betas=(0.8, 0.99), weight_decay=0.01)
            for k, m in mods.items()}
    scheds = {k: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.999875) for k, o in opts.items()}
    return mods, opts, scheds


def test_round_trip_is_bit_exact_and_restores_everything(tmp_path: Path) -> None:
    torch.manual_seed(0)
    mods, opts, scheds = _setup()
    _train_a_bit(mods, opts, scheds)
    cfg = tiny_config()
    manager = CheckpointManager(tmp_path / "ckpt", keep_last=2)
    saved = manager.save(30, mods, opts, scheds, epoch=2, config=cfg, metric=0.5, extra={"note": "x"})
    assert saved is not None and saved.verify()

    torch.manual_seed(123)
    fresh, fresh_opts, fresh_scheds = _setup()
    state = manager.resume(fresh, fresh_opts, fresh_scheds)
    assert state is not None and (state.step, state.epoch, state.best_metric) == (30, 2, 0.5)
    assert state.extra == {"note": "x"}
    for name in mods:
        a, b = mods[name].state_dict(), fresh[name].state_dict()
        assert a.keys() == b.keys()
        for key in a:
            assert a[key].dtype == b[key].dtype and torch.equal(a[key], b[key]), key
        sa, sb = opts[name].state_dict(), fresh_opts[name].state_dict()
        for pid, st in sa["state"].items():
            for k, v in st.items():
                assert torch.equal(torch.as_tensor(v), torch.as_tensor(sb["state"][pid][k]))
        assert scheds[name].state_dict() == fresh_scheds[name].state_dict()
    # Training continues identically from the restored state.
    torch.manual_seed(7)
    _train_a_bit(mods, opts, scheds, steps=2)
    torch.manual_seed(7)
    _train_a_bit(fresh, fresh_opts, fresh_scheds, steps=2)
    for name in mods:
        for p, q in zip(mods[name].parameters(), fresh[name].parameters(), strict=True):
            assert torch.equal(p, q)
    assert ModelConfig.from_json(saved.config_json or "") == cfg


def test_rng_states_restored(tmp_path: Path) -> None:
    manager = CheckpointManager(tmp_path)
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    random.random(), np.random.randn(3), torch.randn(3)  # advance the streams, numpy gauss cached
    manager.save(1, nn.Linear(2, 2))
    expected = (random.random(), np.random.randn(5).tolist(), torch.randn(5))
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    manager.resume(nn.Linear(2, 2))
    got = (random.random(), np.random.randn(5).tolist(), torch.randn(5))
    assert got[0] == expected[0] and got[1] == expected[1] and torch.equal(got[2], expected[2])


def test_rng_state_is_weights_only_loadable(tmp_path: Path) -> None:
    torch.save(rng_state(), tmp_path / "rng.pt")
    set_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))


def test_keep_last_n_plus_best(tmp_path: Path) -> None:
    manager = CheckpointManager(tmp_path, keep_last=2, mode="min")
    metrics = {1: 0.9, 2: 0.3, 3: 0.6, 4: 0.7, 5: 0.8}
    for step, metric in metrics.items():
        manager.save(step, nn.Linear(2, 2), metric=metric)
    assert [c.step for c in manager.checkpoints()] == [2, 4, 5]
    assert manager.best().step == 2 and manager.latest().step == 5
    manager.save(6, nn.Linear(2, 2), metric=0.1)  # new best: the old best goes
    assert [c.step for c in manager.checkpoints()] == [5, 6]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]
    high = CheckpointManager(tmp_path / "max", keep_last=1, mode="max")
    for step, metric in metrics.items():
        high.save(step, nn.Linear(2, 2), metric=metric)
    assert [c.step for c in high.checkpoints()] == [1, 5]


def test_incomplete_and_corrupt_checkpoints_are_ignored(tmp_path: Path) -> None:
    manager = CheckpointManager(tmp_path, keep_last=5)
    manager.save(1, nn.Linear(2, 2))
    second = manager.save(2, nn.Linear(2, 2))
    (second.path / "state.pt").write_bytes(b"truncated")  # size no longer matches the manifest
    (tmp_path / "step_00000003").mkdir()  # no manifest
    assert manager.latest().step == 1
    manager.save(4, nn.Linear(2, 2))
    assert manager.latest().step == 4


def test_a_run_whose_every_checkpoint_is_damaged_is_not_started_over(tmp_path: Path) -> None:
    """Every state.pt cut short: training started again at step 0 and saved over step_N, whose weights were intact."""
    import pytest
    from uniflg.errors import InvalidInputError

    manager = CheckpointManager(tmp_path, keep_last=5)
    assert manager.resumable() is None  # a new run
    for step in (100, 150, 200):
        saved = manager.save(step, nn.Linear(2, 2))
        (saved.path / "state.pt").write_bytes(b"truncated")
    with pytest.raises(InvalidInputError, match=r"holds 3 checkpoint folders \(step_00000100, step_00000150, "
                                                r"step_00000200\) and none is intact .* restore them from a copy"):
        manager.resumable()
    ok = manager.save(250, nn.Linear(2, 2))
    assert manager.resumable() == ok  # one intact checkpoint: resume from it


def test_save_weights_for_a_voice(tmp_path: Path) -> None:
    module, cfg = nn.Linear(3, 4), tiny_config()
    path = save_weights(tmp_path / "voice.safetensors", module, cfg, config_alongside=True)
    state, cfg_json = load_weights(path)
    assert ModelConfig.from_json(cfg_json or "") == cfg
    assert (tmp_path / "voice.json").read_text() == cfg.to_json()
    assert all(torch.equal(state[k], v) for k, v in module.state_dict().items())
    assert path.read_bytes()[:8] != b"\x80\x02"  # not a pickle
    tied = nn.Module()
    tied.a = nn.Linear(2, 2)
    tied.b = nn.Linear(2, 2)
    tied.b.weight = tied.a.weight
    state, cfg_json = load_weights(save_weights(tmp_path / "tied.safetensors", tied))
    assert cfg_json is None and torch.equal(state["a.weight"], state["b.weight"])


_CRASH_WRITER = textwrap.dedent("""
    import sys, torch
    from torch import nn
    from uniflg_train.checkpoint import CheckpointManager
    manager = CheckpointManager(sys.argv[1], keep_last=2)
    model = nn.Linear(512, 1024)  # 2 MB per save
    step = 0
    while True:
        step += 1
        with torch.no_grad():
            model.weight.fill_(float(step))
            model.bias.fill_(float(step))
        manager.save(step, model, metric=float(step))
        print(step, flush=True)
""")


def test_kill_9_mid_save_leaves_latest_intact(tmp_path: Path) -> None:
    directory = tmp_path / "ckpt"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "sdk"), str(ROOT / "training")])}
    survived = mid_save = 0
    # kill points: twice the moment a save's temporary folder is seen (a loaded machine can stretch the time
    # between saves so that fixed delays keep missing them), once after a fixed delay
    for delay in (None, None, 1.3):
        proc = subprocess.Popen([sys.executable, "-c", _CRASH_WRITER, str(directory)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while not (directory.exists() and any(n.startswith("step_") for n in os.listdir(directory))) \
                and time.monotonic() < deadline:  # a first checkpoint is complete
            time.sleep(0.05)
        if delay is None:
            while time.monotonic() < deadline and not any(n.startswith(".tmp-") for n in os.listdir(directory)):
                pass
        else:
            time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        mid_save += any(p.name.startswith(".tmp-") for p in directory.iterdir())
        latest = CheckpointManager(directory, keep_last=2).latest()
        assert latest is not None and latest.verify()
        state = latest.state_dict("model")
        assert torch.all(state["weight"] == float(latest.step))
        assert json.loads((latest.path / "manifest.json").read_text())["step"] == latest.step
        survived += 1
    assert survived == 3
    assert mid_save >= 1, "no kill landed inside a save: the scenario was not exercised"


def test_a_damaged_options_record_is_one_line_on_resume(tmp_path: Path) -> None:
    import pytest
    from uniflg.errors import InvalidInputError
    from uniflg_train.trainer.options import VitsTrainOptions, check_resume_options, save_options

    record = tmp_path / "train_vits.json"
    save_options(VitsTrainOptions(), record)
    check_resume_options(VitsTrainOptions(max_steps=7), record)  # a free option: fine
    for damaged in ('{"max_steps": 4', "[1, 2]"):
        record.write_text(damaged)
        with pytest.raises(InvalidInputError, match="train_vits.json: the run's saved options cannot be read"):
            check_resume_options(VitsTrainOptions(), record)
