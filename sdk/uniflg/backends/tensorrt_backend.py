"""TensorRT backend (TensorRT 10.x and 11.x): serialized engines built from the voice's ONNX graphs with the
TensorRT Python API, run with explicit device buffers (cuda-python). Imports TensorRT lazily; without it (or
without an NVIDIA GPU) constructing the backend raises :class:`BackendUnavailableError` with the reason.

Engines are cached per GPU name, TensorRT version and precision under
``<voice>/engines/<gpu>_trt<version>/<graph>.<precision>.plan``; a missing engine is built on first load (minutes)
or ahead of time with ``uniflg export --format tensorrt``. A graph whose engine cannot be built runs on ONNX
Runtime instead (logged, and named by :meth:`TensorRTBackend.describe`).

Precision: ``fp32`` (default; the parity reference, TF32 off) or ``fp16``, built from the strongly typed fp16
graph of :mod:`uniflg.backends.fp16` (float32 inputs and outputs), never from ``BuilderFlag.FP16`` (removed in
TensorRT 11). Version differences are decided once in :mod:`uniflg.backends.trt_compat`.

Concurrency: each graph's engine has a :class:`~uniflg.backends.pool.SlotPool` of execution contexts (``contexts``,
default 4, made on demand); a context owns its CUDA stream and a :class:`~uniflg.backends.pool.BufferArena` of
device buffers reused per shape bucket, so concurrent streams never share shapes or addresses and steady-state
calls allocate nothing. With ``cuda_graphs`` a context captures one CUDA graph per input-shape combination it has
run before and replays it (recaptured when a buffer moves to a bigger bucket).
"""

from __future__ import annotations

import functools
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np

from uniflg.backends import graphs
from uniflg.backends.base import BackendOptions, engines_root, resolve_precision
from uniflg.backends.pool import BufferArena, SlotPool
from uniflg.backends.trt_compat import (
    apply_builder_flags,
    build_recipe,
    network_creation_flags,
    profile_shapes,
    surface_of,
)
from uniflg.errors import BackendUnavailableError, ModelFormatError
from uniflg.fileio import atomic_write_bytes

log = logging.getLogger(__name__)

WORKSPACE_BYTES = 2 << 30


@functools.lru_cache(maxsize=1)
def _import() -> tuple[Any, Any]:
    """(tensorrt, cudart), imported once; the version is checked here, once, for the whole process."""
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise BackendUnavailableError("the tensorrt backend needs TensorRT: pip install 'uniflg[trt]'") from exc
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        try:
            from cuda import cudart  # cuda-python < 12.6
        except ImportError as exc:
            raise BackendUnavailableError("the tensorrt backend needs cuda-python: pip install 'uniflg[trt]'") from exc
    build_recipe(surface_of(trt), "fp32")  # refuses an unsupported major version with the reason
    return trt, cudart


def _check(result: Any) -> Any:
    """cuda-python returns (err, *values); raise on an error code."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise BackendUnavailableError(f"CUDA error {err}")
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def gpu_name(cudart: Any) -> str:
    props = _check(cudart.cudaGetDeviceProperties(0))
    name = props.name.decode() if isinstance(props.name, bytes) else str(props.name)
    return name.strip("\x00 ")


def engine_dir(folder: Path, trt: Any, cudart: Any) -> Path:
    """``<voice>/engines/<gpu>_trt<version>``: engines are valid only for one GPU model and TensorRT version."""
    tag = re.sub(r"[^A-Za-z0-9]+", "-", gpu_name(cudart)).strip("-")
    return engines_root(Path(folder)) / f"{tag}_trt{trt.__version__}"


def plan_path(cache: Path, graph: str, precision: str) -> Path:
    return cache / f"{graph}.{precision}.plan"


def build_engine(folder: Path, filename: str, plan: Path, graph: str, precision: str = "fp32") -> Path:
    """Build the engine of voice graph ``folder/filename`` at ``plan``: parse the ONNX graph (its fp16 conversion
    for ``fp16``), one optimization profile from ``graphs.AXIS_RANGES``, serialize atomically. Minutes per graph."""
    trt, _ = _import()
    recipe = build_recipe(surface_of(trt), precision)
    onnx_path = Path(folder) / filename
    if recipe.graph == "fp16":
        from uniflg.backends.fp16 import fp16_graph

        onnx_path = fp16_graph(Path(folder), filename)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(network_creation_flags(trt, recipe))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelFormatError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    apply_builder_flags(trt, config, recipe)
    profile = builder.create_optimization_profile()
    spec = graphs.spec_of(graph)
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        profile.set_shape(tensor.name, *profile_shapes(spec, tuple(tensor.shape), tensor.name))
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ModelFormatError(f"TensorRT failed to build an engine for {onnx_path}")
    atomic_write_bytes(plan, bytes(serialized))
    return plan


class _DeviceAllocator:
    def __init__(self, cudart: Any) -> None:
        self.cudart = cudart

    def alloc(self, nbytes: int) -> object:
        return _check(self.cudart.cudaMalloc(nbytes))

    def address(self, handle: object) -> int:
        return int(handle)  # type: ignore[call-overload]

    def free(self, handle: object) -> None:
        self.cudart.cudaFree(handle)


class _Context:
    """One pool slot: an execution context, its stream, its device buffers and its captured CUDA graphs."""

    def __init__(self, engine: _Engine) -> None:
        self.owner = engine
        self.context = engine.engine.create_execution_context()
        if self.context is None:
            raise BackendUnavailableError("TensorRT could not create an execution context (GPU memory?)")
        self.stream = _check(engine.cudart.cudaStreamCreate())
        self.arena = BufferArena(_DeviceAllocator(engine.cudart))
        self.graphs: dict[tuple[tuple[int, ...], ...], Any] = {}
        self.graphs_generation = self.arena.generation

    def run(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        e, cudart = self.owner, self.owner.cudart
        kind = cudart.cudaMemcpyKind
        for name in e.inputs:
            arr = np.ascontiguousarray(feed[name], dtype=e.dtypes[name])
            self.context.set_input_shape(name, arr.shape)
            buf = self.arena.get(name, arr.nbytes)
            _check(cudart.cudaMemcpyAsync(buf.address, arr.ctypes.data, arr.nbytes, kind.cudaMemcpyHostToDevice,
                                          self.stream))
            self.context.set_tensor_address(name, buf.address)
        host: dict[str, np.ndarray] = {}
        for name in e.outputs:
            host[name] = np.empty(tuple(self.context.get_tensor_shape(name)), dtype=e.dtypes[name])
            buf = self.arena.get(name, host[name].nbytes)
            self.context.set_tensor_address(name, buf.address)
        self._execute(tuple(tuple(np.shape(feed[n])) for n in e.inputs))
        for name in e.outputs:
            _check(cudart.cudaMemcpyAsync(host[name].ctypes.data, self.arena.buffers[name].address, host[name].nbytes,
                                          kind.cudaMemcpyDeviceToHost, self.stream))
        _check(cudart.cudaStreamSynchronize(self.stream))
        return {k: v.astype(np.float32) if v.dtype == np.float16 else v for k, v in host.items()}

    def _execute(self, key: tuple[tuple[int, ...], ...]) -> None:
        e, cudart = self.owner, self.owner.cudart
        if not e.cuda_graphs:
            if not self.context.execute_async_v3(int(self.stream)):
                raise ModelFormatError("TensorRT execution failed")
            return
        if self.graphs_generation != self.arena.generation:  # a buffer moved: captured addresses are stale
            self._drop_graphs()
        if key in self.graphs:
            _check(cudart.cudaGraphLaunch(self.graphs[key], self.stream))
            return
        # First time at these shapes: run normally (this also applies the new shapes), then capture for next time.
        if not self.context.execute_async_v3(int(self.stream)):
            raise ModelFormatError("TensorRT execution failed")
        mode = cudart.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
        _check(cudart.cudaStreamBeginCapture(self.stream, mode))
        ok = self.context.execute_async_v3(int(self.stream))
        graph = _check(cudart.cudaStreamEndCapture(self.stream))
        if ok:
            self.graphs[key] = _check(cudart.cudaGraphInstantiate(graph, 0))
        cudart.cudaGraphDestroy(graph)

    def _drop_graphs(self) -> None:
        for exec_graph in self.graphs.values():
            self.owner.cudart.cudaGraphExecDestroy(exec_graph)
        self.graphs.clear()
        self.graphs_generation = self.arena.generation

    def close(self) -> None:
        self._drop_graphs()
        self.arena.release()
        self.owner.cudart.cudaStreamDestroy(self.stream)


class _Engine:
    def __init__(self, trt: Any, cudart: Any, runtime: Any, plan: Path, contexts: int, cuda_graphs: bool) -> None:
        self.trt, self.cudart, self.cuda_graphs = trt, cudart, cuda_graphs
        self.engine = runtime.deserialize_cuda_engine(plan.read_bytes())
        if self.engine is None:
            raise ModelFormatError(f"cannot deserialize TensorRT engine {plan}")
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        mode = trt.TensorIOMode.INPUT
        self.inputs = [n for n in names if self.engine.get_tensor_mode(n) == mode]
        self.outputs = [n for n in names if self.engine.get_tensor_mode(n) != mode]
        self.dtypes = {n: np.dtype(trt.nptype(self.engine.get_tensor_dtype(n))) for n in names}
        self.pool: SlotPool[_Context] = SlotPool(lambda: _Context(self), contexts, close=_Context.close)
        with self.pool.slot():  # the first context now: a broken engine fails at load, not at the first request
            pass

    def run(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with self.pool.slot() as ctx:
            return ctx.run(feed)


class TensorRTBackend:
    name = "tensorrt"

    def __init__(self, folder: Path, graph_files: dict[str, str], precision: str | None = None,
                 build_missing: bool = True, options: BackendOptions | None = None) -> None:
        options = options or BackendOptions()
        trt, cudart = _import()
        try:
            _check(cudart.cudaSetDevice(0))
        except BackendUnavailableError as exc:
            raise BackendUnavailableError(f"no usable CUDA GPU for TensorRT ({exc})") from exc
        self.precision = resolve_precision(precision or options.precision)
        self.options = options
        self._trt_version, self._gpu = trt.__version__, gpu_name(cudart)
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        cache = engine_dir(folder, trt, cudart)
        self.engines: dict[str, _Engine] = {}
        self.fallback: dict[str, str] = {}
        for graph, filename in graph_files.items():
            plan = plan_path(cache, graph, self.precision)
            try:
                if not plan.is_file():
                    if not build_missing:
                        raise ModelFormatError(f"engine missing: {plan}")
                    log.warning("building TensorRT engine %s (once per GPU, TensorRT version and precision)", plan)
                    build_engine(Path(folder), filename, plan, graph, self.precision)
                self.engines[graph] = _Engine(trt, cudart, runtime, plan, options.contexts, options.cuda_graphs)
            except ModelFormatError as exc:
                log.warning("graph %s runs on ONNX Runtime: %s", graph, exc)
                self.fallback[graph] = filename
        self._ort = None
        if self.fallback:
            from uniflg.backends.onnx_backend import OnnxBackend, parse_providers

            providers = parse_providers(options.providers) if options.providers else None  # None: CPU
            self._ort = OnnxBackend(Path(folder), self.fallback, providers, options.threads, self.precision,
                                    options.io_binding)

    def run(self, graph: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        engine = self.engines.get(graph)
        if engine is None:
            if graph not in self.fallback:
                raise ModelFormatError(f"this voice has no {graph!r} graph; it has "
                                       f"{sorted([*self.engines, *self.fallback])}")
            assert self._ort is not None  # opened for the fallback graphs
            return self._ort.run(graph, inputs)
        return engine.run({name: inputs[name] for name in engine.inputs})

    def close(self) -> None:
        """Free every context, stream and device buffer (the voice must not be used afterwards)."""
        for engine in self.engines.values():
            engine.pool.close()

    def describe(self) -> str:
        extra = f"; on ONNX Runtime: {sorted(self.fallback)}" if self.fallback else ""
        graphs_on = "; CUDA graphs" if self.options.cuda_graphs else ""
        return (f"tensorrt {self._trt_version} {self.precision} on {self._gpu} "
                f"({self.options.contexts} contexts per graph{graphs_on}){extra}")

