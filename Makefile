# Every target sets up .venv itself (idempotent): a fresh machine needs only python3, pip and make.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench reliability lint test-deps clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

# Services the tests use for real (PostgreSQL, Chromium) are installed when missing.
test-deps:
	bash scripts/install-test-deps.sh

test: $(STAMP) test-deps
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench

# The fault matrix of tests/reliability (also run cell by cell by `make test`), printed as a table and
# written to build/reliability.json. Mounts (tmpfs, read-only binds) need root; PostgreSQL is started.
reliability: $(STAMP) test-deps
	$(BIN)/python tests/reliability/matrix.py

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

clean:
	rm -rf $(VENV) build .pytest_cache
