"""The GPU configurations ``uniflg bench`` measures: each backend x provider x precision, with the reason one
cannot run here (so a CPU machine prints "unavailable: <reason>" rows instead of silently leaving them out)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from uniflg.backends.base import PRECISIONS, BackendOptions


@dataclass(frozen=True)
class Target:
    backend: str  # onnxruntime | tensorrt
    precision: str
    providers: tuple[str, ...] = ()  # onnxruntime only, short names
    reason: str = ""  # why it cannot run here ("" = it can)

    @property
    def label(self) -> str:
        provider = f"[{self.providers[0]}]" if self.providers else ""
        return f"{self.backend}{provider}/{self.precision}"

    @property
    def options(self) -> BackendOptions:
        return BackendOptions(precision=self.precision, providers=self.providers)


def gpu_targets(usable: dict[str, str], gpu_visible: bool, ort_providers: list[str]) -> list[Target]:
    """Every GPU target for a voice whose backends are ``usable`` (name -> '' or the reason it is not), given
    whether an NVIDIA GPU is visible and the ONNX Runtime providers installed."""
    fp16 = "" if all(importlib.util.find_spec(m) for m in ("onnx", "onnxconverter_common")) else \
        "fp16 graphs need onnx and onnxconverter-common (pip install 'uniflg[gpu]')"
    out: list[Target] = []
    for short, full in (("cuda", "CUDAExecutionProvider"), ("tensorrt", "TensorrtExecutionProvider")):
        why = usable.get("onnxruntime", "") or (
            "" if full in ort_providers else f"ONNX Runtime has no {full} here (pip install 'uniflg[gpu]')") or (
            "" if gpu_visible else "no NVIDIA GPU visible")
        out += [Target("onnxruntime", p, (short,), why or (fp16 if p == "fp16" else "")) for p in PRECISIONS]
    why = usable.get("tensorrt", "TensorRT is not installed")
    out += [Target("tensorrt", p, (), why or (fp16 if p == "fp16" else "")) for p in PRECISIONS]
    return out
