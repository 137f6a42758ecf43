# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
RUNTIME := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP) $(RUNTIME)

$(RUNTIME): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[all]"
	touch $(RUNTIME)

demo: $(RUNTIME)
	$(BIN)/galileo demo

test: $(STAMP)
	bash .ci/system-packages
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/generator.py

clean:
	rm -rf $(VENV) .galileo build *.egg-info

# ---- images and the compose stack (docs/deploy.md) ----------------------------------------------
.PHONY: images images-arm64 stack-test stack-test-bare k8s-smoke

images:
	bash deploy/build-images.sh

# arm64 (Raspberry Pi 4/5, 64-bit OS) worker image, built and run under qemu-user-static
images-arm64: $(RUNTIME)
	bash deploy/build-images.sh --arch arm64
	$(BIN)/python deploy/arm64_smoke.py

# one experiment through the compose stack, restart, stop, remove (prints one JSON line)
stack-test:
	python3 deploy/stack_test.py

# the same from a bare machine: Galileo's images and base removed first
stack-test-bare:
	python3 deploy/stack_test.py --bare

k8s-smoke: $(RUNTIME)
	$(BIN)/python deploy/k8s_smoke.py
