"""Build TensorRT engines (fp32 and fp16) for every ONNX graph of a voice folder, cached per GPU name and
TensorRT version (``<voice>/engines/<gpu>_trt<version>/<graph>.<precision>.plan``). The builder itself lives
in the runtime (:mod:`uniflg.backends.tensorrt_backend`) so a voice can also build missing engines on load."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from uniflg.backends.tensorrt_backend import _import, build_engine, engine_dir
from uniflg.voice_spec import read_spec

log = logging.getLogger(__name__)


def build_engines(voice: Path, precisions: Sequence[str] = ("fp32", "fp16"), force: bool = False) -> list[Path]:
    trt, cudart = _import()
    spec = read_spec(voice)
    cache = engine_dir(voice, trt, cudart)
    built = []
    for graph, filename in spec.graphs.items():
        for precision in precisions:
            plan = cache / f"{graph}.{precision}.plan"
            if plan.is_file() and not force:
                log.info("cached: %s", plan)
            else:
                log.info("building %s", plan)
                build_engine(voice / filename, plan, graph, precision)
            built.append(plan)
    return built
