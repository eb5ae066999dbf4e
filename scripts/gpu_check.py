"""One-command GPU check (``make gpu-check``): install the GPU extras, run the gpu/trt tests, measure TensorRT
context pooling and benchmark every GPU backend and precision; write one JSON report. Sized for < 8 minutes on a
current data-centre GPU: every step has a time budget and a step that runs out is recorded as timed out.

    python scripts/gpu_check.py --out gpu-check.json             # installs uniflg[gpu,trt,bridge,train] first
    python scripts/gpu_check.py --no-install --out gpu-check.json  # the environment already has them

The report: environment (GPU, driver, TensorRT, ONNX Runtime providers), tests (pass/fail/skip and each check's
figures: parity SNR / landmark error, 16-stream cross-talk), contexts (16 streams with 1 vs 4 TensorRT contexts),
bench (``uniflg bench --gpu only`` rows for the default and paper-size models, next to the paper's Tesla P40 RTFs).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BUDGET_S = 470  # under 8 minutes including the report
PAPER_P40_RTF = {"t": 0.027, "p": 0.038, "s": 0.014}  # Mitsui et al. 2023, Table 1 (Tesla P40)
GOAL = {"paper-size t on this GPU": 0.003}


class Clock:
    def __init__(self, budget: float) -> None:
        self.end = time.monotonic() + budget

    def left(self, cap: float) -> float:
        return max(5.0, min(cap, self.end - time.monotonic()))


def run(cmd: list[str], timeout: float, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run a step; -> {cmd, rc, seconds, tail} (rc 124 when it ran out of time)."""
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **(env or {})})
        rc, out, err = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        rc, out, err = 124, _text(exc.stdout), _text(exc.stderr)
    step = {"cmd": " ".join(cmd), "rc": rc, "seconds": round(time.monotonic() - start, 1), "stdout": out,
            "tail": (out + err)[-3000:]}
    print(f"[gpu-check] rc={rc} {step['seconds']:>6}s  {step['cmd']}", flush=True)
    return step


def _text(data: bytes | str | None) -> str:
    return data.decode(errors="replace") if isinstance(data, bytes) else (data or "")


def _json_tail(text: str) -> Any:
    """The JSON document that ends a command's stdout."""
    return json.loads(text[text.index("{"):]) if text.lstrip().startswith("{") else json.loads(
        text.strip().splitlines()[-1])


def environment() -> dict[str, Any]:
    info: dict[str, Any] = {"python": sys.version.split()[0]}
    try:
        smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,compute_cap",
                              "--format=csv,noheader"], capture_output=True, text=True, timeout=30)
        info["gpus"] = [line.strip() for line in smi.stdout.splitlines() if line.strip()]
    except (OSError, subprocess.TimeoutExpired) as exc:
        info["gpus"] = f"nvidia-smi unavailable: {exc}"
    probe = "\n".join([
        "import json, importlib.util as u", "out = {}",
        "try:", " import tensorrt as t; out['tensorrt'] = t.__version__",
        "except Exception as e: out['tensorrt'] = repr(e)",
        "import onnxruntime as o", "out['onnxruntime'] = o.__version__",
        "out['providers'] = o.get_available_providers()",
        "out['onnxconverter_common'] = bool(u.find_spec('onnxconverter_common'))", "print(json.dumps(out))"])
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=120)
    try:
        info.update(json.loads(proc.stdout.strip().splitlines()[-1]))
    except (IndexError, json.JSONDecodeError):
        info["probe_error"] = proc.stderr[-1000:]
    return info


CONTEXTS_PROBE = """
import asyncio, json, sys
from uniflg.backends import BackendOptions
from uniflg.voice import load_voice
from uniflg_bridge.loadtest import run_load
out = {}
for contexts in (1, 4):
    voice = load_voice(None, "tensorrt", options=BackendOptions(contexts=contexts))
    asyncio.run(run_load(voice, 4))  # warm-up: engines loaded, contexts made
    out[contexts] = asyncio.run(run_load(voice, 16))
print(json.dumps(out))
"""


def main(argv: list[str] | None = None) -> int:
    from uniflg.cli import description  # the SDK is installed before its GPU extras are

    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument("--out", type=Path, default=REPO / "gpu-check.json")
    parser.add_argument("--no-install", action="store_true", help="the GPU extras are already installed")
    args = parser.parse_args(argv)
    clock = Clock(BUDGET_S)
    report: dict[str, Any] = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "steps": []}
    py = sys.executable
    if not args.no_install:
        # onnxruntime (a base requirement) and onnxruntime-gpu install the same module: install everything, then
        # swap the CPU wheel for the GPU one. torch (train) makes the random paper-size model for the bench.
        pip = [py, "-m", "pip", "install", "-q"]
        report["steps"].append(run([*pip, "-e", ".[gpu,trt,bridge,train]"], clock.left(200)))
        report["steps"].append(run([py, "-m", "pip", "uninstall", "-y", "-q", "onnxruntime"], clock.left(60)))
        report["steps"].append(run([*pip, "--force-reinstall", "--no-deps", "onnxruntime-gpu"], clock.left(90)))
    report["environment"] = environment()
    with tempfile.TemporaryDirectory() as tmp:
        figures = Path(tmp) / "figures.jsonl"
        junit = Path(tmp) / "junit.xml"
        step = run([py, "-m", "pytest", "tests/test_gpu.py", "-m", "gpu or trt", "-q", "-rs", "-p", "no:cacheprovider",
                    f"--junitxml={junit}"], clock.left(240), {"UNIFLG_GPU_REPORT": str(figures)})
        report["steps"].append(step)
        report["tests"] = {"rc": step["rc"], "summary": step["tail"].strip().splitlines()[-1:] or [],
                           "checks": [json.loads(line) for line in figures.read_text().splitlines()]
                           if figures.is_file() else []}
    step = run([py, "-c", CONTEXTS_PROBE], clock.left(90))
    report["steps"].append(step)
    try:
        runs = _json_tail(step["stdout"])
        report["contexts"] = {f"{k} contexts": {m: v.get(m) for m in ("wall_s", "audio_s_per_wall_s", "errors",
                                                                     "first_chunk_s_median")} for k, v in runs.items()}
    except (ValueError, IndexError, AttributeError):
        report["contexts"] = {"error": step["tail"][-500:]}
    bench: list[dict[str, Any]] = []
    for models, backends in (("default", "all"), ("paper", "tensorrt")):
        step = run([py, "-m", "uniflg.cli", "bench", "--gpu", "only", "--models", models, "--backends", backends,
                    "--json", "--seconds", "5", "--repeats", "2"], clock.left(150))
        report["steps"].append(step)
        try:
            bench += _json_tail(step["stdout"])["results"]
        except (ValueError, KeyError, IndexError):
            bench.append({"model": models, "status": f"bench failed (rc {step['rc']})"})
    report["bench"] = {"rows": bench, "paper_tesla_p40_rtf": PAPER_P40_RTF, "goal": GOAL}
    report["seconds"] = round(BUDGET_S - (clock.end - time.monotonic()), 1)
    for step in report["steps"]:
        step.pop("stdout", None)
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"[gpu-check] report: {args.out} ({report['seconds']} s)")
    failed = [s["cmd"] for s in report["steps"] if s["rc"] not in (0,)]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
