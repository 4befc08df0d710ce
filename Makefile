VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: install  ## app + demo data on http://127.0.0.1:8000 (gunicorn + whitenoise; RELOAD=1 reloads on code changes)
	RELOAD=$(RELOAD) $(PY) scripts/run.py

test: install  ## the whole test suite against real PostgreSQL and Redis
	$(PY) scripts/test.py $(ARGS)

bench: install  ## ingest (BENCH_EVENTS, BENCH_USERS, BENCH_TENANTS, BENCH_CLIENTS) and invoicing (BENCH_INVOICE_TENANTS)
	$(PY) bench/run.py
	$(PY) bench/invoicing.py

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf .var staticfiles .pytest_cache
