"""B2 vector tiles over HTTP: the app (uvicorn, civicmap.asgi, 2 workers, as `make run`) vs tipg
(its own uvicorn, 2 workers) on the same database and table, vs the bare `ST_AsMVT` statement in
pgbench (the floor).

Fair: same rows (tipg told to put every point in a tile: TIPG_MAX_FEATURES_PER_TILE=10^6), same
tiles (the 3x3, 5x5, 7x7 blocks around the city centre at z12, z14, z16), same wrk load
(4 connections), interleaved, three rounds, and the same session settings for tile queries on
both sides (`core.mvt.TILE_SETTINGS`: no JIT, no parallel workers; passed to tipg's asyncpg
through its DSN).

Two comparisons per zoom:
- cached: the app as deployed, tiles from the Redis tile cache, against tipg building every
  tile (tipg has no cache). Below z14 the app merges points per 8-pixel cell (a point layer a
  phone can draw) and tipg sends each point, as tipg's table layer does.
- uncached, neither side caches: a second app server with the tile cache off
  (TILE_CACHE_URL="": every tile is built by the database, on the ASGI fast path), against tipg
  serving the same features. At z14 and z16 nobody merges: both send every point (tipg's table
  layer). Below z14 both merge by the same rule: tipg serves a function layer
  (`pg_temp.bench_report_cells`, registered through TIPG_CUSTOM_SQL_DIRECTORY) that merges the
  tile's points per 8-pixel cell exactly as the app did before its tile key (Web Mercator
  arithmetic on each point's longitude and latitude, `mode()` of the statuses), i.e. the plain
  PostGIS formulation of the merge rule; tipg then clips and encodes those cells. The app reads
  the same cells from its covering tile-key index (core.mvt).
"""

import os
import tempfile
from pathlib import Path

from django.conf import settings

from api.tiles import report_tile, tile_for_point
from bench import core, pgbench, seed, servers
from core.mvt import TILE_SETTINGS
from reports.layers import CLUSTER_CELLS, PUBLISHED_SQL, TILE_CLUSTER_BELOW_ZOOM

APP_PORT, APP_UNCACHED_PORT, TIPG_PORT = 8108, 8110, 8109
BLOCKS = {12: 1, 14: 2, 16: 3}  # half-width of the block of tiles around the centre

# tipg's function layer for merged tiles: the merge rule in its plain PostGIS form (what the app
# ran before the tile key), one row per cell, the cell's centre as a point for tipg to encode.
TIPG_CELLS_SQL = f"""
CREATE OR REPLACE FUNCTION pg_temp.bench_report_cells(tz integer, tx integer, ty integer)
RETURNS TABLE (id bigint, count bigint, status text, geom geometry)
LANGUAGE sql STABLE AS $$
WITH bounds AS (SELECT ST_TileEnvelope($1, $2, $3) AS merc),
box AS (
    SELECT ST_XMin(merc) AS x0, ST_YMax(merc) AS y1, ST_XMax(merc) - ST_XMin(merc) AS size,
           ST_Transform(merc, 4326) AS geo
    FROM bounds
),
pts AS (
    SELECT r.id, r.status,
           floor((radians(ST_X(r.public_location)) * 6378137.0 - box.x0)
                 / box.size * {CLUSTER_CELLS}) AS cx,
           floor((box.y1 - ln(tan(pi() / 4 + radians(ST_Y(r.public_location)) / 2)) * 6378137.0)
                 / box.size * {CLUSTER_CELLS}) AS cy
    FROM reports_report r, box
    WHERE r.public_location && box.geo AND {PUBLISHED_SQL}
),
cells AS (
    SELECT cx, cy, min(pts.id) AS id, count(*) AS count,
           mode() WITHIN GROUP (ORDER BY pts.status) AS status
    FROM pts
    WHERE cx BETWEEN 0 AND {CLUSTER_CELLS} - 1 AND cy BETWEEN 0 AND {CLUSTER_CELLS} - 1
    GROUP BY cx, cy
)
SELECT cells.id, cells.count, cells.status::text,
       ST_Transform(
           ST_SetSRID(ST_MakePoint(box.x0 + (cx + 0.5) * box.size / {CLUSTER_CELLS},
                                   box.y1 - (cy + 0.5) * box.size / {CLUSTER_CELLS}), 3857),
           4326)
FROM cells, box
$$;
"""


def tiles_around(z: int) -> list[tuple[int, int, int]]:
    _, cx, cy = tile_for_point(*seed.CENTRE, z)
    r = BLOCKS[z]
    return [(z, x, y) for x in range(cx - r, cx + r + 1) for y in range(cy - r, cy + r + 1)]


def _tipg(port: int, sql_dir: Path) -> servers.Server:
    db = settings.DATABASES["default"]
    session = "&".join(f"{name}={value}" for name, value in TILE_SETTINGS.items())
    env = {
        # asyncpg passes unknown DSN parameters on as the sessions' server settings.
        "DATABASE_URL": f"postgresql://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:"
        f"{db['PORT'] or 5432}/{db['NAME']}?{session}",
        "TIPG_DB_SCHEMAS": '["public"]',
        "TIPG_DB_TABLES": '["public.reports_report", "public.events_event"]',
        "TIPG_CUSTOM_SQL_DIRECTORY": str(sql_dir),
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


def _cells_sql(directory: Path) -> Path:
    """A directory for TIPG_CUSTOM_SQL_DIRECTORY holding the merged-cells function."""
    (directory / "bench_report_cells.sql").write_text(TIPG_CELLS_SQL, encoding="utf-8")
    return directory


def _median(samples: list[dict]) -> dict:
    return sorted(samples, key=lambda d: d["rps"])[len(samples) // 2]


def run(run: core.Run, config: dict) -> None:
    seconds = max(2, config["seconds"] // 2)
    # The workloads before B2 change reports; measured as autovacuum leaves the table.
    seed.vacuum("reports_report")
    with (
        tempfile.TemporaryDirectory(prefix="bench-tipg-sql-") as sql_path,
        servers.uvicorn_app(APP_PORT) as app,
        servers.uvicorn_app(APP_UNCACHED_PORT, env={"TILE_CACHE_URL": ""}) as uncached,
        _tipg(TIPG_PORT, _cells_sql(Path(sql_path))) as tipg,
    ):
        for z in BLOCKS:
            tiles = tiles_around(z)
            ours = [f"/api/v1/tiles/reports/{z}/{x}/{y}.pbf" for _, x, y in tiles]
            peer = [
                f"/collections/public.reports_report/tiles/WebMercatorQuad/{z}/{x}/{y}"
                f"?properties=id,status,category_id"
                for _, x, y in tiles
            ]
            merged = z < TILE_CLUSTER_BELOW_ZOOM
            peer_same = (
                [
                    f"/collections/pg_temp.bench_report_cells/tiles/WebMercatorQuad/{z}/{x}/{y}"
                    f"?tz={z}&tx={x}&ty={y}"
                    for _, x, y in tiles
                ]
                if merged
                else peer
            )
            loads = {
                "ours": (APP_PORT, ours),
                "tipg": (TIPG_PORT, peer),
                "uncached": (APP_UNCACHED_PORT, ours),
            }
            if merged:
                loads["tipg_same"] = (TIPG_PORT, peer_same)
            samples = {name: [] for name in loads}
            for _ in range(core.REPEATS):
                for name, (port, paths) in loads.items():
                    samples[name].append(servers.wrk(port, paths, seconds=seconds, connections=4))
                    # Queries of requests wrk dropped at the end still run in PostgreSQL: let
                    # them finish before the next measurement.
                    servers.wait_idle()
            med = {name: _median(v) for name, v in samples.items()}
            errors = {name: sum(d["errors"] for d in v) for name, v in samples.items()}
            size = f"z{z}, {len(tiles)} tiles, {config['scale']:,} reports"

            def note(*names):
                bad = sum(errors[n] for n in names)
                return f"{bad} HTTP errors" if bad else ""

            core.ratio_row(
                run,
                "B2 tiles",
                size,
                "tiles/s (4 conns), cached",
                med["ours"]["rps"],
                med["tipg"]["rps"],
                goal=3,
                versus="tipg",
                peer=True,
                note=note("ours", "tipg"),
            )
            same = med["tipg_same"] if merged else med["tipg"]
            core.ratio_row(
                run,
                "B2 tiles",
                size,
                "tiles/s (4 conns), no cache either side",
                med["uncached"]["rps"],
                same["rps"],
                goal=3,
                versus="tipg, same features" + (" (merged by tipg)" if merged else ""),
                peer=True,
                note=note("uncached", "tipg_same" if merged else "tipg"),
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
                note="no cache: the tile query alone, what a first request pays",
            )
        run.meta["b2_app_peak_rss_mb"] = app.peak_rss_mb()
        run.meta["b2_app_uncached_peak_rss_mb"] = uncached.peak_rss_mb()
        run.meta["b2_tipg_peak_rss_mb"] = tipg.peak_rss_mb()
    os.environ.pop("WRK_PATHS", None)
