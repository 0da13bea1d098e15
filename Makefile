# Two commands on a fresh machine (Python 3.11+ and make): `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_CORE := $(VENV)/.installed-core
STAMP_ALL := $(VENV)/.installed-all

# Test processes: two, one per core of the 2-core machines CI runs on (each file stays in one
# process, so a module's fixtures are built once). `make test WORKERS=0` runs in this process.
WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -q $(if $(filter-out 0,$(WORKERS)),-n $(WORKERS) --dist loadfile)
# Types: every package, in one mypy call (one import graph, one cache; ~20 s cold).
MYPY := $(BIN)/mypy abkit/ experiments/ generators/ reports/ serving/ webapp/

.PHONY: demo test test-fast bench lint clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP_CORE): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[neural]"
	touch $@

$(STAMP_ALL): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[all]"
	touch $@ $(STAMP_CORE)

demo: $(STAMP_CORE)
	$(BIN)/abkit demo

test: $(STAMP_ALL)
	$(MYPY)
	$(PYTEST)

test-fast: $(STAMP_ALL)
	$(MYPY)
	$(PYTEST) -m "not slow" -x

lint: $(STAMP_ALL)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) demo .pytest_cache
