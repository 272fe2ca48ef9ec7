# floe: every task a contributor or CI needs. `make help` lists them.
VENV ?= .venv
PY := $(VENV)/bin/python
FLOE := $(abspath $(VENV))/bin/floe
# pytest workers; 2 matches the reference machines (set PYTEST_WORKERS=0 to run serially).
PYTEST_WORKERS ?= 2
# Extras installed for development: postgres and trino adapters are tested for real / by profile;
# k8s (dagster-k8s builds the run Job in the chart tests) and metrics (the exporter) likewise.
EXTRAS ?= dev,postgres,trino,s3,k8s,metrics
# uv installs from uv.lock; pinned so the lock is read and checked the same way everywhere.
UV_VERSION ?= 0.13.9
UV := $(VENV)/bin/uv
comma := ,

.PHONY: help install demo demo-up test lint typecheck unit generate bench clean

help:  ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

# Exactly the versions in uv.lock (--frozen: never re-resolved here; `make lint` says when the lock
# is stale). --inexact keeps uv itself, which pip put in the venv; floe is installed editable.
# UV_PROJECT_ENVIRONMENT: uv sync would otherwise always target ./.venv, whatever VENV says.
$(VENV)/.installed: pyproject.toml uv.lock
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	UV_PROJECT_ENVIRONMENT=$(abspath $(VENV)) $(UV) sync -q --frozen --inexact --compile-bytecode $(addprefix --extra ,$(subst $(comma), ,$(EXTRAS)))
	@# Byte-compile our own sources too: start-up time is a feature (PYTHONDONTWRITEBYTECODE may be set).
	$(PY) -m compileall -q src
	touch $@

install: $(VENV)/.installed  ## Create .venv and install floe with its dev extras, as pinned in uv.lock

demo: install  ## The live e-commerce demo in build/demo: land 3 batches, build the marts, print them
	$(FLOE) demo --dir build/demo --batches 3

demo-up: install  ## The demo in build/demo running in Dagster's UI (a batch every 5 minutes) until Ctrl-C
	$(FLOE) demo up --dir build/demo

lint: install  ## uv.lock matches pyproject.toml, ruff, and the layers of [tool.importlinter]
	@$(UV) lock --check -q || { echo "uv.lock is out of date with pyproject.toml: run 'uv lock' (or '$(UV) lock') and commit uv.lock" >&2; exit 1; }
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/lint-imports --no-cache

typecheck: install  ## mypy, strict on src/
	$(VENV)/bin/mypy

unit: install  ## Fast tests only
	$(VENV)/bin/pytest -q -n $(PYTEST_WORKERS) -m "not integration and not postgres and not process"

# --dist loadfile: a test file runs on one worker, so a module's expensive fixture (the Cube
# shop) is built once. (pytest-xdist's loadgroup does not group under pytest 9: its group
# suffix never reaches the node ids.)
test: install lint typecheck  ## Lint, types and the whole test suite
	$(VENV)/bin/pytest -q -n $(PYTEST_WORKERS) --dist loadfile --durations=15

generate: install  ## Regenerate committed outputs: the JSON Schemas, and demo/ from the ecommerce template
	$(FLOE) schema export --output schemas
	$(PY) -m floe.platform.helm.schema charts
	rm -rf build/demo-render && $(FLOE) init build/demo-render/demo --template ecommerce > /dev/null
	rm -rf demo && mv build/demo-render/demo demo && rm -rf build/demo-render

bench: install  ## Run every benchmark (minutes); figures go to benchmarks/RESULTS.md by hand
	for script in benchmarks/bench_*.py; do $(PY) $$script || exit 1; done

clean:  ## Remove the virtualenv and build outputs
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
