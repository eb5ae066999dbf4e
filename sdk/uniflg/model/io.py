"""Self-describing model files: weights in safetensors with the ModelConfig JSON in the metadata.

A file written here rebuilds into a :class:`UniFLG` without any training code, and never unpickles.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, safe_open, save_file

from uniflg.config import ModelConfig
from uniflg.errors import ModelFormatError
from uniflg.model.system import UniFLG

CONFIG_KEY = "uniflg_config"
FORMAT_KEY = "uniflg_format"
FORMAT_VERSION = "1"


def save_model(model: UniFLG, path: str | Path, extra_metadata: dict[str, str] | None = None,
               dtype: torch.dtype | None = None) -> Path:
    """Write weights + config atomically (temp file in the same folder, then rename). ``dtype`` (e.g.
    float16) stores floating tensors at that precision; :func:`load_model` reads them back as float32."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {CONFIG_KEY: model.cfg.to_json(), FORMAT_KEY: FORMAT_VERSION, **(extra_metadata or {})}
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    if dtype is not None:
        tensors = {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def read_config(path: str | Path) -> ModelConfig:
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata() or {}
    if CONFIG_KEY not in metadata:
        raise ModelFormatError(f"{path}: no {CONFIG_KEY!r} in the safetensors metadata; not a UniFLG model file")
    return ModelConfig.from_json(metadata[CONFIG_KEY])


def load_model(path: str | Path, device: str | torch.device = "cpu") -> UniFLG:
    """Rebuild the model from its file alone; strict: every tensor must match the config's modules."""
    path = Path(path)
    if not path.is_file():
        raise ModelFormatError(f"model file not found: {path}")
    model = UniFLG(read_config(path))
    state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(path), device=str(device)).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ModelFormatError(f"{path}: weights do not match the config (missing {missing[:5]}, "
                               f"unexpected {unexpected[:5]})")
    return model.to(device)
