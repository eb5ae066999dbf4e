"""ONNX Runtime backend: one session per exported graph. CPU by default; the CUDA and TensorRT execution
providers are used where installed and asked for (``providers``). Needs no torch."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from uniflg.backends import graphs
from uniflg.errors import BackendUnavailableError, ModelFormatError

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"


def available_providers() -> list[str]:
    try:
        import onnxruntime as ort
    except ImportError:
        return []
    return list(ort.get_available_providers())


def default_threads() -> int:
    """Intra-op threads: the cores this process may use (ONNX Runtime's own default counts all cores)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class OnnxBackend:
    name = "onnxruntime"

    def __init__(self, folder: Path, graph_files: dict[str, str], providers: Sequence[str] | None = None,
                 threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise BackendUnavailableError("the onnxruntime backend needs onnxruntime: pip install onnxruntime") from exc
        have = ort.get_available_providers()
        wanted = list(providers) if providers else [CPU]
        missing = [p for p in wanted if p not in have]
        if missing:
            raise BackendUnavailableError(f"ONNX Runtime execution providers not installed here: {missing}; "
                                          f"available: {have}")
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = threads or default_threads()
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # Idle worker threads sleep instead of spinning: the SDK shares the CPU with a game engine or a
        # VTuber app, and spinning threads starve (and are starved by) other busy processes. On a 2-core CPU
        # under load this made the waveform decoder 1.7x faster; UNIFLG_ORT_SPINNING=1 restores spinning.
        spinning = os.environ.get("UNIFLG_ORT_SPINNING", "0") == "1"
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
        opts.log_severity_level = 3
        self.providers = wanted
        self.threads = opts.intra_op_num_threads
        self._version = ort.__version__
        self._ort, self._options = ort, opts
        self.paths: dict[str, Path] = {}
        for name, filename in graph_files.items():
            path = Path(folder) / filename
            if not path.is_file():
                raise ModelFormatError(f"voice graph missing: {path}")
            self.paths[name] = path
        # Sessions open on first use: `uniflg speak` never runs the speech-driven or reference-audio graphs.
        self.sessions: dict[str, Any] = {}
        self.inputs: dict[str, set[str]] = {}  # the exporter drops unused inputs (g of a z_u-only graph)

    def session(self, graph: str) -> Any:
        """The ONNX Runtime session of ``graph``, opened now if this is its first use."""
        if graph not in self.sessions:
            path = self.paths.get(graph)
            if path is None:
                raise ModelFormatError(f"this voice has no {graph!r} graph; it has {sorted(self.paths)}")
            session = self._ort.InferenceSession(str(path), sess_options=self._options, providers=self.providers)
            self.inputs[graph] = {i.name for i in session.get_inputs()}
            self.sessions[graph] = session
        return self.sessions[graph]

    def run(self, graph: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        session = self.session(graph)
        spec = graphs.GRAPHS[graph]
        used = self.inputs[graph]
        feed = {t.name: np.ascontiguousarray(inputs[t.name], dtype=t.dtype) for t in spec.inputs if t.name in used}
        out = session.run(spec.output_names, feed)
        return dict(zip(spec.output_names, out, strict=True))

    def describe(self) -> str:
        return f"onnxruntime {self._version} ({', '.join(self.providers)}; {self.threads} threads)"
