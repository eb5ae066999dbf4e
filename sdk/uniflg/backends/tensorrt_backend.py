"""TensorRT backend: serialized engines built from the voice's ONNX graphs with the TensorRT Python API, run
with explicit device buffers (cuda-python). Imports TensorRT lazily; without it (or without an NVIDIA GPU)
constructing the backend raises :class:`BackendUnavailableError` with the reason.

Engines are cached per GPU name and TensorRT version under ``<voice>/engines/<gpu>_trt<version>/`` as
``<graph>.<precision>.plan``; a missing engine is built on first load (minutes) or ahead of time with
``uniflg export --format tensorrt``. A graph whose engine cannot be built runs on ONNX Runtime instead (logged).
Precision: ``fp32`` (default; parity with ONNX Runtime) or ``fp16`` (``UNIFLG_TRT_PRECISION=fp16``).
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from uniflg.backends import graphs
from uniflg.errors import BackendUnavailableError, ModelFormatError
from uniflg.fileio import atomic_write_bytes

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "fp16")
WORKSPACE_BYTES = 2 << 30


def _import() -> tuple[Any, Any]:
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
    return trt, cudart


def _check(result: Any) -> Any:
    """cuda-python returns (err, *values); raise on an error code."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise BackendUnavailableError(f"CUDA error {err}")
    return values[0] if len(values) == 1 else values


def gpu_name(cudart: Any) -> str:
    props = _check(cudart.cudaGetDeviceProperties(0))
    name = props.name.decode() if isinstance(props.name, bytes) else str(props.name)
    return name.strip("\x00 ")


def engine_dir(folder: Path, trt: Any, cudart: Any) -> Path:
    """``<voice>/engines/<gpu>_trt<version>``: engines are valid only for one GPU model and TensorRT version."""
    tag = re.sub(r"[^A-Za-z0-9]+", "-", gpu_name(cudart)).strip("-")
    return Path(folder) / "engines" / f"{tag}_trt{trt.__version__}"


def profile_shapes(spec: graphs.GraphSpec, network_shape: tuple[int, ...], name: str
                   ) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(min, opt, max) of one input for the optimization profile, from graphs.AXIS_RANGES."""
    tensor = next(t for t in spec.inputs if t.name == name)
    shapes: list[list[int]] = [[], [], []]
    for axis, dim in enumerate(network_shape):
        if dim >= 0:
            for s in shapes:
                s.append(int(dim))
            continue
        label = tensor.shape[axis]
        if not isinstance(label, str) or label not in graphs.AXIS_RANGES:
            raise ModelFormatError(f"{spec.name}.{name}: axis {axis} is dynamic but has no range in AXIS_RANGES")
        for s, v in zip(shapes, graphs.AXIS_RANGES[label], strict=True):
            s.append(v)
    return tuple(shapes[0]), tuple(shapes[1]), tuple(shapes[2])


def build_engine(onnx_path: Path, plan_path: Path, graph: str, precision: str = "fp32") -> Path:
    """Parse an ONNX graph, add one optimization profile for its dynamic axes, build and serialize."""
    trt, _ = _import()
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}")
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch (the only mode in TensorRT 10)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelFormatError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    if precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    spec = graphs.GRAPHS[graph]
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        profile.set_shape(tensor.name, *profile_shapes(spec, tuple(tensor.shape), tensor.name))
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ModelFormatError(f"TensorRT failed to build an engine for {onnx_path}")
    atomic_write_bytes(plan_path, bytes(serialized))
    return plan_path


class _Engine:
    def __init__(self, trt: Any, cudart: Any, runtime: Any, plan: Path) -> None:
        self.trt, self.cudart = trt, cudart
        self.engine = runtime.deserialize_cuda_engine(plan.read_bytes())
        if self.engine is None:
            raise ModelFormatError(f"cannot deserialize TensorRT engine {plan}")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        mode = trt.TensorIOMode.INPUT
        self.inputs = [n for n in names if self.engine.get_tensor_mode(n) == mode]
        self.outputs = [n for n in names if self.engine.get_tensor_mode(n) != mode]
        self.stream = _check(cudart.cudaStreamCreate())

    def run(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        trt, cudart = self.trt, self.cudart
        kind = cudart.cudaMemcpyKind
        buffers = []
        try:
            for name in self.inputs:
                arr = np.ascontiguousarray(feed[name], dtype=trt.nptype(self.engine.get_tensor_dtype(name)))
                self.context.set_input_shape(name, arr.shape)
                ptr = _check(cudart.cudaMalloc(max(arr.nbytes, 1)))
                buffers.append(ptr)
                _check(cudart.cudaMemcpyAsync(ptr, arr.ctypes.data, arr.nbytes, kind.cudaMemcpyHostToDevice,
                                              self.stream))
                self.context.set_tensor_address(name, ptr)
            host: dict[str, np.ndarray] = {}
            for name in self.outputs:
                shape = tuple(self.context.get_tensor_shape(name))
                host[name] = np.empty(shape, dtype=trt.nptype(self.engine.get_tensor_dtype(name)))
                ptr = _check(cudart.cudaMalloc(max(host[name].nbytes, 1)))
                buffers.append(ptr)
                self.context.set_tensor_address(name, ptr)
            if not self.context.execute_async_v3(self.stream):
                raise ModelFormatError("TensorRT execution failed")
            for name, ptr in zip(self.outputs, buffers[len(self.inputs):], strict=True):
                _check(cudart.cudaMemcpyAsync(host[name].ctypes.data, ptr, host[name].nbytes,
                                              kind.cudaMemcpyDeviceToHost, self.stream))
            _check(cudart.cudaStreamSynchronize(self.stream))
        finally:
            for ptr in buffers:
                cudart.cudaFree(ptr)
        return {k: v.astype(np.float32) if v.dtype == np.float16 else v for k, v in host.items()}


class TensorRTBackend:
    name = "tensorrt"

    def __init__(self, folder: Path, graph_files: dict[str, str], precision: str | None = None,
                 build_missing: bool = True) -> None:
        trt, cudart = _import()
        try:
            _check(cudart.cudaSetDevice(0))
        except BackendUnavailableError as exc:
            raise BackendUnavailableError(f"no usable CUDA GPU for TensorRT ({exc})") from exc
        self.precision = precision or os.environ.get("UNIFLG_TRT_PRECISION", "fp32")
        if self.precision not in PRECISIONS:
            source = "precision" if precision else "UNIFLG_TRT_PRECISION"
            raise BackendUnavailableError(f"{source} must be one of {PRECISIONS}; got {self.precision!r}")
        self._trt_version, self._gpu = trt.__version__, gpu_name(cudart)
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        cache = engine_dir(folder, trt, cudart)
        self.engines: dict[str, _Engine] = {}
        self.fallback: dict[str, str] = {}
        for graph, filename in graph_files.items():
            plan = cache / f"{graph}.{self.precision}.plan"
            try:
                if not plan.is_file():
                    if not build_missing:
                        raise ModelFormatError(f"engine missing: {plan}")
                    log.warning("building TensorRT engine %s (once per GPU and TensorRT version)", plan)
                    build_engine(Path(folder) / filename, plan, graph, self.precision)
                self.engines[graph] = _Engine(trt, cudart, runtime, plan)
            except ModelFormatError as exc:
                log.warning("graph %s runs on ONNX Runtime: %s", graph, exc)
                self.fallback[graph] = filename
        self._ort = None
        if self.fallback:
            from uniflg.backends.onnx_backend import OnnxBackend

            self._ort = OnnxBackend(Path(folder), self.fallback)

    def run(self, graph: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        engine = self.engines.get(graph)
        if engine is None:
            if graph not in self.fallback:
                raise ModelFormatError(f"this voice has no {graph!r} graph; it has "
                                       f"{sorted([*self.engines, *self.fallback])}")
            assert self._ort is not None  # opened for the fallback graphs
            return self._ort.run(graph, inputs)
        return engine.run({name: inputs[name] for name in engine.inputs})

    def describe(self) -> str:
        extra = f"; on ONNX Runtime: {sorted(self.fallback)}" if self.fallback else ""
        return f"tensorrt {self._trt_version} {self.precision} on {self._gpu}{extra}"
