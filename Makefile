# Two commands on a fresh machine (Python 3.11, pip, make):
#   make run    create the environment if missing, run the pipeline on the bundled sample data
#   make test   create the environment if missing, lint and run the test suite (installs
#               Debian's chromium for the report's browser test when root with apt-get)
# More: make serve (the production pair, dagster-webserver + dagster-daemon, UI on
#       127.0.0.1:3000, schedule and sensor on; deploy/ for a server), make ui (dagster dev),
#       make lint, make prepare, make bench, make fuzz (the readers' mutation fuzzer at
#       length), make clean.

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

PROVIDER_SAMPLE := $(SAMPLE_DIR)/.providers-sample

.PHONY: run test browser serve ui lint prepare bench fuzz clean

# The environment, from the lock file: uv is bootstrapped into the venv with pip. Bytecode is
# compiled once here: where PYTHONDONTWRITEBYTECODE is set, Python would otherwise compile
# every imported module of dagster, dbt and GX from source on every run (~10 s each time).
$(BIN)/kson: pyproject.toml uv.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	@UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --frozen --inexact --quiet --compile-bytecode
	@touch $@

# The providers' sample (reports, ~1 M visits a year, follow-up) and the sample ledgers are
# generated, not committed: deterministic, in seconds.
$(PROVIDER_SAMPLE): sample_data/providers.py sample_data/ledgers.py | $(BIN)/kson
	@echo "Generating the providers' sample data for 2021-2024 into $(SAMPLE_DIR)/ (scale 1)"
	$(BIN)/python -m sample_data.providers --out $(SAMPLE_DIR) --scale 1 --years 2021 2022 2023 2024
	@echo "Generating KSON's sample ledgers (SIE 4), volumes and budget for 2021-2024 into $(SAMPLE_DIR)/"
	$(BIN)/python -m sample_data.ledgers --out $(SAMPLE_DIR) --scale 1
	@touch $@

run: $(BIN)/kson $(PROVIDER_SAMPLE)
	KSON_LANDING_DIR=$${KSON_LANDING_DIR:-$(SAMPLE_DIR)} $(BIN)/kson run

test: $(BIN)/kson lint browser
	$(BIN)/pytest -q

# The board report's test (tests/test_report.py) opens it in Debian's chromium: installed
# here when it is missing and we are root with apt-get; otherwise that test skips, saying so.
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium for the report's browser test"; \
		apt-get install -y --no-install-recommends chromium >/dev/null \
			|| { apt-get update >/dev/null && apt-get install -y --no-install-recommends chromium >/dev/null; } \
			|| echo "chromium could not be installed: the report's browser test will skip"; \
	fi

# The dbt manifest the Dagster definitions load (kson run, make ui and the tests prepare it
# themselves; `dagster asset materialize` and other Dagster commands expect it). dbt parses
# only when a project file has changed since the last parse.
prepare: $(BIN)/kson
	$(BIN)/python -c "from orchestration.resources import prepare_dbt_project; prepare_dbt_project()"

lint: $(BIN)/kson
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Benchmarks (print figures; not tests): the visit path — one year at 1x and 10x Norrtälje
# scale (~1 M and ~10 M visits: the marginal and fixed costs), and four years at 1x (one new
# month into a warehouse holding four years of visits, and of the whole sample: all families)
# — and five years of sample ledgers.
bench: $(BIN)/kson
	$(BIN)/python -m benchmarks.visit_path --scales 1 10 --years 2024
	$(BIN)/python -m benchmarks.visit_path --scales 1
	$(BIN)/python -m benchmarks.sample_month --scale 1
	$(BIN)/python -m benchmarks.ledger_path --scale 1

# The readers' mutation fuzzer at length (make test runs it bounded: ~40 examples per family).
fuzz: $(BIN)/kson
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -q tests/test_fuzz_readers.py

# Dagster's production pair (orchestration/serve.py): dagster-webserver on 127.0.0.1:$(UI_PORT)
# and dagster-daemon (nightly schedule, landing sensor, run queue, monitoring, retries), both
# loading workspace.yaml, with the instance in DAGSTER_HOME. Ctrl-C stops both. The systemd
# units in deploy/ run the same two on a server.
serve: $(BIN)/kson $(PROVIDER_SAMPLE)
	KSON_LANDING_DIR=$${KSON_LANDING_DIR:-$(SAMPLE_DIR)} \
		$(BIN)/python -m orchestration.serve --port $(UI_PORT)

# The code location of pyproject.toml's [tool.dagster], `kson`: the one kson run records its
# runs under, so that they show in the job's run history.
ui: $(BIN)/kson $(PROVIDER_SAMPLE)
	KSON_LANDING_DIR=$${KSON_LANDING_DIR:-$(SAMPLE_DIR)} \
		$(BIN)/dagster dev -h 127.0.0.1 -p $(UI_PORT)

clean:
	rm -rf $(SAMPLE_DIR)/provider_reports $(SAMPLE_DIR)/visit_logs $(SAMPLE_DIR)/contract_followup \
		$(SAMPLE_DIR)/action_plans $(SAMPLE_DIR)/sie $(SAMPLE_DIR)/health_care_volumes \
		$(SAMPLE_DIR)/budget $(PROVIDER_SAMPLE)
	rm -rf warehouse/*.duckdb warehouse/*.wal warehouse/*.lock warehouse/archive warehouse/quarantine \
		warehouse/serving warehouse/exports warehouse/reports warehouse/logs warehouse/kson_build_dbt \
		dbt_project/target dbt_project/logs
