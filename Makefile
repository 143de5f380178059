# colorlib: `make test` sets up .venv, installs the project, prepares the pretrained weights
# and runs the test suite. Everything installs itself; nothing is assumed to be present.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: venv weights test test-fast lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	# torch/torchvision first: this pair is the one that resolves to local wheels here
	$(PY) -m pip install "torch>=2.4" torchvision
	$(PY) -m pip install -e ".[dev]"
	touch $@

venv: $(VENV)/.installed

weights: venv
	$(PY) -m colorlib.pretrained prepare

test: weights
	$(PY) -m ruff check colorlib tests
	$(PY) -m pytest -q

test-fast: venv
	$(PY) -m pytest -q -m "not slow"

lint: venv
	$(PY) -m ruff check colorlib tests

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
