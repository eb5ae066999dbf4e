"""Half-precision graphs: an fp32 ONNX graph -> a strongly typed fp16 graph with float32 inputs and outputs.

TensorRT 11 builds only strongly typed networks (``BuilderFlag.FP16`` is gone), so an fp16 engine needs an fp16
graph; the same graph runs on ONNX Runtime (CPU for the parity test, CUDA for speed). The conversion is
``onnxconverter_common.float16.convert_float_to_float16`` (Microsoft's converter, used by ONNX Runtime's own
transformer tools) with ``keep_io_types=True``, so callers feed and receive float32 exactly as with fp32 graphs.

Ops whose fp16 arithmetic is risky stay float32 (:data:`KEEP_FP32`, the converter's ``op_block_list``): the
conv-STFT's power spectrum (``Pow``/``Sqrt``/``Log``), ``Exp``/``Softplus`` of log-durations and log-scales, the
recurrent ``GRU`` and ``LayerNormalization`` statistics (TensorRT warns that fp16 layer norms overflow). Their
outputs are still stored as fp16 between nodes.

ONNX Runtime's CPU provider runs such a graph with fp16 *storage* between nodes but float32 arithmetic (it
inserts casts around nodes that have no fp16 CPU kernel), so the CPU parity test measures the rounding of weights
and activations; fp16 arithmetic itself happens only on a GPU (TensorRT, CUDA provider).

Needs ``onnx`` and ``onnxconverter-common`` (``pip install 'uniflg[gpu]'`` or ``'uniflg[trt]'``); imported lazily.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from pathlib import Path
from typing import Any

from uniflg.backends.base import engines_root
from uniflg.errors import BackendUnavailableError, ModelFormatError
from uniflg.fileio import atomic_path

log = logging.getLogger(__name__)

# Stay float32 inside the fp16 graph (the converter inserts the casts around them).
KEEP_FP32: tuple[str, ...] = ("Pow", "Sqrt", "Log", "Exp", "Softplus", "GRU", "LayerNormalization")
FP16_DIR = "fp16"  # <voice>/engines/fp16/<graph>.onnx: GPU-independent, shared by TensorRT and ONNX Runtime


def _import() -> tuple[Any, Any]:
    try:
        import onnx
        from onnxconverter_common import float16
    except ImportError as exc:
        raise BackendUnavailableError("fp16 graphs need onnx and onnxconverter-common: "
                                      "pip install 'uniflg[gpu]'") from exc
    return onnx, float16


def fold_half_initializers(model: Any) -> int:
    """Replace ``Cast(fp16 initializer -> float)`` (how ``--half-weights`` voices store weights) by a float32
    initializer, so the converter sees an ordinary fp32 graph. -> the number of casts folded. In place."""
    onnx, _ = _import()
    from onnx import TensorProto, numpy_helper

    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    folded: list[Any] = []
    for node in graph.node:
        if node.op_type != "Cast" or len(node.input) != 1 or node.input[0] not in inits:
            continue
        to = next((a.i for a in node.attribute if a.name == "to"), None)
        source = inits[node.input[0]]
        if to != TensorProto.FLOAT or source.data_type != TensorProto.FLOAT16:
            continue
        array = numpy_helper.to_array(source).astype("float32")
        graph.initializer.append(numpy_helper.from_array(array, node.output[0]))
        folded.append(node)
    for node in folded:
        graph.node.remove(node)
    outputs = {n.output[0] for n in folded}
    for info in [v for v in graph.value_info if v.name in outputs]:
        graph.value_info.remove(info)
    used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
    for init in [t for t in graph.initializer if t.name not in used]:
        graph.initializer.remove(init)
    onnx.checker.check_model(model)
    return len(folded)


def convert_model(model: Any, keep_fp32: tuple[str, ...] = KEEP_FP32) -> Any:
    """An fp32 ``onnx.ModelProto`` -> its fp16 version with float32 inputs and outputs (a new model)."""
    onnx, float16 = _import()
    model = onnx.ModelProto.FromString(model.SerializeToString())
    fold_half_initializers(model)
    # Shape-inference annotations from the exporter would keep stale float32 types on tensors the converter
    # retypes (a Cast's output); they are optional, so drop them and let the converter infer afresh.
    del model.graph.value_info[:]
    block = sorted(set(float16.DEFAULT_OP_BLOCK_LIST) | set(keep_fp32))
    with warnings.catch_warnings(record=True) as clamped:  # one warning per weight outside fp16's range
        warnings.simplefilter("always")
        converted = float16.convert_float_to_float16(model, keep_io_types=True, op_block_list=block,
                                                     check_fp16_ready=False)
    if clamped:
        log.info("fp16: %d weights outside fp16's normal range were clamped to +-1e-7 or +-1e4", len(clamped))
    _retype_casts(converted)
    return converted


def _retype_casts(model: Any) -> int:
    """The converter retypes a ``Cast(to=float)`` node's output tensor to float16 but leaves its ``to``
    attribute (ONNX Runtime then refuses the graph); make the attribute agree. -> nodes changed. In place."""
    from onnx import TensorProto

    half = {v.name for v in model.graph.value_info if v.type.tensor_type.elem_type == TensorProto.FLOAT16}
    changed = 0
    for node in model.graph.node:
        if node.op_type == "Cast" and node.output[0] in half:
            for attr in node.attribute:
                if attr.name == "to" and attr.i == TensorProto.FLOAT:
                    attr.i = TensorProto.FLOAT16
                    changed += 1
    return changed


def convert_file(src: Path, dst: Path, keep_fp32: tuple[str, ...] = KEEP_FP32) -> Path:
    """Convert the ONNX file ``src`` to an fp16 graph at ``dst`` (written atomically); -> ``dst``."""
    onnx, _ = _import()
    try:
        model = onnx.load(str(src))
    except Exception as exc:  # noqa: BLE001 - onnx raises DecodeError, OSError, ...
        raise ModelFormatError(f"cannot read ONNX graph {src}: {exc}") from exc
    converted = convert_model(model, keep_fp32)
    with atomic_path(dst) as tmp:
        onnx.save(converted, str(tmp))
    return dst


def fp16_graph(folder: Path, filename: str) -> Path:
    """The fp16 version of the voice graph ``folder/filename``, converted once and cached as
    ``<voice>/engines/fp16/<stem>.<hash>.onnx`` (see :func:`~uniflg.backends.base.engines_root`); the hash is
    of the source file, so a re-export invalidates it."""
    src = Path(folder) / filename
    if not src.is_file():
        raise ModelFormatError(f"voice graph missing: {src}")
    digest = hashlib.sha256(src.read_bytes()).hexdigest()[:12]
    dst = engines_root(Path(folder)) / FP16_DIR / f"{src.stem}.{digest}.onnx"
    if not dst.is_file():
        log.info("converting %s to fp16 -> %s", src.name, dst)
        convert_file(src, dst)
    return dst
