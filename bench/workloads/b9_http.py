"""B9 API over HTTP with wrk: the app as `make run` starts it (uvicorn on civicmap.asgi,
2 workers) vs a plain DRF ModelSerializer API (bench/baseline_urls.py) behind gunicorn
(2 sync workers), same database, same rows, same fields.

- list: 50 reports, newest first, keyset pagination from 200 cursors spread over the ids
  (app: /api/v1/map/reports.geojson?limit=50&before=N; baseline: /reports/?before=N)
- detail: one report by id (app: /api/v1/map/reports/N.geojson; baseline: /reports/N/)
16 connections, interleaved, three rounds; p99 from wrk. Peak RSS of a web worker is read
from /proc (VmHWM) after the runs."""

import random

from django.db import connection

from bench import core, servers

APP_PORT, BASE_PORT = 8110, 8111


def _gunicorn(port: int) -> servers.Server:
    return servers.Server(
        "drf-gunicorn",
        [
            str(servers.VENV_BIN / "gunicorn"),
            "civicmap.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--log-level",
            "warning",
        ],
        port,
        {"DJANGO_SETTINGS_MODULE": "bench.baseline_settings"},
    )


def run(run: core.Run, config: dict) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM reports_report WHERE moderation = 'published' ORDER BY id")
        ids = [r[0] for r in cursor.fetchall()]
    rng = random.Random(9)
    cursors = [rng.choice(ids[50:]) for _ in range(200)]
    singles = [rng.choice(ids) for _ in range(200)]
    workloads = {
        "list of 50 (keyset)": (
            [f"/api/v1/map/reports.geojson?limit=50&before={c}" for c in cursors],
            [f"/reports/?before={c}" for c in cursors],
        ),
        "detail": (
            [f"/api/v1/map/reports/{i}.geojson" for i in singles],
            [f"/reports/{i}/" for i in singles],
        ),
    }
    seconds = config["seconds"]
    with servers.uvicorn_app(APP_PORT) as app, _gunicorn(BASE_PORT) as base:
        for name, (ours, theirs) in workloads.items():
            samples = {"ours": [], "base": []}
            for _ in range(core.REPEATS):
                samples["ours"].append(servers.wrk(APP_PORT, ours, seconds=seconds, connections=16))
                samples["base"].append(
                    servers.wrk(BASE_PORT, theirs, seconds=seconds, connections=16)
                )
            med = {k: sorted(v, key=lambda d: d["rps"])[1] for k, v in samples.items()}
            errors = sum(d["errors"] for v in samples.values() for d in v)
            size = f"{name}, {len(ids):,} reports"
            core.ratio_row(
                run,
                "B9 HTTP",
                size,
                "req/s (16 conns)",
                med["ours"]["rps"],
                med["base"]["rps"],
                goal=4,
                versus="DRF ModelSerializer + gunicorn",
                note=f"{errors} errors" if errors else "",
            )
            core.limit_row(
                run,
                "B9 HTTP",
                size,
                "p99 ms (16 conns)",
                med["ours"]["p99_ms"],
                limit=25,
                note=f"baseline p99 {med['base']['p99_ms']:.0f} ms",
            )
        core.info_row(
            run,
            "Memory",
            "web worker under B9",
            "peak RSS MB",
            app.peak_rss_mb(),
            note=f"baseline gunicorn worker {base.peak_rss_mb():.0f} MB",
        )
