"""GPU runs (skipped with the reason where there is no GPU): TensorRT engines fp32/fp16 against ONNX Runtime CPU,
16 concurrent streams through the server on TensorRT, CUDA graphs, and ONNX Runtime's CUDA and TensorRT
providers. ``make gpu-check`` runs these and writes their figures to ``$UNIFLG_GPU_REPORT`` (JSON lines)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from uniflg.backends import BackendOptions
from uniflg.backends.parity import compare
from uniflg.voice import DEFAULT_VOICE_DIR, load_voice

TEXTS = ["こんにちは、今日はいい天気ですね。一緒に散歩に行きませんか？", "ありがとうございます。また明日会いましょう。"]
# (audio SNR dB at least, landmarks max abs at most) per precision: the acceptance figures.
TOLERANCES = {"fp32": (40.0, 1e-3), "fp16": (20.0, 2e-2)}


def _gpu_reason() -> str | None:
    gpus = Path("/proc/driver/nvidia/gpus")
    if not gpus.is_dir() or not any(gpus.iterdir()):
        return "no NVIDIA GPU on this machine"
    return None


def _trt_reason() -> str | None:
    if importlib.util.find_spec("tensorrt") is None:
        return "TensorRT is not installed (pip install 'uniflg[trt]')"
    return _gpu_reason()


def _ort_reason(provider: str) -> str | None:
    import onnxruntime as ort

    if provider not in ort.get_available_providers():
        return f"ONNX Runtime has no {provider} here (pip install 'uniflg[gpu]')"
    return _gpu_reason()


needs_trt = pytest.mark.skipif(_trt_reason() is not None, reason=str(_trt_reason()))


def _report(name: str, **figures: object) -> None:
    path = os.environ.get("UNIFLG_GPU_REPORT")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"check": name, **figures}) + "\n")


@pytest.fixture(scope="module")
def voice_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("gpu") / "default"
    shutil.copytree(DEFAULT_VOICE_DIR, folder, ignore=shutil.ignore_patterns("engines"))
    return folder


@pytest.fixture(scope="module")
def reference(voice_dir):
    return load_voice(voice_dir, "onnxruntime", options=BackendOptions(providers=("cpu",)))


@pytest.mark.trt
@needs_trt
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_tensorrt_matches_onnxruntime(voice_dir, reference, precision):
    from uniflg_train.export.tensorrt_build import build_engines

    plans = build_engines(voice_dir, (precision,))
    assert plans and all(p.is_file() and p.stat().st_size > 0 for p in plans)
    voice = load_voice(voice_dir, "tensorrt", options=BackendOptions(precision=precision))
    assert not voice.backend.fallback, voice.backend.describe()  # type: ignore[attr-defined]
    parity = compare(reference, voice, TEXTS)
    _report(f"tensorrt/{precision} vs onnxruntime/cpu/fp32", backend=voice.backend.describe(), **parity.to_dict())
    snr, tol = TOLERANCES[precision]
    assert parity.audio_snr_db >= snr and parity.landmarks_max_abs <= tol, parity
    assert parity.speech_landmarks_max_abs <= tol, parity


@pytest.mark.trt
@needs_trt
def test_sixteen_streams_on_tensorrt(voice_dir):
    """`uniflg serve --backend tensorrt`: 16 concurrent streams, no errors, each equal to its single-stream run."""
    from stream_check import concurrent_streams

    voice = load_voice(voice_dir, "tensorrt", options=BackendOptions(precision="fp32", contexts=4))
    report = concurrent_streams(voice, 16)
    created = {g: e.pool.created for g, e in voice.backend.engines.items()}  # type: ignore[attr-defined]
    _report("tensorrt 16 streams", contexts_created=created, **report)
    assert report["errors"] == [] and report["distinct_outputs"] == 16, report
    # Cross-talk would differ by whole samples and frames; allow only kernel-level rounding between contexts.
    assert report["max_audio_diff_pcm16"] <= 2 and report["max_landmark_diff"] <= 1e-4, report


@pytest.mark.trt
@needs_trt
def test_cuda_graphs_replay_the_same_results(voice_dir):
    from uniflg.types import SynthesisOptions

    plain = load_voice(voice_dir, "tensorrt", options=BackendOptions(contexts=1))
    graphed = load_voice(voice_dir, "tensorrt", options=BackendOptions(contexts=1, cuda_graphs=True))
    opts = SynthesisOptions(seed=5, chunk_seconds=0.25)
    first = [c.audio for c in graphed.synthesize(TEXTS[0], opts)]  # captures
    again = [c.audio for c in graphed.synthesize(TEXTS[0], opts)]  # replays
    ref = [c.audio for c in plain.synthesize(TEXTS[0], opts)]
    captured = sum(len(c.graphs) for e in graphed.backend.engines.values()  # type: ignore[attr-defined]
                   for c in e.pool._all)
    _report("tensorrt cuda graphs", captured=captured)
    assert captured > 0
    for a, b, c in zip(ref, first, again, strict=True):
        assert np.allclose(a, b, atol=1e-5) and np.allclose(a, c, atol=1e-5)


@pytest.mark.gpu
@pytest.mark.parametrize("provider,short,precision", [
    ("CUDAExecutionProvider", "cuda", "fp32"), ("CUDAExecutionProvider", "cuda", "fp16"),
    ("TensorrtExecutionProvider", "tensorrt", "fp32"), ("TensorrtExecutionProvider", "tensorrt", "fp16")])
def test_onnxruntime_gpu_providers_match_cpu(voice_dir, reference, provider, short, precision):
    reason = _ort_reason(provider)
    if reason:
        pytest.skip(reason)
    voice = load_voice(voice_dir, "onnxruntime", options=BackendOptions(precision=precision,
                                                                        providers=(short, "cpu")))
    parity = compare(reference, voice, TEXTS)
    _report(f"onnxruntime[{short}]/{precision} vs cpu/fp32", backend=voice.backend.describe(), **parity.to_dict())
    snr, tol = TOLERANCES[precision]
    assert parity.audio_snr_db >= snr and parity.landmarks_max_abs <= tol, parity
