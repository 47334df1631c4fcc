# Two commands matter: `make demo` and `make test`. Each installs what it needs first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install demo test lint bench servers clean lock

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv==0.13.8
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

## The estate's database servers: installed from Debian's packages when missing and run as root with apt-get,
## otherwise a message with the one command to run.
servers:
	@scripts/check-servers 2>/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && scripts/install-servers; } ; scripts/check-servers

## Rehearse a blue/green switchover under live CDC on the local estate and print the result.
demo: install servers
	$(BIN)/python -m rehearsal.cli demo

## Lint, then the whole test suite (needs MariaDB and PostgreSQL server binaries).
test: install servers lint
	$(BIN)/python -m pytest -n 2 --dist loadfile --durations=40

lint: install
	$(BIN)/ruff check .

## Benchmarks (never part of `make test`).
bench: install servers
	$(BIN)/python -m bench

## Re-resolve the lock after changing dependencies in pyproject.toml.
lock:
	uv pip compile pyproject.toml --extra test --extra bench --python-version 3.11 --no-header -o requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
