# Two commands on a fresh machine: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench lint format venv clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

## Set up (venv, migrations, demo data) and serve on http://127.0.0.1:8000
run: $(STAMP)
	bash scripts/run.sh

## Set up and run the whole test suite (PostgreSQL and Redis when reachable)
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## Benchmarks: ratios against a bare baseline measured in the same run (needs PostgreSQL)
bench: $(STAMP)
	$(BIN)/python bench/reserve.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/labels.py
	$(BIN)/python bench/stock.py
	$(BIN)/python bench/shipping.py
	$(BIN)/python bench/tracking.py
	$(BIN)/python bench/pushback.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
