# `make train` and `make test` do all the set-up themselves: a fresh machine needs only Python and pip.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CONFIG ?= configs/three_digits.py
WORKDIR ?= runs/$(basename $(notdir $(CONFIG)))

.PHONY: train test install clean

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

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
