"""What every backend offers the runtime: run one named graph on NumPy arrays; and the options that choose how.
No torch here.

Thread safety (the one statement of the contract; :class:`uniflg.voice.Voice` repeats it): every backend's
:meth:`Backend.run` may be called from several threads at once. ONNX Runtime sessions are safe for concurrent
``run``; the torch backend runs modules in inference mode without shared mutable state; the TensorRT backend lends
each caller its own execution context, CUDA stream and device buffers from a pool (``BackendOptions.contexts``;
callers beyond that wait). So one loaded voice can serve many streams.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from uniflg.errors import InvalidInputError

PRECISIONS = ("fp32", "fp16")


class Backend(Protocol):
    """A backend runs the graphs of :mod:`uniflg.backends.graphs` by name; inputs and outputs are NumPy arrays
    keyed by the graph's input/output names (float32 / int64)."""

    name: str

    def run(self, graph: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class BackendOptions:
    """How a backend runs a voice (CLI: ``--precision``, ``--ort-providers``, ``--trt-contexts``,
    ``--cuda-graphs``; see docs/export.md).

    precision:    ``fp32`` or ``fp16`` (TensorRT and ONNX Runtime; fp16 runs the strongly typed fp16 graphs of
                  :mod:`uniflg.backends.fp16`). None: ``UNIFLG_PRECISION`` (``UNIFLG_TRT_PRECISION``) or fp32.
    providers:    ONNX Runtime execution providers in priority order, short names ``tensorrt``, ``cuda``, ``cpu``
                  or full names; () picks CUDA then CPU where CUDA is usable (``UNIFLG_ORT_PROVIDERS`` overrides).
    contexts:     TensorRT execution contexts per graph (concurrent callers that do not wait; 1 = a lock).
    cuda_graphs:  TensorRT: replay a captured CUDA graph when a context sees input shapes it has seen before.
    io_binding:   ONNX Runtime: bind inputs from reused buffers (a pool of IO bindings). None: on with a GPU
                  provider, off on the CPU.
    threads:      ONNX Runtime intra-op threads (None: the cores this process may use).
    """

    precision: str | None = None
    providers: tuple[str, ...] = ()
    contexts: int = 4
    cuda_graphs: bool = False
    io_binding: bool | None = None
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.precision is not None and self.precision not in PRECISIONS:
            raise InvalidInputError(f"precision must be one of {PRECISIONS}; got {self.precision!r}")
        if self.contexts < 1:
            raise InvalidInputError(f"contexts must be >= 1; got {self.contexts}")
        if self.io_binding is not None and not isinstance(self.io_binding, bool):  # "no" would be truthy
            raise InvalidInputError(f"io_binding must be True, False or None (on with a GPU provider); got "
                                    f"{self.io_binding!r}")


def resolve_precision(precision: str | None) -> str:
    """An explicit precision, else ``UNIFLG_PRECISION``, else ``UNIFLG_TRT_PRECISION`` (the older name), else
    ``fp32``. Raises :class:`InvalidInputError` naming the source of a bad value."""
    source = "precision"
    if precision is None:
        for var in ("UNIFLG_PRECISION", "UNIFLG_TRT_PRECISION"):
            if os.environ.get(var):
                precision, source = os.environ[var], var
                break
    precision = precision or "fp32"
    if precision not in PRECISIONS:
        raise InvalidInputError(f"{source} must be one of {PRECISIONS}; got {precision!r}")
    return precision


def engines_root(folder: Path) -> Path:
    """Where a voice's built artefacts go (TensorRT plans, fp16 graphs, ONNX Runtime TensorRT caches):
    ``<voice>/engines`` when the voice folder is writable, else ``$UNIFLG_CACHE`` (default ``~/.cache/uniflg``)
    ``/engines/<voice name>-<hash of its path>`` (an installed package's embedded voice is read-only)."""
    folder = Path(folder).resolve()
    if os.access(folder, os.W_OK):
        return folder / "engines"
    base = Path(os.environ.get("UNIFLG_CACHE") or Path.home() / ".cache" / "uniflg")
    return base / "engines" / f"{folder.name}-{hashlib.sha256(str(folder).encode()).hexdigest()[:12]}"
