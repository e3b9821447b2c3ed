# Rankwise. `make run` serves everything on the embedded default (SQLite, no Redis);
# `make test` installs and runs the whole suite. DATABASE_URL / REDIS_URL switch to
# PostgreSQL and Redis.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
WEB_CONCURRENCY ?= 2
export PYTHONPATH := $(CURDIR)/platform:$(CURDIR)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install run test web worker beat migrate demo bench lint clean

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON))"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, pinned: the CPU build. A bare `torch` requirement would pull a CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py load_demo

# The embedded default: web + worker + scheduler in one terminal. Ctrl-C (or SIGTERM) stops
# all three cleanly (rankwise/supervisor.py).
run: export RANKWISE_PROFILE ?= local
run: demo
	exec $(PY) -m rankwise.supervisor --host $(HOST) --port $(PORT) \
	  --web-concurrency $(WEB_CONCURRENCY)

web: install
	$(VENV)/bin/gunicorn rankwise.wsgi --bind $(HOST):$(PORT) --workers $(WEB_CONCURRENCY) \
	  --threads 4 --access-logfile -

worker: install
	$(PY) -m celery -A rankwise worker -Q celery,training,judges --loglevel=INFO

beat: install
	$(PY) -m celery -A rankwise beat --loglevel=INFO

test: export RANKWISE_PROFILE ?= local
test: install
	@command -v node >/dev/null || { echo "Node.js 18+ is needed for the browser-code tests"; exit 1; }
	node --test tests/js/
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) benchmarks/import_items.py
	$(PY) benchmarks/annotate_loop.py
	$(PY) benchmarks/reward_model.py

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) var test-artifacts
