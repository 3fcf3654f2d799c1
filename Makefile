# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pytest-xdist workers for `make test` (each gets its own PostgreSQL database).
PYTEST_WORKERS ?= 2

.PHONY: run test lint format migrate bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

## Set everything up, migrate the database, start simulator + scheduler + web on embedded defaults.
run: $(STAMP)
	$(BIN)/python -m cli migrate
	$(BIN)/python tools/run_all.py

## Set up, lint, and run the whole test suite with the coverage gate.
test: $(STAMP) lint
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist worksteal --cov --cov-report=term --cov-report=json:coverage.json -p no:cacheprovider $(PYTEST_ARGS)
	$(BIN)/python tools/coverage_gate.py coverage.json --lines 85 --branches 75

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrate: $(STAMP)
	$(BIN)/python -m cli migrate

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache coverage.json .coverage
