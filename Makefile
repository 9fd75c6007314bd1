# The README's two commands: `make run` and `make test`. Each does its own set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
TOOLS := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed

.PHONY: setup run test static unit fuzz soak bench clean

setup: $(PY_STAMP) $(NODE_STAMP) $(TOOLS_STAMP)

$(PY_STAMP): requirements.txt requirements-dev.txt requirements.lock.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Static-analysis tools with pins of their own, kept out of the test venv.
$(TOOLS_STAMP): requirements-tools.txt
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-tools.txt
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The whole stack on the well-known ports; Ctrl-C stops it all.
run: setup
	$(PY) -m devstack.run

# Static checks, then the whole suite (the stand-ins start themselves on free ports).
test: setup static unit

static: setup
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) tools/secret_scan.py
	bash infra/check.sh

unit: setup
	$(PY) -m pytest

bench: setup
	$(PY) -m bench

# The long reliability runs (make test runs short, deterministic versions of both).
fuzz: setup
	FUZZ_EXAMPLES=2000 $(PY) -m pytest tests/fuzz -s -p no:cacheprovider

soak: setup
	SOAK_TICKS=1000 SOAK_SEED=20240917 $(PY) -m pytest tests/soak -s -p no:cacheprovider

clean:
	rm -rf $(VENV) $(TOOLS) node_modules .devstack .pytest_cache .mypy_cache .ruff_cache
