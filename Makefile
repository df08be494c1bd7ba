# The two commands a newcomer needs are `make playground` and `make test` (see README.md); `make run`
# connects a real workspace.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install dev run playground test lint typecheck pytest bench screenshot wheel clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet .

dev: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'

run: install
	$(BIN)/apikey-bot serve

# `make playground PORT=4100 HOST=0.0.0.0`: only a PORT or HOST given on make's command line counts (a PORT
# in the environment is `serve`'s setting, not the playground's).
playground: install
	$(BIN)/apikey-bot playground$(if $(filter command line,$(origin PORT)), --port $(PORT))$(if $(filter command line,$(origin HOST)), --host $(HOST))

lint: dev
	$(BIN)/ruff check bot tests bench
	$(BIN)/lint-imports

typecheck: dev
	$(BIN)/mypy bot

pytest: dev
	$(BIN)/pytest -q

test: dev
	$(BIN)/ruff check bot tests bench
	$(BIN)/mypy bot
	$(BIN)/lint-imports
	rm -rf build/wheel && $(BIN)/pip wheel --quiet --no-deps --wheel-dir build/wheel .
	BOT_WHEEL_DIR=build/wheel $(BIN)/pytest -q

bench: dev
	$(BIN)/python -m bench.run_all

# The README's picture of the playground, taken by the browser test of the create flow.
screenshot: dev
	PLAYGROUND_SCREENSHOT=$(CURDIR)/docs/playground.png $(BIN)/pytest -q \
		tests/browser/test_playground.py::test_create_a_key_shows_progress_then_delivers_it_privately

wheel: $(BIN)/python
	$(BIN)/pip wheel --no-deps --wheel-dir dist .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
