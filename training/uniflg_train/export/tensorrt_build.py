"""Build TensorRT engines (fp32 and fp16) for every ONNX graph of a voice folder, cached per GPU name, TensorRT
version and precision (``<voice>/engines/<gpu>_trt<version>/<graph>.<precision>.plan``). The builder itself lives
in the runtime (:mod:`uniflg.backends.tensorrt_backend`) so a voice can also build missing engines on load; fp16
engines come from the strongly typed fp16 graph (:mod:`uniflg.backends.fp16`) on TensorRT 10.x and 11.x alike."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm
from uniflg.backends.tensorrt_backend import _import, build_engine, engine_dir, plan_path
from uniflg.voice_spec import read_spec

log = logging.getLogger(__name__)


def build_engines(voice: Path, precisions: Sequence[str] = ("fp32", "fp16"), force: bool = False) -> list[Path]:
    """Build (or find cached) every graph's engine at each precision; -> the plan paths."""
    trt, cudart = _import()
    spec = read_spec(voice)
    cache = engine_dir(voice, trt, cudart)
    built = []
    jobs = [(graph, filename, precision) for graph, filename in spec.graphs.items() for precision in precisions]
    for graph, filename, precision in tqdm(jobs, desc="TensorRT engines", unit="engine"):
        plan = plan_path(cache, graph, precision)
        if plan.is_file() and not force:
            log.info("cached: %s", plan)
        else:
            log.info("building %s", plan)
            build_engine(voice, filename, plan, graph, precision)
        built.append(plan)
    return built


def check_available() -> None:
    """BackendUnavailableError (one line, naming what to install) unless TensorRT and cuda-python import: asked
    before an export writes anything, so a machine without them keeps its voice as it was."""
    _import()
