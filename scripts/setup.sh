#!/usr/bin/env bash
# Prepare everything civicmap needs on a Debian 13 or Debian 12 machine (root or sudo). Idempotent;
# a second run does not call apt, pip or initdb and only checks that the services answer.
#
#   scripts/setup.sh             system packages, PostgreSQL+PostGIS, Redis, .venv, Django steps
#   scripts/setup.sh --demo      ... and load the demo data (manage.py civicmap_demo_load)
#   scripts/setup.sh --test      ... and make sure Chromium + fonts for the browser tests exist
#   scripts/setup.sh --bench     ... and the benchmark peers and tools (`bench` extra, wrk)
#   scripts/setup.sh --venv-only only Python + .venv (used by `make lint`)
#
# Environment: see scripts/env.sh and .env.example (DATABASE_URL, CELERY_BROKER_URL, PGPORT,
# CIVICMAP_PGDATA, PG_MAJOR, PYTHON, CIVICMAP_SKIP_APT, STATIC_ROOT).
set -euo pipefail

# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"

WITH_DEMO=0
WITH_TEST=0
WITH_BENCH=0
VENV_ONLY=0
for arg in "$@"; do
    case "$arg" in
        --demo) WITH_DEMO=1 ;;
        --test) WITH_TEST=1 ;;
        --bench) WITH_BENCH=1 ;;
        --venv-only) VENV_ONLY=1 ;;
        -h | --help)
            awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
            exit 0
            ;;
        *) die "unknown option: $arg (try --help)" ;;
    esac
done

export DEBIAN_FRONTEND=noninteractive
export PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-5}"
PYTHON_BIN="${PYTHON:-python3}"
INSTALLED_STAMP="$VENV/.installed-stamp"
STARTED_AT=$SECONDS

# ==============================================================================================
# helpers
# ==============================================================================================

# Run a command as root: directly when we are root, else through sudo.
as_root() {
    if ((EUID == 0)); then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "root rights are needed for: $* (run as root or install sudo)"
    fi
}

# Run a command as the OS user 'postgres' (from /, so it never trips over an unreadable cwd).
as_postgres() {
    if [[ "$(id -un)" == postgres ]]; then
        (cd / && "$@")
    elif ((EUID == 0)); then
        id postgres >/dev/null 2>&1 || return 1
        (cd / && runuser -u postgres -- "$@")
    elif command -v sudo >/dev/null 2>&1; then
        # may ask for the password on a terminal; never hangs without one
        if [[ -t 0 ]]; then (cd / && sudo -u postgres -- "$@"); else (cd / && sudo -n -u postgres -- "$@"); fi
    else
        return 1
    fi
}

# TCP probe without any extra tool.
port_open() {
    # shellcheck disable=SC2016  # expanded by the inner bash
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

# Is a PostgreSQL server listening (accepting or still starting) at host:port?
pg_listening() {
    if command -v pg_isready >/dev/null 2>&1; then
        local rc=0
        pg_isready -q -h "$1" -p "$2" -t 2 || rc=$?
        ((rc == 0 || rc == 1))
    else
        port_open "$1" "$2"
    fi
}

pg_wait_ready() {
    local host=$1 port=$2 i
    for ((i = 0; i < 60; i++)); do
        if command -v pg_isready >/dev/null 2>&1; then
            pg_isready -q -h "$host" -p "$port" -t 1 && return 0
        else
            port_open "$host" "$port" && return 0
        fi
        sleep 0.5
    done
    return 1
}

# Does a Redis server answer PING at host:port? (-NOAUTH also counts as "answers")
redis_answers() {
    # shellcheck disable=SC2016  # expanded by the inner bash
    timeout 3 bash -c '
        exec 3<>"/dev/tcp/$0/$1" || exit 1
        printf "PING\r\n" >&3
        IFS= read -r -t 2 reply <&3 || exit 1
        [[ $reply == "+PONG"* || $reply == "-NOAUTH"* ]]' "$1" "$2" 2>/dev/null
}

is_local_host() {
    case "$1" in "" | 127.0.0.1 | localhost | ::1 | "[::1]") return 0 ;; *) return 1 ;; esac
}

urldecode() {
    local s="${1//\\/\\\\}"
    printf '%b' "${s//%/\\x}"
}

# parse_url URL -> URL_SCHEME URL_USER URL_PASSWORD URL_HOST URL_PORT URL_PATH (decoded)
parse_url() {
    local url=$1 rest authority userinfo="" hostport
    URL_SCHEME="${url%%://*}"
    rest="${url#*://}"
    authority="${rest%%[/?]*}"
    rest="${rest:${#authority}}"
    rest="${rest#/}"
    URL_PATH="$(urldecode "${rest%%\?*}")"
    if [[ "$authority" == *@* ]]; then
        userinfo="${authority%@*}"
        hostport="${authority##*@}"
    else
        hostport="$authority"
    fi
    URL_USER="$(urldecode "${userinfo%%:*}")"
    URL_PASSWORD=""
    [[ "$userinfo" == *:* ]] && URL_PASSWORD="$(urldecode "${userinfo#*:}")"
    if [[ "$hostport" == \[* ]]; then
        URL_HOST="${hostport#[}"
        URL_HOST="${URL_HOST%%]*}"
        URL_PORT="${hostport##*]}"
        URL_PORT="${URL_PORT#:}"
    else
        URL_HOST="${hostport%%:*}"
        URL_PORT=""
        [[ "$hostport" == *:* ]] && URL_PORT="${hostport##*:}"
    fi
    return 0
}

# ==============================================================================================
# 1. system packages
# ==============================================================================================
APT_UPDATED=0
apt_update() {
    if ((!APT_UPDATED)); then
        say "apt-get update"
        as_root apt-get -qq -o DPkg::Lock::Timeout=300 update
        APT_UPDATED=1
    fi
}

apt_install() {
    if [[ "${CIVICMAP_SKIP_APT:-0}" == 1 ]]; then
        warn "CIVICMAP_SKIP_APT=1: not installing missing packages: $*"
        return 0
    fi
    command -v apt-get >/dev/null 2>&1 ||
        die "apt-get not found; install these packages by hand: $*"
    mkdir -p "$VAR_DIR"
    local log="$VAR_DIR/apt.log"
    apt_update
    say "Installing system packages (a few minutes the first time; log: var/apt.log): $*"
    # C.UTF-8 so that a PostgreSQL cluster created by the package's postinst is UTF8.
    if ! as_root env DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 LC_ALL=C.UTF-8 \
        apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 "$@" \
        >>"$log" 2>&1; then
        tail -n 30 "$log" >&2
        die "apt-get install failed (full log: var/apt.log)"
    fi
}

pkg_installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == installed ]]
}

NEED_PKGS=()
want_pkg() {
    local p
    for p in "$@"; do
        pkg_installed "$p" || NEED_PKGS+=("$p")
    done
}

# Decide where PostgreSQL and Redis come from (needed to know which packages to install).
parse_url "$DATABASE_URL"
DB_SCHEME=$URL_SCHEME DB_USER=$URL_USER DB_PASSWORD=$URL_PASSWORD
DB_HOST=${URL_HOST:-127.0.0.1} DB_PORT=${URL_PORT:-5432} DB_NAME=$URL_PATH
# The URL as psql understands it (Django also accepts postgis://).
PSQL_URL="postgresql://${DATABASE_URL#*://}"
[[ -n "$DB_NAME" ]] || die "DATABASE_URL names no database: $DATABASE_URL"
case "$DB_SCHEME" in
    postgres | postgresql | postgis | pgsql) ;;
    *) die "DATABASE_URL must be a PostgreSQL URL (postgres://...), got scheme '$DB_SCHEME'" ;;
esac
# "Managed" = the default local database: we may start a server and create role + database.
DB_MANAGED=0
if [[ "postgresql://${CIVICMAP_DEFAULT_DATABASE_URL#*://}" == "$PSQL_URL" ]]; then
    DB_MANAGED=1
fi

parse_url "$CELERY_BROKER_URL"
BROKER_SCHEME=$URL_SCHEME BROKER_HOST=${URL_HOST:-127.0.0.1} BROKER_PORT=${URL_PORT:-6379}

if command -v dpkg-query >/dev/null 2>&1; then
    # Python
    if ! command -v "$PYTHON_BIN" >/dev/null 2>&1; then
        [[ "$PYTHON_BIN" == python3 ]] || die "PYTHON=$PYTHON_BIN not found"
        want_pkg python3 python3-venv python3-dev
    else
        py_ok=0 py_ensurepip=0 py_headers=0
        read -r py_ok py_ensurepip py_headers < <("$PYTHON_BIN" -c '
import importlib.util, os, sys, sysconfig
inc = sysconfig.get_paths()["include"]
print(int(sys.version_info >= (3, 11)), int(importlib.util.find_spec("ensurepip") is not None),
      int(os.path.exists(os.path.join(inc, "Python.h"))))') || true
        ((py_ok)) || die "$PYTHON_BIN is $("$PYTHON_BIN" --version 2>&1); civicmap needs Python >= 3.11"
        if ! [[ -x "$PY" ]] && ((!py_ensurepip)); then want_pkg python3-venv; fi
        ((py_headers)) || want_pkg python3-dev
    fi
    if ! command -v gcc >/dev/null 2>&1; then want_pkg build-essential; fi
    if ! command -v make >/dev/null 2>&1; then want_pkg make; fi

    if ((!VENV_ONLY)); then
        # Which PostgreSQL (scripts/env.sh: the one already there, else the release's own): on a
        # bare machine apt may not have its package lists yet.
        if [[ -z "$PG_MAJOR" && "${CIVICMAP_SKIP_APT:-0}" != 1 ]] && command -v apt-get >/dev/null 2>&1; then
            apt_update
            PG_MAJOR="$(civicmap_pg_major)"
        fi
        [[ -n "$PG_MAJOR" ]] ||
            die "cannot tell which PostgreSQL version to use (no server installed, apt does not know the package 'postgresql'); set PG_MAJOR, e.g. PG_MAJOR=17"
        export PG_MAJOR
        # gdal-bin depends on the GDAL library of its release (libgdal32 on Debian 12, libgdal36
        # on Debian 13), which brings the GEOS and PROJ C libraries: the three GeoDjango loads.
        want_pkg gettext gdal-bin
        if ! command -v psql >/dev/null 2>&1 || ! command -v pg_isready >/dev/null 2>&1; then
            want_pkg "postgresql-client-$PG_MAJOR"
        fi
        # PostGIS for the local server (this also brings the server package postgresql-$PG_MAJOR).
        want_pkg "postgresql-$PG_MAJOR-postgis-3"
        if ((DB_MANAGED)) && ! pg_listening "$DB_HOST" "$DB_PORT"; then
            want_pkg "postgresql-$PG_MAJOR"
        fi
        if [[ "$BROKER_SCHEME" == redis ]] && is_local_host "$BROKER_HOST" &&
            ! command -v redis-server >/dev/null 2>&1 &&
            ! redis_answers "${BROKER_HOST/localhost/127.0.0.1}" "$BROKER_PORT"; then
            want_pkg redis-server
        fi
        if ((WITH_TEST)); then
            [[ -x /usr/bin/chromium ]] || want_pkg chromium
            want_pkg fonts-dejavu-core
        fi
        if ((WITH_BENCH)); then
            want_pkg wrk
        fi
    fi

    if ((${#NEED_PKGS[@]})); then
        # de-duplicate, keep order
        mapfile -t NEED_PKGS < <(printf '%s\n' "${NEED_PKGS[@]}" | awk '!seen[$0]++')
        apt_install "${NEED_PKGS[@]}"
    fi
else
    warn "dpkg-query not found (not Debian?): skipping system packages; install them by hand"
fi

# ==============================================================================================
# 2. PostgreSQL + PostGIS
# ==============================================================================================
PSQL_FLAGS=(-X -A -t -q -w -v ON_ERROR_STOP=1)

debian_cluster_port() {
    local conf="/etc/postgresql/$PG_MAJOR/main/postgresql.conf"
    [[ -f "$conf" ]] || return 1
    sed -n 's/^[[:space:]]*port[[:space:]]*=[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$conf" | tail -n 1
}

# Folder of the project-local cluster. The repo may sit where 'postgres' cannot enter (/root is
# 0700 on Debian); then the cluster goes below /var/lib/postgresql instead.
local_pgdata_base() {
    local base="$CIVICMAP_PGDATA"
    if ((EUID == 0)) && [[ "$base" == "$REPO_ROOT/.pgdata" ]] &&
        ! as_postgres test -x "$REPO_ROOT" 2>/dev/null; then
        base="/var/lib/postgresql/civicmap-$(printf '%s' "$REPO_ROOT" | cksum | cut -d' ' -f1)"
        note "postgres cannot enter $REPO_ROOT; using $base for the local cluster" >&2
    fi
    printf '%s\n' "$base"
}

# Run a command as the owner of the local cluster: 'postgres' when we are root (initdb refuses
# root), else ourselves.
as_pg_owner() {
    if ((EUID == 0)); then as_postgres "$@"; else (cd / && "$@"); fi
}

start_local_cluster() {
    local port=$1 bindir="/usr/lib/postgresql/$PG_MAJOR/bin" base data log
    [[ -x "$bindir/initdb" ]] ||
        die "$bindir/initdb not found; install postgresql-$PG_MAJOR (or set DATABASE_URL)"
    if ((EUID == 0)) && ! id postgres >/dev/null 2>&1; then
        die "the OS user 'postgres' does not exist (it comes with postgresql-common)"
    fi
    base="$(local_pgdata_base)"
    data="$base/data"
    log="$base/log"
    mkdir -p "$base"
    if ((EUID == 0)); then chown postgres:postgres "$base"; fi
    chmod 700 "$base"
    if [[ ! -f "$data/PG_VERSION" ]]; then
        say "PostgreSQL: creating a project-local cluster in $data (127.0.0.1:$port, trust auth)"
        as_pg_owner "$bindir/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
            >"$base/initdb.log" 2>&1 || {
            cat "$base/initdb.log" >&2
            die "initdb failed"
        }
        as_pg_owner tee -a "$data/postgresql.conf" >/dev/null <<EOF

# --- civicmap development cluster (scripts/setup.sh) ---
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = ''
# throw-away development data: trade durability for speed (test databases are created often)
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    fi
    if as_pg_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        die "the local cluster in $data runs but not on 127.0.0.1:$port; stop it with:
    $( ((EUID == 0)) && printf 'runuser -u postgres -- ')$bindir/pg_ctl -D $data stop"
    fi
    say "PostgreSQL: starting the project-local cluster in $data on 127.0.0.1:$port"
    as_pg_owner "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 -o "-p $port" start >/dev/null || {
        tail -n 20 "$log" >&2 || true
        die "could not start the local PostgreSQL cluster (log: $log)"
    }
}

# Find a way to run psql as a PostgreSQL superuser against host:port; sets PG_ADMIN (array).
PG_ADMIN=()
find_pg_admin() {
    local host=$1 port=$2 cand
    local -a tries=("tcp")
    if is_local_host "$host"; then tries+=("postgres-socket" "self-socket"); fi
    for cand in "${tries[@]}"; do
        local -a cmd
        case "$cand" in
            tcp) cmd=(psql -h "$host" -p "$port" -U postgres) ;;
            postgres-socket)
                id postgres >/dev/null 2>&1 || continue
                ((EUID == 0)) || command -v sudo >/dev/null 2>&1 || continue
                cmd=(as_postgres psql -p "$port")
                ;;
            self-socket) cmd=(psql -p "$port") ;;
        esac
        if [[ "$("${cmd[@]}" "${PSQL_FLAGS[@]}" -d postgres \
            -c "select rolsuper from pg_roles where rolname = current_user" 2>/dev/null)" == t ]]; then
            PG_ADMIN=("${cmd[@]}")
            return 0
        fi
    done
    return 1
}

# pg_admin DB SQL [psql -v assignments...]: run SQL (read from stdin, so :"var" works) as superuser.
pg_admin() {
    local db=$1 sql=$2
    shift 2
    printf '%s\n' "$sql" | "${PG_ADMIN[@]}" "${PSQL_FLAGS[@]}" -d "$db" "$@"
}

# One query with the app's own credentials: "server_version|is_superuser|has_postgis".
db_status() {
    psql "$PSQL_URL" "${PSQL_FLAGS[@]}" -F '|' -c "select current_setting('server_version'),
        (select rolsuper from pg_roles where rolname = current_user),
        exists (select 1 from pg_extension where extname = 'postgis')" 2>/dev/null
}

ensure_postgis() {
    local avail
    if pg_admin "$DB_NAME" 'CREATE EXTENSION IF NOT EXISTS postgis;' >/dev/null 2>&1; then
        return 0
    fi
    avail="$(pg_admin "$DB_NAME" "select count(*) from pg_available_extensions where name = 'postgis';" || true)"
    if [[ "$avail" == 0 ]]; then
        local major
        major="$(pg_admin postgres "select current_setting('server_version_num')::int / 10000;")"
        if is_local_host "$DB_HOST" && [[ "$major" != "$PG_MAJOR" ]] &&
            command -v apt-cache >/dev/null 2>&1 && apt-cache show "postgresql-$major-postgis-3" >/dev/null 2>&1; then
            apt_install "postgresql-$major-postgis-3"
            pg_admin "$DB_NAME" 'CREATE EXTENSION IF NOT EXISTS postgis;' >/dev/null && return 0
        fi
        warn "PostGIS is not available in the PostgreSQL $major server at $DB_HOST:$DB_PORT (install postgresql-$major-postgis-3 there)"
    fi
    return 1
}

setup_postgres() {
    local status where="$DB_USER@$DB_HOST:$DB_PORT/$DB_NAME"

    # Fast path (every run after the first): the app can log in and PostGIS is there (and, for
    # the default database, the role is a superuser).
    if status="$(db_status)" && [[ "$status" == *"|t|t" || ($DB_MANAGED == 0 && "$status" == *"|t") ]]; then
        say "PostgreSQL: using $where (server ${status%%|*}, PostGIS ready)"
        if [[ "$status" != *"|t|t" ]]; then
            warn "role $DB_USER is not a superuser: Django's test runner may fail to CREATE EXTENSION postgis in the test database"
        fi
        return 0
    fi

    if ! pg_listening "$DB_HOST" "$DB_PORT"; then
        if ((!DB_MANAGED)); then
            warn "no PostgreSQL server answers at $DB_HOST:$DB_PORT (DATABASE_URL); start it first"
            return 0
        fi
        local cport
        if cport="$(debian_cluster_port)" && [[ "$cport" == "$DB_PORT" ]]; then
            say "PostgreSQL: starting the Debian cluster $PG_MAJOR/main on port $DB_PORT"
            as_root pg_ctlcluster "$PG_MAJOR" main start
        else
            start_local_cluster "$DB_PORT"
        fi
        pg_wait_ready "$DB_HOST" "$DB_PORT" || die "PostgreSQL on $DB_HOST:$DB_PORT did not become ready"
    else
        say "PostgreSQL: using the server already listening on $DB_HOST:$DB_PORT"
    fi

    if ! find_pg_admin "$DB_HOST" "$DB_PORT"; then
        if ((DB_MANAGED)); then
            die "cannot get a PostgreSQL superuser connection to $DB_HOST:$DB_PORT (tried 'psql -h $DB_HOST -U postgres' and the postgres OS user over the unix socket). Create the role and database by hand:
    CREATE ROLE $DB_USER LOGIN SUPERUSER PASSWORD '...'; CREATE DATABASE $DB_NAME OWNER $DB_USER;
    and in it: CREATE EXTENSION postgis;   -- or set DATABASE_URL"
        fi
        warn "no superuser access to $DB_HOST:$DB_PORT: cannot make sure that database '$DB_NAME' and PostGIS exist; continuing"
        return 0
    fi

    local -a vars=(-v "dbuser=$DB_USER" -v "dbpass=$DB_PASSWORD" -v "dbname=$DB_NAME")
    local role_state db_exists
    role_state="$(pg_admin postgres "select rolsuper::text || '|' || rolcanlogin::text from pg_roles where rolname = :'dbuser';" "${vars[@]}")"
    if ((DB_MANAGED)); then
        if [[ -z "$role_state" ]]; then
            say "PostgreSQL: creating role $DB_USER (LOGIN SUPERUSER, so tests can CREATE EXTENSION postgis)"
            pg_admin postgres 'CREATE ROLE :"dbuser" LOGIN SUPERUSER PASSWORD :'"'dbpass';" "${vars[@]}"
        elif [[ "$role_state" != "true|true" ]]; then
            say "PostgreSQL: granting LOGIN SUPERUSER to role $DB_USER"
            pg_admin postgres 'ALTER ROLE :"dbuser" LOGIN SUPERUSER;' "${vars[@]}"
        fi
    elif [[ -z "$role_state" ]]; then
        warn "role '$DB_USER' does not exist on $DB_HOST:$DB_PORT (DATABASE_URL); not creating it"
    fi

    db_exists="$(pg_admin postgres "select 1 from pg_database where datname = :'dbname';" "${vars[@]}")"
    if [[ -z "$db_exists" ]]; then
        local owner="" enc
        if [[ -n "$role_state" ]] || ((DB_MANAGED)); then owner=' OWNER :"dbuser"'; fi
        enc="$(pg_admin postgres "select pg_encoding_to_char(encoding) from pg_database where datname = 'template1';")"
        say "PostgreSQL: creating database $DB_NAME"
        if [[ "$enc" == UTF8 ]]; then
            pg_admin postgres "CREATE DATABASE :\"dbname\"$owner;" "${vars[@]}"
        else
            warn "template1 of this server uses $enc; creating $DB_NAME as UTF8 from template0 (test databases will still use $enc)"
            pg_admin postgres "CREATE DATABASE :\"dbname\"$owner ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;" "${vars[@]}"
        fi
    fi

    if ensure_postgis; then
        say "PostgreSQL: PostGIS enabled in $DB_NAME"
    elif ((DB_MANAGED)); then
        die "could not enable PostGIS in $DB_NAME"
    else
        warn "could not enable PostGIS in $DB_NAME; continuing"
    fi

    # Can the app log in? (A pre-existing role may have another password.)
    if ! status="$(db_status)"; then
        if ((DB_MANAGED)); then
            note "resetting the password of role $DB_USER to the one in DATABASE_URL"
            pg_admin postgres 'ALTER ROLE :"dbuser" PASSWORD :'"'dbpass';" "${vars[@]}"
            status="$(db_status)" ||
                die "the app cannot log in with DATABASE_URL ($where); check pg_hba.conf"
        else
            warn "the app cannot log in with DATABASE_URL ($where)"
            return 0
        fi
    fi
    if [[ "$status" != *"|t|"* ]]; then
        warn "role $DB_USER is not a superuser: Django's test runner may fail to CREATE EXTENSION postgis in the test database"
    fi
    say "PostgreSQL: ready ($where, server ${status%%|*})"
}

# ==============================================================================================
# 3. Redis (Celery broker)
# ==============================================================================================
setup_redis() {
    if [[ "$BROKER_SCHEME" != redis ]]; then
        note "CELERY_BROKER_URL is not redis:// ($BROKER_SCHEME); not managing the broker"
        return 0
    fi
    local host="${BROKER_HOST/localhost/127.0.0.1}" port="$BROKER_PORT" i
    if redis_answers "$host" "$port"; then
        say "Redis: using the server at $host:$port"
        return 0
    fi
    if ! is_local_host "$host"; then
        warn "Redis at $host:$port does not answer (CELERY_BROKER_URL); Celery will not work"
        return 0
    fi
    command -v redis-server >/dev/null 2>&1 || apt_install redis-server
    command -v redis-server >/dev/null 2>&1 ||
        die "nothing answers on $host:$port and redis-server is not installed"
    # A freshly installed package may have started its own service.
    if redis_answers "$host" "$port"; then
        say "Redis: using the server at $host:$port"
        return 0
    fi
    mkdir -p "$VAR_DIR/redis"
    # Append-only file (fsync every second): queued tasks survive a Redis restart. noeviction:
    # a full Redis refuses writes instead of silently dropping queued tasks (docs/operations.md).
    say "Redis: starting redis-server on $host:$port (append-only file in var/redis, log: var/redis.log)"
    redis-server --daemonize yes --bind "$host" --port "$port" --save "" \
        --appendonly yes --appendfsync everysec --maxmemory-policy noeviction \
        --dir "$VAR_DIR/redis" --logfile "$VAR_DIR/redis.log" --pidfile "$VAR_DIR/redis.pid" >/dev/null
    for ((i = 0; i < 40; i++)); do
        redis_answers "$host" "$port" && return 0
        sleep 0.25
    done
    tail -n 20 "$VAR_DIR/redis.log" >&2 2>/dev/null || true
    die "redis-server did not answer on $host:$port"
}

# ==============================================================================================
# 4. virtualenv
# ==============================================================================================
setup_venv() {
    if ! { [[ -x "$PY" ]] && "$PY" -c 'import pip' >/dev/null 2>&1; }; then
        if [[ -e "$VENV" ]]; then
            warn ".venv exists but is not usable; recreating it"
            rm -rf "$VENV"
        fi
        say "Python: creating .venv with $("$PYTHON_BIN" --version 2>&1) ($(command -v "$PYTHON_BIN"))"
        if ! "$PYTHON_BIN" -m venv "$VENV" >"${TMPDIR:-/tmp}/civicmap-venv.log" 2>&1; then
            note "python3 -m venv failed (ensurepip missing?); installing python3-venv"
            rm -rf "$VENV"
            apt_install python3-venv
            "$PYTHON_BIN" -m venv "$VENV" || die "could not create .venv"
        fi
        rm -f "${TMPDIR:-/tmp}/civicmap-venv.log"
        mkdir -p "$VAR_DIR"
        "$PY" -m pip install --upgrade pip >"$VAR_DIR/pip-install.log" 2>&1 ||
            warn "could not upgrade pip in .venv (see var/pip-install.log); continuing"
    fi

    # Reinstall when pyproject.toml changed or the set of top-level packages changed (the
    # editable install maps the packages that existed when it ran).
    local pkgs="" f
    for f in */__init__.py; do
        if [[ -e "$f" ]]; then pkgs+="${f%/__init__.py} "; fi
    done
    # Extras: dev (tests, always) and bench (`--bench`); a venv that has the bench extra keeps
    # it (the stamp's second line names the extras installed).
    local extras="dev" stamp_pkgs="" stamp_extras=""
    if [[ -f "$INSTALLED_STAMP" ]]; then
        stamp_pkgs="$(sed -n 1p "$INSTALLED_STAMP")"
        stamp_extras="$(sed -n 2p "$INSTALLED_STAMP")"
    fi
    if ((WITH_BENCH)) || [[ "$stamp_extras" == *bench* ]]; then extras="dev,bench"; fi
    if [[ ! -f "$INSTALLED_STAMP" || pyproject.toml -nt "$INSTALLED_STAMP" ||
        "$stamp_pkgs" != "$pkgs" || "$stamp_extras" != "$extras" ]]; then
        say "Python: pip install -e '.[$extras]' (this takes a while the first time; log: var/pip-install.log)"
        mkdir -p "$VAR_DIR"
        if ! "$PY" -m pip install -e ".[$extras]" >"$VAR_DIR/pip-install.log" 2>&1; then
            tail -n 40 "$VAR_DIR/pip-install.log" >&2
            die "pip install failed (full log: var/pip-install.log)"
        fi
        printf '%s\n%s\n' "$pkgs" "$extras" >"$INSTALLED_STAMP"
    else
        say "Python: .venv is up to date"
    fi
}

# ==============================================================================================
# 5-7. Django
# ==============================================================================================
manage() { "$PY" manage.py "$@"; }

compile_messages() {
    local po mo need=0
    while IFS= read -r -d '' po; do
        mo="${po%.po}.mo"
        if [[ ! -f "$mo" || "$po" -nt "$mo" ]]; then need=1; fi
    done < <(find . \( -path ./.venv -o -path ./node_modules -o -path ./.git \) -prune -o \
        -path '*/locale/*/LC_MESSAGES/*.po' -print0)
    if ((need)); then
        say "Django: compilemessages"
        manage compilemessages --ignore=.venv --ignore=node_modules -v 0
    fi
}

migrate() {
    local out
    say "Django: migrate"
    if ! out="$(manage migrate --noinput 2>&1)"; then
        printf '%s\n' "$out" >&2
        die "manage.py migrate failed"
    fi
    if [[ "$out" != *"No migrations to apply."* ]]; then
        printf '%s\n' "$out" | sed 's/^/    /'
    fi
}

collect_static() {
    local static_root="${STATIC_ROOT:-$REPO_ROOT/staticfiles}" stamp="$VAR_DIR/.collectstatic-stamp"
    local rel="${static_root#"$REPO_ROOT"/}"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$static_root" && -d "$static_root" &&
        -n "$(ls -A "$static_root" 2>/dev/null)" && ! "$INSTALLED_STAMP" -nt "$stamp" &&
        -z "$(find . \( -path ./.venv -o -path ./node_modules -o -path ./.git -o -path "./$rel" \) \
            -prune -o -path '*/static/*' -type f -newer "$stamp" -print -quit)" ]]; then
        return 0
    fi
    say "Django: collectstatic"
    manage collectstatic --noinput -v 0
    mkdir -p "$VAR_DIR"
    printf '%s' "$static_root" >"$stamp"
}

# ==============================================================================================
# main
# ==============================================================================================
setup_venv
if ((VENV_ONLY)); then
    say "Setup (venv only) done in $((SECONDS - STARTED_AT))s"
    exit 0
fi

setup_postgres
setup_redis

if ((WITH_TEST)); then
    [[ -x /usr/bin/chromium ]] || die "/usr/bin/chromium is missing (apt-get install chromium)"
fi

if [[ -f manage.py ]]; then
    mkdir -p "$VAR_DIR"
    compile_messages
    migrate
    collect_static
    if ((WITH_DEMO)); then
        say "Django: loading the demo data (civicmap_demo_load)"
        manage civicmap_demo_load
    fi
else
    note "manage.py does not exist yet: skipping the Django steps (messages, migrate, static, demo)"
fi

say "Setup done in $((SECONDS - STARTED_AT))s"
