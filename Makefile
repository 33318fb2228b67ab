# Amanat build scaffolding.
#
#   make            -> same as `make build`
#   make build      compile contracts/*.vy into src/amanat/chain/artifacts/*.json
#   make run        load the pilot scenario and serve API + console (`amanat serve --pilot`);
#                   PORT=8000 for a fixed port
#                   installs only what running needs (no development extras)
#   make test       run the test suite on every core (pytest-xdist; TEST_WORKERS=1 for one
#                   process; extra pytest args: make test PYTEST_ARGS='-k foo'); without
#                   AMANAT_TEST_DATABASE_URL it starts its own PostgreSQL (pgserver)
#   make lint       ruff + mypy
#   make bench      gas and throughput benchmarks
#   make clean      remove generated artifacts and caches
#   make distclean  clean + remove .venv and node_modules
#
# Every expensive step is guarded by a stamp file, so re-running is fast.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.DEFAULT_GOAL := build

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.installed-run
VENV_STAMP := $(VENV)/.installed
ANVIL := node_modules/.bin/anvil
NODE_STAMP := node_modules/.installed
ARTIFACTS := src/amanat/chain/artifacts
BUILD_STAMP := $(ARTIFACTS)/.built
SWAGGER := src/amanat/web/static/swagger
SWAGGER_STAMP := $(SWAGGER)/.copied
PYTEST_ARGS ?=
TEST_WORKERS ?= auto

# Make the npm-installed anvil visible to every recipe (and to the tests it runs).
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

CONTRACTS := $(shell find contracts -type f \( -name '*.vy' -o -name '*.vyi' \) 2>/dev/null | sort)
BUILD_SRC := $(wildcard src/amanat/chain/build.py src/amanat/chain/compile.py)

.PHONY: all venv anvil build run test lint bench clean distclean

all: build

# ---------------------------------------------------------------- python venv
# Running needs the package's own dependencies only; tests, lint and benches add [dev].
# uv (from PyPI) installs them: the same versions as pip, in a third of pip's time (parallel
# downloads and unpacking); --compile-bytecode as pip does, since the environment may set
# PYTHONDONTWRITEBYTECODE and every process would then compile what it imports again;
# --system-certs trusts the machine's certificate store, as pip does.
UV := $(VENV)/bin/uv
UV_PIP := $(UV) pip install --python $(VPY) --compile-bytecode --system-certs -c requirements.lock

venv: $(VENV_STAMP)

$(RUN_STAMP): pyproject.toml requirements.lock
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet uv==0.13.8
	$(UV_PIP) -e .
	@touch $@

$(VENV_STAMP): $(RUN_STAMP)
	$(UV_PIP) -e '.[dev]'
	@touch $@

# ------------------------------------------------------------ anvil (npm)
anvil: $(ANVIL)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# The bin is a symlink into the package (npm gives it an old mtime); touch it
# after checking it runs, so make sees it as newer than the lock file.
$(ANVIL): $(NODE_STAMP)
	@$@ --version | sed -n 1p
	@touch $@

# ------------------------------------------------------------------ build
build: $(BUILD_STAMP) $(SWAGGER_STAMP)

# Swagger UI for /docs, served by Amanat itself (no CDN), from the pinned npm package.
$(SWAGGER_STAMP): $(NODE_STAMP)
	@mkdir -p $(SWAGGER)
	cp node_modules/swagger-ui-dist/{swagger-ui-bundle.js,swagger-ui.css,favicon-32x32.png,LICENSE} $(SWAGGER)/
	@touch $@

$(BUILD_STAMP): $(RUN_STAMP) $(ANVIL) $(CONTRACTS) $(BUILD_SRC)
	$(VPY) -m amanat.chain.build
	@mkdir -p $(ARTIFACTS)
	@touch $@

# ------------------------------------------------------------- run / test
run: build
	$(VENV)/bin/amanat --data-dir .amanat/pilot serve --pilot $(if $(PORT),--port $(PORT))

# Amanat's own modules are compiled once here: the CLI suite starts hundreds of processes, and
# with PYTHONDONTWRITEBYTECODE set each would compile them again.
test: build $(VENV_STAMP)
	$(VPY) -m compileall -q -j 0 src/amanat
	$(VPY) -m pytest -n $(TEST_WORKERS) --dist loadscope --durations=30 $(PYTEST_ARGS)

lint: $(VENV_STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy src

bench: build $(VENV_STAMP)
	$(VPY) bench/gas.py
	$(VPY) bench/throughput.py

# ------------------------------------------------------------------ clean
clean:
	rm -rf $(ARTIFACTS) $(SWAGGER) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache bench/out
	find . -path ./.venv -prune -o -path ./node_modules -prune -o \
		-type d -name __pycache__ -print0 | xargs -0 rm -rf

distclean: clean
	rm -rf $(VENV) node_modules
