"""Distributed data parallel (DDP) helpers; each is a no-op in a plain single process, so the trainer has one
code path for ``python -m ...`` and ``torchrun --nproc_per_node N ...``::

    info = init_distributed()                     # reads torchrun's env vars; single process if absent
    model = wrap_ddp(model.to(info.device), info)
    sampler = make_sampler(dataset, shuffle=True, seed=seed)
    ...
    cleanup_distributed()

Seeding lives in :mod:`uniflg_train.seeding`, the stop-on-signal loop in :mod:`uniflg_train.trainer.common`.
"""

from __future__ import annotations

import gc
import importlib
import logging
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Dataset, DistributedSampler, Sampler
from uniflg.model.io import unwrap

logger = logging.getLogger(__name__)

__all__ = ["DistInfo", "all_reduce_mean", "barrier", "cleanup_distributed", "collective_device", "get_rank",
           "get_world_size", "init_distributed", "is_distributed", "is_main_process", "make_sampler", "set_epoch",
           "unwrap", "wrap_ddp"]


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits. ``world_size == 1`` means a plain single process."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    backend: str | None = None
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_distributed(backend: str | None = None, device: str | None = None,
                     timeout_s: float = 600.0) -> DistInfo:
    """Join the process group torchrun describes (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR/PORT).

    Without those variables, or with WORLD_SIZE=1, returns a single-process :class:`DistInfo` and
    initializes nothing. The backend defaults to ``nccl`` when CUDA is usable, else ``gloo``; on CUDA
    each rank takes ``cuda:LOCAL_RANK``. ``device="cpu"`` forces CPU (and gloo) even with a GPU.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device != "cpu"
    dev = torch.device(f"cuda:{local_rank}") if use_cuda else torch.device(device or "cpu")
    if use_cuda:
        torch.cuda.set_device(dev)
    if world_size <= 1:
        return DistInfo(device=dev)
    chosen = backend or ("nccl" if use_cuda else "gloo")
    if not dist.is_initialized():
        # DDP imports torch._dynamo; imported while a group exists, it keeps ten references to that group, so
        # destroy_process_group() no longer frees it: gloo's three threads then live into interpreter shutdown,
        # where a rank can abort ("terminate called without an active exception", SIGABRT; seen in CI).
        # Imported first, it holds none and cleanup_distributed() really ends the group.
        importlib.import_module("torch._dynamo")
        kwargs: dict[str, Any] = {}
        if chosen == "nccl":
            kwargs["device_id"] = dev
        dist.init_process_group(backend=chosen, timeout=timedelta(seconds=timeout_s), **kwargs)
    logger.info("joined process group: rank %d/%d (local %d), backend %s, device %s",
                rank, world_size, local_rank, chosen, dev)
    return DistInfo(rank=rank, local_rank=local_rank, world_size=world_size, backend=chosen, device=dev)


def cleanup_distributed() -> None:
    """Leave the process group (no-op when none). All ranks meet first: a rank that tears gloo down while
    its peer is still talking to it makes the peer's gloo thread abort the process. Drop the DDP wrappers first
    (``del`` them, or keep only :func:`unwrap`'s module): then the group and its threads are gone afterwards (see
    :func:`init_distributed`), and none of them is left to the interpreter's shutdown."""
    if is_distributed():
        dist.barrier()
        gc.collect()  # DDP wrappers already dropped (their reducers hold the group) may sit in reference cycles
        dist.destroy_process_group()


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def get_world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    """Rank 0 (or a plain process): the one that saves checkpoints and writes logs."""
    return get_rank() == 0


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def collective_device() -> torch.device:
    if is_distributed() and dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def wrap_ddp(model: nn.Module, info: DistInfo | None = None, **ddp_kwargs: Any) -> nn.Module:
    """Wrap in ``DistributedDataParallel`` when distributed; return the model unchanged otherwise.
    The model must already be on ``info.device``. Modules without trainable parameters (a frozen
    VAE-VITS in stage 2) are returned unwrapped: DDP refuses them and they need no gradient sync."""
    if not is_distributed():
        return model
    if not any(p.requires_grad for p in model.parameters()):
        return model
    from torch.nn.parallel import DistributedDataParallel

    device = info.device if info is not None else torch.device("cpu")
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids, **ddp_kwargs)


def make_sampler(dataset: Dataset[Any], shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False) -> Sampler[int] | None:
    """A ``DistributedSampler`` (each rank its own shard) when distributed, else ``None`` (let the
    DataLoader use ``shuffle=``). Pass the result as ``DataLoader(sampler=...)`` with
    ``shuffle=(sampler is None and shuffle)``, and call :func:`set_epoch` every epoch."""
    if not is_distributed():
        return None
    return DistributedSampler(dataset, num_replicas=get_world_size(), rank=get_rank(),
                              shuffle=shuffle, seed=seed, drop_last=drop_last)


def set_epoch(sampler: object, epoch: int) -> None:
    """Reshuffle a distributed (or any epoch-aware) sampler; no-op for others."""
    set_fn = getattr(sampler, "set_epoch", None)
    if callable(set_fn):
        set_fn(epoch)


def all_reduce_mean(values: dict[str, float]) -> dict[str, float]:
    """Average scalar logs over ranks (identity in one process). Collective: call on every rank."""
    if not is_distributed() or not values:
        return dict(values)
    keys = sorted(values)
    tensor = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=collective_device())
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    tensor /= get_world_size()
    return {k: float(v) for k, v in zip(keys, tensor.tolist(), strict=True)}
