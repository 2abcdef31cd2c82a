# Two commands on a fresh machine (Python 3.11, pip, make):
#   make run    create the environment if missing, run the pipeline on the bundled sample data
#   make test   create the environment if missing, lint and run the test suite
# More: make ui (Dagster UI on 127.0.0.1:3000), make lint, make clean.

VENV        := .venv
BIN         := $(VENV)/bin
UV_VERSION  := 0.13.8
PYTHON      ?= python3
SAMPLE_DIR  := data/sample
UI_PORT     ?= 3000

# Nothing outside the package registries is reachable: no telemetry, no usage stats.
export DAGSTER_HOME ?= $(CURDIR)/.dagster
export DBT_SEND_ANONYMOUS_USAGE_STATS := False
export GX_ANALYTICS_ENABLED := False

.PHONY: run test ui lint clean

# The environment, from the lock file: uv is bootstrapped into the venv with pip.
$(BIN)/kson: pyproject.toml uv.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	@UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --frozen --inexact --quiet
	@touch $@

run: $(BIN)/kson
	KSON_LANDING_DIR=$${KSON_LANDING_DIR:-$(SAMPLE_DIR)} $(BIN)/kson run

test: $(BIN)/kson lint
	$(BIN)/pytest -q

lint: $(BIN)/kson
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

ui: $(BIN)/kson
	KSON_LANDING_DIR=$${KSON_LANDING_DIR:-$(SAMPLE_DIR)} \
		$(BIN)/dagster dev -m orchestration.definitions -h 127.0.0.1 -p $(UI_PORT)

clean:
	rm -rf warehouse/*.duckdb warehouse/*.wal warehouse/archive warehouse/quarantine \
		warehouse/logs dbt_project/target dbt_project/logs
