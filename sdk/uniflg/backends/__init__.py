"""Backends that run a voice's graphs: ``torch``, ``onnxruntime`` and ``tensorrt``; ``auto`` picks the fastest
one available here and logs why. Importing this package imports none of torch, onnxruntime or tensorrt."""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

from uniflg.backends.base import Backend
from uniflg.errors import BackendUnavailableError, NotFoundError
from uniflg.voice_spec import VoiceSpec, read_spec

log = logging.getLogger(__name__)

BACKEND_NAMES = ("auto", "torch", "onnxruntime", "tensorrt")


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _cuda_gpu() -> bool:
    """True when an NVIDIA driver is visible (no CUDA library is loaded to find out)."""
    return Path("/proc/driver/nvidia/gpus").is_dir() and any(Path("/proc/driver/nvidia/gpus").iterdir())


def ort_providers() -> list[str]:
    """CUDA then CPU where the CUDA provider is installed; ``UNIFLG_ORT_PROVIDERS`` (comma list) overrides."""
    from uniflg.backends.onnx_backend import CPU, CUDA, available_providers

    forced = os.environ.get("UNIFLG_ORT_PROVIDERS")
    if forced:
        return [p.strip() for p in forced.split(",") if p.strip()]
    have = available_providers()
    return [CUDA, CPU] if CUDA in have and _cuda_gpu() else [CPU]


def available_backends(has_onnx: bool, has_weights: bool) -> dict[str, str]:
    """Backend name -> '' when usable for a voice with these files, else the reason it is not."""
    out: dict[str, str] = {}
    if not has_weights:
        out["torch"] = "the voice has no model.safetensors"
    else:
        out["torch"] = "" if _installed("torch") else "torch is not installed (pip install 'uniflg[torch]')"
    if not has_onnx:
        out["onnxruntime"] = out["tensorrt"] = "the voice has no ONNX graphs (uniflg export --format onnx)"
        return out
    out["onnxruntime"] = "" if _installed("onnxruntime") else "onnxruntime is not installed"
    if not _installed("tensorrt"):
        out["tensorrt"] = "TensorRT is not installed (pip install 'uniflg[trt]')"
    elif not _cuda_gpu():
        out["tensorrt"] = "no NVIDIA GPU visible"
    else:
        out["tensorrt"] = ""
    return out


def voice_backends(folder: Path) -> tuple[VoiceSpec, dict[str, str]]:
    """-> (the VoiceSpec in ``folder``, backend name -> '' when usable for it, else the reason it is not)."""
    spec = read_spec(folder)
    has_weights = spec.weights is not None and (folder / spec.weights).is_file()
    return spec, available_backends(bool(spec.graphs), has_weights)


def open_backend(name: str, folder: Path, graph_files: dict[str, str], weights: Path | None,
                 threads: int | None = None) -> Backend:
    """Open backend ``name`` for the voice in ``folder`` (``graph_files``: graph name -> ONNX file name)."""
    if name not in BACKEND_NAMES:
        raise NotFoundError("backend", name, BACKEND_NAMES)
    usable = available_backends(bool(graph_files), weights is not None and weights.is_file())
    if name == "auto":
        name = _choose(usable)
    elif usable[name]:
        raise BackendUnavailableError(f"backend {name!r} is not available: {usable[name]}")
    if name == "torch":
        from uniflg.backends.torch_backend import TorchBackend

        return TorchBackend(weights)
    if name == "onnxruntime":
        from uniflg.backends.onnx_backend import OnnxBackend

        return OnnxBackend(folder, graph_files, ort_providers(), threads)
    from uniflg.backends.tensorrt_backend import TensorRTBackend

    return TensorRTBackend(folder, graph_files)


def _choose(usable: dict[str, str]) -> str:
    """Fastest first: TensorRT engines on a GPU, then ONNX Runtime (CUDA or CPU), then torch."""
    for name in ("tensorrt", "onnxruntime", "torch"):
        if not usable.get(name):
            skipped = {k: v for k, v in usable.items() if v}
            log.info("backend auto -> %s (unavailable: %s)", name, skipped or "none")
            return name
    raise BackendUnavailableError("no backend can run this voice: " + "; ".join(f"{k}: {v}" for k, v in usable.items()))


__all__ = ["BACKEND_NAMES", "Backend", "available_backends", "open_backend", "ort_providers", "voice_backends"]
