#!/usr/bin/env bash
# `make backup`: one archive with the database (pg_dump -Fc), the photos (MEDIA_ROOT) and a
# manifest (row counts, sha256 of every file) in BACKUP_DIR (default var/backups).
#
#   scripts/backup.sh [--output FILE] [--keep N]    (N: keep only the newest N archives)
#
# Environment: DATABASE_URL, MEDIA_ROOT, BACKUP_DIR (and everything scripts/env.sh reads).
# Runs while the app is running; see docs/operations.md for a schedule (systemd timer, cron).
set -euo pipefail

# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"

[[ -x "$PY" ]] || die ".venv is missing: run 'make setup' first"
command -v pg_dump >/dev/null 2>&1 || die "pg_dump not found: apt-get install postgresql-client"
exec "$PY" manage.py core_backup "$@"
