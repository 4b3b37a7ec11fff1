# liveloop — `make demo` runs the main job, `make test` runs the tests; both set themselves up.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export LIVELOOP_DATA_HOME ?= $(abspath ../shared/data)
export SPARK_LOCAL_IP ?= 127.0.0.1

.PHONY: setup system-deps bench-deps demo demo-run test test-fast lint bench clean i18n

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,spark,redis]'
	touch $(STAMP)

# Debian packages the tests use for real: Chromium for the dashboard, a CJK font so Chinese pages (and
# their screenshots) render as text, not boxes, Java 17 for the Spark engine and Redis for shared state.
system-deps:
	@{ command -v chromium >/dev/null 2>&1 && command -v java >/dev/null 2>&1 && \
	   command -v redis-server >/dev/null 2>&1 && \
	   dpkg -s fonts-noto-cjk fonts-noto-color-emoji >/dev/null 2>&1; } || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium fonts-noto-cjk fonts-noto-color-emoji \
	    openjdk-17-jre-headless redis-server; }

# C load generators for the service benchmarks (closed loop: wrk; open loop at a fixed rate: h2load).
bench-deps:
	@command -v wrk >/dev/null 2>&1 && command -v h2load >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q wrk nghttp2-client; }

demo: setup system-deps
	$(BIN)/liveloop demo --serve

demo-run: setup system-deps
	$(BIN)/liveloop demo

# Two workers (the machines have two cores); a module's tests stay on one worker (module fixtures).
XDIST := -n 2 --dist loadscope
test: setup system-deps lint
	$(BIN)/pytest -q -p no:cacheprovider $(XDIST) --durations=30

# The quick loop: no browser, no real server, no model training (`make test` runs everything).
test-fast: setup
	$(BIN)/pytest -q -p no:cacheprovider $(XDIST) -m "not slow and not browser"

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile

bench: setup system-deps bench-deps
	$(BIN)/python -m benchmarks

# The dashboard's catalogue: extract every marked string (babel.cfg) into messages.pot and merge it into
# each language's .po; then translate the new (empty) entries. The .po is compiled when the app loads it.
LOCALE := src/liveloop/web/locale
i18n: setup
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output --project liveloop \
	  --copyright-holder "liveloop contributors" -o $(LOCALE)/messages.pot .
	$(BIN)/pybabel update -i $(LOCALE)/messages.pot -d $(LOCALE) -D messages --no-fuzzy-matching \
	  --ignore-obsolete --ignore-pot-creation-date

clean:
	rm -rf $(VENV) liveloop-data .mypy_cache .ruff_cache .pytest_cache
