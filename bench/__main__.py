"""`python -m bench [--quick] [--scale N] [--only B1,B2]`: seed, run every workload against its
baseline and peer in the same run, print the table, write bench/results/latest.json."""

import argparse
import logging
import os
import platform
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime

BENCH_DATABASE_URL = "postgis://civicmap:civicmap@127.0.0.1:5432/civicmap_bench"
# B10 last: it grows the database to ten times the seeded scale.
WORKLOADS = ["B1", "B2", "B5", "B6", "B8", "B9", "B7", "B3", "B4", "MEM", "PLAN", "B10"]


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, for development")
    parser.add_argument("--scale", type=int, help="reports and events to seed (200000)")
    parser.add_argument("--photos", type=int, help="12 MP photos to generate (50)")
    parser.add_argument("--only", help="comma-separated workloads, e.g. B1,B2")
    parser.add_argument("--seconds", type=int, help="seconds per wrk run (B9; 10)")
    parser.add_argument("--soak", type=int, help="seconds of steady load for MEM (600)")
    return parser.parse_args(argv)


def _ensure_database(url: str) -> None:
    """Create the bench database (needs the local postgres superuser) when it is missing."""
    name = url.rsplit("/", 1)[-1]
    probe = subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-tAc",
            f"SELECT 1 FROM pg_database WHERE datname = '{name}'",
        ],
        capture_output=True,
        text=True,
    )
    if probe.returncode == 0 and probe.stdout.strip() != "1":
        for sql, db in (
            (f"CREATE DATABASE {name} OWNER civicmap", "postgres"),
            ("CREATE EXTENSION IF NOT EXISTS postgis", name),
        ):
            subprocess.run(
                ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-c", sql], check=True
            )


def _merge(path, rows: list, only: set[str]) -> list:
    import json

    from bench import core

    if not path.exists():
        return rows
    kept = [core.Row(**r) for r in json.loads(path.read_text())["rows"]]
    kept = [r for r in kept if r.group and r.group not in only]
    order = {name: n for n, name in enumerate(WORKLOADS)}
    return sorted(kept + rows, key=lambda r: order.get(r.group, 99))


def main(argv: list[str] | None = None) -> int:
    args = _args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    logging.getLogger("pyvips").setLevel(logging.WARNING)
    url = os.environ.get("BENCH_DATABASE_URL", BENCH_DATABASE_URL)
    os.environ["DATABASE_URL"] = url
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicmap.settings")
    _ensure_database(url)

    import django

    django.setup()
    from django.core.management import call_command

    from bench import core, seed

    call_command("migrate", verbosity=0)
    scale = args.scale or (20_000 if args.quick else 200_000)
    config = {
        "quick": args.quick,
        "scale": scale,
        "photos": args.photos or (6 if args.quick else 50),
        "seconds": args.seconds or (4 if args.quick else 10),
        "soak": args.soak or (60 if args.quick else 600),
        "database_url": url,
    }
    run = core.Run(
        meta={
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "host": platform.node(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            **config,
        }
    )
    seed.base_data()
    started = time.perf_counter()
    seeded = seed.reports(scale)
    logging.info("seed: %s reports inserted (%.0f s)", seeded, time.perf_counter() - started)

    from bench import workloads

    only = {w.strip().upper() for w in args.only.split(",")} if args.only else None
    for name in WORKLOADS:
        if only and name not in only:
            continue
        module = workloads.get(name)
        logging.info("== %s", name)
        first = len(run.rows)
        try:
            module.run(run, config)
        except Exception as error:  # noqa: BLE001 - one failing workload must not hide the rest
            traceback.print_exc()
            run.rows.append(
                core.Row(name, "-", "failed", None, note=f"{type(error).__name__}: {error}")
            )
        for row in run.rows[first:]:
            row.group = name
    if only:
        # A partial run replaces its workloads' rows in the last results and keeps the others.
        run.rows = _merge(core.RESULTS / "latest.json", run.rows, only)
    run.meta["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    path = core.save(run)
    rows = [core.asdict(r) for r in run.rows]
    path.with_suffix(".md").write_text(core.markdown(rows) + "\n", encoding="utf-8")
    print(core.table(run))
    print(f"\n(written to {path})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
