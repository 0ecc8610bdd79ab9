# CAPAflow — every command a newcomer and CI rely on (DESIGN.md §11).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
BUS ?= sql
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: help venv run migrate test test-unit infra-up infra-down lint format schemas compliance constraints clean

help:
	@echo "make run        start the three services (BUS=sql default, BUS=kafka for Kafka+PostgreSQL)"
	@echo "make test       start Kafka + PostgreSQL, run every test, stop them"
	@echo "make infra-up   start the local Kafka broker and PostgreSQL; make infra-down stops them"
	@echo "make lint       ruff + mypy"

# The virtualenv is rebuilt when the pinned dependencies change.
$(VENV)/.installed: pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found; set PYTHON=..."; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing the pinned dependencies into $(VENV) (pip runs quietly: a minute or two the first time)..."
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	@touch $@

venv: $(VENV)/.installed

migrate: venv
	BUS=$(BUS) deploy/migrate.sh

run: venv
	BUS=$(BUS) deploy/run.sh

test: venv
	deploy/test.sh

test-unit: venv
	$(BIN)/pytest -q tests/unit

infra-up:
	deploy/infra.sh up

infra-down:
	deploy/infra.sh down

lint: venv
	$(BIN)/ruff check shared services tests bench
	$(BIN)/mypy shared services

format: venv
	$(BIN)/ruff check --fix shared services tests
	$(BIN)/ruff format shared services tests

schemas: venv
	$(BIN)/python -m shared.events.schemas
	$(BIN)/python -m shared.events.asyncapi

# The traceability matrix docs/compliance.md, from shared/compliance/ and the tests' markers.
compliance: venv
	$(BIN)/python -m shared.compliance.matrix

constraints: venv
	{ head -2 constraints.txt; $(BIN)/pip freeze --exclude-editable; } > constraints.new && mv constraints.new constraints.txt

clean:
	rm -rf var/*.sqlite* var/run

# Benchmarks against baselines measured in the same run (issue 7; bench/README.md).
.PHONY: bench
bench: venv
	bench/bench.sh $(BENCH_ARGS)
