# Two commands on a fresh machine with Python 3.10+ and make:
#   make demo   serve example_project with gunicorn at http://127.0.0.1:8000 (live mounted config)
#   make test   run the whole suite
# and, while working on the code, make test-fast (well under a minute).
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3.10 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null && { echo $$p; break; }; done)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test test-fast lint docs dist test-wheel demo bench clean

# pip >= 25.1 reads the dependency groups of pyproject.toml (--group): hence the upgrade.
PIP_STAMP := $(VENV)/.pip-upgraded
$(PIP_STAMP):
	@test -n "$(PYTHON)" || { echo "make: need Python 3.10 or newer on PATH" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	touch $(PIP_STAMP)

$(STAMP): pyproject.toml $(PIP_STAMP)
	$(BIN)/python -m pip install --quiet -e . --group test --group lint --group docs --group release
	touch $(STAMP)

# The demo needs only what the Procfile runs: the package and gunicorn (the `demo` group).
DEMO_STAMP := $(VENV)/.demo-installed
$(DEMO_STAMP): pyproject.toml $(PIP_STAMP)
	$(BIN)/python -m pip install --quiet -e . --group demo
	touch $(DEMO_STAMP)

venv: $(STAMP)

# The suite with branch coverage of maintenance_env (at least 95%; a line no test can reach
# says why in a pragma), then the linters and the docs: main stays ruff-clean, mypy --strict
# clean, and its docs build without a warning. In two runs, one coverage: the in-process tests
# on every core (pytest-xdist), then the tests that start real processes, one at a time, so
# that their timing is not shared with the rest of the suite.
COV := --cov=maintenance_env --cov-branch
test: $(STAMP)
	$(BIN)/python -m pytest -m "$(FAST)" -n auto $(COV) --cov-report= $(PYTEST_ARGS)
	$(BIN)/python -m pytest -m "not ($(FAST))" $(COV) --cov-append --cov-fail-under=95 \
		--cov-report=term-missing:skip-covered $(PYTEST_ARGS)
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory docs

# Everything but real servers, the browser, kubectl, redis-server, memcached, PostgreSQL and
# the load tests, with 100 generated inputs per property test instead of 300, on every core
# (pytest-xdist); no coverage, no linters. Under a minute on two cores.
# The expression lives in .ci/fast-markers, read by nox and .ci/test-wheel too.
FAST := $(shell cat .ci/fast-markers)
test-fast: $(STAMP)
	PROPERTY_EXAMPLES=100 $(BIN)/python -m pytest -m "$(FAST)" -n auto $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff format --check maintenance_env tests benchmarks example_project docs/conf.py noxfile.py
	$(BIN)/ruff check maintenance_env tests benchmarks example_project docs/conf.py noxfile.py
	$(BIN)/mypy

# The documentation site (Sphinx, MyST Markdown, furo) from docs/ into build/docs;
# -W --keep-going: every warning (a broken link, a page outside the toctree) fails the build.
docs: $(STAMP)
	$(BIN)/python -m sphinx -W --keep-going -q -b html docs build/docs

# The sdist and the wheel in dist/, checked as PyPI will check them.
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist
	$(BIN)/twine check --strict dist/*

# The suite against the built wheel in a fresh venv, from the sdist's test tree (.ci/test-wheel).
test-wheel: $(STAMP)
	bash .ci/test-wheel $(PYTEST_ARGS)

# The Procfile's web: line, run as it is, on loopback (PORT/HOST picked up by gunicorn.conf.py).
DEMO_PORT ?= 8000
demo: $(DEMO_STAMP)
	$(BIN)/python example_project/manage.py migrate --noinput
	mkdir -p example_project/run/maintenance
	@echo "Serving http://127.0.0.1:$(DEMO_PORT)/ ; in another terminal:"
	@echo "  $(BIN)/python example_project/manage.py maintenance_mode on --write"
	HOST=127.0.0.1 PORT=$(DEMO_PORT) PATH="$(abspath $(BIN)):$$PATH" \
		$(shell sed -n 's/^web: *//p' Procfile)

# Every benchmark (a few minutes), next to bare Django and django-maintenance-mode (the
# `bench` dependency group); measured into benchmarks/results.json, rendered into benchmarks/results.md and summary.md (python -m benchmarks.report renders again). wrk is used when installed
# (Debian: apt-get install wrk), else a small Python client. BENCH_ARGS=--quick for a smoke run.
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet --group bench
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks --docs $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .venv-3.10 build dist *.egg-info
