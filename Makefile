# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test setup bench clean

# setuptools tells every editable install to beware of folders named like the package in the
# working directory; nbalife's own folder is the package, so there is nothing to act on.
QUIET_EDITABLE := PYTHONWARNINGS="ignore:Editable installation"

$(STAMP): pyproject.toml
	@echo "== setting up $(VENV) (Python, torch==2.13.0 CPU, nbalife and its test tools)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/pip install --quiet torch==2.13.0
	@$(QUIET_EDITABLE) $(BIN)/pip install --quiet -e '.[test]'
	@touch $(STAMP)
	@echo "== ready: run nbalife as .venv/bin/nbalife, or first: source .venv/bin/activate"

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/nbalife demo
	@echo "== next: source .venv/bin/activate, then try README's quick start (or call .venv/bin/nbalife)"

test: $(STAMP)
	$(BIN)/python -m pytest -q

$(VENV)/.bench: $(STAMP)
	$(QUIET_EDITABLE) $(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(VENV)/.bench

bench: $(VENV)/.bench
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
