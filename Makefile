# ChangeOrder Desk. `make run` sets up and runs the app with demo data; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := app
export FLASK_RUN_HOST ?= 127.0.0.1
export FLASK_RUN_PORT ?= 5000

.PHONY: run test test-quick lint worker sandbox bench bench-floor bench-load soak

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed
	$(BIN)/flask db upgrade
	$(BIN)/flask seed-demo
	$(BIN)/flask run

# PYTEST_ARGS narrows a run, e.g. PYTEST_ARGS='-m "not browser and not process"' (.ci/run).
# Two pytest-xdist workers (the machines have 2 cores); the longest tests start first, and an
# idle worker takes over the other's queue (tests/conftest.py: _start_order). PYTEST_WORKERS=0
# runs in one process (e.g. to use pdb).
PYTEST_WORKERS ?= 2
XDIST = $(if $(filter 0,$(PYTEST_WORKERS)),-p no:xdist,-n $(PYTEST_WORKERS) --dist worksteal)

test: $(VENV)/.installed
	bash scripts/ensure-chromium
	$(BIN)/pytest $(XDIST) $(PYTEST_ARGS)

# Everything but the slow tests (browser, real rq worker or gunicorn, scale): under two minutes.
test-quick: $(VENV)/.installed
	$(BIN)/pytest $(XDIST) -m "not slow" $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .

worker: $(VENV)/.installed
	$(BIN)/rq worker --with-scheduler --worker-class jobs.worker.Worker --url "$$REDIS_URL" changeorder

sandbox: $(VENV)/.installed
	$(BIN)/python -m qbo_sandbox --host 127.0.0.1 --port 5055

# make bench BENCH_ARGS="--sizes 100,10000 --exports 200" (README: Performance); then the
# pages against the framework's floor (FLOOR_ARGS, PostgreSQL: DATABASE_URL's server).
bench: $(VENV)/.installed
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)
	$(BIN)/python -m benchmarks.floor $(FLOOR_ARGS)

# The pages over gunicorn as a ratio of a minimal Flask page, e.g.
# make bench-floor FLOOR_ARGS="--sizes 100 --requests 100 --compare ../main"
bench-floor: $(VENV)/.installed
	$(BIN)/python -m benchmarks.floor $(FLOOR_ARGS)

# 50 users for 60 s against gunicorn x3, PostgreSQL, Redis and an rq worker, then Accept to
# Synced (README: Performance), e.g. make bench-load LOAD_ARGS="--think 0"
bench-load: $(VENV)/.installed
	$(BIN)/python -m benchmarks.load $(LOAD_ARGS)

# make soak SOAK_MINUTES=10 (README: Soak): gunicorn, a real worker, PostgreSQL, Redis and the
# sandbox under mixed faults; exits non-zero on any breach.
SOAK_MINUTES ?= 10
soak: $(VENV)/.installed
	$(BIN)/python -m benchmarks.soak --minutes $(SOAK_MINUTES) $(SOAK_ARGS)
