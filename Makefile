# Two commands for a fresh machine (see README): `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install run test test-fast lint k8s-up k8s-down k8s-e2e bench data clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,bench]"
	touch $@

install: $(VENV)/.installed  ## create .venv and install the package with its dev and bench extras

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
