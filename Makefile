# The two README commands (`make demo`, `make test`) and the developer chores.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint format bench install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/precredit demo

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP)
	$(PY) bench/bench_generate.py --entities 20000
	$(PY) bench/bench_generate.py --entities 300000
	$(PY) bench/bench_generate.py --entities 300000 --out /tmp/precredit-bench
	$(PY) bench/bench_data_check.py --store /tmp/precredit-bench/platform.duckdb
	$(PY) bench/bench_features.py --store /tmp/precredit-bench/platform.duckdb
	$(PY) bench/bench_train.py --store /tmp/precredit-bench/platform.duckdb

clean:
	rm -rf .precredit .pytest_cache .mypy_cache .ruff_cache
