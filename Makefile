# `make run` serves the API with zero setup; `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
OIDC_PROVIDER := tests/auth/oidc-provider
# The reference portal (React), built into $(WEB)/dist for `litemaas-bff dev` to serve at /.
WEB := frontend-contract/web
WEB_SOURCES := $(shell find $(WEB)/src -type f) $(WEB)/index.html $(WEB)/build.mjs \
	$(wildcard frontend-contract/src/generated/*) frontend-contract/error-messages.json \
	frontend-contract/persisted-documents.json

LOCK := requirements.lock
# The runtime dependencies alone, at the versions of $(LOCK): what the container image installs.
RUNTIME_LOCK := requirements-runtime.lock

.PHONY: run test lint schema bench lock audit manifests web

# Exactly the versions and files (hashes) of the lock, then the project itself without
# resolving anything again: a release of a dependency changes nothing until `make lock`.
# The package is `app` alone: the checkout goes on the venv's path too, for what lives beside
# it (the LiteLLM emulator of `litemaas-bff dev`, the tests, the benchmark).
$(INSTALLED): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/python -c 'import sys, sysconfig; from pathlib import Path; \
		Path(sysconfig.get_path("purelib"), "litemaas-checkout.pth").write_text(sys.argv[1] + "\n")' \
		"$(CURDIR)"
	touch $@

# Resolve pyproject.toml's dependencies (runtime and dev) again for Python 3.11 on Linux and
# pin every package with its hashes: run it after changing a dependency, commit both files.
# Versions already pinned stay unless LOCK_ARGS says otherwise (--upgrade, --upgrade-package X).
lock: $(INSTALLED)
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 \
		--python-platform x86_64-unknown-linux-gnu --no-header --quiet --output-file $(LOCK) \
		$(LOCK_ARGS)
	$(BIN)/uv pip compile pyproject.toml --generate-hashes --python-version 3.11 \
		--python-platform x86_64-unknown-linux-gnu --no-header --quiet --constraint $(LOCK) \
		--output-file $(RUNTIME_LOCK)
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)

# Known vulnerabilities in the locked packages (needs the vulnerability database online).
audit: $(INSTALLED)
	timeout 120 $(BIN)/pip-audit --require-hashes --disable-pip --progress-spinner off --strict \
		--timeout 10 -r $(LOCK) || { \
		echo "make audit: failed; pip-audit's reason is above (no vulnerability database" \
		     "reachable, or vulnerable packages listed)" >&2; exit 1; }

$(WEB)/node_modules/.package-lock.json: $(WEB)/package-lock.json
	npm ci --prefix $(WEB) --no-audit --no-fund --loglevel=error

$(WEB)/dist/index.html: $(WEB)/node_modules/.package-lock.json $(WEB_SOURCES)
	npm run --prefix $(WEB) --silent typecheck
	npm run --prefix $(WEB) --silent build

web: $(WEB)/dist/index.html

run: $(INSTALLED) web
	$(BIN)/litemaas-bff dev

# The import contracts (layers, forbidden imports, no cycles) are in pyproject.toml.
lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The OpenID provider the SSO tests sign in with (Node.js, from the committed lockfile).
$(OIDC_PROVIDER)/node_modules/.package-lock.json: $(OIDC_PROVIDER)/package-lock.json
	npm ci --prefix $(OIDC_PROVIDER) --no-audit --no-fund

# Debian's Prometheus and promtool: the alert rules' unit tests and the real-Prometheus test
# (tests/ops). Installed with apt-get where missing (as root, like .ci/run).
PROMETHEUS := /usr/bin/prometheus /usr/bin/promtool
$(PROMETHEUS):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus

test: lint $(OIDC_PROVIDER)/node_modules/.package-lock.json $(PROMETHEUS) web
	$(BIN)/pytest

schema: $(INSTALLED)
	$(BIN)/litemaas-bff export-schema --output schema.graphql

# Load benchmark against its baseline (needs wrk and PostgreSQL); see bench/README.md.
bench: $(INSTALLED)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# The Prometheus Operator's PrometheusRule, rendered from deploy/prometheus/alerts.yml; commit
# both (a test fails when they disagree).
manifests: $(INSTALLED)
	$(BIN)/python deploy/kubernetes/render_prometheus_rule.py
