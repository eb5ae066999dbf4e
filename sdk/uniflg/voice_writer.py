"""Write a voice folder from a model: ``voice.json``, the split ONNX graphs, ``model.safetensors``.

Torch-only; used by ``uniflg export`` (``uniflg_train.export``) and :func:`uniflg.voice.random_voice`. Each graph
is traced from its inference wrapper module (:mod:`uniflg.backends.modules`) with ``torch.onnx.export(...,
dynamo=False)`` (the dynamo exporter fails on the stochastic duration predictor) under the names and dynamic
axes of :mod:`uniflg.backends.graphs`.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import replace
from pathlib import Path

import torch

from uniflg.backends import graphs
from uniflg.backends.modules import build_graph_modules, example_inputs, measure_contexts, prepare_for_inference
from uniflg.model.system import UniFLG
from uniflg.voice_spec import WEIGHTS_FILE, VoiceSpec

log = logging.getLogger(__name__)

OPSET = 17


def export_graphs(model: UniFLG, folder: Path, opset: int = OPSET) -> dict[str, str]:
    """Trace every graph of ``graphs.GRAPHS`` to ``folder``; -> graph name -> file name."""
    folder.mkdir(parents=True, exist_ok=True)
    modules = build_graph_modules(model)
    files: dict[str, str] = {}
    for name, spec in graphs.GRAPHS.items():
        args = example_inputs(name, model, length=40)
        path = folder / spec.filename
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings about Python ints taken from shapes
            torch.onnx.export(modules[name], args, str(path), input_names=spec.input_names,
                              output_names=spec.output_names, dynamic_axes=spec.dynamic_axes(),
                              opset_version=opset, dynamo=False, do_constant_folding=True)
        files[name] = spec.filename
        log.info("exported %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return files


def round_to_half(model: torch.nn.Module) -> None:
    """Round every stored floating tensor (parameters, persistent buffers) to float16 precision, kept as
    float32, so a voice stored with half-precision weights computes exactly what the rounded torch model
    computes. Derived constants (STFT bases, non-persistent) stay exact."""
    with torch.no_grad():
        for tensor in model.state_dict(keep_vars=True).values():
            if tensor.is_floating_point():
                tensor.copy_(tensor.half().float())


def store_initializers_half(path: Path, min_elements: int = 16) -> None:
    """Halve an ONNX file's size: float32 initializers are stored as float16 and cast back by a Cast node
    that ONNX Runtime folds when the session loads, so inference still runs in float32."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    initializers, casts = [], []
    for init in graph.initializer:
        if init.data_type == TensorProto.FLOAT and int(np.prod(init.dims)) >= min_elements:
            half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), f"{init.name}__fp16")
            initializers.append(half)
            casts.append(helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT,
                                          name=f"{init.name}__to_float"))
        else:
            initializers.append(init)
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.save(model, str(path))


def write_voice(model: UniFLG, folder: Path, name: str, latents: dict[str, dict[str, list[float]]] | None = None,
                onnx: bool = True, weights: bool = True, language: str = "auto", half_weights: bool = False,
                language_speakers: dict[str, str] | None = None) -> Path:
    """Write a complete voice folder; -> the folder. The model must still have its weight norm (the training
    layout); it is then prepared for inference in place (weight norm folded).

    ``half_weights`` stores every weight in float16 (the safetensors file and the ONNX initializers), which
    halves the folder; the model is rounded first, so torch and ONNX Runtime still agree. ``language_speakers``:
    the speaker that reads each language by default (:class:`VoiceSpec`; an unknown speaker: ModelFormatError,
    raised before anything is written)."""
    folder = Path(folder)
    # built first: its fields are checked (language_speakers against the speakers) before anything is written
    spec = VoiceSpec(name=name, config=model.cfg, weights=WEIGHTS_FILE if weights else None, latents=latents or {},
                     language=language, language_speakers=dict(language_speakers or {}))
    folder.mkdir(parents=True, exist_ok=True)
    if half_weights:
        round_to_half(model)
    if weights:  # the training layout (weight norm unfolded), so uniflg.model.io.load_model reads it back
        from uniflg.model.io import save_model

        save_model(model, folder / WEIGHTS_FILE, dtype=torch.float16 if half_weights else None)
    prepare_for_inference(model)
    files = export_graphs(model, folder) if onnx else {}
    if half_weights:
        for filename in files.values():
            store_initializers_half(folder / filename)
    face = model.landmark_decoder.mean_face.detach().cpu().numpy().round(6).tolist()
    spec = replace(spec, graphs=files, contexts=measure_contexts(model), neutral_face=face)
    spec.write(folder)
    return folder
