# dexndm: the two commands of the README, and their pieces.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export MUJOCO_GL ?= osmesa

.PHONY: setup system-deps demo test lint bench

# OSMesa renders MuJoCo offscreen on CPU; ffmpeg is bundled by imageio-ffmpeg. Chromium: the
# teleop page's browser tests (playwright cannot download its own browser here).
system-deps:
	@if ! ldconfig -p 2>/dev/null | grep -q libOSMesa; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libosmesa6 >/dev/null; \
	  else echo "note: install libosmesa6 (Debian/Ubuntu) for offscreen rendering"; fi; \
	fi
	@# Chromium for the browser tests of the teleop page (tests/teleop), driven by playwright
	@if ! command -v chromium >/dev/null && [ ! -x /usr/lib/chromium/chromium ]; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "note: install chromium (Debian/Ubuntu) for the teleop browser tests"; fi; \
	fi

$(BIN)/python:
	$(PY) -m venv $(VENV)

# torch first, pinned to the CPU build: an unpinned torch pulls gigabytes of CUDA wheels
setup: system-deps $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"

demo: setup
	$(BIN)/dexndm demo

test:
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest -q -p no:cacheprovider

lint:
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench:
	$(BIN)/python benchmarks/env_throughput.py
