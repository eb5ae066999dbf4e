"""The torch backend: runs the inference wrapper modules (the same ones that are exported) directly, with
weight norm folded. Needs torch and a ``model.safetensors`` in the voice folder."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from uniflg.backends import graphs
from uniflg.errors import BackendUnavailableError, ModelFormatError

if TYPE_CHECKING:
    from uniflg.model.system import UniFLG

log = logging.getLogger(__name__)


class TorchBackend:
    name = "torch"

    def __init__(self, weights: Path | None = None, model: UniFLG | None = None, device: str = "cpu") -> None:
        try:
            import torch
        except ImportError as exc:
            raise BackendUnavailableError("the torch backend needs torch: pip install 'uniflg[torch]'") from exc
        from uniflg.backends.modules import build_graph_modules, prepare_for_inference

        if model is None:
            if weights is None or not Path(weights).is_file():
                raise ModelFormatError(f"the torch backend needs model weights; not found: {weights}")
            from uniflg.model.io import load_model

            model = load_model(weights, device=device)
        self._torch = torch
        self.device = device
        self.model = prepare_for_inference(model)
        self.modules = build_graph_modules(self.model)

    def run(self, graph: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = self._torch
        spec = graphs.GRAPHS[graph]
        args = [torch.from_numpy(np.ascontiguousarray(inputs[name])).to(self.device) for name in spec.input_names]
        with torch.inference_mode():
            out = self.modules[graph](*args)
        out = out if isinstance(out, tuple) else (out,)
        return {name: t.detach().cpu().numpy() for name, t in zip(spec.output_names, out, strict=True)}

    def describe(self) -> str:
        return f"torch {self._torch.__version__} on {self.device} ({self._torch.get_num_threads()} threads)"
