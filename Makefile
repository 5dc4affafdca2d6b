# One command installs and runs: `make demo` (the main job), `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.genodil-installed

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt "torch==2.13.0"
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev,workflow]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/genodil demo --out demo_out

test: $(STAMP)
	$(PY) -m ruff check genodil tests benchmarks
	$(PY) -m pytest -n 2 --dist loadgroup

lint: $(STAMP)
	$(PY) -m ruff check genodil tests benchmarks
	$(PY) -m ruff format --check genodil tests benchmarks

clean:
	rm -rf $(VENV) demo_out .pytest_cache
