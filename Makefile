# Lianfang: `make demo` runs the product on SQLite with demo data; `make test` runs every test
# on SQLite and on PostgreSQL, browser tests included. Both install what they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PERSONS ?= 20000
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo serve test test-sqlite test-postgres lint system-deps venv bench clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(BIN)/.installed

demo: venv
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo --persons $(PERSONS)
	@echo "Serving on http://$(HOST):$(PORT)/  (Ctrl-C stops the server and the import worker)"
	scripts/serve.sh $(HOST) $(PORT)

system-deps:
	scripts/system-deps.sh

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy

test-sqlite: venv
	$(BIN)/python -m pytest -q

test-postgres: venv
	scripts/with-postgres.sh $(BIN)/python -m pytest -q

test: system-deps lint test-sqlite test-postgres

bench: venv
	$(BIN)/python bench/run.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
