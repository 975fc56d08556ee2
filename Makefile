# `make run` serves the API with zero setup; `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
OIDC_PROVIDER := tests/auth/oidc-provider

.PHONY: run test lint schema bench

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

run: $(INSTALLED)
	$(BIN)/litemaas-bff dev

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The OpenID provider the SSO tests sign in with (Node.js, from the committed lockfile).
$(OIDC_PROVIDER)/node_modules/.package-lock.json: $(OIDC_PROVIDER)/package-lock.json
	npm ci --prefix $(OIDC_PROVIDER) --no-audit --no-fund

test: lint $(OIDC_PROVIDER)/node_modules/.package-lock.json
	$(BIN)/pytest

schema: $(INSTALLED)
	$(BIN)/litemaas-bff export-schema --output schema.graphql

# Load benchmark against its baseline (needs wrk and PostgreSQL); see bench/README.md.
bench: $(INSTALLED)
	$(BIN)/python -m bench.run $(BENCH_ARGS)
