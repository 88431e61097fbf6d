"""B3 public map page: the HTML of `/` (the resident's map page) with every seeded report in the
database -- its size must not grow with the number of reports (the points come from the API
afterwards) -- and its server build time vs folium's MarkerCluster with one Marker per report
(10,000 reports, the page such a map would need), both built in this process, interleaved."""

import folium
from django.db import connection
from django.test import Client
from folium.plugins import MarkerCluster

from bench import core, seed

MARKERS = 10_000


def run(run: core.Run, config: dict) -> None:
    client = Client(headers={"Accept-Language": "de"})
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM reports_report")
        total = cursor.fetchone()[0]
        cursor.execute(
            "SELECT ST_Y(public_location), ST_X(public_location), id FROM reports_report"
            " ORDER BY id DESC LIMIT %s",
            [MARKERS],
        )
        rows = cursor.fetchall()
    response = client.get("/")
    assert response.status_code == 200, response.status_code
    size_kb = len(response.content) / 1024
    core.limit_row(
        run, "B3 map page", f"{total:,} reports in the database", "HTML KB", size_kb, limit=50
    )

    def ours():
        assert client.get("/").status_code == 200

    def folium_page():
        page = folium.Map(location=[seed.CENTRE[1], seed.CENTRE[0]], zoom_start=12, tiles=None)
        cluster = MarkerCluster().add_to(page)
        for lat, lon, pk in rows:
            folium.Marker([lat, lon], popup=f"#{pk}").add_to(cluster)
        return page.get_root().render()

    medians = core.interleaved({"ours": ours, "folium": folium_page})
    core.ratio_row(
        run,
        "B3 map page",
        f"{len(rows):,} markers (folium) / page",
        "pages/s",
        1 / medians["ours"],
        1 / medians["folium"],
        goal=50,
        versus="folium MarkerCluster, 1 Marker per report",
    )
