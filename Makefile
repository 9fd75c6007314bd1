# The README's two commands: `make run` and `make test`. Each does its own set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
TOOLS := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed
MUTATE := .venv-mutate
MUTATE_STAMP := $(MUTATE)/.installed

.PHONY: setup run test check static unit browser fuzz soak bench mutate clean

# What running needs (the app's venv, Azurite); `make test` adds the static-analysis tools.
setup: $(PY_STAMP) $(NODE_STAMP)

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

# Mutation testing's venv: the test venv's requirements plus mutmut, which runs the tests in its own process.
$(MUTATE_STAMP): requirements-mutate.txt requirements-dev.txt requirements.txt requirements.lock.txt
	test -x $(MUTATE)/bin/python || $(PYTHON) -m venv $(MUTATE)
	$(MUTATE)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(MUTATE)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-mutate.txt
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The whole stack on the well-known ports; Ctrl-C stops it all. HUBS=2 (up to 8): one simulator per hub.
HUBS ?= 1
run: setup
	$(PY) -m devstack.run --hubs $(HUBS)

# Static checks, then the whole suite (the stand-ins start themselves on free ports).
test: setup $(TOOLS_STAMP) static browser unit

# The browser tests (tests/browser) drive Debian's Chromium. Installed here where it can be (as root with apt, as CI
# runs), never fatally: without it those tests are skipped, and pytest's summary says so in red.
browser:
	@if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian's chromium for the browser tests..."; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 \
	  || { DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1 \
	       && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1; } \
	  || echo "chromium could not be installed: the browser tests will be skipped"; \
	else echo "no chromium and not root (or no apt-get): the browser tests will be skipped"; fi

static: setup $(TOOLS_STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) tools/secret_scan.py
	bash infra/check.sh

# The suite under coverage.py (pyproject.toml [tool.coverage]): the Functions host subprocesses are measured too,
# and the branch coverage of shared/ is printed last (files below 100%, then the total).
unit: setup
	rm -f .coverage .coverage.*
	$(PY) -m coverage run -m pytest
	$(PY) tools/coverage_summary.py

# The fast inner loop: lint, types and the pure core's unit tests (no stand-ins), well under a minute.
check: $(PY_STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest tests/unit -q -p no:cacheprovider

# Every bench in its own process; the figures go to docs/results/bench.md (with date, machine and commit).
bench: setup
	$(PY) -m bench --results docs/results/bench.md

# The long reliability runs (make test runs short, deterministic versions of both).
fuzz: setup
	FUZZ_EXAMPLES=2000 $(PY) -m pytest tests/fuzz -s -p no:cacheprovider

soak: setup
	SOAK_TICKS=1000 SOAK_SEED=20240917 SOAK_RESULTS=docs/results/soak.md $(PY) -m pytest tests/soak -s -p no:cacheprovider

# Mutation testing of the guarantee modules against the unit tests (docs/mutation.md); not part of `make test`.
# Starts afresh each time (about 10 minutes on 2 cores); the score and every survivor, with its reason from
# tools/mutation_reasons.toml, go to docs/results/mutation.md. `mutmut show NAME` in $(MUTATE) shows one mutant.
# Every module of shared/, or those of MODULES (files or folders: `make mutate MODULES="shared/status/ shared/cache/sweep.py"`);
# MUTATE_CHILDREN caps mutmut's parallel test processes (default: one per core); MUTATE_FALLBACK=routes also runs
# the route tests against the mutants no unit test reaches (seconds each, not milliseconds). docs/mutation.md.
MODULES ?=
MUTATE_CHILDREN ?=
MUTATE_FALLBACK ?=
mutate: $(MUTATE_STAMP)
	rm -rf mutants
	set -f; globs=$$($(MUTATE)/bin/python tools/mutation_modules.py $(MODULES)) || exit 2; \
	$(MUTATE)/bin/mutmut run $(if $(MUTATE_CHILDREN),--max-children $(MUTATE_CHILDREN)) $$globs
	$(if $(filter routes,$(MUTATE_FALLBACK)),$(MUTATE)/bin/python tools/mutation_fallback.py $(if $(MODULES),--modules $(MODULES)))
	$(MUTATE)/bin/python tools/mutation_report.py --results docs/results/mutation.md $(if $(MODULES),--modules $(MODULES))

clean:
	rm -rf $(VENV) $(TOOLS) $(MUTATE) mutants .coverage .coverage.* htmlcov node_modules .devstack .pytest_cache .mypy_cache .ruff_cache
