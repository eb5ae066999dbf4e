"""TensorRT 10.x / 11.x differences, decided once from the installed module's version and API surface.

Kept free of TensorRT itself: :func:`surface_of` reads what a ``tensorrt`` module offers into a plain
:class:`TrtSurface`, and :func:`build_recipe` turns that (plus a precision) into the flags the builder sets, so
the decision logic is tested in CI on recorded surfaces of both major versions.

What changed (NVIDIA, "Migrating from TensorRT 10.x to 11.x", Python API; "Removed Python APIs and Replacements"):

- 11.x builds only strongly typed networks: ``BuilderFlag.FP16``/``BF16``/``INT8``/``FP8``/``INT4``/``FP4`` and
  ``OBEY``/``PREFER_PRECISION_CONSTRAINTS`` are gone; reduced precision comes from the graph's own types (we
  convert the ONNX graph, :mod:`uniflg.backends.fp16`). ``NetworkDefinitionCreationFlag.STRONGLY_TYPED`` opts in
  on 10.x and is accepted (ignored) on 11.x, so it is set whenever the enum has it.
- Removed and not used here: ``ICudaEngine.device_memory_size`` (-> ``device_memory_size_v2``), calibrators and
  quantization flags, ``IAlgorithmSelector``, ``Builder.platform_has_fast_fp16``.
- Unchanged and used on both: ``Builder.create_network``, ``OnnxParser.parse_from_file``,
  ``IBuilderConfig.set_memory_pool_limit``, optimization profiles, ``build_serialized_network``,
  ``Runtime.deserialize_cuda_engine``, the name-based tensor API (``num_io_tensors``, ``get_tensor_name``,
  ``get_tensor_mode``, ``get_tensor_dtype``), ``IExecutionContext.set_input_shape``/``set_tensor_address``/
  ``get_tensor_shape``/``execute_async_v3``.
- TF32: fp32 engines clear ``BuilderFlag.TF32`` (on by default) so they stay the float32 parity reference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from uniflg.backends import graphs
from uniflg.errors import BackendUnavailableError, ModelFormatError

SUPPORTED_MAJORS = (10, 11)
PRECISIONS = ("fp32", "fp16")


@dataclass(frozen=True)
class TrtSurface:
    """What an installed ``tensorrt`` offers that our builder depends on (names only)."""

    version: str
    builder_flags: frozenset[str]
    network_flags: frozenset[str]


@dataclass(frozen=True)
class BuildRecipe:
    """How to build one engine: which ONNX graph, which network-creation and builder flags (enum member names)."""

    major: int
    graph: str  # "fp32": the voice's graph; "fp16": its strongly typed fp16 conversion
    network_flags: tuple[str, ...]
    clear_builder_flags: tuple[str, ...]  # no flag is ever set: precision lives in the graph


def parse_version(text: str) -> tuple[int, int, int]:
    """``"11.4.0.106"`` -> (11, 4, 0); the leading numbers of a dotted version (pre-release tags ignored)."""
    match = re.match(r"^\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?", text)
    if not match:
        raise BackendUnavailableError(f"cannot read the TensorRT version {text!r}")
    major, minor, patch = (int(g) if g else 0 for g in match.groups())
    return major, minor, patch


def _members(enum: Any) -> frozenset[str]:
    """Member names of a pybind11 enum (``__members__``) or of any namespace with upper-case attributes."""
    members = getattr(enum, "__members__", None)
    if members is not None:
        return frozenset(members)
    return frozenset(n for n in dir(enum) if n.isupper())


def surface_of(trt: Any) -> TrtSurface:
    """Read the surface of an imported ``tensorrt`` module."""
    return TrtSurface(str(trt.__version__), _members(trt.BuilderFlag), _members(trt.NetworkDefinitionCreationFlag))


def build_recipe(surface: TrtSurface, precision: str) -> BuildRecipe:
    """The one build path for 10.x and 11.x: strongly typed whenever the flag exists, never a precision flag.

    Raises :class:`BackendUnavailableError` for a TensorRT major version outside :data:`SUPPORTED_MAJORS` (a
    newer one is refused rather than guessed at) and ``ValueError`` for a precision outside :data:`PRECISIONS`."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}")
    major = parse_version(surface.version)[0]
    if major not in SUPPORTED_MAJORS:
        raise BackendUnavailableError(f"TensorRT {surface.version} is not supported; this SDK supports "
                                      f"{', '.join(f'{m}.x' for m in SUPPORTED_MAJORS)}")
    network = ("STRONGLY_TYPED",) if "STRONGLY_TYPED" in surface.network_flags else ()
    if precision == "fp16" and major == 10 and not network:
        raise BackendUnavailableError(f"TensorRT {surface.version} has no STRONGLY_TYPED networks; fp16 engines "
                                      "need TensorRT >= 10.0 with strong typing")
    clear = ("TF32",) if precision == "fp32" and "TF32" in surface.builder_flags else ()
    return BuildRecipe(major, precision, network, clear)


def network_creation_flags(trt: Any, recipe: BuildRecipe) -> int:
    """The bit mask ``Builder.create_network`` takes."""
    mask = 0
    for name in recipe.network_flags:
        mask |= 1 << int(getattr(trt.NetworkDefinitionCreationFlag, name))
    return mask


def apply_builder_flags(trt: Any, config: Any, recipe: BuildRecipe) -> None:
    for name in recipe.clear_builder_flags:
        config.clear_flag(getattr(trt.BuilderFlag, name))


def profile_shapes(spec: graphs.GraphSpec, network_shape: tuple[int, ...], name: str
                   ) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(min, opt, max) of input ``name`` for an optimization profile: its static dims as they are, each dynamic
    dim (-1) from ``graphs.AXIS_RANGES``. Shared by the TensorRT builder and ONNX Runtime's TensorRT provider."""
    tensor = next((t for t in spec.inputs if t.name == name), None)
    if tensor is None:
        raise ModelFormatError(f"{spec.name}: the graph has an input {name!r} that graphs.py does not name")
    shapes: list[list[int]] = [[], [], []]
    for axis, dim in enumerate(network_shape):
        if dim >= 0:
            for s in shapes:
                s.append(int(dim))
            continue
        label = tensor.shape[axis] if axis < len(tensor.shape) else None
        if not isinstance(label, str) or label not in graphs.AXIS_RANGES:
            raise ModelFormatError(f"{spec.name}.{name}: axis {axis} is dynamic but has no range in AXIS_RANGES")
        for s, v in zip(shapes, graphs.AXIS_RANGES[label], strict=True):
            s.append(v)
    return tuple(shapes[0]), tuple(shapes[1]), tuple(shapes[2])
