"""Write a voice folder from a model: ``voice.json``, the split ONNX graphs, ``model.safetensors``.

Torch-only; used by ``uniflg export`` (``uniflg_train.export``) and :func:`uniflg.voice.random_voice`. Each graph
is traced from its inference wrapper module (:mod:`uniflg.backends.modules`) with ``torch.onnx.export(...,
dynamo=False)`` (the dynamo exporter fails on the stochastic duration predictor) under the names and dynamic
axes of :mod:`uniflg.backends.graphs`.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import torch

from uniflg.backends import graphs
from uniflg.backends.modules import build_graph_modules, example_inputs, measure_contexts, prepare_for_inference
from uniflg.model.system import UniFLG

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


def write_voice(model: UniFLG, folder: Path, name: str, latents: dict[str, dict[str, list[float]]] | None = None,
                onnx: bool = True, weights: bool = True, language: str = "auto") -> Path:
    """Write a complete voice folder; -> the folder. The model must still have its weight norm (the training
    layout); it is then prepared for inference in place (weight norm folded)."""
    from uniflg.voice import WEIGHTS_FILE, VoiceSpec

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if weights:  # the training layout (weight norm unfolded), so uniflg.model.io.load_model reads it back
        from uniflg.model.io import save_model

        save_model(model, folder / WEIGHTS_FILE)
    prepare_for_inference(model)
    files = export_graphs(model, folder) if onnx else {}
    face = model.landmark_decoder.mean_face.detach().cpu().numpy().round(6).tolist()
    spec = VoiceSpec(name=name, config=model.cfg, graphs=files, weights=WEIGHTS_FILE if weights else None,
                     contexts=measure_contexts(model), latents=latents or {}, neutral_face=face, language=language)
    spec.write(folder)
    return folder
