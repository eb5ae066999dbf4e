"""The training loop and the pieces both stages share: data loaders, optimizers, the run folder,
and :class:`GracefulStop` (SIGINT/SIGTERM save a checkpoint and stop, agreed across DDP ranks)."""

from __future__ import annotations

import logging
import math
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Protocol

import torch
import torch.distributed as dist
from filelock import FileLock, Timeout
from torch.utils.data import DataLoader
from tqdm import tqdm
from uniflg.config import ModelConfig
from uniflg.errors import InvalidInputError, StoppedBySignalError, UniFLGError

from uniflg_train.checkpoint import CheckpointManager
from uniflg_train.data.dataset import Batch, Collate, UniFLGDataset
from uniflg_train.distributed import (
    DistInfo,
    cleanup_distributed,
    collective_device,
    init_distributed,
    is_distributed,
    make_sampler,
    set_epoch,
)
from uniflg_train.seeding import seed_everything
from uniflg_train.tblog import TBLogger

log = logging.getLogger(__name__)


def make_augmenter(options: Any, sample_rate: int) -> Any:
    """The stage's :class:`~uniflg_train.data.augment.SpeechAugmenter` from its options (``augment``, and where set
    ``augment_noise``: the additive noises, ``augment_warp``: the talker warp's probability,
    ``augment_warp_semitones``: its range +-S, ``augment_telephone``: the telephone band's probability), or None
    when augmentation is off."""
    if not options.augment:
        return None
    from uniflg_train.data.augment import AugmentOptions, SpeechAugmenter

    fields = {"noise_kinds": options.augment_noise, "p_warp": options.augment_warp,
              "p_telephone": options.augment_telephone,
              "warp_semitones": None if options.augment_warp_semitones is None
              else (-options.augment_warp_semitones, options.augment_warp_semitones)}
    return SpeechAugmenter(sample_rate, AugmentOptions(**{k: v for k, v in fields.items() if v is not None}))


def make_loader(dataset: UniFLGDataset, collate: Collate, batch_size: int, num_workers: int, seed: int,
                drop_last: bool = True) -> DataLoader:
    sampler = make_sampler(dataset, shuffle=True, seed=seed, drop_last=drop_last)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=sampler is None, sampler=sampler,
                      collate_fn=collate, num_workers=num_workers, drop_last=drop_last and len(dataset) > batch_size,
                      generator=generator, persistent_workers=num_workers > 0)


def epochs(loader: DataLoader, start_epoch: int) -> Iterator[tuple[int, Batch]]:
    """Endless (epoch, batch) stream; reshuffles distributed samplers every epoch."""
    epoch = start_epoch
    while True:
        set_epoch(loader.sampler, epoch)
        for raw in loader:
            yield epoch, raw
        epoch += 1


def exponential_decay(optimizer: torch.optim.Optimizer, gamma: float) -> torch.optim.lr_scheduler.LRScheduler:
    return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=gamma)


def check_same_model(saved: ModelConfig, asked: ModelConfig, out: Path, sizes: bool = True) -> None:
    """A resumed run trains the model it started with: InvalidInputError naming ``--variant`` or ``--config`` when
    ``asked`` (this command's) differs from ``saved`` (the run's) in its variant or, with ``sizes``, in anything but
    the speaker and emotion lists (those come from the data)."""
    if saved.variant != asked.variant:
        raise InvalidInputError(f"{out} trains {saved.variant.name}, not {asked.variant.name}: resume it with the "
                                "--variant it was started with, or give a new --out")
    if sizes and saved.replace(speakers=asked.speakers, emotions=asked.emotions) != asked:
        raise InvalidInputError(f"{out} trains a model of other sizes than --config names: resume it with --config "
                                f"{saved.name} (its config.json), or give a new --out")


RUN_RECORDS = {"stage 1": "train_vits.json", "stage 2": "train_landmarks.json"}  # what each stage's run holds
INIT_RECORD = "init_from.json"  # in a stage-1 run started with --init-from: what it started from


def is_stage1_run(run: Path) -> bool:
    """``run`` is a stage-1 run: its face decoder never trained (no stage-2 record)."""
    return (run / RUN_RECORDS["stage 1"]).is_file() and not (run / RUN_RECORDS["stage 2"]).is_file()


RUN_LOCK = ".uniflg-train.lock"  # held by the process training a run (filelock; released when it exits)
_held_locks: dict[Path, FileLock] = {}
_made_here: set[Path] = set()  # run folders this process made: removed again if a refused run left them empty


def run_dirs(out: Path, stage: str, lock: bool = True) -> tuple[Path, Path]:
    """RUN/checkpoints and RUN/logs of a ``stage`` (a key of :data:`RUN_RECORDS`) run; InvalidInputError when
    ``out`` is a file, cannot be made, holds something else (the other stage's run, a corpus, a voice, other
    files; a run of this stage resumes) or is being trained by another process. ``lock``: take the run's lock
    (:data:`RUN_LOCK`, for this process's life); the other ranks of one distributed run pass False."""
    if out.exists() and not out.is_dir():
        raise InvalidInputError(f"--out {out} is a file; give a run folder (new, or a run to resume)")
    if out.is_dir() and any(p.name != RUN_LOCK for p in out.iterdir()) and not (out / RUN_RECORDS[stage]).is_file():
        markers = {**{record: f"a {name} run" for name, record in RUN_RECORDS.items()},
                   "corpus.json": "a corpus", "voice.json": "a voice"}
        held = [what for marker, what in markers.items() if (out / marker).is_file()]
        if held or not (out / "checkpoints").is_dir():  # checkpoints/ alone: a run from before records, resumable
            what = held[0] if held else f"files but no {stage} run"
            raise InvalidInputError(f"--out {out} holds {what}; give a new folder or a {stage} run to resume")
    if not out.exists():
        _made_here.add(out.resolve())
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInputError(f"--out {out} cannot be made ({exc.strerror or exc})") from None
    if lock and out.resolve() not in _held_locks:
        run_lock = FileLock(out / RUN_LOCK, timeout=0)
        try:
            run_lock.acquire()
        except Timeout:  # two processes would overwrite each other's checkpoints and mix their logs
            raise InvalidInputError(f"--out {out} is being trained by another process (it holds {RUN_LOCK}); "
                                    "wait for it to finish or give another folder") from None
        _held_locks[out.resolve()] = run_lock
    return out / "checkpoints", out / "logs"


def release_run(out: Path) -> None:
    """Let go of ``out``'s run lock (:func:`run_dirs`) once its training has ended, so that the same process or
    another may train it again."""
    held = _held_locks.pop(out.resolve(), None)
    if held is not None:
        held.release()
    if out.resolve() in _made_here:  # a run refused before it wrote anything leaves no folder behind
        _made_here.discard(out.resolve())
        left = [p for p in out.rglob("*") if p.name != RUN_LOCK and not (p.is_dir() and not any(p.iterdir()))]
        if out.is_dir() and not left:
            shutil.rmtree(out, ignore_errors=True)


class DivergedError(UniFLGError):
    """A training loss became NaN or infinite: the run stops without saving that state (a diverged checkpoint
    would feed resumes, stage 2 and exports)."""


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
        self._pid = os.getpid()

    def __enter__(self) -> GracefulStop:
        self._pid = os.getpid()
        if threading.current_thread() is threading.main_thread():
            for sig in self._signals:
                self._previous[sig] = signal.signal(sig, self._handle)
        else:
            log.warning("GracefulStop outside the main thread: signals are not intercepted")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if os.getpid() != self._pid:  # a data-loader worker forked with this handler: the trainer stops it
            return
        if self._event.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.received = signum
        self._event.set()
        log.warning("received %s: will save and stop at the end of this step", signal.Signals(signum).name)

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
        flag = torch.tensor([1.0 if self.requested else 0.0], device=collective_device())
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item() > 0)


class Stage(Protocol):
    """What :func:`run_loop` drives: one training stage's modules, optimizers and step."""

    def train_step(self, batch: Batch, step: int) -> dict[str, float]: ...

    def modules(self) -> dict[str, torch.nn.Module]: ...

    def optimizers(self) -> dict[str, torch.optim.Optimizer]: ...

    def schedulers(self) -> dict[str, torch.optim.lr_scheduler.LRScheduler]: ...

    def log_media(self, tb: TBLogger, step: int) -> None: ...

    def unwrap(self) -> None:
        """Drop the DDP wrappers (their reducers hold the process group) before the group is left."""


@dataclass(frozen=True)
class LoopSettings:
    name: str  # progress-bar label and TensorBoard prefix, e.g. "stage1"
    description: str
    max_steps: int
    log_every: int
    checkpoint_every: int
    metric: str  # the loss whose running mean is the checkpoint metric
    shown: tuple[str, ...]  # losses shown on the progress bar


def start_process(seed: int, threads: int | None) -> DistInfo:
    """Join torchrun's process group (if any), seed every RNG and set the CPU thread count."""
    info = init_distributed()
    seed_everything(seed, rank=info.rank)
    if threads:
        torch.set_num_threads(threads)
    return info


def run_loop(stage: Stage, loader: DataLoader, manager: CheckpointManager, tb: TBLogger, settings: LoopSettings,
             info: DistInfo, config: ModelConfig, start_step: int, start_epoch: int, resumed: bool) -> int:
    """Step until ``max_steps`` or a stop signal; checkpoint every ``checkpoint_every`` and on exit.

    Learning rates decay per epoch (schedulers step when the epoch changes), as in VITS and the paper."""
    step, epoch, running = start_step, start_epoch, 0.0
    last_saved = start_step if resumed else -1
    started = time.perf_counter()
    bar = tqdm(total=settings.max_steps, initial=step, desc=settings.description, disable=not info.is_main,
               dynamic_ncols=True)

    def save() -> None:
        nonlocal last_saved
        if step != last_saved:
            manager.save(step, stage.modules(), stage.optimizers(), stage.schedulers(), epoch=epoch,
                         config=config, metric=running)
            last_saved = step

    try:  # the bar ends its line before any error is printed (it was glued to the bar)
        with GracefulStop() as stop:
            stream = epochs(loader, start_epoch)
            while step < settings.max_steps:
                next_epoch, batch = next(stream)
                if next_epoch != epoch:
                    for scheduler in stage.schedulers().values():
                        scheduler.step()
                    epoch = next_epoch
                losses = stage.train_step(batch.to(info.device), step)
                if bad := [k for k, v in losses.items() if not math.isfinite(v)]:  # diverged: never save this state
                    newest = f"step {last_saved}" if last_saved >= 0 else "none yet"
                    raise DivergedError(f"{settings.description}: the loss became non-finite at step {step + 1} "
                                        f"({', '.join(f'{k}={losses[k]}' for k in bad)}); stopped without saving it "
                                        f"(newest checkpoint: {newest}). A resume keeps the run's learning rate: "
                                        "to go on at a lower one, start a new --out from that checkpoint (stage "
                                        "1: --init-from it, stage 2: --vits it) with a lower --learning-rate; or "
                                        "check the data")
                step += 1
                value = losses[settings.metric]
                running = value if running == 0 else 0.98 * running + 0.02 * value
                bar.update(1)
                if step % settings.log_every == 0:
                    rate = (step - start_step) / max(time.perf_counter() - started, 1e-9) * 3600
                    bar.set_postfix(**{k: f"{losses[k]:.3f}" for k in settings.shown if k in losses},
                                    steps_per_h=f"{rate:.0f}")
                    lr = next(iter(stage.optimizers().values())).param_groups[0]["lr"]
                    tb.scalars({**losses, "steps_per_hour": rate, "lr": lr}, step, prefix=f"{settings.name}/")
                if step % settings.checkpoint_every == 0:
                    save()
                    stage.log_media(tb, step)
                if stop.should_stop():
                    log.warning("stop requested: saving step %d", step)
                    break
            save()
    finally:
        bar.close()
    tb.close()
    stage.unwrap()
    cleanup_distributed()
    if stop.received is not None:  # a signal, not the step budget: say so in the exit status too
        name = signal.Signals(stop.received).name
        raise StoppedBySignalError(f"{settings.description} stopped by {name} at step {step} (saved); rerun the "
                                   "same command to resume", stop.received)
    return step
