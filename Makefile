# UniFLG engine SDK. `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
DEMO_TEXT ?= こんにちは、今日はいい天気ですね。一緒に散歩に行きませんか？
PYTEST_ARGS ?= -m "not slow and not gpu and not trt"

.PHONY: demo test test-all setup lint typecheck proto proto-check clean video-env gpu-check

setup: $(VENV)/.installed

# torch's CPU build: first the torch wheel alone from a local wheel folder where pip is configured with one
# (--no-index --no-deps: no network; its small dependencies come with the extras next), else from PyTorch's CPU
# wheel index. A bare `pip install torch` on PyPI pulls the CUDA build with about 19 NVIDIA packages (several GB).
TORCH_VERSION ?= 2.13.0
TORCH_INDEX   ?= https://download.pytorch.org/whl/cpu

$(VENV)/.runtime: pyproject.toml
	@echo "make: creating $(VENV) and installing the runtime (ONNX Runtime, NumPy, SciPy, pyopenjtalk-plus; no torch)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PIP) install -q -e .
	@touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.runtime
	@echo "make: installing torch $(TORCH_VERSION) (CPU build) and the train, bridge, audio, voices and dev extras"
	@$(PIP) install -q --no-index --no-deps "torch==$(TORCH_VERSION)" 2>/dev/null \
	  || $(PIP) install -q "torch==$(TORCH_VERSION)" --index-url $(TORCH_INDEX)
	@$(PIP) install -q -e ".[train,bridge,audio,voices,dev]"
	@touch $@

# MediaPipe 0.10.21 (the last release bundling the Face Mesh model) needs protobuf<5 and numpy<2, which
# clash with the gRPC stack: video-to-landmarks runs in this separate environment (about 40 s to build).
VIDEO_VENV ?= .venv-video
video-env: $(VIDEO_VENV)/.installed

$(VIDEO_VENV)/.installed:
	$(PYTHON) -m venv $(VIDEO_VENV)
	$(VIDEO_VENV)/bin/pip install -q "mediapipe==0.10.21" "numpy<2" "protobuf<5" scikit-image
	touch $@

# The demo runs the embedded voice on ONNX Runtime: the slim runtime is enough (no torch).
demo: $(VENV)/.runtime
	@echo "make: speaking the demo sentence with the embedded voice"
	$(VENV)/bin/uniflg speak "$(DEMO_TEXT)" -o out/demo
	@echo "wrote out/demo/{speech.wav,landmarks.npy,landmarks.json,preview.mp4}"

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

test-all: setup
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check sdk training engine_bridge tests examples

typecheck: setup
	$(VENV)/bin/mypy sdk/uniflg training/uniflg_train engine_bridge/uniflg_bridge

# Generated gRPC code lives in engine_bridge/generated and is never edited by hand.
proto: setup
	$(PY) -m uniflg_bridge.protogen --out engine_bridge/generated

proto-check: setup
	$(PY) -m uniflg_bridge.protogen --check

# On a machine with an NVIDIA GPU: install the GPU extras into $(PYTHON)'s environment, run the gpu/trt tests,
# 16 streams on 1 vs 4 TensorRT contexts and the GPU bench; report in gpu-check.json (< 8 minutes).
# GPU_CHECK_ARGS=--no-install when the extras are already there.
gpu-check:
	$(PYTHON) scripts/gpu_check.py --out gpu-check.json $(GPU_CHECK_ARGS)

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
