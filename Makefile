# claims-ledger: `make run` (the HTTP API on the embedded SQLite default), `make check`
# (the unit tier and ruff, in seconds), `make test` and `make bench`. Each builds the
# virtual environment from pyproject.toml first.

# The newest Python 3.11+ on PATH for a new .venv (the library runs markedly faster
# on 3.12+): the first of these that runs and is at least 3.11.
PYTHONS := python3.14 python3.13 python3.12 python3.11 python3
PYTHON ?= $(shell for p in $(PYTHONS); do \
  $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; \
  done)
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.run-stamp
DEV_STAMP := $(VENV)/.dev-stamp
PORT ?= 8080
EVENTS ?= 20000
RUNS ?= 3
SHAPES ?= a,b,c,d
SHAPE_LINES ?= 100000

.PHONY: install install-run run check test lint typecheck importlint unit pytest bench browser \
	screenshots clean

# What running needs (make run), and the developer tools on top (everything else).
install-run: $(RUN_STAMP)
install: $(DEV_STAMP)

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "no Python 3.11 or newer on PATH (set PYTHON=...)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUN_STAMP)

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(DEV_STAMP) $(RUN_STAMP)

# The main job: the HTTP API on the embedded SQLite default (var/demo.db), with
# the terms' cases loaded if the database is empty, a seal checkpoint at its end,
# and demo tokens in var/.
run: install-run
	mkdir -p var
	$(BIN)/claims-ledger --db var/demo.db demo --if-empty
	$(BIN)/claims-ledger --db var/demo.db seal
	@if [ ! -f var/tokens.json ]; then \
	  for role in appender auditor operator subscriber; do \
	    printf '%s token: ' $$role >> var/demo-tokens.txt; \
	    $(BIN)/claims-ledger token demo-$$role --role $$role --tokens-file var/tokens.json \
	      >> var/demo-tokens.txt 2>/dev/null; \
	  done; fi
	@echo "Demo bearer tokens (var/demo-tokens.txt):"; cat var/demo-tokens.txt
	$(BIN)/claims-ledger --db var/demo.db serve --tokens-file var/tokens.json --port $(PORT)

lint: install
	$(BIN)/ruff check domain projections adapters tests

typecheck: install
	$(BIN)/mypy domain projections adapters tests/bench tests/workload.py

importlint: install
	$(BIN)/lint-imports

bench: install
	$(BIN)/python -m tests.bench --events $(EVENTS) --runs $(RUNS) --shapes $(SHAPES) \
		--shape-lines $(SHAPE_LINES) --out var/bench.json

# Debian's Chromium and a Japanese font, for the console's browser tests and
# screenshots (Playwright drives /usr/bin/chromium; no browser is downloaded).
browser:
	@if [ -x /usr/bin/chromium ] && fc-list :lang=ja 2>/dev/null | grep -q .; then \
	  echo "browser: $$(/usr/bin/chromium --version 2>/dev/null)"; \
	else \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    chromium fonts-ipafont-gothic; \
	fi

# The README's console screenshots (docs/screenshots/*.png), from the demo cases.
screenshots: install browser
	$(BIN)/python -m tests.support.console_screenshots docs/screenshots

# The tests in tiers (tests/unit, tests/integration, tests/e2e): the unit tier alone
# needs no database and runs in seconds; `pytest` runs all three.
unit: install
	$(BIN)/pytest -q tests/unit

# All three tiers on TEST_WORKERS processes (pytest-xdist, each test sent to whichever
# is free), then one at a time the PostgreSQL restart test (it stops the server every
# other test uses) and the tests whose processes hold many PostgreSQL connections.
TEST_WORKERS ?= 2
pytest: install
	$(BIN)/pytest -q -n $(TEST_WORKERS) -m "not restarts_postgres and not many_connections"
	$(BIN)/pytest -q -m "restarts_postgres or many_connections"

check: lint unit

test: lint typecheck importlint pytest

clean:
	rm -rf $(VENV) var *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
