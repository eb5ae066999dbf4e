"""Checkpoints that describe themselves, written atomically, with retention and resume.

Layout of a checkpoint directory (one per saved step)::

    RUN/checkpoints/step_00001200/
        generator.safetensors      weights of each named module (config JSON in the metadata)
        discriminator.safetensors
        config.json                ModelConfig.to_json() (the same text as in the metadata)
        state.pt                   step, epoch, optimizer/scheduler state_dicts, RNG states, best metric
        manifest.json              written LAST: file names, sizes and SHA-256, step, metric

Rules:

* Weights never pickle: they are safetensors. ``state.pt`` (optimizer moments, RNG states) is
  ``torch.save`` of tensors and plain containers only and is read back with ``weights_only=True``.
* Atomic: everything goes into a hidden temporary directory next to the final one; each file is
  fsync'd, the manifest is written last, then the directory is renamed into place (``os.replace``)
  and the parent directory fsync'd. A crash at any point leaves either the old set of checkpoints
  or the new complete one; :meth:`CheckpointManager.latest` only returns a directory whose manifest
  exists and whose files have the recorded sizes.
* Retention: the last ``keep_last`` checkpoints plus the best one (by ``metric``) are kept. When the disk
  would not hold one more checkpoint, older ones are pruned before saving; if it still would not, the save
  stops with :class:`CheckpointSpaceError` saying how much space is needed (nothing half-written is left).
* Under DDP only rank 0 writes (other ranks return ``None`` from ``save``); every rank may resume.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from uniflg.config import ModelConfig
from uniflg.errors import InvalidInputError, ModelFormatError, UniFLGError
from uniflg.fileio import TMP_PREFIX as _TMP_PREFIX
from uniflg.fileio import fsync_dir, fsync_file
from uniflg.model.io import ConfigLike, load_model, load_weights, save_weights, unwrap
from uniflg.model.system import UniFLG

from uniflg_train.distributed import is_main_process
from uniflg_train.seeding import rng_state, set_rng_state

logger = logging.getLogger(__name__)

FORMAT = "uniflg-checkpoint/1"
MANIFEST = "manifest.json"
STATE = "state.pt"
CONFIG = "config.json"
_STEP_DIR = re.compile(r"^step_(\d+)$")

Modules = Mapping[str, nn.Module] | nn.Module


# ---------------------------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingState:
    """What :meth:`CheckpointManager.resume` restored (besides the objects it loaded into)."""

    step: int
    epoch: int
    best_metric: float | None
    extra: dict[str, Any]
    path: Path


@dataclass(frozen=True)
class Checkpoint:
    """One complete checkpoint directory (its manifest exists and its files have the right sizes)."""

    path: Path
    step: int
    metric: float | None
    modules: tuple[str, ...]

    @property
    def config_json(self) -> str | None:
        cfg = self.path / CONFIG
        return cfg.read_text(encoding="utf-8") if cfg.is_file() else None

    def config(self) -> ModelConfig | None:
        text = self.config_json
        return ModelConfig.from_json(text) if text is not None else None

    def weights_path(self, name: str) -> Path:
        if name not in self.modules:
            raise ModelFormatError(f"checkpoint {self.path} has no module {name!r}; has {list(self.modules)}")
        return self.path / f"{name}.safetensors"

    def state_dict(self, name: str, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
        return load_weights(self.weights_path(name), device=device)[0]

    def load_modules(self, modules: Modules, strict: bool = True) -> None:
        """Load weights into modules (DDP wrappers are unwrapped). Extra modules in the checkpoint
        are ignored; a requested module it lacks is an error."""
        for name, module in _named(modules).items():
            target = unwrap(module)
            device = next((p.device for p in target.parameters()), torch.device("cpu"))
            target.load_state_dict(self.state_dict(name, device=device), strict=strict)

    def training_state(self, map_location: str | torch.device = "cpu") -> dict[str, Any]:
        loaded: dict[str, Any] = torch.load(self.path / STATE, map_location=map_location, weights_only=True)
        return loaded

    def verify(self) -> bool:
        """Full check: every file's SHA-256 matches the manifest."""
        manifest = _read_manifest(self.path)
        return manifest is not None and _hashes_match(self.path, manifest)


def _named(modules: Modules | None) -> dict[str, Any]:
    if modules is None:
        return {}
    if isinstance(modules, nn.Module):
        return {"model": modules}
    return dict(modules)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _hashes_match(directory: Path, manifest: dict[str, Any]) -> bool:
    return all(_sha256(directory / name) == info["sha256"] for name, info in manifest["files"].items())


def _read_manifest(directory: Path) -> dict[str, Any] | None:
    """The manifest if the directory is complete (files present with the recorded sizes), else None."""
    try:
        manifest: dict[str, Any] = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT:
            return None
        for name, info in manifest["files"].items():
            if (directory / name).stat().st_size != info["size"]:
                return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return manifest


class CheckpointManager:
    """Save, list, prune and resume checkpoints under one directory (typically ``RUN/checkpoints``).

    ``mode`` says whether a lower (``"min"``, e.g. a validation loss) or higher metric is better.
    """

    def __init__(self, directory: str | Path, keep_last: int = 3,
                 mode: Literal["min", "max"] = "min") -> None:
        if keep_last < 1:
            raise ValueError("keep_last must be at least 1")
        self.directory = Path(directory)
        self.keep_last = keep_last
        self._last_bytes = 0  # size of the last checkpoint this manager saved (0: not known yet)
        self.mode = mode

    # -- listing -----------------------------------------------------------------------------

    def _complete(self) -> Iterator[Checkpoint]:
        if not self.directory.is_dir():
            return
        for entry in self.directory.iterdir():
            match = _STEP_DIR.match(entry.name)
            if not match or not entry.is_dir():
                continue
            manifest = _read_manifest(entry)
            if manifest is None:
                logger.warning("ignoring incomplete checkpoint %s", entry)
                continue
            yield Checkpoint(path=entry, step=int(manifest["step"]), metric=manifest.get("metric"),
                             modules=tuple(manifest["modules"]))

    def checkpoints(self) -> list[Checkpoint]:
        """Complete checkpoints, oldest step first."""
        return sorted(self._complete(), key=lambda c: c.step)

    def latest(self) -> Checkpoint | None:
        """The newest complete checkpoint (a half-written one is never returned)."""
        found = self.checkpoints()
        return found[-1] if found else None

    def latest_verified(self) -> Checkpoint | None:
        """The newest complete checkpoint whose files match their manifest's SHA-256 (what resuming and exporting
        read); a newer one that does not (a file damaged after it was written) is skipped with a warning."""
        for ckpt in reversed(self.checkpoints()):
            if ckpt.verify():
                return ckpt
            logger.warning("skipping %s: its files do not match their manifest's SHA-256 (damaged after it was "
                           "written)", ckpt.path)
        return None

    def resumable(self) -> Checkpoint | None:
        """What a run resumes from (:meth:`latest_verified`; None: a new run). InvalidInputError when step folders
        exist but none is intact: a new run would save over them, and their weights may still be good."""
        latest = self.latest_verified()
        if latest is None and self.directory.is_dir():
            steps = sorted(e.name for e in self.directory.iterdir() if _STEP_DIR.match(e.name) and e.is_dir())
            if steps:
                raise InvalidInputError(
                    f"{self.directory} holds {len(steps)} checkpoint folder{'s' if len(steps) > 1 else ''} "
                    f"({', '.join(steps[-3:])}{', ...' if len(steps) > 3 else ''}) and none is intact (files "
                    "missing, cut short or changed since they were saved); a new run would save over them: "
                    "restore them from a copy, or move them aside to start over")
        return latest

    def best(self) -> Checkpoint | None:
        """The complete checkpoint with the best metric (ties: the newer), or None."""
        scored = [c for c in self.checkpoints() if c.metric is not None]
        if not scored:
            return None
        sign = 1.0 if self.mode == "min" else -1.0
        return min(scored, key=lambda c: (sign * float(c.metric or 0.0), -c.step))

    def _is_better(self, metric: float, than: float | None) -> bool:
        if than is None:
            return True
        return metric < than if self.mode == "min" else metric > than

    # -- saving ------------------------------------------------------------------------------

    def save(self, step: int, modules: Modules, optimizers: Mapping[str, Any] | None = None,
             schedulers: Mapping[str, Any] | None = None, *, epoch: int = 0, config: ConfigLike = None,
             metric: float | None = None, extra: Mapping[str, Any] | None = None) -> Checkpoint | None:
        """Write checkpoint ``step`` atomically, then prune. Returns it (``None`` on ranks other
        than 0, which write nothing). ``extra`` must hold tensors and plain containers only."""
        if not is_main_process():
            return None
        started = time.perf_counter()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temporaries()
        final = self.directory / f"step_{step:08d}"
        tmp = self.directory / f"{_TMP_PREFIX}{final.name}.{os.getpid()}"
        self._make_room()
        try:
            return self._save_into(tmp, final, step, modules, optimizers, schedulers, epoch=epoch, config=config,
                                   metric=metric, extra=extra, started=started)
        except Exception as exc:  # torch.save and safetensors report a failed write as their own errors
            written = sum(f.stat().st_size for f in tmp.iterdir() if f.is_file()) if tmp.is_dir() else 0
            shutil.rmtree(tmp, ignore_errors=True)
            if not self._disk_full(exc):
                raise
            need = max(self._checkpoint_bytes(), written)
            raise CheckpointSpaceError(
                f"cannot save checkpoint {final.name} in {self.directory}: {getattr(exc, 'strerror', None) or exc}; "
                f"a checkpoint needs at least {_mb(need)} and {_mb(shutil.disk_usage(self.directory).free)} are "
                f"free. Free space (or keep fewer checkpoints) and rerun: it resumes from "
                f"{self._latest_name()}") from exc

    def _save_into(self, tmp: Path, final: Path, step: int, modules: Modules, optimizers: Mapping[str, Any] | None,
                   schedulers: Mapping[str, Any] | None, *, epoch: int, config: ConfigLike, metric: float | None,
                   extra: Mapping[str, Any] | None, started: float) -> Checkpoint:
        tmp.mkdir()
        named = _named(modules)
        previous_best = self.best()
        best_metric = previous_best.metric if previous_best is not None else None
        if metric is not None and self._is_better(metric, best_metric):
            best_metric = metric
        cfg = config if config is None or isinstance(config, str) else config.to_json()
        meta = {"step": str(step), "epoch": str(epoch)}
        for name, module in named.items():
            save_weights(tmp / f"{name}.safetensors", module, cfg, {**meta, "module": name}, durable=True)
        if cfg is not None:
            _write_plain(tmp / CONFIG, cfg.encode("utf-8"))
        state = {
            "format": FORMAT, "step": step, "epoch": epoch, "metric": metric, "best_metric": best_metric,
            "optimizers": {k: v.state_dict() for k, v in (optimizers or {}).items()},
            "schedulers": {k: v.state_dict() for k, v in (schedulers or {}).items()},
            "rng": rng_state(), "extra": dict(extra or {}),
        }
        torch.save(state, tmp / STATE)
        fsync_file(tmp / STATE)
        files = {p.name: {"size": p.stat().st_size, "sha256": _sha256(p)} for p in sorted(tmp.iterdir())}
        self._last_bytes = sum(p.stat().st_size for p in tmp.iterdir())
        manifest = {"format": FORMAT, "step": step, "epoch": epoch, "metric": metric,
                    "modules": list(named), "files": files}
        _write_plain(tmp / MANIFEST, json.dumps(manifest, indent=2).encode("utf-8"))
        fsync_dir(tmp)
        self._move_into_place(tmp, final)
        self._prune()
        logger.info("saved checkpoint %s in %.2f s", final, time.perf_counter() - started)
        return Checkpoint(path=final, step=step, metric=metric, modules=tuple(named))

    def _disk_full(self, exc: BaseException) -> bool:
        if isinstance(exc, OSError):
            return exc.errno in DISK_FULL_ERRNOS
        text = str(exc)
        return (f"os error {errno.ENOSPC})" in text or os.strerror(errno.ENOSPC) in text
                or ("write" in text and shutil.disk_usage(self.directory).free < (1 << 20)))

    def _checkpoint_bytes(self) -> int:
        """Size of the newest complete checkpoint (0 when there is none): what the next save will need. The size
        of this manager's own last save is remembered, so saving does not rescan the folder every time."""
        if self._last_bytes:
            return self._last_bytes
        latest = self.latest()
        return sum(f.stat().st_size for f in latest.path.iterdir() if f.is_file()) if latest else 0

    def _latest_name(self) -> str:
        latest = self.latest()
        return latest.path.name if latest else "the start (no checkpoint yet)"

    def _make_room(self) -> None:
        """Prune before saving when the free space would not hold one more checkpoint (retention allows
        ``keep_last`` + 1 during a save). The newest and the best checkpoint are never removed here; if the
        space is still short, refuse before writing anything, saying how much is needed."""
        need = int(self._checkpoint_bytes() * 1.05)
        if need == 0 or shutil.disk_usage(self.directory).free >= need:
            return
        self._prune(keep_last=max(1, self.keep_last - 1))
        free = shutil.disk_usage(self.directory).free
        if free < need:
            raise CheckpointSpaceError(
                f"not enough space for a checkpoint in {self.directory}: about {_mb(need)} needed, {_mb(free)} "
                f"free after pruning to the newest and best. Free {_mb(need - free)} (or move the run) and rerun: "
                f"it resumes from {self._latest_name()}")
        logger.warning("disk nearly full: pruned old checkpoints before saving (%s free)", _mb(free))

    def _move_into_place(self, tmp: Path, final: Path) -> None:
        trash = None
        if final.exists():  # re-saving the same step: move the old one aside first
            trash = self.directory / f"{_TMP_PREFIX}old-{final.name}.{os.getpid()}"
            os.replace(final, trash)
        os.replace(tmp, final)
        fsync_dir(self.directory)
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)

    def _remove_stale_temporaries(self) -> None:
        """Leftovers of a crashed save (only one process saves into a directory)."""
        for entry in self.directory.iterdir():
            if entry.name.startswith(_TMP_PREFIX):
                logger.warning("removing leftover of an interrupted save: %s", entry)
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)

    def _prune(self, keep_last: int | None = None) -> None:
        found = self.checkpoints()
        keep = {c.path for c in found[-(keep_last or self.keep_last):]}
        best = self.best()
        if best is not None:
            keep.add(best.path)
        for ckpt in found:
            if ckpt.path not in keep:
                # Rename first so a crash mid-delete never leaves a half-deleted "complete" dir.
                doomed = self.directory / f"{_TMP_PREFIX}del-{ckpt.path.name}"
                os.replace(ckpt.path, doomed)
                shutil.rmtree(doomed, ignore_errors=True)
                logger.debug("pruned %s", ckpt.path)

    # -- resuming ----------------------------------------------------------------------------

    def resume(self, modules: Modules, optimizers: Mapping[str, Any] | None = None,
               schedulers: Mapping[str, Any] | None = None, *, checkpoint: Checkpoint | None = None,
               restore_rng: bool = True, strict: bool = True) -> TrainingState | None:
        """Restore module weights, optimizer and scheduler states and RNG states from ``checkpoint``
        (default: :meth:`latest`). Returns ``None`` when there is nothing to resume from. Call it
        after building optimizers/schedulers and after moving modules to their device."""
        ckpt = checkpoint or self.latest_verified()
        if ckpt is None:
            return None
        ckpt.load_modules(modules, strict=strict)
        state = ckpt.training_state()
        _load_states("optimizer", optimizers, state["optimizers"])
        _load_states("scheduler", schedulers, state["schedulers"])
        if restore_rng:
            set_rng_state(state["rng"])
        logger.info("resumed from %s (step %d, epoch %d)", ckpt.path, state["step"], state["epoch"])
        return TrainingState(step=int(state["step"]), epoch=int(state["epoch"]),
                             best_metric=state["best_metric"], extra=dict(state["extra"]), path=ckpt.path)


def _load_states(kind: str, objects: Mapping[str, Any] | None, saved: Mapping[str, Any]) -> None:
    for name, obj in (objects or {}).items():
        if name not in saved:
            raise ModelFormatError(f"checkpoint has no {kind} state {name!r}; has {sorted(saved)}")
        obj.load_state_dict(saved[name])


class CheckpointSpaceError(UniFLGError):
    """A checkpoint cannot be saved for lack of disk space; the message says how much is needed. Nothing
    half-written is left behind, and the next run resumes from the newest complete checkpoint."""


DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _write_plain(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


# -- the run-folder resolver: which files of a run hold the trained model -------------------------------------


def split_run(path: Path) -> tuple[Path, Path | None]:
    """``RUN`` or ``RUN/checkpoints`` -> (RUN, None: its newest checkpoint); ``RUN/checkpoints/step_N`` -> (RUN,
    that checkpoint), so that the checkpoint a voice shipped can be named rather than whatever the run trained to
    after it."""
    path = Path(path)
    if path.parent.name == "checkpoints" and _STEP_DIR.match(path.name):
        return path.parent.parent, path
    return (path.parent if path.name == "checkpoints" else path), None


def newest_checkpoint_path(path: Path) -> Path:
    """A run folder or its checkpoints/ folder -> the newest complete step directory; else ``path``."""
    if path.is_file() or (path / CONFIG).is_file() and any(path.glob("*.safetensors")):
        manifest = _read_manifest(path) if path.is_dir() else None
        if manifest is not None and not _hashes_match(path, manifest):
            raise ModelFormatError(f"{path}: its files do not match their manifest's SHA-256 (damaged after it was "
                                   "written); use an earlier checkpoint")
        return path
    for folder in (path, path / "checkpoints"):
        latest = CheckpointManager(folder).latest_verified()
        if latest is not None:
            logger.info("using %s (step %d)", latest.path, latest.step)
            return latest.path
    return path


def model_files(path: Path) -> tuple[list[Path], str | None, Path]:
    """-> (weight files, config JSON or None = the files' own, where they came from) for ``path``: a
    ``.safetensors`` model file, a checkpoint directory (``config.json`` + ``*.safetensors``), or a run's
    ``checkpoints/`` folder or the run folder itself (its newest complete checkpoint)."""
    path = newest_checkpoint_path(Path(path))
    if path.is_file():
        return [path], None, path
    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise ModelFormatError(f"{path}: no model file, checkpoint or run folder with a complete checkpoint")
    config_path = path / CONFIG
    config_json = config_path.read_text(encoding="utf-8") if config_path.is_file() else None
    return files, config_json, path


def load_trained_model(path: Path, config: ModelConfig | None = None, skip_prefixes: tuple[str, ...] = ()
                       ) -> tuple[UniFLG, Path]:
    """A trained model from anything :func:`model_files` resolves, through :func:`uniflg.model.io.load_model`
    (``config`` replaces the stored one; ``skip_prefixes`` start those modules fresh) -> (model in eval mode,
    the file or checkpoint directory it came from)."""
    for attempt in range(3):
        chosen = newest_checkpoint_path(Path(path))  # a run folder: its newest complete checkpoint
        try:
            files, config_json, where = model_files(chosen)
            model = load_model(files, config=config if config is not None else config_json,
                               skip_prefixes=skip_prefixes)
            return model.eval(), where
        except (ModelFormatError, FileNotFoundError):
            # a run that is training prunes old checkpoints: the one chosen may go before it is read (review 20)
            if chosen == Path(path) or chosen.exists() or attempt == 2:
                raise
            logger.info("%s was removed while it was read (its run is training): taking the newest", chosen)
    raise AssertionError("unreachable")
