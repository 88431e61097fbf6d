# civicmap: `make run` starts the app with demo data, `make test` runs the test suite.
# Both set up everything first (system packages, PostgreSQL+PostGIS, Redis, .venv, migrations).

PYTEST_ARGS ?=
BENCH_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help setup run test lint bench backup restore fuzz

help:
	@echo "make run    set up, load demo data, run web + Celery worker + beat on http://127.0.0.1:$${PORT:-8000}"
	@echo "make test   set up (no demo data) and run the test suite (PYTEST_ARGS='-k foo' to filter)"
	@echo "make lint   ruff check + ruff format --check + lint-imports (the layers contract)"
	@echo "make bench  run the benchmarks in bench/ (if any)"
	@echo "make fuzz   schemathesis, longer: every phase incl. coverage, FUZZ_EXAMPLES=50 per operation"
	@echo "make setup  only the set-up (scripts/setup.sh)"
	@echo "make backup database + photos + manifest into var/backups/ (KEEP=n: prune older)"
	@echo "make restore FILE=var/backups/....tar  into an empty database (FORCE=1 to replace)"

setup:
	@bash scripts/setup.sh

run:
	@bash scripts/run.sh

backup:
	@bash scripts/backup.sh $(if $(KEEP),--keep $(KEEP))

restore:
	@bash scripts/restore.sh "$(FILE)" $(if $(filter 1 yes true,$(FORCE)),--force)

test:
	@bash scripts/test.sh $(PYTEST_ARGS)

# The API fuzzed by schemathesis as in the test suite (anonymous, dispatcher, crew; every check),
# with the coverage phase and many more examples: minutes to an hour.
fuzz:
	@FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-50} \
		FUZZ_PHASES=$${FUZZ_PHASES:-examples,coverage,fuzzing,stateful} \
		bash scripts/test.sh tests/api/test_openapi.py -k schemathesis -s

lint:
	@bash scripts/setup.sh --venv-only
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/lint-imports --no-logo

bench:
	@if [ -d bench ]; then \
		bash scripts/setup.sh --bench && .venv/bin/python -m bench $(BENCH_ARGS); \
	else \
		echo "==> no bench/ folder yet: nothing to benchmark"; \
	fi
