# claims-ledger: `make run` (the demo on the embedded SQLite default) and `make test`.
# Both build the virtual environment from pyproject.toml first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint typecheck importlint unit clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: install
	mkdir -p var
	rm -f var/demo.db var/demo.db-wal var/demo.db-shm
	$(BIN)/claims-ledger --db var/demo.db demo

lint: install
	$(BIN)/ruff check domain projections adapters tests

typecheck: install
	$(BIN)/mypy domain projections adapters

importlint: install
	$(BIN)/lint-imports

unit: install
	$(BIN)/pytest -q

test: lint typecheck importlint unit

clean:
	rm -rf $(VENV) var *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
