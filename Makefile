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

images-arm64:
	bash deploy/build-images.sh --arch arm64
	python3 deploy/arm64_smoke.py

stack-test:
	python3 deploy/stack_test.py

stack-test-bare:
	python3 deploy/stack_test.py --bare

k8s-smoke:
	python3 deploy/k8s_smoke.py
