# Greenlight. `make run` starts the app with demo data; `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export UV_PYTHON_DOWNLOADS := never
# Compiled once at install: every process the suite starts (Celery workers, beat, manage.py,
# make run) then loads its libraries without compiling them again.
export UV_COMPILE_BYTECODE := 1

UV_VERSION := 0.13.9
UV := .uv/bin/uv
PY := .venv/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
# The suite runs in parallel, one pytest-xdist worker per core, each with its own test database
# and Redis database (config/settings_test.py). TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= auto
# Debian packages the suite drives for real, as command=package: Chromium for the browser tests,
# Prometheus for the health-check tests, redis-server for the tests that stop a Redis of their own.
TEST_PACKAGES := chromium=chromium chromedriver=chromium-driver prometheus=prometheus \
	redis-server=redis-server
# Fetches from CI and monitoring providers wait on the network: the poller worker runs them in
# threads (docker-compose.yml runs 32).
POLL_THREADS ?= 8
# Seconds `make run` gives its processes to stop after Ctrl-C before it kills them.
STOP_GRACE ?= 5

.PHONY: help install run test test-packages test-unleash lint format migrations-check deploy-check ci clean

help:
	@echo "make run               the app with demo data on http://$(HOST):$(PORT)"
	@echo "make test              the whole suite (PostgreSQL and Redis when they answer)"
	@echo "make lint | format | migrations-check | deploy-check | ci"

# uv itself lives in its own small virtualenv so nothing is installed outside the project.
$(UV):
	python3 -m venv .uv
	.uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked
	@touch $@

install: .venv/.synced

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --host $(HOST) --port $(PORT)
	@echo
	@echo "  Greenlight is starting on http://$(HOST):$(PORT)/"
	@echo "  Log in as rita (release manager), paul (product), quinn (QA), dana (DevOps),"
	@echo "  devin (developer), vic (viewer) or admin (superuser); password: greenlight"
	@echo "  Ctrl-C stops the web server, the workers and beat."
	@echo
	@# Every process is a job of this shell: Ctrl-C (or TERM) reaches the trap, which stops them all,
	@# and if one of them dies the others are stopped too. A worker busy with a fetch gets
	@# $(STOP_GRACE) seconds to finish it, then it and its pool are killed.
	@stop() { kill $$(jobs -p) 2>/dev/null; \
	  for _ in $$(seq $$(( $(STOP_GRACE) * 4 ))); do [ -z "$$(jobs -pr)" ] && break; sleep 0.25; done; \
	  for job in $$(jobs -pr); do pkill -KILL -P "$$job"; kill -KILL "$$job"; done 2>/dev/null; wait; }; \
	trap stop EXIT INT TERM; \
	$(PY) -m celery -A config worker --queues=celery --loglevel=warning --concurrency=2 \
		--hostname=worker@%h --without-gossip --without-mingle & \
	$(PY) -m celery -A config worker --queues=polling --pool=threads --concurrency=$(POLL_THREADS) \
		--hostname=poller@%h --loglevel=warning --without-gossip --without-mingle & \
	$(PY) -m celery -A config beat --loglevel=warning & \
	$(PY) manage.py runserver $(HOST):$(PORT) --noreload & \
	wait -n

# The suite starts many Python processes (its workers, Celery workers and beat, manage.py): each
# loads the project's modules as compiled by the first, from __pycache__ (ignored by git),
# rather than compiling them again, even where the environment asks Python not to write
# bytecode (PYTHONDONTWRITEBYTECODE set to nothing is unset for Python). `make ci`'s checks
# import the whole project before its suite runs, so they compile it for the suite.
test run ci: export PYTHONDONTWRITEBYTECODE :=

test: install test-packages test-unleash
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup --durations=15 $(PYTEST_ARGS)

# Installs the missing ones when it can (root with apt-get), otherwise says how; without them
# their tests are skipped with the reason (or fail the run under REQUIRE_SERVICES=1).
test-packages:
	@missing=""; for pair in $(TEST_PACKAGES); do \
		command -v "$${pair%%=*}" >/dev/null || missing="$$missing $${pair#*=}"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing the Debian packages the suite drives:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
		echo "Missing Debian packages, their tests will be skipped: sudo apt-get install$$missing"; \
	fi

# The open-source Unleash server the feature-flag tests start, from npm into var/unleash (where
# the tests look for it), when Node.js is there; without it their tests are skipped.
test-unleash:
	@if [ ! -f var/unleash/node_modules/unleash-server/package.json ]; then \
		if command -v npm >/dev/null; then \
			echo "Installing the Unleash server the feature-flag tests start"; \
			npm install --prefix var/unleash --no-audit --no-fund --silent unleash-server@7.5.1; \
		else \
			echo "No npm: the Unleash tests will be skipped (install Node.js 20 or later)"; \
		fi; \
	fi

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/lint-imports
	$(PY) -m mypy

format: install
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

migrations-check: install
	$(PY) manage.py makemigrations --check --dry-run

# The production settings with throwaway values: proves they pass Django's deployment checks.
deploy-check: install
	DJANGO_SETTINGS_MODULE=config.settings_production \
	SECRET_KEY="$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(64))')" \
	FERNET_KEYS="$$($(PY) -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
	ALLOWED_HOSTS=greenlight.example.com \
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/greenlight \
	REDIS_URL=redis://127.0.0.1:6379/0 \
	EMAIL_URL=smtp+tls://greenlight:secret@mail.example.com:587 \
	$(PY) manage.py check --deploy --fail-level WARNING

ci: lint migrations-check deploy-check
	REQUIRE_SERVICES=1 $(MAKE) test

clean:
	rm -rf .venv .uv var staticfiles
