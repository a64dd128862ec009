# `make train` and `make test` do all the set-up themselves: a fresh machine needs only Python and pip.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CONFIG ?= configs/three_digits.py
WORKDIR ?= runs/$(basename $(notdir $(CONFIG)))

.PHONY: train test lint install clean compare-env compare table plots

# The stamp is rebuilt whenever pyproject.toml changes, so a stale venv never hides a missing dependency.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

train: install
	$(PY) -m addjax.main --config $(CONFIG) --workdir $(WORKDIR)

test: install
	$(PY) -m pytest -q

# The linter configured in pyproject.toml (the suite runs it too: tests/test_style.py).
lint: install
	$(PY) -m ruff check .

# The example's results table over 3 seeds (hours on a CPU; rerun to resume), then its learning curves.
table: install
	$(PY) experiments/reproduce_table.py

plots: install
	$(PY) experiments/plot.py curves

# TensorFlow and PyTorch for experiments/benchmark_table.py's peers, in a venv of their own: their pins would fight
# JAX's in one environment, and neither is needed to train or test.
.venv-compare/.installed:
	$(PYTHON) -m venv .venv-compare
	.venv-compare/bin/pip install --quiet tensorflow-cpu 'torch==2.13.*' numpy
	touch $@

compare-env: .venv-compare/.installed

compare: install compare-env
	$(PY) experiments/benchmark_table.py  # every peer over six settings: results/benchmarks.md

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
