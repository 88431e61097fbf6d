"""B1 map points as GeoJSON: the app's database-built, streamed layer vs drf-gis
`GeoFeatureModelSerializer` on the same queryset vs a raw psycopg fetch of the same JSON text.

Fair because all three return the same features (same rows, same properties, same precision
as checked by tests/api/test_geo_views.py and tests/api/test_fastpath.py), from the same
database, in the same process, in interleaved rounds. Ours is the request as uvicorn hands it
to the app (`civicmap.asgi`: the map handler of api/fastpath.py, its version query for the
ETag included, the body collected from the ASGI messages); the HTTP parsing is the only part
left out, as it is for the others. The same layer through Django's request cycle (the view
that answers with MAP_FAST_PATH=0) is printed for reference."""

import asyncio
import json

import psycopg
from django.conf import settings
from django.test import Client
from rest_framework.renderers import JSONRenderer

from api.fastpath import MapReads
from api.geo_views import ReportMapSerializer, report_features_sql, report_map_queryset
from bench import core, seed

DRF_SAMPLE = 10_000  # drf-gis is linear per feature; a larger dump is timed on this many rows


def _dsn() -> str:
    db = settings.DATABASES["default"]
    return (
        f"host={db['HOST']} port={db['PORT'] or 5432} dbname={db['NAME']} "
        f"user={db['USER']} password={db['PASSWORD']}"
    )


class _Asgi:
    """Call the app's map handler in this process, on one event loop, as uvicorn would."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.app = MapReads(fallback=None)

    def get(self, path: str, query: str) -> bytes:
        chunks = []

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            chunks.append(message.get("body", b""))

        scope = {
            "type": "http",
            "method": "GET",
            "path": path,
            "query_string": query.encode(),
            "headers": [],
        }
        self.loop.run_until_complete(self.app(scope, receive, send))
        return b"".join(chunks)

    def close(self):
        if self.app.pool is not None:
            self.loop.run_until_complete(self.app.pool.close())
        self.loop.close()


def run(run: core.Run, config: dict) -> None:
    client = Client()
    asgi = _Asgi()
    raw = psycopg.connect(_dsn(), autocommit=True)
    sizes = [("bbox ~600", 600), ("dump 10k", 10_000), ("dump 100k", 100_000)]
    for label, target in sizes:
        if target > config["scale"] * 0.6:
            run.notes.append(f"B1 {label}: skipped, only {config['scale']} reports seeded")
            continue
        box = seed.dense_bbox(target)
        bbox = ",".join(f"{v:.6f}" for v in box)
        url = f"/api/v1/map/reports.geojson?bbox={bbox}"
        sql, params = report_features_sql(bbox=box)
        agg = (
            "SELECT json_build_object('type', 'FeatureCollection', 'features',"
            f" coalesce(json_agg(f::json), '[]'::json))::text FROM ({sql}) AS t(f)"
        )
        count = len(json.loads(b"".join(client.get(url).streaming_content))["features"])
        assert asgi.get("/api/v1/map/reports.geojson", f"bbox={bbox}") == b"".join(
            client.get(url).streaming_content
        ), "the handler and the Django view must answer the same bytes"
        size = f"{count:,} features of {config['scale']:,}"
        queryset = report_map_queryset(bbox=box)
        sample = min(count, DRF_SAMPLE)

        def ours():
            body = asgi.get("/api/v1/map/reports.geojson", f"bbox={bbox}")
            assert body.endswith(b"]}")

        def django_view():
            body = b"".join(client.get(url).streaming_content)
            assert body.endswith(b"]}")

        def drf():
            rows = list(queryset[:sample])
            JSONRenderer().render(ReportMapSerializer(rows, many=True).data)

        def passthrough():
            with raw.cursor() as cursor:
                cursor.execute(agg.replace("%s", "%s"), params)
                cursor.fetchone()

        medians = core.interleaved(
            {"ours": ours, "drf": drf, "raw": passthrough, "django": django_view},
            inner=10 if count < 2000 else 1,
        )
        rate = {
            "ours": count / medians["ours"],
            "drf": sample / medians["drf"],
            "raw": count / medians["raw"],
        }
        note = f"drf-gis timed on {sample:,} of the rows" if sample < count else ""
        core.ratio_row(
            run,
            "B1 GeoJSON",
            size,
            "features/s",
            rate["ours"],
            rate["drf"],
            goal=30,
            versus="drf-gis",
            note=note,
        )
        core.ratio_row(
            run,
            "B1 GeoJSON",
            size,
            "features/s",
            rate["ours"],
            rate["raw"],
            goal=0.8,
            versus="raw psycopg",
            peer=True,
        )
        core.info_row(
            run,
            "B1 GeoJSON",
            size,
            "features/s, through Django's request cycle",
            count / medians["django"],
            note="the same layer with MAP_FAST_PATH=0",
        )
    raw.close()
    asgi.close()
