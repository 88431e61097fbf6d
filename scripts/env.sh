# shellcheck shell=bash
# Shared defaults for scripts/setup.sh, scripts/run.sh and scripts/test.sh.
# Source it; it does not change shell options. Every value can be overridden from the
# environment or from a git-ignored .env file in the repo root (KEY=value lines; variables
# already set in the environment win over .env).

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT

# --- .env (optional) --------------------------------------------------------------------------
if [[ -f "$REPO_ROOT/.env" ]]; then
    while IFS= read -r _line || [[ -n "$_line" ]]; do
        _line="${_line%$'\r'}"
        [[ "$_line" =~ ^[[:space:]]*(#|$) ]] && continue
        _line="${_line#export }"
        [[ "$_line" =~ ^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
        _key="${BASH_REMATCH[1]}"
        _val="${BASH_REMATCH[2]}"
        _val="${_val%"${_val##*[![:space:]]}"}" # trailing blanks
        # strip one pair of surrounding quotes
        if [[ "$_val" =~ ^\"(.*)\"$ || "$_val" =~ ^\'(.*)\'$ ]]; then
            _val="${BASH_REMATCH[1]}"
        fi
        if [[ -z "${!_key+x}" ]]; then
            export "$_key=$_val"
        fi
    done <"$REPO_ROOT/.env"
    unset _line _key _val
fi

# --- paths ------------------------------------------------------------------------------------
VENV="$REPO_ROOT/.venv"
PY="$VENV/bin/python"
VAR_DIR="$REPO_ROOT/var"
export VENV PY VAR_DIR

# --- services ---------------------------------------------------------------------------------
# Port of the local PostgreSQL server (Debian cluster or project-local cluster in .pgdata/).
CIVICMAP_PGPORT="${PGPORT:-5432}"
# Where the project-local cluster lives when no server runs and no Debian cluster fits.
CIVICMAP_PGDATA="${CIVICMAP_PGDATA:-$REPO_ROOT/.pgdata}"

# The PostgreSQL major version whose Debian packages (server, client, PostGIS) are used, in this
# order: PG_MAJOR from the environment or .env; the Debian cluster (/etc/postgresql/N/main) that
# serves our port, or the project-local cluster, as they exist; the newest server installed;
# the version this Debian release ships (its 'postgresql' package: 15 on Debian 12, 17 on
# Debian 13). Prints nothing when none of these tells (no package lists yet: run apt-get update).
civicmap_pg_major() {
    local conf major port bin
    for conf in /etc/postgresql/*/main/postgresql.conf; do
        [[ -f "$conf" ]] || continue
        port="$(sed -n 's/^[[:space:]]*port[[:space:]]*=[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$conf" | tail -n 1)"
        if [[ "${port:-5432}" == "$CIVICMAP_PGPORT" ]]; then
            major="${conf#/etc/postgresql/}"
            printf '%s\n' "${major%%/*}"
            return 0
        fi
    done
    # (the second: where setup.sh puts it when 'postgres' cannot enter the repo)
    for conf in "$CIVICMAP_PGDATA/data/PG_VERSION" \
        "/var/lib/postgresql/civicmap-$(printf '%s' "$REPO_ROOT" | cksum | cut -d' ' -f1)/data/PG_VERSION"; do
        if [[ -f "$conf" ]]; then
            cat "$conf"
            return 0
        fi
    done
    major=""
    for bin in /usr/lib/postgresql/*/bin/postgres; do
        [[ -x "$bin" ]] || continue
        bin="${bin#/usr/lib/postgresql/}"
        bin="${bin%%/*}"
        if [[ "$bin" =~ ^[0-9]+$ ]] && ((bin > ${major:-0})); then major="$bin"; fi
    done
    if [[ -z "$major" ]] && command -v apt-cache >/dev/null 2>&1; then
        major="$(apt-cache depends postgresql 2>/dev/null |
            sed -n 's/^[[:space:]]*Depends:[[:space:]]*postgresql-\([0-9][0-9]*\)[[:space:]]*$/\1/p' | head -n 1)"
    fi
    [[ -n "$major" ]] && printf '%s\n' "$major"
    return 0
}
PG_MAJOR="${PG_MAJOR:-$(civicmap_pg_major)}"
CIVICMAP_DEFAULT_DATABASE_URL="postgres://civicmap:civicmap@127.0.0.1:${CIVICMAP_PGPORT}/civicmap"
export PG_MAJOR CIVICMAP_PGPORT CIVICMAP_PGDATA CIVICMAP_DEFAULT_DATABASE_URL

export DATABASE_URL="${DATABASE_URL:-$CIVICMAP_DEFAULT_DATABASE_URL}"
export CELERY_BROKER_URL="${CELERY_BROKER_URL:-redis://127.0.0.1:6379/0}"

# Never let a tool download a browser; tests use Debian's /usr/bin/chromium.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

# --- small helpers shared by the scripts ------------------------------------------------------
say() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
warn() { printf '!!  %s\n' "$*" >&2; }
die() {
    printf '!!  %s\n' "$*" >&2
    exit 1
}
