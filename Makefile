# prizeledger — `make help` lists the targets. Every target installs what it needs first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# pytest-xdist workers for `make test`: most of the suite waits on Postgres, Redis and child
# processes, so two workers overlap that waiting on the 2-core CI machine.
PYTEST_WORKERS ?= 2

.DEFAULT_GOAL := help
.PHONY: help install run test lint format bench bench-quick bench-parts browser

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install the project with its pinned dependencies

run: install  ## run the whole system on the embedded default (SQLite + in-memory; no servers)
	$(BIN)/prizeledger run

lint: install  ## ruff, ruff format --check, mypy --strict, import-linter
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

browser:  ## Debian's chromium for the browser tests (apt; never a downloaded browser)
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium; }

test: lint browser  ## lint + type check + the whole test suite on the real Postgres and Redis
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal

bench: install  ## the whole suite vs the row-lock baseline on the real Postgres and Redis (JSON report on stdout)
	$(BIN)/prizeledger bench --json

bench-quick: install  ## the suite with short windows and 100,000 events (under 2 minutes)
	$(BIN)/prizeledger bench --quick --json

bench-parts: install  ## each benchmark module alone, with its own options and detail
	$(BIN)/python -m ops.bench.deposit_credit
	$(BIN)/python -m ops.bench.draw_engine --spread
	$(BIN)/python -m ops.bench.baseline --spread
	$(BIN)/python -m ops.bench.projections
	$(BIN)/python -m ops.bench.http_draws --quick
