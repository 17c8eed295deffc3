# Two commands: `make demo` (set up and plan the bundled demo cluster) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
DEMO   ?= data/demo/demo.yaml

.PHONY: demo test install dev lint typecheck pytest bench-quick clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .

dev: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'

demo: install
	$(BIN)/scheduler analyze $(DEMO)
	$(BIN)/scheduler plan $(DEMO) -o demo-plan.json
	$(BIN)/scheduler verify $(DEMO) demo-plan.json

lint: dev
	$(BIN)/ruff check scheduler tests benchmarks
	$(BIN)/ruff format --check scheduler tests benchmarks

typecheck: dev
	$(BIN)/mypy

pytest: dev
	$(BIN)/python -m pytest -n 2

test: lint typecheck pytest

bench-quick: install
	$(BIN)/scheduler bench --suite quick

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache demo-plan.json
