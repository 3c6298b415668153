# The two commands a new user runs (see README): `make up` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: check lint setup policy-venv test-deps engine toolchain engine-check docker images test-images up preview destroy test bench

# Recreated from scratch when the pins change, so a removed SDK (and the plugin it asks for) goes too.
$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

setup: $(VENV)/.installed

# The policy pack's own virtualenv, named in policies/PulumiPolicy.yaml.
# The project goes in too (no dependencies): the pack shares components.secret_names with the settings.
policies/venv/.installed: policies/requirements.txt pyproject.toml
	$(PYTHON) -m venv policies/venv
	policies/venv/bin/python -m pip install --quiet -r policies/requirements.txt
	policies/venv/bin/python -m pip install --quiet --no-deps -e .
	touch $@

policy-venv: policies/venv/.installed

test-deps: setup
	bash scripts/test-deps.sh $(PY)

# The CLI and the Python language host only: enough for the engine tests, which stop before any provider.
engine: setup
	$(PY) scripts/toolchain.py ensure --engine-only

toolchain: setup
	$(PY) scripts/toolchain.py ensure

engine-check: setup
	$(PY) scripts/toolchain.py check

docker:
	bash scripts/docker-engine.sh start

images: docker
	bash scripts/images.sh ensure

test-images: docker
	bash scripts/images.sh ensure-test

up: toolchain images policy-venv
	eval "$$($(PY) -m deploy env local)" && mkdir -p .state && \
	  { pulumi stack select local 2>/dev/null || pulumi stack init local; } && \
	  $(PY) -m deploy unlock local && \
	  pulumi up --stack local --yes --skip-preview --refresh && \
	  $(PY) scripts/local_access.py

# Preview a stack with the policy pack and that stack's enforcement (policies/config/<STACK>.json).
STACK ?= local
# A cloud stack runs on the backend its team chose (`pulumi login`, PULUMI_BACKEND_URL or Pulumi.yaml).
preview: toolchain policy-venv
	engine="$$($(PY) -m deploy env $(STACK))" && eval "$$engine" && \
	  pulumi preview --stack $(STACK) $$($(PY) scripts/policy.py $(STACK))

destroy: setup
	eval "$$($(PY) -m deploy env local)" && \
	  pulumi destroy --stack local --yes --skip-preview

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy components deploy policies

# The fast loop: lint (ruff, mypy), the unit and the policy tests (no Docker, no engine; under a minute warm).
check: lint
	$(PY) -m pytest tests/unit tests/policy -q

# Every layer: make check first (lint, unit and policy tests), then generated config in real daemons and the real engine
# (plugins built from served modules, the local stack deployed on the local Docker engine).
test: check test-deps toolchain test-images policy-venv
	$(PY) -m pytest tests -q --ignore=tests/unit --ignore=tests/policy

# Figures, never assertions: each script prints a Markdown table (medians with min and max);
# the tables are also kept in bench/results.json and bench/results.md. Needs `make up` (the backups and preview cost
# benchmarks use the deployed local stack); `docker compose` is built if missing.
bench: up policy-venv
	bash scripts/compose.sh
	$(PY) -m bench.run
