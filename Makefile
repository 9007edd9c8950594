# Two commands for a fresh machine (see README): `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PYTEST_ARGS ?=

# The lock files pin every dependency for Python 3.11 on linux x86_64: requirements.lock (the runtime: the
# image and the offline wheelhouse) and requirements-dev.lock (runtime + the dev and bench extras: `make
# install`, so CI). pyproject.toml keeps the ranges for library users; `make lock` regenerates both from it
# with uv, keeping the locked versions that still satisfy it (`make lock LOCK_ARGS=--upgrade` moves to the
# newest releases, `LOCK_ARGS="-P numpy"` one package). The runtime lock is resolved within the dev one, so
# the two agree; tests/k8s/test_consistency.py fails when either is stale.
UV_VERSION ?= 0.13.8
LOCK_ARGS  ?=
LOCK_FLAGS := --quiet --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
              --custom-compile-command "make lock"

.PHONY: install lock run test test-fast lint k8s-up k8s-down k8s-e2e bench data clean

$(VENV)/.installed: pyproject.toml requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements-dev.lock -e ".[dev,bench]"
	touch $@

install: $(VENV)/.installed  ## create .venv and install the package with its dev and bench extras, as locked

lock:  ## regenerate requirements-dev.lock and requirements.lock from pyproject.toml (uv in .venv)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "uv==$(UV_VERSION)"
	$(VENV)/bin/uv pip compile $(LOCK_FLAGS) $(LOCK_ARGS) pyproject.toml --extra dev --extra bench \
	  -o requirements-dev.lock
	$(VENV)/bin/uv pip compile $(LOCK_FLAGS) pyproject.toml -c requirements-dev.lock -o requirements.lock

run: install  ## start a local Ray head and the four services (Ctrl-C stops everything)
	$(VENV)/bin/raysvc up

test: install  ## run the whole test suite
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install  ## ruff (lint + format check) and mypy: the gate .ci/run runs before the tests
	$(VENV)/bin/ruff check services tests scripts
	$(VENV)/bin/ruff format --check services tests scripts
	$(VENV)/bin/mypy

test-fast: install  ## the suite without the slow tests
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

k8s-up: install  ## a local single-node Kubernetes with the KubeRay operator (root); then `source .raysvc/k8s.env`
	$(PY) scripts/k8s_local.py up

k8s-down:  ## stop the local Kubernetes and remove its state
	$(PY) scripts/k8s_local.py down

k8s-e2e: install  ## the chart end to end on the local Kubernetes, with faults (starts and stops the cluster)
	bash scripts/k8s_e2e.sh

bench: install  ## side-by-side benchmarks into bench-results/
	$(VENV)/bin/raysvc bench --out bench-results

data: install  ## generate the project's datasets into data/
	$(VENV)/bin/raysvc data generate

clean:
	rm -rf $(VENV) .raysvc .pytest_cache bench-results
