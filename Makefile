# liveloop — `make demo` runs the main job, `make test` runs the tests; both set themselves up.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export LIVELOOP_DATA_HOME ?= $(abspath ../shared/data)
export SPARK_LOCAL_IP ?= 127.0.0.1

.PHONY: setup system-deps demo demo-run test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

# Debian packages the tests use for real: Chromium for the dashboard, Redis for shared online state.
system-deps:
	@command -v chromium >/dev/null 2>&1 && command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium redis-server; }

demo: setup
	$(BIN)/liveloop demo --serve

demo-run: setup
	$(BIN)/liveloop demo

test: setup system-deps lint
	$(BIN)/pytest -q -p no:cacheprovider

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

bench: setup
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) liveloop-data .mypy_cache .ruff_cache .pytest_cache
