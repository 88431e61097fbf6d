"""Map layers built by the database: public reports as GeoJSON and vector tiles.

The GeoJSON is written by PostGIS (`ST_AsGeoJSON` + `json_build_object`, one text per feature)
and streamed to the client as it is fetched, so Python never builds a dict per report. The
properties are exactly those of `ReportMapSerializer` (drf-gis), the reference the tests and the
benchmark compare with; no reporter contact data is selected at all, and the point is the
report's `public_location` (coarsened by the category's privacy grid), not its exact location.

HTTP caching: an ETag and Last-Modified from one cheap aggregate over the same rows (count and
newest `updated_at`), so a client revalidating an unchanged layer gets a 304 without the body
being built; tiles carry an ETag of their bytes.
"""

import json
from collections.abc import Iterator

from django.contrib.gis.geos import Polygon
from django.core.cache import cache
from django.db import connections
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified, StreamingHttpResponse
from django.utils.cache import patch_cache_control
from django.utils.http import http_date
from django.views.decorators.http import require_GET
from rest_framework import serializers
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from api import tiles
from districts import selectors as district_selectors
from reports.models import Report

GEOJSON_CONTENT_TYPE = "application/geo+json"
GEOJSON_MAX_AGE = 30
TILE_MAX_AGE = 60
FETCH_ROWS = 2000
# Above this many rows the features come through a server-side cursor (bounded memory); below
# it one plain fetch is cheaper (a WITH HOLD cursor outside a transaction is materialised first).
SERVER_SIDE_ROWS = 50_000
COORDINATE_DIGITS = 6  # 0.1 m: more than any phone's GPS knows


class ReportMapSerializer(GeoFeatureModelSerializer):
    """The public map feature of a report, as drf-gis would write it: what the database-built
    GeoJSON must equal (the reference for tests and the B1 benchmark's baseline)."""

    category = serializers.CharField(source="category.code")
    district = serializers.CharField(source="district.code", allow_null=True, default=None)

    class Meta:
        model = Report
        geo_field = "public_location"  # never the private exact `location`
        id_field = False  # the id is a property, as in the database-built layer
        fields = [
            "id",
            "category",
            "status",
            "district",
            "priority",
            "confirmations_count",
            "due_at",
            "created_at",
            "updated_at",
            "closed_at",
        ]


# ST_AsGeoJSON(record) writes the whole feature, every other column a property (the fastest
# way in PostGIS 3.3; a feature-level id would need `id_column`, PostGIS 3.5).
_FEATURE = """
SELECT ST_AsGeoJSON(t.*, 'geom', {digits})
FROM (
    SELECT r.public_location AS geom, r.id, c.code AS category, r.status, d.code AS district,
           r.priority, r.confirmations_count, r.due_at, r.created_at, r.updated_at, r.closed_at
    FROM reports_report r
    JOIN reports_category c ON c.id = r.category_id
    LEFT JOIN districts_district d ON d.id = r.district_id
    WHERE true {where}
    ORDER BY r.id DESC
) t
"""

_VERSION = """
SELECT count(*), max(r.updated_at) FROM reports_report r WHERE true {where}
"""


class BadParameter(ValueError):
    pass


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _bbox(value: str | None) -> tuple[float, float, float, float] | None:
    if not value:
        return None
    try:
        box = tuple(float(v) for v in value.split(","))
    except ValueError:
        raise BadParameter("bbox must be minlon,minlat,maxlon,maxlat") from None
    if len(box) != 4 or box[0] > box[2] or box[1] > box[3]:
        raise BadParameter("bbox must be minlon,minlat,maxlon,maxlat")
    return box  # type: ignore[return-value]


def report_map_where(
    *,
    bbox: tuple[float, float, float, float] | None = None,
    status: list[str] | None = None,
    category: list[str] | None = None,
) -> tuple[str, list]:
    """The SQL condition (on `reports_report r`) and its parameters for the map filters; only
    published reports (not pending approval, not hidden by staff)."""
    where, params = " AND r.moderation = 'published'", []
    if bbox is not None:
        where += " AND r.public_location && ST_MakeEnvelope(%s, %s, %s, %s, 4326)"
        params += list(bbox)
    if status:
        where += " AND r.status = ANY(%s)"
        params.append(list(status))
    if category:
        where += " AND r.category_id IN (SELECT id FROM reports_category WHERE code = ANY(%s))"
        params.append(list(category))
    return where, params


def report_map_queryset(
    *,
    bbox: tuple[float, float, float, float] | None = None,
    status: list[str] | None = None,
    category: list[str] | None = None,
):
    """The same rows as an ORM queryset (for the drf-gis reference)."""
    reports = Report.objects.published().select_related("category", "district").order_by("-id")
    if bbox is not None:
        reports = reports.filter(public_location__bboverlaps=Polygon.from_bbox(bbox))
    if status:
        reports = reports.filter(status__in=status)
    if category:
        reports = reports.filter(category__code__in=category)
    return reports


def report_features_sql(**filters) -> tuple[str, list]:
    """One row per report: the feature's GeoJSON text."""
    where, params = report_map_where(**filters)
    return _FEATURE.format(digits=COORDINATE_DIGITS, where=where), params


def _stream(sql: str, params: list, *, server_side: bool) -> Iterator[bytes]:
    # Under WSGI this streams; under ASGI Django drains a sync iterator in a worker thread
    # before sending (the text is then held once in memory, never as Python objects per row).
    connection = connections[tiles.read_alias()]
    cursor = connection.chunked_cursor() if server_side else connection.cursor()
    try:
        cursor.execute(sql, params)
        yield b'{"type":"FeatureCollection","features":['
        first = True
        while True:
            rows = cursor.fetchmany(FETCH_ROWS)
            if not rows:
                break
            chunk = ",".join(row[0] for row in rows).encode()
            yield chunk if first else b"," + chunk
            first = False
        yield b"]}"
    finally:
        cursor.close()


def _bad(message: str) -> HttpResponse:
    return HttpResponse(error_body(message), status=400, content_type="application/json")


def _positive_int(value: str | None, name: str, maximum: int) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except ValueError:
        raise BadParameter(f"{name} must be a whole number") from None
    if not 1 <= number <= maximum:
        raise BadParameter(f"{name} must be between 1 and {maximum}")
    return number


def report_query(query) -> tuple[dict, int | None, int | None]:
    """The layer's filters, `limit` and `before` from its query parameters (a mapping of
    name to last value). Raises BadParameter."""
    filters = {
        "bbox": _bbox(query.get("bbox")),
        "status": _csv(query.get("status")),
        "category": _csv(query.get("category")),
    }
    limit = _positive_int(query.get("limit"), "limit", 1000)
    before = _positive_int(query.get("before"), "before", 2**62)
    return filters, limit, before


def report_page_sql(*, filters: dict, limit: int, before: int | None) -> tuple[str, list]:
    """One keyset page (newest first): `limit` features with an id below `before`."""
    where, params = report_map_where(**filters)
    if before is not None:
        where += " AND r.id < %s"
        params.append(before)
    return _FEATURE.format(digits=COORDINATE_DIGITS, where=where) + " LIMIT %s", [*params, limit]


def report_feature_sql(pk: int) -> tuple[str, list]:
    where, params = report_map_where()
    return _FEATURE.format(digits=COORDINATE_DIGITS, where=where + " AND r.id = %s"), [*params, pk]


def feature_collection(features: list[str]) -> bytes:
    return ('{"type":"FeatureCollection","features":[' + ",".join(features) + "]}").encode()


def feature_id(feature: str) -> int:
    return json.loads(feature)["properties"]["id"]


def layer_version_sql(**filters) -> tuple[str, list]:
    """Count and newest change of the layer's rows: what its ETag and Last-Modified say."""
    where, params = report_map_where(**filters)
    return _VERSION.format(where=where), params


def layer_etag(query: str, count: int, newest) -> str:
    return tiles.tile_etag(f"{query}|{count}|{newest.isoformat() if newest else ''}".encode())


def error_body(message: str) -> bytes:
    return json.dumps({"detail": message}).encode()


def _page(request: HttpRequest, filters: dict, limit: int, before: int | None) -> HttpResponse:
    """One keyset page (newest first): `limit` features with an id below `before`; the next
    page's link in the `Link` header. ETag of the body."""
    sql, params = report_page_sql(filters=filters, limit=limit, before=before)
    with connections[tiles.read_alias()].cursor() as cursor:
        cursor.execute(sql, params)
        rows = [row[0] for row in cursor.fetchall()]
    body = feature_collection(rows)
    etag = tiles.tile_etag(body)
    if etag in _if_none_match(request):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(body, content_type=GEOJSON_CONTENT_TYPE)
    if len(rows) == limit:
        last = feature_id(rows[-1])
        query = request.GET.copy()
        query["before"] = str(last)
        response["Link"] = f'<{request.path}?{query.urlencode()}>; rel="next"'
    response["ETag"] = etag
    patch_cache_control(response, public=True, max_age=GEOJSON_MAX_AGE)
    return response


@require_GET
def reports_geojson(request: HttpRequest) -> HttpResponse:
    """Public reports as a GeoJSON FeatureCollection, newest first.

    Query: `bbox=minlon,minlat,maxlon,maxlat`, `status=new,assigned`, `category=a,b`;
    keyset pages with `limit=50` (at most 1000) and `before=<id>` (the `Link` header names the
    next page)."""
    try:
        filters, limit, before = report_query(request.GET)
    except BadParameter as error:
        return _bad(str(error))
    if limit is not None:
        return _page(request, filters, limit, before)
    with connections[tiles.read_alias()].cursor() as cursor:
        cursor.execute(*layer_version_sql(**filters))
        count, newest = cursor.fetchone()
    etag = layer_etag(request.GET.urlencode(), count, newest)
    if etag in _if_none_match(request):
        response = HttpResponseNotModified()
    else:
        sql, params = report_features_sql(**filters)
        response = StreamingHttpResponse(
            _stream(sql, params, server_side=count > SERVER_SIDE_ROWS),
            content_type=GEOJSON_CONTENT_TYPE,
        )
    response["ETag"] = etag
    if newest is not None:
        response["Last-Modified"] = http_date(newest.timestamp())
    patch_cache_control(response, public=True, max_age=GEOJSON_MAX_AGE)
    return response


@require_GET
def report_feature(request: HttpRequest, pk: int) -> HttpResponse:
    """One public report as a GeoJSON Feature (the map popup's data), built by PostGIS."""
    sql, params = report_feature_sql(pk)
    with connections[tiles.read_alias()].cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return HttpResponse(error_body("not found"), status=404, content_type="application/json")
    body = row[0].encode()
    etag = tiles.tile_etag(body)
    if etag in _if_none_match(request):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(body, content_type=GEOJSON_CONTENT_TYPE)
    response["ETag"] = etag
    patch_cache_control(response, public=True, max_age=GEOJSON_MAX_AGE)
    return response


def _if_none_match(request: HttpRequest) -> set[str]:
    return tiles.etags_of(request.headers.get("If-None-Match", ""))


def tile_response(
    request: HttpRequest, body: bytes, etag: str | None = None, *, private: bool = False
) -> HttpResponse:
    """A vector tile (204 when empty, 304 when the client has it). Public tiles may be cached
    by anyone for TILE_MAX_AGE and read from any origin; `private` ones (staff data) only by
    the user's own browser, revalidated each time."""
    etag = etag or tiles.tile_etag(body)
    if etag in _if_none_match(request):
        response = HttpResponseNotModified()
    elif not body:
        response = HttpResponse(status=204, content_type=tiles.MVT_CONTENT_TYPE)
    else:
        response = HttpResponse(body, content_type=tiles.MVT_CONTENT_TYPE)
    response["ETag"] = etag
    if private:
        response["Cache-Control"] = "private, no-cache"
    else:
        patch_cache_control(response, public=True, max_age=TILE_MAX_AGE)
        response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
def report_tile(request: HttpRequest, z: int, x: int, y: int) -> HttpResponse:
    """Reports as a Mapbox vector tile (layer `reports`; properties id, category, status,
    count; below z14 nearby points are merged into one feature with their `count`).
    Filters: `status=...`, `category=...` (comma-separated), or `map=public`: what the public
    map shows (open reports and those cleared in the last days; cached). No report: 204."""
    if not tiles.tile_valid(z, x, y):
        return _bad("no such tile")
    status, category = _csv(request.GET.get("status")), _csv(request.GET.get("category"))
    view = request.GET.get("map", "")
    if view not in ("", "public"):
        return _bad("map must be 'public' or left out")
    if view == "public" and (status or category):
        return _bad("map=public cannot be combined with status or category")
    if not status and not category:
        cached = tiles.report_tile_cached(z=z, x=x, y=y, public_map=view == "public")
        return tile_response(request, *cached)
    body = tiles.report_tile(z=z, x=x, y=y, status=status, category=category)
    return tile_response(request, body)


@require_GET
def event_tile(request: HttpRequest, z: int, x: int, y: int) -> HttpResponse:
    """Current and coming events with a place as a Mapbox vector tile (layer `events`)."""
    if not tiles.tile_valid(z, x, y):
        return _bad("no such tile")
    return tile_response(request, tiles.event_tile(z=z, x=x, y=y))


# District boundaries change a few times a decade; simplified by ~15 m, which a city map
# cannot show, they are a fraction of the bytes.
DISTRICTS_TOLERANCE = 0.0002
DISTRICTS_MAX_AGE = 3600
_DISTRICTS_VERSION = "SELECT count(*), max(updated_at) FROM districts_district"


@require_GET
def districts_geojson(request: HttpRequest) -> HttpResponse:
    """The district boundaries as a GeoJSON FeatureCollection (properties code, name, kind),
    simplified together as a coverage (districts.selectors); what the maps draw as their
    districts layer (the pages load it from here instead of carrying it in their HTML). ETag
    and Last-Modified from the newest change, so a revalidation is one aggregate and a 304."""
    with connections[tiles.read_alias()].cursor() as cursor:
        cursor.execute(_DISTRICTS_VERSION)
        count, newest = cursor.fetchone()
    etag = tiles.tile_etag(
        f"{count}|{newest.isoformat() if newest else ''}|{DISTRICTS_TOLERANCE}".encode()
    )
    if etag in _if_none_match(request):
        response = HttpResponseNotModified()
    else:
        body = cache.get_or_set(
            f"map-districts:{etag}",
            lambda: district_selectors.districts_geojson(tolerance=DISTRICTS_TOLERANCE).encode(),
            DISTRICTS_MAX_AGE,
        )
        response = HttpResponse(body, content_type=GEOJSON_CONTENT_TYPE)
    response["ETag"] = etag
    if newest is not None:
        response["Last-Modified"] = http_date(newest.timestamp())
    patch_cache_control(response, public=True, max_age=DISTRICTS_MAX_AGE)
    return response
