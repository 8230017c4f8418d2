# Two commands on a fresh machine: `make demo` runs the app on the embedded simulator,
# `make test` runs every check CI runs. Both create .venv and install the project first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test lint typecheck unit install clean demo screenshots bench soak

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict ibtui tools

# Two worker processes: many tests wait on real time (a simulator's pacing, a terminal), so two
# overlap well even on a 2-core machine. `pytest` alone runs the suite in one process. The soak
# (a minute of the whole console under faults, timed against the wall clock) runs after them, on
# its own: beside the other tests it measured their load as slow recovery.
unit: $(STAMP)
	$(BIN)/pytest -n 2 -m "not soak"
	$(BIN)/pytest -m soak

test: lint typecheck unit

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

# Bytecode first, as a pip install leaves it: where PYTHONDONTWRITEBYTECODE is set, Python would
# otherwise compile every module of ibtui again at each start (about a third of a second).
demo: $(STAMP)
	$(BIN)/python -m compileall -q ibtui
	$(BIN)/ibtui demo

# SVGs of every screen on the demo (PNGs too where rsvg-convert or ImageMagick is installed)
screenshots: $(STAMP)
	$(BIN)/python screenshots/make_screenshots.py

# The benchmark suite (never part of `make test` or CI): about 15 minutes, writes BENCHMARKS.md.
# BENCH_ARGS=--quick for a short development run (see python -m benchmarks --help).
bench: $(STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

# The soak harness (tools/soak.py): the console headless on the simulator under a fault plan for
# 10 minutes; prints crashes, duplicates, lost orders, 429s in the UI and the recovery time, and
# writes them to benchmarks/results/soak.md (which the next `make bench` puts in BENCHMARKS.md).
# SOAK_ARGS="--duration 60 --seed 2" for a shorter run.
soak: $(STAMP)
	$(BIN)/python -m tools.soak --markdown benchmarks/results/soak.md $(SOAK_ARGS)
