"""ONNX Runtime backend: one session per exported graph. Needs no torch.

Execution providers (``providers``, CLI ``--ort-providers``): ``cpu`` by default; ``cuda`` (the CUDA provider of
``onnxruntime-gpu``) and ``tensorrt`` (ONNX Runtime's TensorRT provider, which builds and caches its own engines
under ``<voice>/engines/ort-trt/``) where installed. Precision ``fp16`` runs the voice's graphs converted by
:mod:`uniflg.backends.fp16`. Sessions are safe for concurrent ``run``; with ``io_binding`` each caller borrows an
IO binding and its reused input buffers from a :class:`~uniflg.backends.pool.SlotPool`.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from uniflg.backends import graphs
from uniflg.backends.base import engines_root
from uniflg.backends.pool import BufferArena, HostAllocator, SlotPool
from uniflg.errors import BackendUnavailableError, ModelFormatError, NotFoundError

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
SHORT_NAMES = {"cpu": CPU, "cuda": CUDA, "tensorrt": TENSORRT}
GPU_PROVIDERS = (CUDA, TENSORRT)
POOL_SIZE = 16  # IO bindings per graph: one per concurrent stream of `uniflg serve` (default 8, tests use 16)


def available_providers() -> list[str]:
    try:
        import onnxruntime as ort
    except ImportError:
        return []
    return list(ort.get_available_providers())


def parse_providers(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"cuda,cpu"`` (short or full names, comma list or sequence) -> full provider names, in order.
    Raises :class:`NotFoundError` naming the accepted names."""
    items = text.split(",") if isinstance(text, str) else list(text)
    out: list[str] = []
    full = set(SHORT_NAMES.values())
    for item in (i.strip() for i in items):
        if not item:
            continue
        name = SHORT_NAMES.get(item.lower(), item)
        if name not in full:
            raise NotFoundError("ONNX Runtime provider", item, [*SHORT_NAMES, *SHORT_NAMES.values()])
        if name not in out:
            out.append(name)
    if not out:
        raise NotFoundError("ONNX Runtime provider", str(text), list(SHORT_NAMES))
    return tuple(out)


def default_threads() -> int:
    """Intra-op threads: the cores this process may use (ONNX Runtime's own default counts all cores)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def provider_options(provider: str, folder: Path, precision: str) -> dict[str, Any]:
    """Options per provider. TensorRT: an engine cache in the voice folder (built once, minutes), fp32 unless the
    graph itself is fp16 (the provider's fp16 flag is weak typing, gone in TensorRT 11)."""
    if provider == TENSORRT:
        cache = engines_root(Path(folder)) / "ort-trt" / precision
        cache.mkdir(parents=True, exist_ok=True)
        return {"trt_engine_cache_enable": "True", "trt_engine_cache_path": str(cache),
                "trt_timing_cache_enable": "True", "trt_timing_cache_path": str(cache)}
    if provider == CUDA:
        return {"cudnn_conv_algo_search": "HEURISTIC"}  # EXHAUSTIVE re-tunes for every new window length
    return {}


def trt_profile_options(session: Any, spec: graphs.GraphSpec) -> dict[str, str]:
    """TensorRT provider profile shapes ``name:1x64x...`` (min, opt, max) from ``graphs.AXIS_RANGES``, so its
    engine covers every length this SDK sends instead of being rebuilt for each new one."""
    from uniflg.backends.trt_compat import profile_shapes

    parts: dict[str, list[str]] = {"trt_profile_min_shapes": [], "trt_profile_opt_shapes": [],
                                   "trt_profile_max_shapes": []}
    for inp in session.get_inputs():
        shape = tuple(d if isinstance(d, int) else -1 for d in inp.shape)
        for key, dims in zip(parts, profile_shapes(spec, shape, inp.name), strict=True):
            parts[key].append(f"{inp.name}:{'x'.join(str(d) for d in dims)}")
    return {k: ",".join(v) for k, v in parts.items()}


class _Binding:
    """One pool slot: an IO binding of one session and the reused host buffers of its inputs."""

    def __init__(self, session: Any) -> None:
        self.io = session.io_binding()
        self.arena = BufferArena(HostAllocator())


class OnnxBackend:
    name = "onnxruntime"

    def __init__(self, folder: Path, graph_files: dict[str, str], providers: Sequence[str] | None = None,
                 threads: int | None = None, precision: str = "fp32", io_binding: bool | None = None,
                 dims: dict[str, int] | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise BackendUnavailableError("the onnxruntime backend needs onnxruntime: pip install onnxruntime") from exc
        self._ort = ort
        from onnxruntime.capi.onnxruntime_pybind11_state import InvalidArgument

        self._invalid_argument = InvalidArgument
        have = ort.get_available_providers()
        wanted = list(providers) if providers else [CPU]
        missing = [p for p in wanted if p not in have]
        if missing:
            raise BackendUnavailableError(f"ONNX Runtime execution providers not installed here: {missing}; "
                                          f"available: {have} (GPU providers: pip install 'uniflg[gpu]')")
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
        opts.log_severity_level = 4  # fatal only: a failing graph is raised as one ModelFormatError instead
        # Every call has new input lengths. A memory pattern is planned and cached per distinct shape set, so
        # with it on a long-running server's memory creeps with each new text length; off, per-call planning
        # costs nothing measurable here.
        opts.enable_mem_pattern = False
        self.providers, self.precision = wanted, precision
        self.threads = opts.intra_op_num_threads
        self._version = ort.__version__
        self._folder, self._options = Path(folder), opts
        self.paths: dict[str, Path] = {}
        for name, filename in graph_files.items():
            if not (Path(folder) / filename).is_file():
                raise ModelFormatError(f"voice graph missing: {Path(folder) / filename}")
            self.paths[name] = Path(folder) / filename
        # Sessions open on first use: `uniflg speak` never runs the speech-driven or reference-audio graphs.
        self.sessions: dict[str, Any] = {}
        self.inputs: dict[str, set[str]] = {}  # the exporter drops unused inputs (g of a z_u-only graph)
        self.pools: dict[str, SlotPool[_Binding]] = {}
        self._opening = threading.Lock()  # concurrent first calls open a graph's session once
        self.io_binding = any(p in GPU_PROVIDERS for p in wanted) if io_binding is None else io_binding
        self.dims = dims  # the config's graph sizes (graphs.fixed_dims): each graph is checked against them

    def session(self, graph: str) -> Any:
        """The ONNX Runtime session of ``graph``, opened now if this is its first use."""
        session = self.sessions.get(graph)
        if session is not None:
            return session
        with self._opening:
            if graph not in self.sessions:
                path = self.paths.get(graph)
                if path is None:
                    raise ModelFormatError(f"this voice has no {graph!r} graph; it has {sorted(self.paths)}")
                try:
                    session = self._session(self._graph_path(path), graphs.spec_of(graph))
                except Exception as exc:  # noqa: BLE001 - ONNX Runtime raises untyped errors for broken graphs
                    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                    raise ModelFormatError(f"ONNX Runtime cannot load the graph {path}: {reason}") from exc
                if self.dims is not None:  # a graph of another model, or a config edited after export
                    graphs.check_signature(graph, str(path), {i.name: i.shape for i in session.get_inputs()},
                                           {o.name: o.shape for o in session.get_outputs()}, self.dims)
                self.inputs[graph] = {i.name for i in session.get_inputs()}
                self.pools[graph] = SlotPool(functools.partial(_Binding, session), POOL_SIZE)
                self.sessions[graph] = session
        return self.sessions[graph]

    def _graph_path(self, path: Path) -> Path:
        if self.precision == "fp16":
            from uniflg.backends.fp16 import fp16_graph

            return fp16_graph(path.parent, path.name)
        return path

    def _session(self, path: Path, spec: graphs.GraphSpec) -> Any:
        wanted, opts = self.providers, self._options
        options = [provider_options(p, self._folder, self.precision) for p in wanted]
        if TENSORRT in wanted:  # profile shapes need the graph's own static dims: read them from a CPU session
            probe = self._ort.InferenceSession(str(path), sess_options=opts, providers=[CPU])
            options[wanted.index(TENSORRT)].update(trt_profile_options(probe, spec))
        return self._ort.InferenceSession(str(path), sess_options=opts, providers=wanted, provider_options=options)

    def run(self, graph: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        session = self.session(graph)
        spec = graphs.spec_of(graph)
        used = self.inputs[graph]
        feed = {t.name: np.ascontiguousarray(inputs[t.name], dtype=t.dtype) for t in spec.inputs if t.name in used}
        try:
            if not self.io_binding:
                out = session.run(spec.output_names, feed)
                return dict(zip(spec.output_names, out, strict=True))
            with self.pools[graph].slot() as slot:
                return self._run_bound(session, slot, spec, feed)
        except self._invalid_argument as exc:  # our inputs are checked: the graph disagrees with voice.json
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelFormatError(f"{self.paths[graph]} disagrees with its voice.json (a speaker or emotion "
                                   f"index, or a size, the graph does not have): {reason}") from exc

    def _run_bound(self, session: Any, slot: _Binding, spec: graphs.GraphSpec, feed: dict[str, np.ndarray]
                   ) -> dict[str, np.ndarray]:
        """Copy each input into this slot's reused buffer, bind it by address, run, read the outputs."""
        io = slot.io
        io.clear_binding_inputs()
        io.clear_binding_outputs()
        for name, array in feed.items():
            buf = slot.arena.get(name, array.nbytes)
            view = np.frombuffer(buf.handle, dtype=array.dtype, count=array.size)  # type: ignore[call-overload]
            view[:] = array.ravel()
            io.bind_input(name, "cpu", 0, array.dtype, list(array.shape), buf.address)
        for name in spec.output_names:
            io.bind_output(name, "cpu")
        session.run_with_iobinding(io)
        return dict(zip(spec.output_names, io.copy_outputs_to_cpu(), strict=True))

    def describe(self) -> str:
        binding = "; io binding" if self.io_binding else ""
        return (f"onnxruntime {self._version} {self.precision} ({', '.join(self.providers)}; "
                f"{self.threads} threads{binding})")
