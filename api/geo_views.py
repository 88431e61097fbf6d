"""Map layers over HTTP: the parameters, ETags, caching and streaming of layers that the
owning apps build in the database (`reports.layers`, `districts.selectors`, the tiles in
`api.tiles`). No SQL here.

HTTP caching: an ETag and Last-Modified from one cheap aggregate over the same rows (count and
newest `updated_at`), so a client revalidating an unchanged layer gets a 304 without the body
being built; tiles carry an ETag of their bytes.
"""

import json
from collections.abc import Iterator

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
from reports.layers import (  # noqa: F401  (the fast path builds the same queries)
    layer_version,
    layer_version_sql,
    report_feature_geojson,
    report_feature_sql,
    report_features_sql,
    report_map_queryset,
    report_page_features,
    report_page_sql,
)
from reports.models import Report

GEOJSON_CONTENT_TYPE = "application/geo+json"
GEOJSON_MAX_AGE = 30
TILE_MAX_AGE = 60
FETCH_ROWS = 2000
# Above this many rows the features come through a server-side cursor (bounded memory); below
# it one plain fetch is cheaper (a WITH HOLD cursor outside a transaction is materialised first).
SERVER_SIDE_ROWS = 50_000


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


def feature_collection(features: list[str]) -> bytes:
    return ('{"type":"FeatureCollection","features":[' + ",".join(features) + "]}").encode()


def feature_id(feature: str) -> int:
    return json.loads(feature)["properties"]["id"]


def layer_etag(query: str, count: int, newest) -> str:
    return tiles.tile_etag(f"{query}|{count}|{newest.isoformat() if newest else ''}".encode())


def error_body(message: str) -> bytes:
    return json.dumps({"detail": message}).encode()


def _page(request: HttpRequest, filters: dict, limit: int, before: int | None) -> HttpResponse:
    """One keyset page (newest first): `limit` features with an id below `before`; the next
    page's link in the `Link` header. ETag of the body."""
    rows = report_page_features(filters=filters, limit=limit, before=before)
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
    count, newest = layer_version(**filters)
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
    feature = report_feature_geojson(pk=pk)
    if feature is None:
        return HttpResponse(error_body("not found"), status=404, content_type="application/json")
    body = feature.encode()
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


@require_GET
def districts_geojson(request: HttpRequest) -> HttpResponse:
    """The district boundaries as a GeoJSON FeatureCollection (properties code, name, kind),
    simplified together as a coverage (districts.selectors); what the maps draw as their
    districts layer (the pages load it from here instead of carrying it in their HTML). ETag
    and Last-Modified from the newest change, so a revalidation is one aggregate and a 304."""
    count, newest = district_selectors.districts_version()
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
