# Two set-up commands work on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench bench-pg bench-http clean

$(STAMP): pyproject.toml hatch_build.py joint_sanctions/_speedups.h joint_sanctions/_speedups.c joint_sanctions/_lane.c joint_sanctions/_lane_subject.c joint_sanctions/_membership.c joint_sanctions/_hit.c joint_sanctions/_rows.c joint_sanctions/_csv_row.c
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

# Lint (ruff) and mypy --strict on the library first (pyproject's [tool.ruff] / [tool.mypy]), then every test,
# then the shipped policy cases as policy staff run them.
test: $(STAMP)
	$(PY) -m ruff check --quiet .
	$(PY) -m mypy
	$(PY) -m pytest
	$(VENV)/bin/joint-sanctions test measure_lists/cases/

# Full size by default (1,000,000 records); e.g. make bench BENCH_ARGS="--records 20000 --checks 20000"
BENCH_ARGS ?=

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) benchmarks/run.py $(BENCH_ARGS)
	$(PY) benchmarks/batch.py $(BATCH_ARGS)
	$(PY) benchmarks/loop.py $(LOOP_ARGS)

# PostgreSQL in production (issue 6): a throwaway server, 1,000,000 records; see benchmarks/README.md
PG_BENCH_ARGS ?=

bench-pg: $(STAMP)
	$(PY) benchmarks/postgres.py $(PG_BENCH_ARGS)

# The HTTP service under load on a throwaway PostgreSQL (issue 16): 1 and 4 workers, then a worker killed
# with SIGKILL; see benchmarks/README.md. E.g. make bench-http HTTP_BENCH_ARGS="--clients 32 --seconds 30"
HTTP_BENCH_ARGS ?=

bench-http: $(STAMP)
	$(PY) benchmarks/http_service.py $(HTTP_BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis demo_out
