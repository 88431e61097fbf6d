"""Open311 (GeoReport v2) in the OpenAPI document: each path's document as XML text and as a
JSON array or object (the spec's Spark mapping; "" is sent as null), and the spec-form errors.
Called by the postprocessing hook in api/schema.py."""

NULLABLE_STRING = {"type": "string", "nullable": True}


def _object(properties: dict, required: list[str] | None = None) -> dict:
    return {
        "type": "object",
        "properties": properties,
        "required": required if required is not None else list(properties),
    }


def _array(item: dict) -> dict:
    return {"type": "array", "items": item}


OPEN311_ERRORS = _array(_object({"code": {"type": "integer"}, "description": {"type": "string"}}))
OPEN311_DISCOVERY = _object(
    {
        "changeset": {"type": "string", "format": "date-time"},
        "contact": NULLABLE_STRING,
        "key_service": NULLABLE_STRING,
        "endpoints": _array(
            _object(
                {
                    "specification": {"type": "string"},
                    "url": {"type": "string"},
                    "changeset": {"type": "string", "format": "date-time"},
                    "type": {"type": "string"},
                    "formats": _array({"type": "string"}),
                }
            )
        ),
    }
)
OPEN311_SERVICES = _array(
    _object(
        {
            "service_code": {"type": "string"},
            "service_name": {"type": "string"},
            "description": NULLABLE_STRING,
            "metadata": {"type": "boolean"},
            "type": {"type": "string", "enum": ["realtime", "batch", "blackbox"]},
            "keywords": NULLABLE_STRING,
            "group": NULLABLE_STRING,
        }
    )
)
OPEN311_DEFINITION = _object(
    {
        "service_code": {"type": "string"},
        "attributes": _array(
            _object(
                {
                    "variable": {"type": "boolean"},
                    "code": {"type": "string"},
                    "datatype": {"type": "string"},
                    "required": {"type": "boolean"},
                    "datatype_description": NULLABLE_STRING,
                    "order": {"type": "integer"},
                    "description": NULLABLE_STRING,
                    "values": _array(_object({"key": {"type": "string"}, "name": NULLABLE_STRING})),
                }
            )
        ),
    }
)
_NULLABLE_NUMBER = {"type": "number", "nullable": True}
OPEN311_REQUESTS = _array(
    _object(
        {
            "service_request_id": {"type": "integer"},
            "status": {"type": "string", "enum": ["open", "closed"]},
            "status_notes": NULLABLE_STRING,
            "service_name": NULLABLE_STRING,
            "service_code": {"type": "string"},
            "description": NULLABLE_STRING,
            "agency_responsible": NULLABLE_STRING,
            "service_notice": NULLABLE_STRING,
            "requested_datetime": {"type": "string", "format": "date-time"},
            "updated_datetime": {"type": "string", "format": "date-time", "nullable": True},
            "expected_datetime": {"type": "string", "format": "date-time", "nullable": True},
            "address": NULLABLE_STRING,
            "address_id": NULLABLE_STRING,
            "zipcode": NULLABLE_STRING,
            "lat": _NULLABLE_NUMBER,
            "long": _NULLABLE_NUMBER,
            "media_url": NULLABLE_STRING,
        }
    )
)
OPEN311_CREATED = _array(
    _object(
        {
            "service_request_id": {"type": "integer"},
            "service_notice": NULLABLE_STRING,
            "account_id": NULLABLE_STRING,
        }
    )
)
OPEN311_TOKEN = _array(
    _object({"service_request_id": {"type": "integer"}, "token": {"type": "string"}})
)
OPEN311_UPDATES = _array(
    _object(
        {
            "update_id": {"type": "integer"},
            "service_request_id": {"type": "integer"},
            "status": {"type": "string", "enum": ["open", "closed"]},
            "external_status_code": {"type": "string"},
            "updated_datetime": {"type": "string", "format": "date-time"},
            "description": NULLABLE_STRING,
            "media_url": NULLABLE_STRING,
        }
    )
)
OPEN311_DOCUMENTS = {
    "/open311/discovery.{fmt}": OPEN311_DISCOVERY,
    "/open311/v2/": OPEN311_DISCOVERY,
    "/open311/v2/discovery.{fmt}": OPEN311_DISCOVERY,
    "/open311/v2/services.{fmt}": OPEN311_SERVICES,
    "/open311/v2/services/{service_code}.{fmt}": OPEN311_DEFINITION,
    "/open311/v2/requests.{fmt}": OPEN311_REQUESTS,
    "/open311/v2/requests/{service_request_id}.{fmt}": OPEN311_REQUESTS,
    "/open311/v2/tokens/{token}.{fmt}": OPEN311_TOKEN,
    "/open311/v2/servicerequestupdates.{fmt}": OPEN311_UPDATES,
}
OPEN311_ERROR_STATUSES = {
    "400": "errors: a bad or missing parameter, or an unsupported format",
    "403": "errors: missing, unknown or revoked api_key",
    "404": "errors: unknown jurisdiction, service, request or token",
    "429": "errors: too many requests (Retry-After)",
}


def _open311_content(schema: dict) -> dict:
    return {
        "text/xml": {"schema": {"type": "string"}},
        "application/json": {"schema": schema},
    }


def open311_operation(path: str, method: str, operation: dict) -> None:
    document = OPEN311_DOCUMENTS.get(path)
    if document is None:
        return
    if method == "post":
        document = OPEN311_CREATED
    operation["parameters"] = [
        p
        for p in operation.get("parameters", [])
        if not (p["in"] == "query" and p["name"] == "format" and path != "/open311/v2/")
    ]
    responses = {}
    for status in ("200", "201"):
        if status in operation["responses"]:
            responses[status] = {
                "description": "the document (.xml or .json)",
                "content": _open311_content(document),
            }
    for status, description in OPEN311_ERROR_STATUSES.items():
        if status == "403" and method != "post":
            continue
        if status == "429" and method != "post":
            continue
        content = _open311_content(OPEN311_ERRORS)
        responses[status] = {"description": description, "content": content}
    operation["responses"] = responses
