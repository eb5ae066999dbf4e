"""Backends that run a voice's graphs: ``torch``, ``onnxruntime`` and ``tensorrt``; ``auto`` picks the fastest
one available here and logs why. Importing this package imports none of torch, onnxruntime or tensorrt.
How a backend runs (precision, ONNX Runtime providers, TensorRT contexts) is a :class:`BackendOptions`; the CLI
adds the same choices with :func:`add_backend_arguments`. Every backend is safe for concurrent ``run``
(:mod:`uniflg.backends.base` states the contract)."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import logging
import os
from pathlib import Path

from uniflg.backends.base import PRECISIONS, Backend, BackendOptions, resolve_precision
from uniflg.errors import BackendUnavailableError, InvalidInputError, NotFoundError
from uniflg.voice_spec import VoiceSpec, read_spec

log = logging.getLogger(__name__)

BACKEND_NAMES = ("auto", "torch", "onnxruntime", "tensorrt")


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _cuda_gpu() -> bool:
    """True when an NVIDIA driver is visible (no CUDA library is loaded to find out)."""
    return Path("/proc/driver/nvidia/gpus").is_dir() and any(Path("/proc/driver/nvidia/gpus").iterdir())


def ort_providers(options: BackendOptions | None = None) -> list[str]:
    """``options.providers`` if given, else ``UNIFLG_ORT_PROVIDERS`` (comma list, short or full names), else CUDA
    then CPU where the CUDA provider is installed and a GPU is visible, else CPU."""
    from uniflg.backends.onnx_backend import CPU, CUDA, available_providers, parse_providers

    if options is not None and options.providers:
        return list(parse_providers(options.providers))
    forced = os.environ.get("UNIFLG_ORT_PROVIDERS")
    if forced:
        return list(parse_providers(forced))
    have = available_providers()
    return [CUDA, CPU] if CUDA in have and _cuda_gpu() else [CPU]


def available_backends(has_onnx: bool, has_weights: bool) -> dict[str, str]:
    """Backend name -> '' when usable for a voice with these files, else the reason it is not."""
    out: dict[str, str] = {}
    if not has_weights:
        out["torch"] = "the voice has no model.safetensors"
    else:
        missing = [name for name in ("torch", "safetensors") if not _installed(name)]  # the extra brings both
        out["torch"] = f"{' and '.join(missing)} not installed (pip install 'uniflg[torch]')" if missing else ""
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
                 threads: int | None = None, options: BackendOptions | None = None,
                 dims: dict[str, int] | None = None) -> Backend:
    """Open backend ``name`` for the voice in ``folder`` (``graph_files``: graph name -> ONNX file name;
    ``dims``: the voice config's graph sizes, :func:`uniflg.backends.graphs.fixed_dims`, that ONNX Runtime checks
    each graph against when it opens it)."""
    if name not in BACKEND_NAMES:
        raise NotFoundError("backend", name, BACKEND_NAMES)
    options = options or BackendOptions()
    for given in (threads, options.threads):
        if given is not None and (isinstance(given, bool) or not isinstance(given, int) or not 1 <= given <= 1024):
            raise InvalidInputError(f"threads must be a whole number from 1 to 1024 (or None: the cores this "
                                    f"process may use); got {given!r}")
    usable = available_backends(bool(graph_files), weights is not None and weights.is_file())
    if name == "auto":
        name = _choose(usable)
    elif usable[name]:
        raise BackendUnavailableError(f"backend {name!r} is not available: {usable[name]}")
    if name != "tensorrt" and (options.cuda_graphs or options.contexts != BackendOptions.contexts):
        option = "--cuda-graphs" if options.cuda_graphs else "--trt-contexts"  # asked for: never ignored
        raise InvalidInputError(f"{option} applies to the tensorrt backend; this voice runs on {name} (choose "
                                "--backend tensorrt, or leave the option out)")
    if name == "torch":
        from uniflg.backends.torch_backend import TorchBackend

        if options.precision == "fp16" or options.providers:  # asked for, not an environment default: never ignored
            option = "--precision fp16" if options.precision == "fp16" else "--ort-providers"
            raise InvalidInputError(f"{option} applies to the onnxruntime and tensorrt backends; the torch backend "
                                    "runs fp32 on its own device (choose --backend onnxruntime, or leave the option "
                                    "out)")
        return TorchBackend(weights)
    precision = resolve_precision(options.precision)
    if name == "onnxruntime":
        from uniflg.backends.onnx_backend import OnnxBackend

        return OnnxBackend(folder, graph_files, ort_providers(options), threads or options.threads, precision,
                           options.io_binding, dims)
    from uniflg.backends.tensorrt_backend import TensorRTBackend

    # A graph without an engine falls back to ONNX Runtime, on the providers chosen here.
    options = dataclasses.replace(options, providers=tuple(ort_providers(options)))
    return TensorRTBackend(folder, graph_files, precision, options=options)


def add_backend_arguments(p: argparse.ArgumentParser) -> None:
    """``--precision``, ``--ort-providers``, ``--trt-contexts``, ``--cuda-graphs`` (with ``--backend``)."""
    p.add_argument("--precision", choices=PRECISIONS, default=None,
                   help="fp32 (default) or fp16 (tensorrt, onnxruntime: the strongly typed fp16 graphs)")
    p.add_argument("--ort-providers", default=None, metavar="LIST",
                   help="onnxruntime execution providers in order, e.g. tensorrt,cuda,cpu (default: cuda,cpu "
                        "where CUDA is usable, else cpu)")
    p.add_argument("--trt-contexts", type=int, default=4, metavar="N",
                   help="tensorrt execution contexts per graph: concurrent streams that never wait (default 4)")
    p.add_argument("--cuda-graphs", action="store_true", help="tensorrt: replay CUDA graphs for repeated shapes")


def options_from_args(args: argparse.Namespace) -> BackendOptions:
    """The :class:`BackendOptions` of parsed :func:`add_backend_arguments` options (bad values raise the SDK's
    typed errors, which the CLI reports in one line with exit status 2)."""
    from uniflg.backends.onnx_backend import parse_providers
    from uniflg.errors import InvalidInputError

    given = getattr(args, "ort_providers", None)  # "" is a list that names nothing: refused, not the default
    providers = parse_providers(given) if given is not None else ()
    contexts = getattr(args, "trt_contexts", 4)
    if contexts < 1:
        raise InvalidInputError(f"--trt-contexts must be >= 1; got {contexts}")
    return BackendOptions(precision=getattr(args, "precision", None), providers=providers, contexts=contexts,
                          cuda_graphs=bool(getattr(args, "cuda_graphs", False)))


def _choose(usable: dict[str, str]) -> str:
    """Fastest first: TensorRT engines on a GPU, then ONNX Runtime (CUDA or CPU), then torch."""
    for name in ("tensorrt", "onnxruntime", "torch"):
        if not usable.get(name):
            skipped = {k: v for k, v in usable.items() if v}
            log.info("backend auto -> %s (unavailable: %s)", name, skipped or "none")
            return name
    raise BackendUnavailableError("no backend can run this voice: " + "; ".join(f"{k}: {v}" for k, v in usable.items()))


__all__ = ["BACKEND_NAMES", "Backend", "BackendOptions", "add_backend_arguments", "available_backends",
           "open_backend", "options_from_args", "ort_providers", "voice_backends"]
