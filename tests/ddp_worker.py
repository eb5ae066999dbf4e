"""Worker for tests/test_ddp.py, launched by ``torchrun --nproc_per_node 2``: trains a small module
through the trainer's DDP helpers and writes what it ended with to OUT/rank<r>.json."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from uniflg_train.checkpoint import CheckpointManager
from uniflg_train.distributed import (
    all_reduce_mean,
    barrier,
    cleanup_distributed,
    init_distributed,
    make_sampler,
    set_epoch,
    unwrap,
    wrap_ddp,
)
from uniflg_train.seeding import seed_everything
from uniflg_train.trainer.common import GracefulStop

EPOCHS = 2
BATCH = 4


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))


def dataset() -> TensorDataset:
    gen = torch.Generator().manual_seed(1234)
    x = torch.randn(64, 8, generator=gen)
    return TensorDataset(x, x.sum(dim=1, keepdim=True).sin())


def digest(module: nn.Module) -> str:
    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def main(out: Path) -> None:
    info = init_distributed(device="cpu")
    seed_everything(0, rank=info.rank)  # different init per rank: DDP's broadcast must fix it
    model = build_model()
    initial = digest(model)
    ddp = wrap_ddp(model, info)
    data = dataset()
    sampler = make_sampler(data, shuffle=True, seed=0)
    loader = DataLoader(data, batch_size=BATCH, sampler=sampler, shuffle=sampler is None)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
    seen: list[list[int]] = []
    losses = []
    with GracefulStop() as stop:
        for epoch in range(EPOCHS):
            set_epoch(sampler, epoch)
            order = list(iter(sampler))
            for b, (x, y) in enumerate(loader):
                seen.append(order[b * BATCH:(b + 1) * BATCH])
                loss = nn.functional.mse_loss(ddp(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(all_reduce_mean({"loss": loss.item()})["loss"])
                if stop.should_stop():
                    break
    saved = CheckpointManager(out / "ckpt").save(len(seen), ddp, {"model": opt})
    barrier()
    final = unwrap(ddp)
    result = {"rank": info.rank, "world_size": info.world_size, "backend": info.backend,
              "initial": initial, "final": digest(final), "batches": seen,
              "losses": losses, "saved": saved is not None,
              "params": {k: v.tolist() for k, v in final.state_dict().items()}}
    (out / f"rank{info.rank}.json").write_text(json.dumps(result))
    del ddp, opt  # DDP's reducer holds process-group state: release it before the group goes
    cleanup_distributed()
    result["threads_left"] = thread_names()
    (out / f"rank{info.rank}.json").write_text(json.dumps(result))


def thread_names() -> list[str]:
    """This process's threads by name (Linux; empty elsewhere): gloo's are ``gloo_tcp_loop`` and
    ``pt_gloo_runloop``."""
    tasks = Path("/proc/self/task")
    if not tasks.is_dir():
        return []
    return sorted((task / "comm").read_text().strip() for task in tasks.iterdir())


if __name__ == "__main__":
    main(Path(sys.argv[1]))
