"""Checkpoint or voice -> a voice folder with ``voice.json`` and the split ONNX graphs, verified against torch."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from uniflg.backends import graphs
from uniflg.errors import ModelFormatError
from uniflg.model.io import load_model
from uniflg.model.system import UniFLG
from uniflg.voice_spec import WEIGHTS_FILE, read_spec
from uniflg.voice_writer import write_voice

from uniflg_train.checkpoint import split_run

log = logging.getLogger(__name__)


def load_source_model(checkpoint: Path | None = None, voice: Path | None = None) -> tuple[UniFLG, dict[str, Any]]:
    """-> (model in the training layout, voice.json fields to carry over: name, latents, language,
    language_speakers, and for a voice its whole ``spec`` as read before anything is written).

    ``checkpoint``: a ``.safetensors`` file with the config in its metadata, a checkpoint directory
    (``config.json`` + ``*.safetensors``; every model tensor must be found in one of them), or a run's
    ``checkpoints/`` folder or the run folder itself (its newest complete checkpoint).
    ``voice``: a voice folder with ``model.safetensors``."""
    if (checkpoint is None) == (voice is None):
        raise ModelFormatError("give exactly one of a checkpoint or a voice folder")
    if voice is not None:
        spec = read_spec(voice)
        if not spec.weights:
            raise ModelFormatError(f"{voice}: the voice has no {WEIGHTS_FILE} to export from")
        model = load_model(voice / spec.weights, config=spec.config).eval()
        return model, {"name": spec.name, "latents": spec.latents, "language": spec.language,
                       "language_speakers": spec.language_speakers, "spec": spec, "where": voice}
    from uniflg_train.checkpoint import load_trained_model

    assert checkpoint is not None
    model, checkpoint = load_trained_model(checkpoint)
    return model, {"name": _checkpoint_voice_name(checkpoint), "where": checkpoint}


def _checkpoint_voice_name(checkpoint: Path) -> str:
    """A voice name for a checkpoint: its run's folder name for ``RUN/checkpoints/step_N`` (step_00000002 says
    nothing), else the file's stem or the folder's name."""
    run, step = split_run(checkpoint)
    if step is not None:
        return run.resolve().name
    return checkpoint.stem if checkpoint.is_file() else checkpoint.name


def open_model(path: Path, option: str) -> tuple[UniFLG, dict[str, Any]]:
    """A voice folder with weights, or anything ``--checkpoint`` takes, as :func:`load_source_model` gives it
    (``where``: the voice folder, or the checkpoint file or folder a run folder resolved to); InvalidInputError
    naming ``option`` and what it accepts when ``path`` holds no model."""
    from uniflg.errors import InvalidInputError

    try:
        if (path / "voice.json").is_file():
            return load_source_model(voice=path)
        return load_source_model(checkpoint=path)
    except (ModelFormatError, OSError) as exc:
        reason = str(exc).removeprefix(f"{path}: ")
        raise InvalidInputError(f"{option} {path}: {reason}; it takes a checkpoint directory, a run folder, a "
                                ".safetensors model file or a voice folder with model.safetensors") from None


def export_onnx(model: UniFLG, out_dir: Path, name: str, latents: dict[str, dict[str, list[float]]] | None = None,
                language: str = "auto", include_weights: bool = True, verify: bool = True,
                half_weights: bool = False, language_speakers: dict[str, str] | None = None) -> Path:
    """Write the voice folder; with ``verify``, check every graph against the torch wrapper on random inputs.
    InvalidInputError, before anything is written, when a weight is NaN or infinite (a diverged run)."""
    from uniflg.backends.modules import build_graph_modules, example_inputs
    from uniflg.errors import InvalidInputError

    bad = [name for name, t in model.state_dict().items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if bad:
        raise InvalidInputError(f"the model has NaN or infinite weights in {len(bad)} tensors (the first: {bad[0]}): "
                                "its training diverged or the file is damaged; export an earlier checkpoint")

    write_voice(model, out_dir, name, latents, onnx=True, weights=include_weights, language=language,
                half_weights=half_weights, language_speakers=language_speakers)
    if verify:
        report = verify_graphs(model, out_dir, build_graph_modules(model), example_inputs)
        log.info("ONNX vs torch max abs diff per graph: %s", json.dumps(report))
    return out_dir


def verify_graphs(model: UniFLG, folder: Path, modules: dict, example_inputs: Any, length: int = 57
                  ) -> dict[str, float]:
    """Max abs difference between ONNX Runtime and torch per graph, at a length other than the traced one."""
    from uniflg.backends.onnx_backend import OnnxBackend

    backend = OnnxBackend(folder, {n: s.filename for n, s in graphs.GRAPHS.items()})
    report = {}
    for name, spec in graphs.GRAPHS.items():
        args = example_inputs(name, model, length)
        with torch.no_grad():
            ref = modules[name](*args)
        ref = ref if isinstance(ref, tuple) else (ref,)
        out = backend.run(name, {n: a.numpy() for n, a in zip(spec.input_names, args, strict=True)})
        report[name] = max(float(np.abs(out[o] - r.numpy()).max()) for o, r in zip(spec.output_names, ref,
                                                                                     strict=True))
    return report
