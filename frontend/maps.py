"""Folium map builders. Each takes selector results and returns the pieces a template embeds.

Folium's defaults load Leaflet, jQuery and Bootstrap from CDNs; a page here may contact no third
party except the configured tile server, so every asset is replaced by one the app serves.
"""

import copy
import functools
import json
import re
from dataclasses import dataclass

import folium
from branca.element import MacroElement
from django.conf import settings
from django.templatetags.static import static
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext
from folium.plugins import MarkerCluster, VectorGridProtobuf
from jinja2 import Template

from core.middleware import nonce_blocks

STATUS_COLOURS = {
    "new": "#b45309",
    "assigned": "#1d4ed8",
    "in_progress": "#6d28d9",
    "cleared": "#15803d",
    "rejected": "#4b5563",
    "duplicate": "#4b5563",
}


@dataclass(frozen=True)
class MapParts:
    header: SafeString
    html: SafeString
    script: SafeString


def _local_assets(element: folium.Element) -> None:
    element.default_js = [("leaflet", static("leaflet/leaflet.js"))]
    element.default_css = [("leaflet_css", static("leaflet/leaflet.css"))]


def base_map(*, zoom: int = 12, height: str = "60vh") -> folium.Map:
    fmap = folium.Map(
        location=settings.MAP_CENTER,
        zoom_start=zoom,
        tiles=None,
        height=height,
        control_scale=True,
    )
    _local_assets(fmap)
    folium.TileLayer(
        tiles=settings.MAP_TILE_URL,
        attr=f"{settings.MAP_TILE_ATTRIBUTION} | {_short_data_attribution()}",
        name=gettext("Base map"),
        max_zoom=19,
    ).add_to(fmap)
    return fmap


def _short_data_attribution() -> str:
    return (
        'Geodaten: Landeshauptstadt Dresden, <a href="https://opendata.dresden.de">'
        'opendata.dresden.de</a>, <a href="https://www.govdata.de/dl-de/by-2-0">dl-de/by-2-0</a>'
        " (abgeleitet)"
    )


class _ControlTexts(MacroElement):
    """Leaflet writes its controls' names in English ("Zoom in", "Layers"): set them, as title
    and accessible name, in the page's language once the map and its controls exist."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        (function (map, texts) {
          var box = map.getContainer();
          Object.keys(texts).forEach(function (selector) {
            box.querySelectorAll(selector).forEach(function (control) {
              control.title = texts[selector];
              control.setAttribute("aria-label", texts[selector]);
            });
          });
        })({{ this._parent.get_name() }}, {{ this.texts }});
        {% endmacro %}"""
    )

    def __init__(self):
        super().__init__()
        self._name = "ControlTexts"
        self.texts = json.dumps(
            {
                ".leaflet-control-zoom-in": gettext("Zoom in"),
                ".leaflet-control-zoom-out": gettext("Zoom out"),
                ".leaflet-control-layers-toggle": gettext("Map layers"),
            }
        )


def map_parts(fmap: folium.Map) -> MapParts:
    # Last child of the map, so its script runs after every control has been added.
    _ControlTexts().add_to(fmap)
    figure = fmap.get_root()
    figure.render()
    header = figure.header.render()
    # folium forbids zooming the page (user-scalable=no); WCAG 1.4.4 needs it allowed.
    header = re.sub(r"<meta name=\"viewport\"[^>]*>", "", header, flags=re.S)
    # Inline blocks carry the Content-Security-Policy nonce (core.middleware).
    return MapParts(
        header=mark_safe(nonce_blocks(header)),  # noqa: S308 - folium output from our own data
        html=mark_safe(nonce_blocks(figure.html.render())),  # noqa: S308
        script=mark_safe(nonce_blocks(f"<script>{figure.script.render()}</script>")),  # noqa: S308
    )


def districts_layer(districts_geojson: str, *, name: str = "Stadtbezirke") -> folium.GeoJson:
    return folium.GeoJson(
        districts_geojson,
        name=name,
        style_function=lambda _feature: {
            "color": "#334155",
            "weight": 1.5,
            "fillOpacity": 0.04,
        },
        tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False),
    )


def reports_map(*, reports, districts_geojson: str | None) -> MapParts:
    fmap = base_map()
    if districts_geojson:
        districts_layer(districts_geojson).add_to(fmap)
    group = folium.FeatureGroup(name="Meldungen").add_to(fmap)
    for report in reports:
        folium.CircleMarker(
            location=[report.location.y, report.location.x],
            radius=8,
            color=STATUS_COLOURS.get(report.status, "#111827"),
            fill=True,
            fill_opacity=0.8,
            tooltip=f"#{report.pk} {report.category.name} ({report.get_status_display()})",
        ).add_to(group)
    folium.LayerControl(collapsed=False).add_to(fmap)
    return map_parts(fmap)


MARKERCLUSTER_DIR = "frontend/vendor/leaflet.markercluster-1.5.3"


def marker_cluster(*, name: str) -> MarkerCluster:
    """folium's MarkerCluster with the vendored Leaflet.markercluster instead of its CDN copy."""
    cluster = MarkerCluster(
        name=name,
        options={"showCoverageOnHover": False, "maxClusterRadius": 50, "chunkedLoading": True},
    )
    cluster.default_js = [
        ("markerclusterjs", static(f"{MARKERCLUSTER_DIR}/leaflet.markercluster.js"))
    ]
    cluster.default_css = [
        ("markerclustercss", static(f"{MARKERCLUSTER_DIR}/MarkerCluster.css")),
        ("markerclusterdefaultcss", static(f"{MARKERCLUSTER_DIR}/MarkerCluster.Default.css")),
    ]
    return cluster


VECTORGRID_JS = "frontend/vendor/leaflet.vectorgrid-1.3.0/Leaflet.VectorGrid.bundled.min.js"


def vector_tiles(
    *, url: str, name: str, layer: str, colour_of: str, colours: dict, class_name: str
) -> VectorGridProtobuf:
    """folium's VectorGridProtobuf with the vendored Leaflet.VectorGrid (not its `@latest` CDN
    copy). Points are circles in the colour of their `colour_of` property; a feature standing
    for several points (a `count` above 1, the tiles' merged cells below z14) is drawn larger.
    `url` has `{z}/{x}/{y}` in it.

    The radius is at least 11 px: a 24 px target for a finger (WCAG 2.5.8), and Leaflet 1.9
    takes the position of a tap on a circle of radius ≤ 10 from the circle's own LatLng, which
    VectorGrid's points do not have (Leaflet.VectorGrid issue #148); larger circles use the
    pointer's position."""
    options = (
        # Above the overlay pane: the district areas there must not catch the points' taps.
        "{interactive: true, maxNativeZoom: 22, pane: 'markerPane',"
        # The tile's feature id is the row's id; the popup reads it from the properties.
        " getFeatureId: function (f) { f.properties.id = f.id; return f.id; },"
        " vectorTileLayerStyles: {"
        f" {json.dumps(layer)}: function (p) {{"
        "  var n = p.count || 1;"
        f"  return {{radius: n > 1 ? Math.min(18, 11 + 2 * Math.log(n) / Math.LN2) : 11,"
        "   weight: 2, color: '#ffffff', fill: true, fillOpacity: 0.9,"
        f"   fillColor: ({json.dumps(colours)})[p[{json.dumps(colour_of)}]] || '#111827',"
        f"   className: {json.dumps(class_name)}}};"
        " }}}"
    )
    grid = VectorGridProtobuf(url, name=name, options=options)
    grid.default_js = [("vectorGrid", static(VECTORGRID_JS))]
    return grid


def tile_url_template(url_of_tile_0_0_0: str) -> str:
    """`/…/0/0/0.pbf?q` (a reversed URL) as the `{z}/{x}/{y}` template Leaflet fills in."""
    return url_of_tile_0_0_0.replace("/0/0/0.pbf", "/{z}/{x}/{y}.pbf", 1)


@dataclass(frozen=True)
class PublicMap:
    parts: MapParts
    config: dict


def public_map(*, data_url: str, districts_url: str, tiles_url: str | None = None) -> PublicMap:
    """The public map: an empty district layer (the page's script fills it from
    `districts_url`), the reports and an empty events layer. The reports are an empty cluster
    layer filled from `data_url` (GeoJSON), or, when `tiles_url` is given (many reports),
    vector tiles from it. The HTML stays the same size however many reports there are.

    The folium part depends only on the language, the layer kind and the URLs, so it is built
    once per process and combination (folium's render costs more than the rest of the page)."""
    key = (
        get_language() or settings.LANGUAGE_CODE,
        data_url,
        districts_url,
        tiles_url,
        settings.MAP_TILE_URL,
        settings.MAP_TILE_ATTRIBUTION,
        tuple(settings.MAP_CENTER),
        static(VECTORGRID_JS),
    )
    built = _public_map_built(key)
    return PublicMap(parts=built.parts, config=copy.deepcopy(built.config))


@functools.lru_cache(maxsize=32)
def _public_map_built(key: tuple) -> PublicMap:
    _language, data_url, districts_url, tiles_url = key[:4]
    fmap = base_map(height="100%")
    # Filled by the page's script from the districts API (cached by the browser).
    districts = folium.FeatureGroup(name=gettext("City districts"), show=True).add_to(fmap)
    if tiles_url:
        reports = vector_tiles(
            url=tiles_url,
            name=gettext("Reports"),
            layer="reports",
            colour_of="status",
            colours=STATUS_COLOURS,
            class_name="report-tile-point",
        ).add_to(fmap)
    else:
        reports = marker_cluster(name=gettext("Reports")).add_to(fmap)
    # Filled by the page's script from the events API (search box and date filter).
    events = folium.FeatureGroup(name=gettext("Events"), show=True).add_to(fmap)
    # Collapsed: open, the box covered a third of a phone's map and the popups on it.
    folium.LayerControl(collapsed=True).add_to(fmap)
    config = {
        "map": fmap.get_name(),
        "reportsMode": "tiles" if tiles_url else "geojson",
        "cluster": None if tiles_url else reports.get_name(),
        "tiles": reports.get_name() if tiles_url else None,
        "districts": districts.get_name(),
        "events": events.get_name(),
        "districtsUrl": districts_url,
        "dataUrl": data_url,
        "colours": STATUS_COLOURS,
        "text": {
            "status": gettext("Status"),
            "district": gettext("District"),
            "due": gettext("Due by"),
            "details": gettext("Details of report #{id}"),
            "photo": gettext("Photo of report #{id}"),
            "loading_failed": gettext(
                "The reports could not be loaded onto the map; the list below shows them."
            ),
            "districts_failed": gettext("The city district boundaries could not be loaded."),
        },
    }
    return PublicMap(parts=map_parts(fmap), config=config)


def report_map(*, report, zoom: int = 16) -> MapParts:
    """A small map around one report (its marker in the status colour), at its public point
    (the centre of a grid cell for sensitive categories)."""
    fmap = base_map(zoom=zoom, height="100%")
    point = report.public_location
    fmap.location = [point.y, point.x]
    folium.CircleMarker(
        location=[point.y, point.x],
        radius=10,
        color="#ffffff",
        weight=2,
        fill=True,
        fill_color=STATUS_COLOURS.get(report.status, "#111827"),
        fill_opacity=0.9,
    ).add_to(fmap)
    return map_parts(fmap)
