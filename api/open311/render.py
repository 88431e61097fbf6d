"""GeoReport v2 documents as XML and as JSON.

A view builds one typed structure; XML is written from it with the spec's element names, and
JSON follows the spec's "Spark convention" mapping of that XML: a container element whose
children all share one name (services/service, attributes/attribute, ...) becomes an array
(always, even with one child), other elements become objects, an empty element becomes null.
"""

import json
import re
import xml.etree.ElementTree as ET  # noqa: S405 - we only write XML here, never parse it
from dataclasses import dataclass
from typing import Any

from rest_framework.renderers import BaseRenderer

# Container element -> the name of each of its children.
ITEM_TAGS = {
    "services": "service",
    "service_requests": "request",
    "service_request_updates": "request_update",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}
XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'
# Characters XML 1.0 cannot carry at all; they are dropped rather than break the document.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class Document:
    """`root` is the root element's name; `body` a list (for a container root) or a dict."""

    root: str
    body: list | dict


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return _XML_INVALID.sub("", str(value))


def _fill(element: ET.Element, value: Any) -> None:
    tag = element.tag
    if isinstance(value, list):
        item_tag = ITEM_TAGS[tag]
        for item in value:
            _fill(ET.SubElement(element, item_tag), item)
    elif isinstance(value, dict):
        for key, child in value.items():
            _fill(ET.SubElement(element, key), child)
    else:
        element.text = _text(value)


def to_xml(document: Document) -> bytes:
    root = ET.Element(document.root)
    _fill(root, document.body)
    ET.indent(root)
    return (XML_DECLARATION + ET.tostring(root, encoding="unicode")).encode("utf-8")


def _spark(value: Any) -> Any:
    if isinstance(value, list):
        return [_spark(item) for item in value]
    if isinstance(value, dict):
        return {key: _spark(child) for key, child in value.items()}
    return None if value == "" else value


def to_json(document: Document) -> bytes:
    # The root element itself does not appear in the Spark mapping: a container root is the
    # array, any other root is the object.
    return json.dumps(_spark(document.body), ensure_ascii=False).encode("utf-8")


class Open311XMLRenderer(BaseRenderer):
    media_type = "text/xml"
    format = "xml"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if not isinstance(data, Document):
            data = Document("errors", [{"code": 500, "description": str(data)}])
        return to_xml(data)


class Open311JSONRenderer(BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if not isinstance(data, Document):
            data = Document("errors", [{"code": 500, "description": str(data)}])
        return to_json(data)
