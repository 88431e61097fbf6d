#!/usr/bin/env bash
# Set everything up (no demo data, plus Chromium for the browser tests), then run the full test
# suite. Arguments are passed to pytest. The exit code is pytest's; "no tests collected" (pytest
# exit code 5) is reported as a failure.
set -euo pipefail

# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"

bash "$REPO_ROOT/scripts/setup.sh" --test

export DJANGO_ALLOW_ASYNC_UNSAFE=true
# The worker tests use their own Redis database (tests/conftest.py: TEST_CELERY_BROKER_URL,
# default redis://127.0.0.1:6379/13). Point it at the Redis that setup.sh checked or started.
if [[ -z "${TEST_CELERY_BROKER_URL:-}" && "$CELERY_BROKER_URL" =~ ^(rediss?://[^/?]+)(/[0-9]*)?$ ]]; then
    export TEST_CELERY_BROKER_URL="${BASH_REMATCH[1]}/13"
fi
# Celery reads the environment variable CELERY_BROKER_URL in preference to app.conf.broker_url,
# which would override the test broker that tests/conftest.py configures: keep it out of pytest.
unset CELERY_BROKER_URL
# Who may import whom (pyproject.toml [tool.importlinter], ../shared/STYLE.md): a broken layer
# fails the run before any test starts.
say "Checking the import layers: lint-imports"
"$VENV/bin/lint-imports" --no-logo --no-cache || die "lint-imports: the layers contract is broken"
say "Running the test suite: pytest $*"
rc=0
"$PY" -m pytest "$@" || rc=$?
case "$rc" in
    0) say "Tests passed" ;;
    5) warn "pytest collected no tests (exit code 5): treating this as a failure" ;;
    *) warn "Tests failed (pytest exit code $rc)" ;;
esac
exit "$rc"
