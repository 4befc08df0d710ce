VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install lock audit run test lint bench clean

install: $(STAMP)

# Exactly the versions (and hashes) in requirements.lock; the project itself is installed without dependencies.
$(STAMP): pyproject.toml requirements.lock
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

lock:  ## re-pin requirements.lock after changing the dependencies in pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet uv
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 --generate-hashes \
		--quiet -o requirements.lock

audit: install  ## known vulnerabilities in the locked dependencies (skipped, with a message, when offline)
	$(PY) scripts/audit.py

run: install  ## app + demo data on http://127.0.0.1:8000 (gunicorn + whitenoise; RELOAD=1 reloads on code changes)
	RELOAD=$(RELOAD) $(PY) scripts/run.py

test: install  ## the whole test suite against real PostgreSQL and Redis
	$(PY) scripts/test.py $(ARGS)

bench: install  ## ingest (BENCH_EVENTS, BENCH_USERS, BENCH_TENANTS, BENCH_CLIENTS; BENCH_EVENT_STORE=clickhouse: both stores), invoicing (BENCH_INVOICE_TENANTS) and pages under load (BENCH_PAGES_SECONDS, BENCH_PAGES_USERS)
	$(PY) bench/run.py
	$(PY) bench/invoicing.py
	$(PY) bench/pages.py

lint: install  ## ruff (lint and format) and the dependency direction between the apps (import-linter)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

clean:
	rm -rf .var staticfiles .pytest_cache
