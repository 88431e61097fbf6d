"""B2 vector tiles over HTTP: the app (uvicorn, civicmap.asgi, 2 workers, as `make run`) vs tipg
(its own uvicorn, 2 workers) on the same database and table, vs the bare `ST_AsMVT` statement in
pgbench (the floor).

Fair: same rows (tipg told to put every point in a tile: TIPG_MAX_FEATURES_PER_TILE=10^6), same
tiles (the 3x3, 5x5, 7x7 blocks around the city centre at z12, z14, z16), same wrk load
(4 connections), interleaved, three rounds. Differences that are the point of the design: below
z14 the app merges points per 8-pixel cell (a point layer a phone can draw), tipg sends each."""

import os

from django.conf import settings

from api.tiles import report_tile, tile_for_point
from bench import core, pgbench, seed, servers

APP_PORT, TIPG_PORT = 8108, 8109
BLOCKS = {12: 1, 14: 2, 16: 3}  # half-width of the block of tiles around the centre


def tiles_around(z: int) -> list[tuple[int, int, int]]:
    _, cx, cy = tile_for_point(*seed.CENTRE, z)
    r = BLOCKS[z]
    return [(z, x, y) for x in range(cx - r, cx + r + 1) for y in range(cy - r, cy + r + 1)]


def _tipg(port: int) -> servers.Server:
    db = settings.DATABASES["default"]
    env = {
        "DATABASE_URL": f"postgresql://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        "TIPG_DB_SCHEMAS": '["public"]',
        "TIPG_DB_TABLES": '["public.reports_report", "public.events_event"]',
        "TIPG_MAX_FEATURES_PER_TILE": "1000000",
        "TIPG_DEBUG": "FALSE",
    }
    return servers.Server(
        "tipg",
        [
            str(servers.VENV_BIN / "uvicorn"),
            "tipg.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "2",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        port,
        env,
    )


def run(run: core.Run, config: dict) -> None:
    seconds = max(2, config["seconds"] // 2)
    with servers.uvicorn_app(APP_PORT) as app, _tipg(TIPG_PORT) as tipg:
        for z in BLOCKS:
            tiles = tiles_around(z)
            ours = [f"/api/v1/tiles/reports/{z}/{x}/{y}.pbf" for _, x, y in tiles]
            peer = [
                f"/collections/public.reports_report/tiles/WebMercatorQuad/{z}/{x}/{y}"
                f"?properties=id,status,category_id"
                for _, x, y in tiles
            ]
            samples = {"ours": [], "tipg": []}
            for _ in range(core.REPEATS):
                samples["ours"].append(servers.wrk(APP_PORT, ours, seconds=seconds, connections=4))
                samples["tipg"].append(servers.wrk(TIPG_PORT, peer, seconds=seconds, connections=4))
                # Queries of requests wrk dropped at the end still run in PostgreSQL: let them
                # finish before the next measurement.
                servers.wait_idle()
            med = {k: sorted(v, key=lambda d: d["rps"])[1] for k, v in samples.items()}
            errors = sum(d["errors"] for v in samples.values() for d in v)
            size = f"z{z}, {len(tiles)} tiles, {config['scale']:,} reports"
            core.ratio_row(
                run,
                "B2 tiles",
                size,
                "tiles/s (4 conns)",
                med["ours"]["rps"],
                med["tipg"]["rps"],
                goal=3,
                versus="tipg",
                peer=True,
                note=f"{errors} HTTP errors" if errors else "",
            )
            floor = pgbench.run(
                "tile_points.sql",
                seconds=seconds,
                clients=2,
                variables={
                    "z": z,
                    "cx": tiles[len(tiles) // 2][1],
                    "cy": tiles[len(tiles) // 2][2],
                },
            )
            core.info_row(
                run,
                "B2 tiles",
                size,
                "pgbench ST_AsMVT all points tiles/s",
                floor["tps"],
                note="floor: the bare statement, 2 clients",
            )
            if z == 12:
                single = [
                    servers.wrk(APP_PORT, ours, seconds=seconds, connections=1)
                    for _ in range(core.REPEATS)
                ]
                p95 = sorted(d["p95_ms"] for d in single)[1]
                core.limit_row(
                    run, "B2 tiles", size, "p95 ms, 1 connection (cached)", p95, limit=50
                )
            # Cold: the tile built by the database, no cache (a tile nobody asked for lately).
            cold = []
            for _ in range(core.REPEATS):
                for z_, x_, y_ in tiles:
                    cold += core.latencies(
                        lambda a=(z_, x_, y_): report_tile(z=a[0], x=a[1], y=a[2]), 1
                    )
            core.info_row(
                run,
                "B2 tiles",
                size,
                "cold tile p95 ms (in process)",
                core.percentile(cold, 95) * 1000,
                note="no cache: the ST_AsMVT query alone, what a first request pays",
            )
        run.meta["b2_app_peak_rss_mb"] = app.peak_rss_mb()
        run.meta["b2_tipg_peak_rss_mb"] = tipg.peak_rss_mb()
    os.environ.pop("WRK_PATHS", None)
