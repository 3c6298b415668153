# The two commands a new user runs (see README): `make up` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
APP_IMAGE := preflight-sample-app:0.1.0
# The local stack's state passphrase; production and staging must set their own.
export PULUMI_CONFIG_PASSPHRASE ?= preflight-local

.PHONY: setup policy-venv test-deps engine toolchain engine-check up destroy test

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed

# The policy pack's own virtualenv, named in policies/PulumiPolicy.yaml.
policies/venv/.installed: policies/requirements.txt
	$(PYTHON) -m venv policies/venv
	policies/venv/bin/python -m pip install --quiet -r policies/requirements.txt
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

up: toolchain
	bash scripts/docker-engine.sh start
	docker build --quiet -t $(APP_IMAGE) examples/app
	eval "$$($(PY) scripts/toolchain.py env)" && \
	  pulumi stack select --create local && \
	  pulumi up --stack local --yes --skip-preview

destroy: setup
	eval "$$($(PY) scripts/toolchain.py env)" && pulumi destroy --stack local --yes

test: setup test-deps engine
	$(PY) -m pytest tests -q
