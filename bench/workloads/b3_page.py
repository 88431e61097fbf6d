"""B3 public map page: the HTML of `/` (the resident's map page) with 10,000 and 100,000 reports
in the database -- its size must not grow with the number of reports (≤ 50 KB: the district
boundaries come from the districts API, the points from the GeoJSON endpoint or, above
MAP_VECTOR_TILES_ABOVE, from vector tiles) -- and its server build time vs folium's
MarkerCluster with one Marker per report (the page such a map would need), both built in this
process, interleaved.

Sizes without writing: the bench database holds 200,000 reports; for N reports, this
session's temporary view `reports_report` (PostgreSQL looks in `pg_temp` first) shows only the
newest N rows, so the page's own queries (the count that picks GeoJSON or tiles, the list
below the map) see a database with N reports. Nothing is written; the view is dropped after.

Fair comparison: both sides render the complete HTML of a map page showing the same N reports
from the same database; ours through the full Django stack (middleware, template, the list
below the map), folium only its map (no list, no middleware). folium is measured at 10,000
markers (about 25 s a page on the 2-core machine; at 100,000 it would be ten times that and
use gigabytes, so 100,000 reports report our build time only).
"""

from contextlib import contextmanager

import folium
from django.db import connection
from django.test import Client
from django.utils import timezone
from folium.plugins import MarkerCluster

from bench import core, seed
from reports.selectors import reports_public_map

SIZES = (10_000, 100_000)
QUICK_SIZES = (2_000, 10_000)
FOLIUM_MARKERS = 10_000
QUICK_FOLIUM_MARKERS = 2_000


@contextmanager
def newest_reports(n: int):
    """Within this connection, `reports_report` is only the newest `n` reports."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM reports_report ORDER BY id DESC OFFSET %s LIMIT 1", [n - 1])
        row = cursor.fetchone()
        cutoff = row[0] if row else 0
        cursor.execute(
            "CREATE TEMPORARY VIEW reports_report AS"
            f" SELECT * FROM public.reports_report WHERE id >= {int(cutoff)}"
        )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP VIEW IF EXISTS pg_temp.reports_report")


def run(run: core.Run, config: dict) -> None:
    client = Client(headers={"Accept-Language": "de"})
    sizes = QUICK_SIZES if config.get("quick") else SIZES
    markers = QUICK_FOLIUM_MARKERS if config.get("quick") else FOLIUM_MARKERS

    def ours():
        response = client.get("/")
        assert response.status_code == 200, response.status_code
        return response

    ours()  # the folium part of the page is built once per process and language
    for n in sizes:
        with newest_reports(n):
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM reports_report")
                total = cursor.fetchone()[0]
            response = ours()
            shown = reports_public_map(now=timezone.now()).count()
            mode = "vector tiles" if b"L.vectorGrid.protobuf(" in response.content else "GeoJSON"
            core.limit_row(
                run,
                "B3 map page",
                f"{total:,} reports ({shown:,} on the map)",
                "HTML KB",
                len(response.content) / 1024,
                limit=50,
                note=f"reports layer: {mode}; no boundaries or points in the HTML",
            )
            if n != markers:
                seconds = core.interleaved({"ours": ours}, inner=5)["ours"]
                core.info_row(
                    run,
                    "B3 map page",
                    f"{total:,} reports / page",
                    "pages/s",
                    1 / seconds,
                    note=f"folium with {total:,} Markers not built (linear: ~{total // markers}x"
                    f" the {markers:,}-marker time)",
                )
                continue
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT ST_Y(public_location), ST_X(public_location), id FROM reports_report"
                    " ORDER BY id DESC"
                )
                rows = cursor.fetchall()

            def folium_page():
                page = folium.Map(
                    location=[seed.CENTRE[1], seed.CENTRE[0]], zoom_start=12, tiles=None
                )
                cluster = MarkerCluster().add_to(page)
                for lat, lon, pk in rows:
                    folium.Marker([lat, lon], popup=f"#{pk}").add_to(cluster)
                return page.get_root().render()

            medians = core.interleaved({"ours": ours, "folium": folium_page})
            core.ratio_row(
                run,
                "B3 map page",
                f"{len(rows):,} reports / page",
                "pages/s",
                1 / medians["ours"],
                1 / medians["folium"],
                goal=50,
                versus="folium MarkerCluster, 1 Marker per report",
            )
