"""The OpenAPI document made exact where drf-spectacular cannot see by itself: the error answers
every route gives, Open311's documents (JSON arrays, XML text, nullable fields), the map layers
and vector tiles (plain Django views), and response shapes the generator guesses wrong.

Registered as a postprocessing hook in SPECTACULAR_SETTINGS; checked by openapi-spec-validator
and schemathesis in tests/api/test_openapi.py."""

import copy

from api.open311.schema import open311_operation

ERROR = {
    "type": "object",
    "description": (
        "What went wrong: `detail` (a message), or one list of messages per field "
        '(`{"lat": ["..."]}`); a conflict (409) also carries `current`.'
    ),
    "additionalProperties": True,
}
ERROR_STATUSES = {
    "400": "The request is invalid (the body names each field and what is wrong).",
    "401": "Not logged in (token endpoints: no or a wrong `Authorization: Token`).",
    "403": "Logged in without the right role, or no login / CSRF token for a session.",
    "404": "No such object (or not visible to you), or no such page.",
    "429": "Too many requests; `Retry-After` says when to try again.",
}
GEOJSON = "application/geo+json"
MVT = "application/vnd.mapbox-vector-tile"

FEATURE = {
    "type": "object",
    "required": ["type", "geometry", "properties"],
    "properties": {
        "type": {"type": "string", "enum": ["Feature"]},
        "id": {"type": "integer"},
        "geometry": {"type": "object", "nullable": True, "additionalProperties": True},
        "properties": {"type": "object", "nullable": True, "additionalProperties": True},
    },
}
FEATURE_COLLECTION = {
    "type": "object",
    "required": ["type", "features"],
    "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "features": {"type": "array", "items": FEATURE},
    },
}

# --- map layers and tiles: plain Django views built by PostGIS -------------------------------


def _query(name: str, schema: dict, description: str) -> dict:
    return {"in": "query", "name": name, "schema": schema, "description": description}


def _path(name: str, description: str = "") -> dict:
    return {
        "in": "path",
        "name": name,
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
        "description": description,
    }


_JSON_ERROR = {"application/json": {"schema": ERROR}}
_NOT_MODIFIED = {"description": "Not modified (If-None-Match matched the ETag)."}
# Unknown codes are simply not found (an empty layer), not refused.
_CSV_LIST = {"type": "string"}
_BBOX = {
    "type": "string",
    "pattern": r"^-?\d+(\.\d+)?,-?\d+(\.\d+)?,-?\d+(\.\d+)?,-?\d+(\.\d+)?$",
}
_TILE_PARAMETERS = [
    _path("z", "zoom 0..22"),
    _path("x", "tile column, 0 .. 2^z - 1"),
    _path("y", "tile row, 0 .. 2^z - 1"),
]
_TILE_RESPONSES = {
    "200": {
        "description": "A Mapbox vector tile (protobuf).",
        "content": {MVT: {"schema": {"type": "string", "format": "binary"}}},
    },
    "204": {"description": "No feature in this tile."},
    "304": _NOT_MODIFIED,
    "400": {"description": "No such tile, or a bad filter.", "content": _JSON_ERROR},
    "404": {"description": "The path is no tile address (e.g. a negative number)."},
}
MAP_PATHS = {
    "/api/v1/map/reports.geojson": {
        "get": {
            "operationId": "api_v1_map_reports_geojson",
            "summary": "Public reports as GeoJSON, built by PostGIS (the public map layer)",
            "description": (
                "Newest first. Without `limit` the whole layer (streamed); with `limit` keyset "
                "pages, the next one named in the `Link` header (`before=<id>`)."
            ),
            "tags": ["map"],
            "parameters": [
                _query("bbox", _BBOX, "minlon,minlat,maxlon,maxlat"),
                _query("status", _CSV_LIST, "comma-separated statuses"),
                _query("category", _CSV_LIST, "comma-separated category codes"),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "page size"),
                _query("before", {"type": "integer", "minimum": 1}, "ids below this one"),
            ],
            "responses": {
                "200": {
                    "description": "A FeatureCollection of points.",
                    "content": {GEOJSON: {"schema": FEATURE_COLLECTION}},
                },
                "304": _NOT_MODIFIED,
                "400": {"description": "A bad parameter.", "content": _JSON_ERROR},
            },
        }
    },
    "/api/v1/map/reports/{pk}.geojson": {
        "get": {
            "operationId": "api_v1_map_report_feature",
            "summary": "One public report as a GeoJSON Feature (the map popup's data)",
            "tags": ["map"],
            "parameters": [_path("pk", "report id")],
            "responses": {
                "200": {"description": "A Feature.", "content": {GEOJSON: {"schema": FEATURE}}},
                "304": _NOT_MODIFIED,
                "404": {"description": "No such public report (or no number)."},
            },
        }
    },
    "/api/v1/map/districts.geojson": {
        "get": {
            "operationId": "api_v1_map_districts_geojson",
            "summary": "District boundaries as GeoJSON (simplified by PostGIS)",
            "tags": ["map"],
            "responses": {
                "200": {
                    "description": "A FeatureCollection of (multi)polygons.",
                    "content": {GEOJSON: {"schema": FEATURE_COLLECTION}},
                },
                "304": _NOT_MODIFIED,
            },
        }
    },
    "/api/v1/tiles/reports/{z}/{x}/{y}.pbf": {
        "get": {
            "operationId": "api_v1_tiles_reports",
            "summary": "Reports as a vector tile (layer `reports`)",
            "tags": ["map"],
            "parameters": [
                *_TILE_PARAMETERS,
                _query("status", _CSV_LIST, "comma-separated statuses"),
                _query("category", _CSV_LIST, "comma-separated category codes"),
                _query(
                    "map",
                    {"type": "string", "enum": ["public"]},
                    "what the public map shows (not with status or category)",
                ),
            ],
            "responses": _TILE_RESPONSES,
        }
    },
    "/api/v1/tiles/events/{z}/{x}/{y}.pbf": {
        "get": {
            "operationId": "api_v1_tiles_events",
            "summary": "Current and coming events as a vector tile (layer `events`)",
            "tags": ["map"],
            "parameters": _TILE_PARAMETERS,
            "responses": _TILE_RESPONSES,
        }
    },
}


# --- the hook -------------------------------------------------------------------------------


def _add_errors(operation: dict) -> None:
    responses = operation.setdefault("responses", {})
    for status, description in ERROR_STATUSES.items():
        if status not in responses:
            responses[status] = {"description": description, "content": _JSON_ERROR}
        elif not responses[status].get("content"):
            responses[status]["content"] = _JSON_ERROR


# Lists answered as {"results": [...]} although the view's schema says a bare array.
RESULTS_WRAPPED = ("/api/v1/addresses/", "/api/v1/reports/nearby/")


def _wrap_results(paths: dict) -> None:
    for path in RESULTS_WRAPPED:
        response = paths.get(path, {}).get("get", {}).get("responses", {}).get("200", {})
        content = response.get("content", {}).get("application/json")
        if content and content["schema"].get("type") == "array":
            content["schema"] = {
                "type": "object",
                "required": ["results"],
                "properties": {"results": content["schema"]},
            }


def _fix_components(schemas: dict) -> None:
    for schema in schemas.values():
        properties = schema.get("properties", {})
        # GeoJSON pagination: a FeatureCollection with count/next/previous, not `results`, and
        # `features` the array of features (not another FeatureCollection).
        if "features" in properties and "results" in schema.get("required", []):
            schema["required"] = ["type", "count", "features"]
            ref = properties["features"].get("$ref", "")
            inner = schemas.get(ref.rsplit("/", 1)[-1], {}).get("properties", {})
            if "features" in inner:
                properties["features"] = inner["features"]
        for field in properties.values():
            # A blank default ('') is no email: the field is optional and may be blank.
            for variant in [field, *field.get("oneOf", []), *field.get("anyOf", [])]:
                if variant.get("default") == "" and variant.get("format"):
                    variant.pop("default")
                    if variant is field:
                        fmt = field.pop("format")
                        field["anyOf"] = [{"format": fmt}, {"maxLength": 0}]


def _relax_query(operation: dict) -> None:
    """An empty query parameter (`?start=`) means "not given" throughout: allow it."""
    for parameter in operation.get("parameters", []):
        if parameter.get("in") != "query":
            continue
        schema = parameter.get("schema", {})
        if parameter["name"] == "page_size":
            # DRF's pagination falls back to the default page size for any value it cannot use.
            parameter["schema"] = {"description": "an integer; anything else: the default"}
        elif schema.get("type") == "string" and (
            schema.get("format") or schema.get("minLength") or schema.get("pattern")
        ):
            rest = {k: v for k, v in schema.items() if k != "type"}
            parameter["schema"] = {"type": "string", "anyOf": [rest, {"maxLength": 0}]}


def postprocess(result: dict, generator, request, public) -> dict:
    paths = result.setdefault("paths", {})
    for path, item in paths.items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            if path.startswith("/open311/"):
                open311_operation(path, method, operation)
            else:
                if path.endswith(".pbf"):  # a vector tile: empty is 204, unchanged is 304
                    operation["responses"].update(copy.deepcopy(_TILE_RESPONSES))
                _add_errors(operation)
            _relax_query(operation)
    for path, item in MAP_PATHS.items():
        paths[path] = copy.deepcopy(item)
        _relax_query(paths[path]["get"])
    _wrap_results(paths)
    _fix_components(result.get("components", {}).get("schemas", {}))
    result.setdefault("tags", [])
    return result
