# The two commands a newcomer needs are `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install dev run test lint typecheck pytest bench wheel clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet .

dev: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'

run: install
	$(BIN)/apikey-bot serve

lint: dev
	$(BIN)/ruff check bot tests

typecheck: dev
	$(BIN)/mypy bot

pytest: dev
	$(BIN)/pytest -q

test: dev
	$(BIN)/ruff check bot tests bench
	$(BIN)/mypy bot
	rm -rf build/wheel && $(BIN)/pip wheel --quiet --no-deps --wheel-dir build/wheel .
	BOT_WHEEL_DIR=build/wheel $(BIN)/pytest -q

bench: dev
	$(BIN)/python -m bench.run_all

wheel: $(BIN)/python
	$(BIN)/pip wheel --no-deps --wheel-dir dist .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
