# The two commands a new user needs are `make demo` and `make test`; both build .venv themselves.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
UV_VERSION := 0.13.9
# Every command runs in the project's environment (include/config/dev.env, applied by the dev kit's
# environment module), with the product (plugins/) and the dev kit (devkit/) on the path.
RUN := PATH=$(BIN):$$PATH PYTHONPATH=$(CURDIR)/plugins:$(CURDIR)/devkit $(BIN)/python -m recruitment_devkit.environment

.PHONY: help venv lock test test-ui test-distributed lint format demo distributed-demo migrate airflow template simulator bench docs clean

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# A developer's .venv holds both locks: the runtime (requirements.lock, all the production image has) and
# the development one (requirements-dev.lock: tests, linters, the dev kit's needs).
$(VENV)/.installed: requirements.lock requirements-dev.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode --require-hashes -r requirements.lock -r requirements-dev.lock
	@touch $@

venv: $(VENV)/.installed ## create .venv with the pinned dependencies

# Each lock carries the sha256 of every file each pin may install, and `make venv` and the Dockerfile
# install with --require-hashes: a file that differs from the one locked is refused. Pins already in a
# lock are kept (uv prefers them); delete a line to let its package move. The development lock is
# constrained by the runtime lock (-c), so a package in both has one version.
lock: ## re-resolve requirements.txt and requirements-dev.txt into the pinned, hashed requirements.lock and requirements-dev.lock
	@test -x $(BIN)/uv || { $(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install --quiet uv==$(UV_VERSION); }
	$(BIN)/uv pip compile requirements.txt --python-version 3.11 --generate-hashes --quiet -o requirements.lock
	$(BIN)/uv pip compile requirements-dev.txt -c requirements.lock --python-version 3.11 --generate-hashes --quiet -o requirements-dev.lock

lint: venv ## ruff check and ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint include/sql

format: venv ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: venv lint ## lint, then every test (PostgreSQL at 127.0.0.1:5432 for the warehouse tests)
	$(RUN) pytest -m "not ui and not distributed" $(PYTEST_ARGS)

test-ui: venv ## the Airflow UI in headless Chromium (needs chromium and chromium-driver)
	$(RUN) pytest -m ui tests/system/test_ui.py

test-distributed: venv ## one campaign week on a real distributed Airflow, checked (PostgreSQL and Redis)
	$(RUN) pytest -m distributed tests/system/test_distributed.py

migrate: venv ## migrate the warehouse of the `warehouse` connection and load reference data
	$(RUN) python -m recruitment_month.warehouse

demo: venv ## run the pipeline on the embedded default (SQLite, local inbox, simulator, .eml sink)
	$(RUN) python -m recruitment_devkit.demo

distributed-demo: venv ## one campaign week on a real distributed Airflow: API server, scheduler, 2 Celery workers, PostgreSQL, Redis
	$(RUN) python -m recruitment_devkit.distributed

# The API server listens on 127.0.0.1 only (Airflow's default, 0.0.0.0, opens the UI to the network).
airflow: venv ## start the Airflow UI and scheduler locally on the embedded default (Ctrl-C stops it)
	$(RUN) python -m recruitment_month.warehouse
	AIRFLOW__API__HOST=127.0.0.1 $(RUN) airflow standalone

template: venv ## write the ministry's .xlsx report form to data/template.xlsx
	$(RUN) python -m recruitment_month.reports.template data/周报模板.xlsx

simulator: venv ## serve the partner feeds on 127.0.0.1:8765 (Ctrl-C stops it)
	$(RUN) python -m recruitment_devkit.feed_simulator --port 8765

bench: venv ## benchmarks, each printed as a ratio to a baseline measured in the same run
	$(RUN) python bench/run.py

docs: venv ## regenerate docs/dags.md, the per-DAG reference, from the DAG files
	$(RUN) python tools/dag_reference.py

clean: ## remove the virtualenv, Airflow home and data folder
	rm -rf $(VENV) airflow_home data
