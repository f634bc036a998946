# Every target installs what it needs first, so a fresh clone needs no other set-up step.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
APP ?= starlette
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: install test lint types contracts pytest demo bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[all,dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

types: $(STAMP)
	$(VENV)/bin/mypy src/firsttoken integrations

contracts: $(STAMP)
	$(VENV)/bin/lint-imports

pytest: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

test: lint types contracts pytest

demo: $(STAMP)
	PORT=$(PORT) APP=$(APP) $(PY) -m firsttoken.cli demo --app $(APP) --port $(PORT)

bench: $(STAMP)
	$(PY) -m firsttoken.cli bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .coverage*
