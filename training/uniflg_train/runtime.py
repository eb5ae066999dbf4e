"""Training runtime: graceful stop, seeding and distributed (DDP) helpers.

Everything here is a no-op in a plain single process, so the trainer has one code path for
``python -m ...`` and ``torchrun --nproc_per_node N ...``:

    info = init_distributed()                     # reads torchrun's env vars; single process if absent
    seed_everything(seed, rank=info.rank)
    model = wrap_ddp(model.to(info.device), info)
    sampler = make_sampler(dataset, shuffle=True, seed=seed)
    with GracefulStop() as stop:
        for step in ...:
            ...
            if stop.should_stop():                # agreed across ranks
                manager.save(...); break
    cleanup_distributed()

TensorBoard logging lives in :mod:`uniflg_train.tblog`.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
from dataclasses import dataclass
from datetime import timedelta
from types import FrameType, TracebackType
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Dataset, DistributedSampler, Sampler

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# Graceful stop
# ---------------------------------------------------------------------------------------------


class GracefulStop:
    """SIGINT/SIGTERM set a flag instead of killing the process; the loop saves and exits.

    A second SIGINT while a stop is pending raises ``KeyboardInterrupt`` (the user insists).
    Handlers are installed only from the main thread and restored on exit.
    """

    def __init__(self, signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> None:
        self._signals = signals
        self._previous: dict[int, Any] = {}
        self._event = threading.Event()
        self.received: int | None = None

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is threading.main_thread():
            for sig in self._signals:
                self._previous[sig] = signal.signal(sig, self._handle)
        else:
            logger.warning("GracefulStop outside the main thread: signals are not intercepted")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._event.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.received = signum
        self._event.set()
        logger.warning("received %s: will save and stop at the end of this step", signal.Signals(signum).name)

    def request(self) -> None:
        """Ask for a stop programmatically (tests, time budgets)."""
        self._event.set()

    @property
    def requested(self) -> bool:
        """This process saw a stop request (no communication)."""
        return self._event.is_set()

    def should_stop(self) -> bool:
        """True when any rank saw a stop request. Collective under DDP: call it on every rank at the
        same step (every step, or every k steps)."""
        if not is_distributed():
            return self.requested
        flag = torch.tensor([1.0 if self.requested else 0.0], device=_collective_device())
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item() > 0)


# ---------------------------------------------------------------------------------------------
# Seeding
# ---------------------------------------------------------------------------------------------


def seed_everything(seed: int, rank: int = 0, deterministic: bool = False) -> int:
    """Seed python, numpy and torch (CPU and CUDA) with ``seed + rank``; returns that seed.

    Offsetting by rank gives each DDP rank its own dropout/noise stream while parameters stay
    synchronized through DDP's initial broadcast. ``deterministic`` also asks torch for
    deterministic kernels (slower; warns where none exists).
    """
    effective = int(seed) + int(rank)
    random.seed(effective)
    np.random.seed(effective % 2**32)
    torch.manual_seed(effective)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(effective)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    return effective


def worker_init_fn(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: derive python/numpy seeds from torch's per-worker seed."""
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


def rng_state() -> dict[str, Any]:
    """RNG states of python, numpy (global) and torch (CPU, and CUDA when present), in plain
    containers and tensors only, so ``torch.load(weights_only=True)`` can read them back."""
    py_version, py_internal, py_gauss = random.getstate()
    np_state = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "python": {"version": py_version, "state": list(py_internal), "gauss": py_gauss},
        "numpy": {
            "bit_generator": np_state["bit_generator"],
            "key": torch.from_numpy(np.asarray(np_state["state"]["key"], dtype=np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`rng_state`."""
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"]), py["gauss"]))
    npst = state["numpy"]
    np.random.set_state({
        "bit_generator": npst["bit_generator"],
        "state": {"key": npst["key"].numpy().astype(np.uint32), "pos": npst["pos"]},
        "has_gauss": npst["has_gauss"],
        "gauss": npst["gauss"],
    })
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = state["cuda"]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)
        else:
            logger.warning("CUDA RNG state saved for %d devices, %d present: not restored",
                           len(cuda_states), torch.cuda.device_count())


# ---------------------------------------------------------------------------------------------
# Distributed data parallel
# ---------------------------------------------------------------------------------------------


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
        kwargs: dict[str, Any] = {}
        if chosen == "nccl":
            kwargs["device_id"] = dev
        dist.init_process_group(backend=chosen, timeout=timedelta(seconds=timeout_s), **kwargs)
    logger.info("joined process group: rank %d/%d (local %d), backend %s, device %s",
                rank, world_size, local_rank, chosen, dev)
    return DistInfo(rank=rank, local_rank=local_rank, world_size=world_size, backend=chosen, device=dev)


def cleanup_distributed() -> None:
    """Leave the process group (no-op when none). All ranks meet first: a rank that tears gloo down while
    its peer is still talking to it makes the peer's gloo thread abort the process."""
    if is_distributed():
        dist.barrier()
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


def _collective_device() -> torch.device:
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


def unwrap(model: nn.Module) -> nn.Module:
    """The bare module under DDP / DataParallel / ``torch.compile`` wrappers (for saving, eval)."""
    while True:
        if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
            model = model.module
        elif hasattr(model, "_orig_mod") and isinstance(model._orig_mod, nn.Module):
            model = model._orig_mod
        else:
            return model


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
    tensor = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=_collective_device())
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    tensor /= get_world_size()
    return {k: float(v) for k, v in zip(keys, tensor.tolist(), strict=True)}


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Send a picklable object from ``src`` to all ranks (identity in one process)."""
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]
