# Every pip call goes through constraints.txt: torch stays the 2.13.0 CPU wheel.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install -c constraints.txt
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help setup run test test-fast lint format stop bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(PIP) -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP) ## Create .venv and install everything (once)

run: setup ## Start PostgreSQL+Redis, migrate, seed the demo, serve :8000 with a worker
	$(BIN)/python manage.py serve

test: setup ## Run the whole test suite against real PostgreSQL+pgvector and Redis
	$(BIN)/python manage.py migrate --verbosity 0
	$(BIN)/python -m pytest

test-fast: setup ## Tests without the slow (training) and browser ones
	$(BIN)/python -m pytest -m "not slow and not e2e"

lint: setup ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup ## ruff fix and format
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

stop: ## Stop the embedded PostgreSQL and the local Redis
	$(BIN)/python manage.py local_services stop

clean: stop ## Remove var/ (database, media, models) — destroys local data
	rm -rf var
