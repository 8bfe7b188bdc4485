# Two commands from a fresh clone with only Python 3.11+:  make demo  ·  make test
# Both build .venv from nothing (and rebuild it when pyproject.toml changes).

PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3 python; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pytest-xdist processes for `make test`: one per CPU, at most four (each holds its own
# database connections and starts worker processes of its own in the job tests).
TEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print(min(4, os.cpu_count() or 1))' 2>/dev/null || echo 1)

.PHONY: setup demo serve openapi test lint typecheck contracts unit docs docs-serve clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "bookingcore needs Python 3.11 or newer on PATH"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m examples.cli demo

## the example HTTP API on the embedded SQLite file; Swagger UI at http://127.0.0.1:8000/docs
serve: $(STAMP)
	$(BIN)/python -m examples.api

## the documentation site, built strictly (a broken link or a warning fails) into site/
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

## the documentation site at http://127.0.0.1:8001, rebuilt on every change
docs-serve: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --strict --dev-addr 127.0.0.1:8001

## regenerate docs/openapi.json from the app (a test fails when it is out of date)
openapi: $(STAMP)
	$(BIN)/python -m examples.api.openapi docs/openapi.json

## lint, type-check, check the inward-only import rule, then run every test
test: lint typecheck contracts unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

contracts: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal

clean:
	rm -rf $(VENV) site .pytest_cache .mypy_cache .ruff_cache .hypothesis .nox
