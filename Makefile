# The two README commands (`make demo`, `make test`) and the developer chores.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint format bench soak install clean java-check browser-check

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/precredit demo

# The Spark tests (marker `spark`) need a Java 17+ runtime: without one they skip, under CI fail.
java-check:
	@command -v java >/dev/null 2>&1 || [ -x "$${JAVA_HOME:-/nonexistent}/bin/java" ] || echo "precredit:" \
		"no Java runtime (java on PATH or JAVA_HOME): the Spark engine and its tests need JDK 17+" \
		"(Debian: apt-get install openjdk-17-jre-headless); the spark tests skip, and fail under CI"

# The console's browser tests (marker `browser`) drive the system's Chromium through Playwright
# (never `playwright install`): without /usr/bin/chromium they skip, under CI fail.
CHROMIUM ?= /usr/bin/chromium
browser-check:
	@[ -x "$(CHROMIUM)" ] || echo "precredit: no Chromium at $(CHROMIUM): the console's browser" \
		"tests need it (Debian: apt-get install chromium); the browser tests skip, and fail under CI"

test: $(STAMP) java-check browser-check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) -m pytest -q -n 2 --dist loadfile

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Every benchmark once. The 300k-entity store is generated once and shared: the benches that
# write (features, evaluation) work on copies; its snapshot is built before the offers bench.
# One demo home (20k entities, a registered model) serves bench_offers and bench_api.
BENCH_DIR ?= /tmp/precredit-bench
BENCH_STORE := $(BENCH_DIR)/platform.duckdb
BENCH_HOME := $(BENCH_DIR)/home

bench: $(STAMP)
	$(PY) bench/bench_cli_startup.py
	$(PY) bench/bench_generate.py --entities 20000
	$(PY) bench/bench_generate.py --entities 300000 --out $(BENCH_DIR)
	$(PY) bench/bench_data_check.py --store $(BENCH_STORE)
	$(PY) bench/bench_features.py --store $(BENCH_STORE) --spark
	$(PY) bench/bench_evaluation.py --store $(BENCH_STORE)
	$(PY) bench/bench_train.py --store $(BENCH_STORE)
	$(PY) bench/bench_train_dask.py --entities 20000
	$(PY) bench/bench_loop_headroom.py --store $(BENCH_STORE)
	$(PY) bench/bench_model_shape.py --store $(BENCH_STORE)
	$(VENV)/bin/precredit features snapshot --store $(BENCH_STORE) --as-of 2025-12-31
	PRECREDIT_HOME=$(BENCH_HOME) $(VENV)/bin/precredit demo --no-serve --entities 20000
	$(PY) bench/bench_offers.py --store $(BENCH_STORE) --home $(BENCH_HOME)
	$(PY) bench/bench_api.py --home $(BENCH_HOME)
	$(PY) bench/bench_coalesce.py --home $(BENCH_HOME)
	$(PY) bench/bench_real_tables.py --max-rows 20000
	$(PY) bench/bench_scale.py --sizes 2000,5000 --dir $(BENCH_DIR)/scale

# The 10-minute soak (not in `bench`: it takes ~12 minutes and needs PostgreSQL). It reads the
# demo home under BENCH_DIR (built when missing) and creates, then drops, its own database.
SOAK_ADMIN_URL ?= postgresql://postgres@127.0.0.1:5432/test

soak: $(STAMP)
	test -f $(BENCH_HOME)/mlflow.db || \
		PRECREDIT_HOME=$(BENCH_HOME) $(VENV)/bin/precredit demo --no-serve --entities 20000
	$(PY) bench/bench_soak.py --home $(BENCH_HOME) --admin-url $(SOAK_ADMIN_URL)

clean:
	rm -rf .precredit .pytest_cache .mypy_cache .ruff_cache
