"""Model files: weights in safetensors with the ModelConfig JSON in the metadata. The one writer and the one
loader of trained models; the trainer's checkpoints, ``uniflg export``, stage 2, evaluation and the torch
backend all go through here.

A file written here rebuilds into a :class:`UniFLG` without any training code, and never unpickles. Files
from before the SDK and the trainer shared this module keep their config under ``"uniflg.config"``; both
keys are read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from uniflg.config import ModelConfig
from uniflg.errors import ModelFormatError
from uniflg.fileio import atomic_path, atomic_write_text
from uniflg.model.system import UniFLG

CONFIG_KEY = "uniflg_config"
CONFIG_KEYS = (CONFIG_KEY, "uniflg.config")  # read in this order; the second is the trainer's old key
FORMAT_KEY = "uniflg_format"
FORMAT_VERSION = "1"

ConfigLike = ModelConfig | str | None


def _config_json(config: ConfigLike) -> str | None:
    return config if config is None or isinstance(config, str) else config.to_json()


def unwrap(model: nn.Module) -> nn.Module:
    """The bare module under DDP / DataParallel / ``torch.compile`` wrappers (for saving, eval)."""
    while True:
        if isinstance(model, nn.parallel.DistributedDataParallel | nn.DataParallel):
            model = model.module
        elif isinstance(inner := getattr(model, "_orig_mod", None), nn.Module):
            model = inner
        else:
            return model


def state_dict_for_saving(module: nn.Module | Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CPU, contiguous, detached tensors; tensors sharing storage (tied weights) are cloned so safetensors
    accepts them (``load_state_dict`` fills both ties from identical values). Wrappers are looked through."""
    items = unwrap(module).state_dict() if isinstance(module, nn.Module) else module
    out: dict[str, torch.Tensor] = {}
    seen: set[tuple[int, int]] = set()
    for name, tensor in items.items():
        t = tensor.detach().cpu().contiguous()
        key = (int(t.untyped_storage().data_ptr()), int(t.storage_offset()))
        if t.numel() and key in seen:
            t = t.clone()
        seen.add(key)
        out[name] = t
    return out


def save_weights(path: str | Path, module: nn.Module | Mapping[str, torch.Tensor], config: ConfigLike = None,
                 metadata: Mapping[str, str] | None = None, dtype: torch.dtype | None = None,
                 durable: bool = False, config_alongside: bool = False) -> Path:
    """Write a module's weights (or a state dict) as one safetensors file, atomically, with the ModelConfig JSON
    in the metadata. ``dtype`` (e.g. float16) stores floating tensors at that precision; the loader reads them
    back as float32. ``durable`` fsyncs (checkpoints). ``config_alongside`` also writes ``<name>.json`` next to
    it (the piper-style ``voice.safetensors`` + ``voice.json``)."""
    tensors = state_dict_for_saving(module)
    if dtype is not None:
        tensors = {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}
    meta = {FORMAT_KEY: FORMAT_VERSION, **(metadata or {})}
    cfg = _config_json(config)
    if cfg is not None:
        meta[CONFIG_KEY] = cfg
    with atomic_path(path, durable) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    if config_alongside and cfg is not None:
        atomic_write_text(Path(path).with_suffix(".json"), cfg, durable)
    return Path(path)


def save_model(model: UniFLG, path: str | Path, extra_metadata: dict[str, str] | None = None,
               dtype: torch.dtype | None = None) -> Path:
    """Write a model's weights + config (see :func:`save_weights`); :func:`load_model` rebuilds it."""
    return save_weights(path, model, model.cfg, extra_metadata, dtype)


def load_weights(path: str | Path, device: str | torch.device = "cpu"
                 ) -> tuple[dict[str, torch.Tensor], str | None]:
    """-> (state dict, config JSON) of a safetensors file. The config comes from the metadata (either key), else
    from ``<name>.json`` alongside, else ``None``. Raises :class:`ModelFormatError` for a missing or unreadable
    file."""
    path = Path(path)
    if not path.is_file():
        raise ModelFormatError(f"model file not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ModelFormatError(f"cannot read model file {path}: {exc}") from exc
    config = next((meta[k] for k in CONFIG_KEYS if k in meta), None)
    sidecar = path.with_suffix(".json")
    if config is None and sidecar.is_file():
        config = sidecar.read_text(encoding="utf-8")
    return tensors, config


def read_config(path: str | Path) -> ModelConfig:
    """The ModelConfig stored in a model file."""
    _, config = load_weights(path)
    if config is None:
        raise ModelFormatError(f"{path}: no {CONFIG_KEY!r} in the safetensors metadata; not a UniFLG model file")
    return _parse_config(config, path)


def _parse_config(text: str, where: object) -> ModelConfig:
    try:
        return ModelConfig.from_json(text)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFormatError(f"{where}: malformed model config: {exc}") from exc


def _check_size(cfg: ModelConfig, where: Path) -> None:
    """Refuse, before anything is allocated, a config outside sane limits or one whose model would be absurdly
    large (counted on torch's ``meta`` device, which allocates nothing)."""
    from uniflg.voice_files import MAX_PARAMETERS, check_config_limits

    check_config_limits(cfg, str(where))
    with torch.device("meta"):
        wanted = sum(t.numel() for t in UniFLG(cfg).state_dict().values())
    if wanted > MAX_PARAMETERS:
        raise ModelFormatError(f"{where}: the config asks for {wanted:,} parameters; at most {MAX_PARAMETERS:,}")


def load_model(files: str | Path | Sequence[str | Path], device: str | torch.device = "cpu", *,
               config: ConfigLike = None, skip_prefixes: Sequence[str] = ()) -> UniFLG:
    """Rebuild a model from its file(s) alone.

    ``files``: one model file, or the weight files of a checkpoint (a file whose tensors are all foreign to the
    model, e.g. a discriminator's, is passed over). ``config``: the ModelConfig (or its JSON); by default the
    first file's. ``skip_prefixes``: tensors under these names (e.g. ``"landmark_decoder."`` when stage 2
    changes the decoder) are not loaded and keep their fresh initialization. Every other model tensor must be
    found with the right shape and no file may hold tensors the model lacks: else :class:`ModelFormatError`."""
    paths = [Path(files)] if isinstance(files, str | Path) else [Path(f) for f in files]
    if not paths:
        raise ModelFormatError("no model files given")
    skip = tuple(skip_prefixes)
    from uniflg.voice_files import read_safetensors_header

    for path in paths:  # a sane header whose tensors lie inside the file, before any tensor is read
        if path.is_file():
            try:
                read_safetensors_header(path)
            except ModelFormatError as exc:
                reason = str(exc).removeprefix(f"{path}: ").removeprefix(f"{path} ")
                raise ModelFormatError(f"cannot read model file {path}: {reason}") from exc
    first, first_config = load_weights(paths[0], device)
    cfg_json = _config_json(config) or first_config
    if cfg_json is None:
        raise ModelFormatError(f"{paths[0]}: no model config (no {CONFIG_KEY!r} metadata, no "
                               f"{paths[0].with_suffix('.json').name} alongside)")
    cfg = _parse_config(cfg_json, paths[0])
    _check_size(cfg, paths[0])
    model = UniFLG(cfg)
    wanted = model.state_dict()
    state: dict[str, torch.Tensor] = {}
    unexpected: list[str] = []
    for path in paths:
        tensors = first if path == paths[0] else load_weights(path, device)[0]
        if len(paths) > 1 and not any(k in wanted for k in tensors):
            continue  # another module's file in the same checkpoint
        unexpected += [k for k in tensors if k not in wanted and not k.startswith(skip)]
        state.update({k: v.float() if v.is_floating_point() else v for k, v in tensors.items()
                      if k in wanted and not k.startswith(skip)})
    missing = sorted(k for k in wanted if k not in state and not k.startswith(skip))
    wrong = sorted(k for k, v in state.items() if v.shape != wanted[k].shape)
    if missing or unexpected or wrong:
        raise ModelFormatError(f"{', '.join(str(p) for p in paths)}: weights do not match the config (missing "
                               f"{missing[:5]}, unexpected {unexpected[:5]}, wrong shape {wrong[:5]})")
    model.load_state_dict(state, strict=False)
    return model.to(device)
