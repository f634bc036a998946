# Every target installs what it needs first, so a fresh clone needs no other set-up step.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
APP ?= starlette
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: install lock test lint twins unasync types contracts docs readme package pytest latest oldest coverage demo demo-terminal bench clean

# uv installs the locked versions (uv.lock) of everything, dev tools included, so a clone passes next
# month as it does today; it is pip-installed once into .tools/ at the version pinned here.
UV_VERSION := 0.13.9
UV := .tools/uv-$(UV_VERSION)/bin/uv
export UV_PROJECT_ENVIRONMENT := $(VENV)

$(UV):
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target .tools/uv-$(UV_VERSION) 'uv==$(UV_VERSION)'

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-extras --quiet
	touch $(STAMP)

# A new uv.lock from what the package index serves today, within pyproject.toml's ranges.
lock: | $(UV)
	$(UV) lock --upgrade

install: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check --no-cache .
	$(VENV)/bin/ruff format --no-cache --check .

# The sync request loops are generated from their async source (scripts/unasync.py): `make unasync`
# writes them, `make twins` (part of `make test`) fails when they are stale.
unasync: $(STAMP)
	$(PY) scripts/unasync.py

twins: $(STAMP)
	$(PY) scripts/unasync.py --check

types: $(STAMP)
	$(VENV)/bin/mypy src/firsttoken integrations

# The import contracts in pyproject.toml (layers, no rings). No cache: a stale one reported imports
# that were gone, and the whole graph takes well under a second.
contracts: $(STAMP)
	$(VENV)/bin/lint-imports --no-cache

# The docs site (MkDocs, docs/ and mkdocs.yml) into site/, which git ignores. Strict: a broken link,
# a page left out of the nav or a reference mkdocstrings cannot resolve fails the build, and so
# `make test`. The snippets on the pages run as tests (Sybil, the root conftest.py). No --quiet:
# MkDocs 1.6 then stops counting warnings, and --strict passes a broken link.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# The README's settings table, rendered from src/firsttoken/_reference.py like the docs' settings
# page; tests/docs/test_settings_reference.py fails when it is stale.
readme: $(STAMP)
	$(PY) scripts/readme_settings.py

# The sdist and the wheel, into dist/, built from the files git tracks (an untracked file under src/
# never ships) with the locked hatchling, then checked: `twine check --strict`, check-wheel-contents,
# and each one's file list against what we mean to ship (scripts/dist.py). tests/package/ builds the
# same wheel and installs it, one extra at a time, into clean virtualenvs.
package: $(STAMP)
	$(PY) scripts/dist.py --out dist

# The Vercel AI SDK's own client, which the e2e tests run under node to rebuild our `ai-sdk` streams.
AISDK := tests/e2e/aisdk/node_modules/.package-lock.json
$(AISDK): tests/e2e/aisdk/package-lock.json
	cd tests/e2e/aisdk && npm ci --silent --no-audit --no-fund

# Two workers (pytest-xdist), one per core of CI's machine: most of the suite waits on servers
# starting and on answers streaming in real time, and a second worker fills those waits. `loadscope`
# gives each worker whole modules, so a module's servers start once (tests/conftest.py puts the
# modules that start servers first). `PYTEST_WORKERS=0` runs it in one process, as for `--pdb`.
PYTEST_WORKERS ?= 2
pytest: $(STAMP) $(AISDK)
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadscope $(PYTEST_ARGS)

test: lint twins types contracts docs package pytest

# The suite on the newest releases within pyproject.toml's ranges (`make latest`, on the newest
# Python) and on the lowest (`make oldest`: uv's lowest-direct puts each of the package's own
# dependencies, every extra's included, at its floor, on the oldest Python it supports), each in its
# own venv. On demand, not part of `make test`. The runtime set is resolved alone first, as
# `pip install 'firsttoken[all]'` gets it, and then constrains the dev tools: they keep their locked
# versions where those fit (uv prefers the versions already in the output file) and take the newest
# that fits otherwise, so a test tool never moves a framework. A tool no release of which fits is
# left out and its tests skip.
# A pyenv-installed 3.13 that pyenv's shims do not select is taken by its path (uv skips a failing shim).
LATEST_PYTHON ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3) 3.13)
OLDEST_PYTHON ?= 3.11
# Every django-debug-toolbar from 4.4 on requires Django>=4.2.9: the panel's test skips at the floor.
OLDEST_EXCLUDES := django-debug-toolbar

# The OpenTelemetry SDK the tests read metrics and spans with implements the API at its own version,
# and can be released after it: it is resolved with the runtime set, so the newest API is the newest
# the SDK exists for.
WITH_RUNTIME := opentelemetry-sdk

# tests/package/ checks the built artifacts and installs them on the lock's versions, whatever the
# venv: the same in every run, and its tools (twine) are only as new as the floors let them be.
VERSIONS_IGNORE := --ignore=tests/package

# $(1): the venv, $(2): uv's resolution, $(3): the Python, $(4): dev tools left out.
define resolve
	$(UV) venv --quiet --allow-existing --python $(3) $(1)
	printf '%s\n' $(WITH_RUNTIME) > $(1)/runtime.in
	$(UV) pip compile --quiet --upgrade --python $(1)/bin/python --resolution $(2) --all-extras --annotation-style line --no-header -o $(1)/runtime.txt pyproject.toml $(1)/runtime.in
	$(UV) export --quiet --frozen --only-group dev --no-emit-project --no-hashes -o $(1)/requirements.txt
	printf '%s\n' $(4) > $(1)/excludes.txt
	$(UV) pip compile --quiet --python $(1)/bin/python --all-extras --group dev -c $(1)/runtime.txt --excludes $(1)/excludes.txt -o $(1)/requirements.txt pyproject.toml
	$(UV) pip sync --quiet --python $(1)/bin/python $(1)/requirements.txt
	$(UV) pip install --quiet --python $(1)/bin/python --no-deps -e .
	@echo "Runtime dependencies ($(2), $$($(1)/bin/python --version)):"; cat $(1)/runtime.txt
	@echo "Dev tools left out: $(or $(4),none)"
endef

latest: $(AISDK) | $(UV)
	$(call resolve,.venv-latest,highest,$(LATEST_PYTHON),)
	.venv-latest/bin/python -m pytest -n $(PYTEST_WORKERS) --dist loadscope $(VERSIONS_IGNORE) $(PYTEST_ARGS)

oldest: $(AISDK) | $(UV)
	$(call resolve,.venv-oldest,lowest-direct,$(OLDEST_PYTHON),$(OLDEST_EXCLUDES))
	.venv-oldest/bin/python -m pytest -n $(PYTEST_WORKERS) --dist loadscope $(VERSIONS_IGNORE) $(PYTEST_ARGS)

# The suite under coverage, servers it starts included, with the floor in pyproject.toml. Not part
# of `make test`: tracing slows the real-time tests enough to make their timing checks less sharp.
coverage: $(STAMP)
	rm -f .coverage .coverage.*
	$(VENV)/bin/coverage run -m pytest $(PYTEST_ARGS)
	$(VENV)/bin/coverage combine -q
	$(VENV)/bin/coverage report

# The chat app of APP (starlette, flask or django) on 127.0.0.1:$(PORT), against the embedded
# emulator unless ANTHROPIC_BASE_URL or ANTHROPIC_API_KEY is set. `make demo-terminal` streams one
# answer in the terminal instead.
demo: $(STAMP)
	PORT=$(PORT) $(PY) -m example_projects.$(APP)_chat

# Development, so with no key the embedded emulator answers (firsttoken fails closed elsewhere).
demo-terminal: $(STAMP)
	FIRSTTOKEN_DEVELOPMENT=$${FIRSTTOKEN_DEVELOPMENT:-1} $(PY) -m firsttoken.cli demo

bench: $(STAMP)
	FIRSTTOKEN_DEVELOPMENT=$${FIRSTTOKEN_DEVELOPMENT:-1} $(PY) -m firsttoken.cli bench

clean:
	rm -rf $(VENV) .venv-latest .venv-oldest .tools .mypy_cache .ruff_cache .coverage* tests/e2e/aisdk/node_modules site dist
