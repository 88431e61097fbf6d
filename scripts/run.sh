#!/usr/bin/env bash
# Set everything up (with demo data), then run the web app, a Celery worker and Celery beat under
# supervisord (deploy/supervisord.conf) until Ctrl-C. A process that dies is started again by
# itself while the others keep running; Ctrl-C stops all three.
#
# Environment: PORT (8000), WEB_WORKERS (2), CELERY_CONCURRENCY (2), CELERY_QUEUES (all queues),
# STOP_TIMEOUT (20 seconds before a service that does not stop is killed), CIVICMAP_RUN_DIR
# (var/run: supervisord's socket, log and the beat schedule), plus everything scripts/setup.sh
# honours.
set -euo pipefail

# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"

PORT="${PORT:-8000}"
# Links in e-mails and the Open311 discovery document point at the port actually served.
export SITE_URL="${SITE_URL:-http://127.0.0.1:$PORT}"
export CSRF_TRUSTED_ORIGINS="${CSRF_TRUSTED_ORIGINS:-http://127.0.0.1:$PORT,http://localhost:$PORT}"
WEB_WORKERS="${WEB_WORKERS:-2}"
CELERY_CONCURRENCY="${CELERY_CONCURRENCY:-2}"
CELERY_QUEUES="${CELERY_QUEUES:-celery,photos,notifications,imports}"
STOP_TIMEOUT="${STOP_TIMEOUT:-20}"
for v in PORT WEB_WORKERS CELERY_CONCURRENCY STOP_TIMEOUT; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a number, got '${!v}'"
done

port_open() {
    # shellcheck disable=SC2016  # expanded by the inner bash
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

bash "$REPO_ROOT/scripts/setup.sh" --demo

[[ -f manage.py ]] || die "manage.py does not exist yet: nothing to run"
[[ -x "$VENV/bin/supervisord" ]] || die "supervisord is missing from .venv (pip install supervisor)"
if port_open 127.0.0.1 "$PORT"; then
    die "something already listens on 127.0.0.1:$PORT; stop it or choose another port: make run PORT=8001"
fi

# What deploy/supervisord.conf reads (%(ENV_...)s).
export CIVICMAP_RUN_DIR="${CIVICMAP_RUN_DIR:-$VAR_DIR/run}"
CIVICMAP_RUN_UID="$(id -u)"
export CIVICMAP_RUN_UID
export HOST=127.0.0.1 PORT WEB_WORKERS CELERY_CONCURRENCY CELERY_QUEUES STOP_TIMEOUT
mkdir -p "$CIVICMAP_RUN_DIR"
CONF="$REPO_ROOT/deploy/supervisord.conf"
if [[ -S "$CIVICMAP_RUN_DIR/supervisor.sock" ]] &&
    "$VENV/bin/supervisorctl" -c "$CONF" pid >/dev/null 2>&1; then
    die "civicmap already runs under supervisord ($CIVICMAP_RUN_DIR/supervisor.sock); stop it first: $VENV/bin/supervisorctl -c deploy/supervisord.conf shutdown"
fi

logins="$("$PY" manage.py civicmap_demo_logins 2>&1)" ||
    logins="(manage.py civicmap_demo_logins failed:
$logins)"

say "Starting web (uvicorn, $WEB_WORKERS workers), Celery worker and Celery beat under supervisord"
# supervisord runs in the foreground of this script; a Ctrl-C in the terminal reaches both (the
# services run in process groups of their own), and supervisord stops the services in order.
"$VENV/bin/supervisord" -c "$CONF" &
SUPERVISOR=$!
stop() {
    trap - INT TERM
    printf '\n'
    say "Stopping civicmap (web, worker, beat) ..."
    kill -TERM "$SUPERVISOR" 2>/dev/null || true
}
trap stop INT TERM

# Wait for the web server to accept connections, then print the banner.
for ((i = 0; i < 240; i++)); do
    kill -0 "$SUPERVISOR" 2>/dev/null || break
    port_open 127.0.0.1 "$PORT" && break
    sleep 0.5
done
if kill -0 "$SUPERVISOR" 2>/dev/null && port_open 127.0.0.1 "$PORT"; then
    cat <<EOF

================================================================================
  civicmap is running at http://127.0.0.1:$PORT
$(printf '%s\n' "$logins" | sed 's/^/  /')

  Web, Celery worker and Celery beat run under supervisord: one that dies is
  started again by itself. State: CIVICMAP_RUN_DIR=$CIVICMAP_RUN_DIR \\
    .venv/bin/supervisorctl -c deploy/supervisord.conf status
  Press Ctrl-C to stop the web server, the Celery worker and Celery beat.
================================================================================

EOF
elif kill -0 "$SUPERVISOR" 2>/dev/null; then
    warn "the web server does not answer on 127.0.0.1:$PORT after 120s; still trying (Ctrl-C stops)"
fi

# `wait` returns early when a trapped signal arrives: wait again until supervisord has stopped.
while :; do
    rc=0
    wait "$SUPERVISOR" || rc=$?
    kill -0 "$SUPERVISOR" 2>/dev/null || break
done
if ((rc != 0)); then
    die "supervisord exited with status $rc (its log: $CIVICMAP_RUN_DIR/supervisord.log)"
fi
say "Stopped."
