#!/usr/bin/env bash
# `make restore FILE=...`: restore a `make backup` archive into an EMPTY database (DATABASE_URL,
# created if missing) and photo folder (MEDIA_ROOT), check every row count and checksum against
# the archive's manifest, then apply the migrations this code has and the backup had not.
#
#   scripts/restore.sh FILE [--force] [--database-url URL] [--media-root DIR]
#
# --force (FORCE=1 for make) replaces what the database and the photo folder already hold.
# Stop web, worker and beat first when restoring over a running installation.
set -euo pipefail

# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"

[[ $# -ge 1 && -n "$1" ]] || die "usage: make restore FILE=var/backups/civicmap-backup-....tar [FORCE=1]"
[[ -x "$PY" ]] || die ".venv is missing: run 'make setup' first"
command -v pg_restore >/dev/null 2>&1 || die "pg_restore not found: apt-get install postgresql-client"

"$PY" manage.py core_restore "$@"
db_url=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[$i]}" in
        --database-url) db_url="${args[$((i + 1))]:-}" ;;
        --database-url=*) db_url="${args[$i]#--database-url=}" ;;
    esac
done
say "Django: migrate (brings a backup of an older version up to date)"
DATABASE_URL="${db_url:-$DATABASE_URL}" "$PY" manage.py migrate --noinput
say "Restore done. Start the app (make run, or the systemd units) to serve it."
