# EMUSA Energy — the commands people and CI use alike.
#   make test   install what is missing (services, virtualenv), lint, run every test
#   make run    the stack with Docker:  docker compose up -d  (see README)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: test setup venv lint format typecheck unit integration e2e bench bench-history lock clean run-native

test: setup venv lint  ## the README's test command; fails when a required service is missing
	EMUSA_REQUIRE_SERVICES=1 $(BIN)/pytest

setup:  ## PostgreSQL 15 + TimescaleDB (built from Debian source) + Mosquitto, when missing
	bash scripts/setup-services.sh

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python >= 3.11 needed (found $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -c requirements.lock -e ".[dev]"
	touch $@

lint: venv  ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

unit: venv
	$(BIN)/pytest -m unit

integration: setup venv
	EMUSA_REQUIRE_SERVICES=1 $(BIN)/pytest -m integration

e2e: setup venv  ## the end-to-end acceptance run alone (also part of `make test`)
	EMUSA_REQUIRE_SERVICES=1 $(BIN)/pytest -m e2e tests/e2e

bench: setup venv  ## every benchmark; one report in bench-results/report.{md,json} (details in bench-results/*.json)
	rm -rf bench-results
	EMUSA_REQUIRE_SERVICES=1 $(BIN)/pytest -m 'benchmark and not history' tests/benchmarks -s -p no:cacheprovider; \
	  status=$$?; $(BIN)/python scripts/bench_report.py && exit $$status

bench-history: setup venv  ## history-scale benchmark (30/180/365 days): bench-results/history.json, merged report, docs/bench-history.png
	EMUSA_REQUIRE_SERVICES=1 $(BIN)/pytest -m history tests/benchmarks/test_history.py -s -p no:cacheprovider; \
	  status=$$?; $(BIN)/python scripts/bench_report.py && $(BIN)/python scripts/plot_history.py && exit $$status

run-native: setup venv  ## the stack without Docker (TimescaleDB, Mosquitto, simulator, services, Grafana if installed); Ctrl-C stops it
	$(BIN)/python scripts/run_native.py $(ARGS)

lock: venv  ## re-pin every dependency to what is installed now
	{ echo "# Pinned versions for reproducible installs: pip install -c requirements.lock -e \".[dev]\""; \
	  echo "# Regenerate with: make lock"; \
	  $(BIN)/pip freeze --exclude-editable; } > requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
