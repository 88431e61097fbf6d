#!/usr/bin/env bash
# Set everything up (with demo data), then run the web app, a Celery worker and Celery beat until
# Ctrl-C. If one of them dies, the others are stopped and the script exits non-zero.
#
# Environment: PORT (8000), WEB_WORKERS (2), CELERY_CONCURRENCY (2), STOP_TIMEOUT (20 seconds
# before a service that does not stop is killed), plus everything scripts/setup.sh honours.
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
if port_open 127.0.0.1 "$PORT"; then
    die "something already listens on 127.0.0.1:$PORT; stop it or choose another port: make run PORT=8001"
fi
mkdir -p "$VAR_DIR"

logins="$("$PY" manage.py civicmap_demo_logins 2>&1)" ||
    logins="(manage.py civicmap_demo_logins failed:
$logins)"

# --- process management -----------------------------------------------------------------------
# Each service runs in its own process group (set -m), so a Ctrl-C in the terminal reaches only
# this script, which then stops the services in order with SIGTERM and, after STOP_TIMEOUT
# seconds, kills whatever is left of their process groups (uvicorn workers, Celery pool).
set -m
NAMES=()
PIDS=()
STOP_REQUESTED=0

start_service() {
    local name=$1
    shift
    "$@" &
    PIDS+=("$!")
    NAMES+=("$name")
}

is_alive() {
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    [[ "${stat:0:1}" != Z ]]
}

any_alive() {
    local pid
    for pid in "${PIDS[@]}"; do
        if is_alive "$pid"; then return 0; fi
    done
    return 1
}

stop_all() {
    local i pid deadline
    for i in "${!PIDS[@]}"; do
        pid=${PIDS[$i]}
        if is_alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
    done
    deadline=$((SECONDS + STOP_TIMEOUT))
    while any_alive && ((SECONDS < deadline)); do
        sleep 0.2
    done
    for i in "${!PIDS[@]}"; do
        pid=${PIDS[$i]}
        if is_alive "$pid"; then
            warn "${NAMES[$i]} did not stop within ${STOP_TIMEOUT}s; killing it"
        fi
        # Sweep the whole process group (also catches orphaned worker processes).
        kill -KILL -- "-$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
}

on_exit() {
    local rc=$?
    trap - EXIT INT TERM
    if ((${#PIDS[@]})) && any_alive; then stop_all; fi
    exit "$rc"
}
trap on_exit EXIT
trap 'STOP_REQUESTED=1' INT TERM

say "Starting web (uvicorn, $WEB_WORKERS workers), Celery worker and Celery beat"
# No access log: it would write every visitor's IP address (personal data under the GDPR) and
# cost time on every request; the bench measures this same command line (bench/servers.py).
start_service web "$VENV/bin/uvicorn" civicmap.asgi:application \
    --host 127.0.0.1 --port "$PORT" --workers "$WEB_WORKERS" \
    --timeout-graceful-shutdown 5 --no-access-log
start_service worker "$VENV/bin/celery" -A civicmap worker -l info \
    -Q celery,photos,notifications,imports --concurrency "$CELERY_CONCURRENCY"
start_service beat "$VENV/bin/celery" -A civicmap beat -l info -s "$VAR_DIR/celerybeat-schedule"

# Report the first service that is no longer running (index), if any.
first_dead() {
    local i
    for i in "${!PIDS[@]}"; do
        if ! is_alive "${PIDS[$i]}"; then
            printf '%s\n' "$i"
            return 0
        fi
    done
    return 1
}

fail_because_dead() {
    local i=$1 rc=0
    wait "${PIDS[$i]}" 2>/dev/null || rc=$?
    warn "${NAMES[$i]} (pid ${PIDS[$i]}) exited with status $rc; stopping the others"
    stop_all
    trap - EXIT
    exit $((rc == 0 ? 1 : rc))
}

stop_requested() {
    printf '\n'
    say "Stopping civicmap (web, worker, beat) ..."
    stop_all
    trap - EXIT
    say "Stopped."
    exit 0
}

# Wait for the web server to accept connections, then print the banner.
for ((i = 0; i < 120; i++)); do
    ((STOP_REQUESTED)) && stop_requested
    if dead="$(first_dead)"; then fail_because_dead "$dead"; fi
    port_open 127.0.0.1 "$PORT" && break
    sleep 0.5
done
((STOP_REQUESTED)) && stop_requested
if ! port_open 127.0.0.1 "$PORT"; then
    warn "the web server does not answer on 127.0.0.1:$PORT after 60s; stopping"
    stop_all
    trap - EXIT
    exit 1
fi

cat <<EOF

================================================================================
  civicmap is running at http://127.0.0.1:$PORT
$(printf '%s\n' "$logins" | sed 's/^/  /')

  Press Ctrl-C to stop the web server, the Celery worker and Celery beat.
================================================================================

EOF

while :; do
    died=""
    rc=0
    wait -n -p died "${PIDS[@]}" || rc=$?
    ((STOP_REQUESTED)) && stop_requested
    if [[ -n "$died" ]]; then
        for i in "${!PIDS[@]}"; do
            if [[ "${PIDS[$i]}" == "$died" ]]; then
                warn "${NAMES[$i]} (pid $died) exited with status $rc; stopping the others"
                break
            fi
        done
        stop_all
        trap - EXIT
        exit $((rc == 0 ? 1 : rc))
    fi
    if dead="$(first_dead)"; then fail_because_dead "$dead"; fi
done
