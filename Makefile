# UniFLG engine SDK. `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
DEMO_TEXT ?= こんにちは、今日はいい天気ですね。一緒に散歩に行きませんか？
PYTEST_ARGS ?= -m "not slow and not gpu and not trt"

.PHONY: demo test test-all setup lint typecheck proto proto-check clean

setup: $(VENV)/.installed

# The CPU build of torch goes in first: a bare torch requirement would pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[train,bridge,audio,dev]"
	touch $@

demo: setup
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

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
