"""The spec's example documents and independent readers for GeoReport v2 documents.

Nothing here imports civicmap code: these readers follow the spec's text (and FixMyStreet's
client) so that our output is checked against them, not against our own renderer.
"""

import json
import re
from pathlib import Path

from defusedxml import ElementTree

HERE = Path(__file__).parent

# The spec's arrays ("⇊" in its tables) and the discovery document's arrays.
SPARK_ARRAYS = {
    "services",
    "attributes",
    "values",
    "service_requests",
    "errors",
    "endpoints",
    "formats",
}
# FixMyStreet's Open311.pm: XML::Simple(ForceArray => [values %group_tags], KeyAttr => {},
# GroupTags => \%group_tags, SuppressEmpty => undef).
FMS_GROUP_TAGS = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "service_requests": "request",
    "errors": "error",
    "service_request_updates": "request_update",
}
W3C_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")


def spec_xml(name: str):
    return ElementTree.fromstring((HERE / f"{name}.xml").read_bytes())


def spec_json(name: str):
    return json.loads((HERE / f"{name}.json").read_text(encoding="utf-8"))


def parse_xml(content: bytes):
    return ElementTree.fromstring(content)


def element_paths(element, prefix: str = "") -> dict[str, set[str]]:
    """{path: names of its child elements} for every element that has children."""
    path = f"{prefix}/{element.tag}" if prefix else element.tag
    found: dict[str, set[str]] = {}
    children = list(element)
    if children:
        found[path] = {child.tag for child in children}
        for child in children:
            for sub, names in element_paths(child, path).items():
                found.setdefault(sub, set()).update(names)
    return found


def spark(element):
    """XML to JSON by the Spark convention: a known container is an array (even with one
    child), other elements with children are objects, an empty element is null; the root
    element's own name is dropped."""
    children = list(element)
    if element.tag in SPARK_ARRAYS:
        return [spark(child) for child in children]
    if children:
        return {child.tag: spark(child) for child in children}
    text = (element.text or "").strip()
    return text or None


def as_text(value):
    """JSON values as the text XML carries, to compare a JSON document with its XML."""
    if isinstance(value, list):
        return [as_text(v) for v in value]
    if isinstance(value, dict):
        return {k: as_text(v) for k, v in value.items()}
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return None
    return str(value).strip() or None


NUMERIC = {"lat", "long", "order"}


def assert_same_shape(ours, spec, path: str = "$") -> None:
    """Same keys at every level, arrays where the spec has arrays, booleans where it has
    booleans, numbers for coordinates and order; other values may be text or null."""
    if isinstance(spec, dict):
        assert isinstance(ours, dict), f"{path}: expected an object, got {ours!r}"
        assert set(ours) == set(spec), f"{path}: keys {sorted(ours)} != spec {sorted(spec)}"
        for key in spec:
            assert_same_shape(ours[key], spec[key], f"{path}.{key}")
    elif isinstance(spec, list):
        assert isinstance(ours, list), f"{path}: expected an array, got {ours!r}"
        for index, item in enumerate(ours):
            assert_same_shape(item, spec[0], f"{path}[{index}]")
    elif isinstance(spec, bool):
        assert isinstance(ours, bool), f"{path}: expected a boolean, got {ours!r}"
    else:
        assert not isinstance(ours, dict | list | bool), f"{path}: expected a value, got {ours!r}"
        if path.rsplit(".", 1)[-1] in NUMERIC and ours is not None:
            assert isinstance(ours, int | float), f"{path}: expected a number, got {ours!r}"


def fms_parse(content: bytes):
    """What FixMyStreet's XML::Simple settings make of a document (root element dropped)."""
    return _xml_simple(parse_xml(content))


def _xml_simple(element):
    children = list(element)
    if not children:
        return element.text if (element.text or "").strip() else None  # SuppressEmpty => undef
    grouped: dict[str, list] = {}
    for child in children:
        value = _xml_simple(child)
        item = FMS_GROUP_TAGS.get(child.tag)
        if item and isinstance(value, dict) and set(value) == {item}:
            value = value[item]  # GroupTags: <values><value/>...</values> -> values => [...]
        grouped.setdefault(child.tag, []).append(value)
    force = set(FMS_GROUP_TAGS.values())
    return {
        tag: values if tag in force or len(values) > 1 else values[0]
        for tag, values in grouped.items()
    }
