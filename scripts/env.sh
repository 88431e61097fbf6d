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
# PostgreSQL major version whose Debian packages (server, PostGIS) are used.
PG_MAJOR="${PG_MAJOR:-15}"
# Port of the local PostgreSQL server (Debian cluster or project-local cluster in .pgdata/).
CIVICMAP_PGPORT="${PGPORT:-5432}"
# Where the project-local cluster lives when no server runs and no Debian cluster fits.
CIVICMAP_PGDATA="${CIVICMAP_PGDATA:-$REPO_ROOT/.pgdata}"
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
