/* Public map, districts layer: folium's (empty) group filled from the districts API (the
 * boundaries are not in the page's HTML; the browser caches them). */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("public-map-config").textContent);
  var map = window[config.map];
  var group = window[config.districts];
  var status = document.getElementById("map-status");
  if (!map || !group || !config.districtsUrl) { return; }
  fetch(config.districtsUrl, { headers: { Accept: "application/geo+json, application/json" } })
    .then(function (response) {
      if (!response.ok) { throw new Error(response.status); }
      return response.json();
    })
    .then(function (data) {
      var layer = L.geoJSON(data, {
        style: function () { return { color: "#334155", weight: 1.5, fillOpacity: 0.04, className: "district-outline" }; },
        onEachFeature: function (feature, item) { item.bindTooltip(feature.properties.name, { sticky: true }); }
      });
      group.addLayer(layer);
      // Under the reports: the outlines are context, the points are what one taps.
      layer.eachLayer(function (item) { if (item.bringToBack) { item.bringToBack(); } });
      document.documentElement.setAttribute("data-map-districts", String(data.features.length));
    })
    .catch(function () {
      if (status) { status.textContent = config.text.districts_failed; }
      document.documentElement.setAttribute("data-map-districts", "error");
    });
})();

/* Public map, reports as vector tiles (many reports): folium's VectorGrid layer draws them;
 * a tap on a point opens its popup (a link to the report's page), a tap on a merged point
 * (several reports close together at a low zoom) zooms in. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("public-map-config").textContent);
  if (config.reportsMode !== "tiles") { return; }
  var map = window[config.map];
  var tiles = window[config.tiles];
  if (!map || !tiles) { return; }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (m, key) { return key in values ? values[key] : m; });
  }

  function popup(p) {
    var box = document.createElement("div");
    box.className = "map-popup";
    var title = document.createElement("p");
    title.className = "map-popup-title";
    // Merged cells (low zooms) carry no category; their id is one of the cell's reports.
    title.textContent = "#" + p.id + (p.category ? " " + (config.categories[p.category] || p.category) : "");
    box.appendChild(title);
    var facts = document.createElement("dl");
    var dt = document.createElement("dt"); dt.textContent = config.text.status;
    var dd = document.createElement("dd"); dd.textContent = config.statusLabels[p.status] || p.status;
    facts.appendChild(dt); facts.appendChild(dd);
    box.appendChild(facts);
    var link = document.createElement("a");
    link.href = config.reportPage.replace("/0/", "/" + p.id + "/");
    link.textContent = fill(config.text.details, { id: p.id });
    box.appendChild(link);
    return box;
  }

  tiles.on("click", function (event) {
    var p = event.layer && event.layer.properties;
    if (!p) { return; }
    if ((p.count || 1) > 1) {
      map.setView(event.latlng, Math.min(map.getZoom() + 2, 16));
      return;
    }
    L.popup({ maxWidth: 240, autoPanPaddingTopLeft: L.point(56, 60), autoPanPaddingBottomRight: L.point(56, 30) })
      .setLatLng(event.latlng).setContent(popup(p)).openOn(map);
  });
  var loaded = 0;
  tiles.on("tileload", function () {
    loaded += 1;
    document.documentElement.setAttribute("data-map-tiles", String(loaded));
  });
  tiles.on("tileerror", function () {
    var status = document.getElementById("map-status");
    if (status) { status.textContent = config.text.loading_failed; }
  });
  document.documentElement.setAttribute("data-map-reports", "tiles");
})();

/* Public map, reports as GeoJSON (up to the threshold): folium's (empty) marker-cluster layer
 * filled from the GeoJSON endpoint. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("public-map-config").textContent);
  if (config.reportsMode === "tiles") { return; }
  var map = window[config.map];
  var cluster = window[config.cluster];
  var status = document.getElementById("map-status");
  if (!map || !cluster) { return; }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (m, key) { return key in values ? values[key] : m; });
  }

  function popup(p) {
    var box = document.createElement("div");
    box.className = "map-popup";
    if (p.thumbnail) {
      var img = document.createElement("img");
      img.src = p.thumbnail;
      img.alt = fill(config.text.photo, { id: p.id });
      img.width = 160;
      img.loading = "lazy";
      box.appendChild(img);
    }
    var title = document.createElement("p");
    title.className = "map-popup-title";
    title.textContent = (p.icon ? p.icon + " " : "") + "#" + p.id + " " + p.category;
    box.appendChild(title);
    var facts = document.createElement("dl");
    [[config.text.status, p.status_label], [config.text.district, p.district], [config.text.due, p.due]]
      .forEach(function (row) {
        if (!row[1]) { return; }
        var dt = document.createElement("dt"); dt.textContent = row[0];
        var dd = document.createElement("dd"); dd.textContent = row[1];
        facts.appendChild(dt); facts.appendChild(dd);
      });
    box.appendChild(facts);
    var link = document.createElement("a");
    link.href = p.url;
    link.textContent = fill(config.text.details, { id: p.id });
    box.appendChild(link);
    return box;
  }

  fetch(config.dataUrl, { headers: { Accept: "application/geo+json, application/json" } })
    .then(function (response) {
      if (!response.ok) { throw new Error(response.status); }
      return response.json();
    })
    .then(function (data) {
      var markers = data.features.map(function (feature) {
        var c = feature.geometry.coordinates;
        var p = feature.properties;
        var marker = L.circleMarker([c[1], c[0]], {
          radius: 9, color: "#ffffff", weight: 2, fillColor: config.colours[p.status] || "#111827",
          fillOpacity: 0.95, className: "report-marker report-" + p.status
        });
        marker.bindPopup(function () { return popup(p); }, { maxWidth: 240, autoPanPaddingTopLeft: L.point(56, 60), autoPanPaddingBottomRight: L.point(56, 30) });
        marker.bindTooltip("#" + p.id + " " + p.category + " (" + p.status_label + ")");
        return marker;
      });
      cluster.addLayers(markers);
      document.documentElement.setAttribute("data-map-reports", String(markers.length));
    })
    .catch(function () {
      if (status) { status.textContent = config.text.loading_failed; }
      document.documentElement.setAttribute("data-map-reports", "error");
    });
})();

/* Events layer: the events API searched with the map's box, the search box and the date filter
 * (times shown on the city's clock), redrawn whenever the map moves or the search changes. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("public-map-config").textContent);
  var map = window[config.map];
  var layer = window[config.events];
  var form = document.getElementById("event-filter");
  var status = document.getElementById("events-status");
  if (!map || !layer || !form || !config.eventsApi) { return; }
  var T = config.eventsText;
  var PAGE_SIZE = 500;
  var when = document.getElementById("event-when");
  var first = document.getElementById("event-start");
  var last = document.getElementById("event-end");
  var ranges = form.querySelectorAll(".event-range");

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (m, key) { return key in values ? values[key] : m; });
  }

  // ---- dates on the city's calendar -------------------------------------------------------------
  function today() {
    // en-CA writes dates as YYYY-MM-DD.
    return new Intl.DateTimeFormat("en-CA", { timeZone: config.timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
  }
  function period() {
    // The windows come from the server (events.selectors.event_window): [first, last] day.
    var now = new Date().toISOString();
    var window_ = config.eventWindows[when.value];
    if (window_) {
      // A window that has begun starts now: what is still to come.
      return { start: window_[0] <= today() ? now : window_[0], end: window_[1] };
    }
    if (when.value === "range") return { start: first.value || now, end: last.value || "" };
    return { start: "", end: "" };
  }

  var locale = (navigator.language || "").indexOf(config.language) === 0 ? navigator.language : config.language;
  function format(iso, options) {
    options.timeZone = config.timeZone;
    try { return new Date(iso).toLocaleString(locale, options); } catch (e) { return new Date(iso).toLocaleString(); }
  }
  var DAY = { weekday: "short", day: "numeric", month: "long", year: "numeric" };
  var DAY_TIME = { weekday: "short", day: "numeric", month: "long", hour: "2-digit", minute: "2-digit" };
  var TIME = { hour: "2-digit", minute: "2-digit" };
  function eventWhen(p) {
    if (p.all_day) {
      // The end of an all-day event is the day after its last day.
      var lastDay = new Date(new Date(p.end).getTime() - 12 * 3600 * 1000).toISOString();
      var a = format(p.start, Object.assign({}, DAY)), b = format(lastDay, Object.assign({}, DAY));
      return a === b ? a : a + " – " + b;
    }
    var sameDay = format(p.start, Object.assign({}, DAY)) === format(p.end, Object.assign({}, DAY));
    return format(p.start, Object.assign({}, DAY_TIME)) + " – " + format(p.end, Object.assign({}, sameDay ? TIME : DAY_TIME));
  }

  // ---- the layer ----------------------------------------------------------------------------------
  function popup(id, p) {
    var box = document.createElement("div");
    box.className = "map-popup map-popup-event";
    var title = document.createElement("p");
    title.className = "map-popup-title";
    title.textContent = p.title;
    box.appendChild(title);
    if (p.cancelled) {
      var cancelled = document.createElement("p");
      cancelled.className = "map-popup-cancelled";
      cancelled.textContent = T.cancelled;
      box.appendChild(cancelled);
    }
    var facts = document.createElement("p");
    var time = document.createElement("time");
    time.dateTime = p.start;
    time.textContent = eventWhen(p);
    facts.appendChild(time);
    if (p.venue_name) {
      facts.appendChild(document.createElement("br"));
      facts.appendChild(document.createTextNode(p.venue_name));
    }
    box.appendChild(facts);
    var link = document.createElement("a");
    link.href = config.eventPage.replace("/0/", "/" + id + "/");
    link.textContent = T.details;
    box.appendChild(link);
    return box;
  }

  function marker(feature) {
    var c = feature.geometry.coordinates, p = feature.properties, id = feature.id || p.id;
    var icon = L.divIcon({
      className: "event-marker" + (p.cancelled ? " event-cancelled" : ""),
      html: "<span></span>", iconSize: [22, 22], iconAnchor: [11, 11], popupAnchor: [0, -8]
    });
    var m = L.marker([c[1], c[0]], { icon: icon, title: fill(T.event, { title: p.title }), keyboard: true, riseOnHover: true });
    // Top padding: the open layer box sits in the top right corner and would cover the popup.
    m.bindPopup(function () { return popup(id, p); }, { maxWidth: 240, autoPanPaddingTopLeft: L.point(56, 60), autoPanPaddingBottomRight: L.point(56, 30) });
    return m;
  }

  function bbox() {
    var b = map.getBounds();
    var r = function (v, lo, hi) { return Math.min(hi, Math.max(lo, v)).toFixed(5); };
    return [r(b.getWest(), -180, 180), r(b.getSouth(), -90, 90), r(b.getEast(), -180, 180), r(b.getNorth(), -90, 90)].join(",");
  }

  var sequence = 0;
  var shown = {};  // event id: marker on the layer
  function load() {
    if (!map.hasLayer(layer)) { return; }
    var mine = ++sequence;
    var p = period();
    var params = new URLSearchParams({ bbox: bbox(), page_size: String(PAGE_SIZE), ordering: "start" });
    var q = form.elements.q.value.trim();
    if (q) { params.set("q", q); }
    if (p.start) { params.set("start", p.start); }
    if (p.end) { params.set("end", p.end); }
    document.documentElement.setAttribute("data-map-events", "loading");
    fetch(config.eventsApi + "?" + params.toString(), {
      headers: { Accept: "application/json", "Accept-Language": config.language }
    }).then(function (response) {
      if (!response.ok) { throw new Error(response.status); }
      return response.json();
    }).then(function (data) {
      if (mine !== sequence) { return; }
      var features = (data.features || []).filter(function (f) { return f.geometry; });
      // Markers still in the result stay (with an open popup: the pan that opening a popup
      // causes reloads the layer and must not close it).
      var keep = {};
      features.forEach(function (f) {
        var key = String(f.id || f.properties.id);
        keep[key] = true;
        if (!shown[key]) { shown[key] = marker(f); layer.addLayer(shown[key]); }
      });
      Object.keys(shown).forEach(function (key) {
        if (!keep[key]) { layer.removeLayer(shown[key]); delete shown[key]; }
      });
      status.textContent = data.next ? fill(T.more, { count: features.length })
        : features.length ? fill(T.found, { count: features.length }) : T.none;
      document.documentElement.setAttribute("data-map-events", String(features.length));
    }).catch(function () {
      if (mine !== sequence) { return; }
      status.textContent = T.failed;
      document.documentElement.setAttribute("data-map-events", "error");
    });
  }

  var timer = null;
  function later() { clearTimeout(timer); timer = setTimeout(load, 300); }

  // A date range is chosen in the list; without JavaScript the two date fields are always there.
  var option = document.createElement("option");
  option.value = "range";
  option.textContent = T.range;
  when.appendChild(option);
  function showRange() {
    Array.prototype.forEach.call(ranges, function (field) { field.hidden = when.value !== "range"; });
  }
  showRange();
  when.addEventListener("change", function () { showRange(); load(); });
  [first, last].forEach(function (input) { input.addEventListener("change", load); });
  form.addEventListener("submit", function (event) { event.preventDefault(); load(); });
  map.on("moveend", later);
  map.on("overlayadd", function (event) { if (event.layer === layer) { load(); } });
  map.on("overlayremove", function (event) {
    if (event.layer === layer) { sequence++; status.textContent = ""; }
  });
  load();
})();
