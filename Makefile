# One command installs and runs: `make demo` (the main job), `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.genodil-installed
PYTEST := $(PY) -m pytest -n 2

.PHONY: install demo workflow test test-fast lint clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt "torch==2.13.0"
	$(PY) -m pip install --quiet -c constraints.txt -e ".[interpret,workflow,parquet]" --group dev
	touch $(STAMP)

install: $(STAMP)

# Extra flags for a lighter run (the README test: DEMO_ARGS="--steps 40"); empty by default.
DEMO_ARGS ?=
WORKFLOW_ARGS ?=

demo: $(STAMP)
	$(VENV)/bin/genodil demo --out demo_out $(DEMO_ARGS)

workflow: $(STAMP)
	$(VENV)/bin/snakemake -s workflows/Snakefile -c 2 $(WORKFLOW_ARGS)

# The whole suite (CI: .ci/run). pyproject's addopts deselect `slow` tests for the inner loop;
# the `-m "not network"` here replaces that filter, so everything runs except tests that need
# the internet (there are none: these machines and CI are offline).
test: $(STAMP)
	$(PY) -m ruff check genodil tests benchmarks
	$(PY) -m ruff format --check genodil tests benchmarks
	$(PYTEST) -m "not network"

# The inner loop: everything but `slow` tests (end-to-end, DDP, Snakemake, kill/resume).
test-fast: $(STAMP)
	$(PY) -m ruff check genodil tests benchmarks
	$(PYTEST) -m "not slow and not network"

lint: $(STAMP)
	$(PY) -m ruff check genodil tests benchmarks
	$(PY) -m ruff format --check genodil tests benchmarks

clean:
	rm -rf $(VENV) demo_out .pytest_cache
