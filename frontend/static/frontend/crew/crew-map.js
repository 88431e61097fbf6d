/* Crew tablet maps (plain Leaflet served by the app) and distances from the tablet. */
(function () {
  "use strict";

  function json(id, fallback) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : fallback;
  }

  function baseMap(elementId) {
    var center = json("map-center", [51.05, 13.74]);
    // Leaflet names its zoom buttons in English: the page's language instead.
    var texts = (document.getElementById("map-texts") || { dataset: {} }).dataset;
    var map = L.map(elementId, { zoomControl: false }).setView(center, 12);
    L.control.zoom({
      zoomInTitle: texts.zoomIn || "Zoom in", zoomOutTitle: texts.zoomOut || "Zoom out",
    }).addTo(map);
    L.tileLayer(json("tile-url", ""), {
      maxZoom: 19,
      attribution: json("tile-attribution", ""),
    }).addTo(map);
    return map;
  }

  function depotMarkers(map, bounds) {
    json("queue-depots", []).forEach(function (depot) {
      var marker = L.circleMarker([depot.lat, depot.lon], {
        radius: 11, color: "#0f172a", weight: 3, fillColor: "#facc15", fillOpacity: 1,
        className: "depot-marker",
      }).addTo(map);
      marker.bindTooltip("⌂ " + depot.name, { permanent: false });
      bounds.push([depot.lat, depot.lon]);
    });
  }

  function ticketMarker(map, item, text) {
    var marker = L.circleMarker([item.lat, item.lon], {
      radius: 12, color: item.late ? "#b91c1c" : "#1d4ed8", weight: 3,
      fillColor: item.late ? "#fecaca" : "#bfdbfe", fillOpacity: 0.9,
      className: "ticket-marker",
    }).addTo(map);
    marker.bindTooltip(text || item.label, { permanent: !!text, direction: "center",
      className: text ? "stop-label" : "" });
    marker.on("click", function () { window.location.href = item.url; });
    return marker;
  }

  // Metres between two WGS84 points (fallback while the server cannot be asked).
  function haversine(lat1, lon1, lat2, lon2) {
    var r = 6371008.8, rad = Math.PI / 180;
    var dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
    var h = Math.pow(Math.sin(dlat / 2), 2) +
      Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.pow(Math.sin(dlon / 2), 2);
    return 2 * r * Math.asin(Math.sqrt(h));
  }

  function showDistances(position) {
    var lat = position.coords.latitude, lon = position.coords.longitude;
    document.querySelectorAll("[data-distance-for]").forEach(function (cell) {
      var row = cell.closest("[data-lat]");
      cell.textContent = Math.round(haversine(lat, lon, +row.dataset.lat, +row.dataset.lon)) + " m";
    });
    // The server measures on the spheroid (PostGIS); its answer replaces the estimate.
    var query = new URLSearchParams(window.location.search);
    query.set("lat", lat.toFixed(6));
    query.set("lon", lon.toFixed(6));
    fetch("/api/v1/crew/tickets/?" + query.toString(), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (rows) {
        rows.forEach(function (row) {
          var cell = document.querySelector('[data-distance-for="' + row.id + '"]');
          if (cell && row.distance_m !== null) cell.textContent = row.distance_m + " m";
        });
      })
      .catch(function () {});
  }

  function locate(onPosition) {
    var status = document.getElementById("position-status");
    if (!navigator.geolocation) {
      if (status) status.textContent = status.dataset.none || "";
      return;
    }
    navigator.geolocation.getCurrentPosition(function (position) {
      if (status) status.textContent = (status.dataset.here || "") + " " + position.coords.latitude.toFixed(5) + ", " +
        position.coords.longitude.toFixed(5);
      onPosition(position);
    }, function () {
      if (status) status.textContent = status.dataset.unknown || "";
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  }

  function queuePage() {
    var map = null, bounds = [], here = null;
    var markers = json("queue-markers", []);
    function ensureMap() {
      if (map) { map.invalidateSize(); return; }
      map = baseMap("queue-map");
      markers.forEach(function (item) { ticketMarker(map, item); bounds.push([item.lat, item.lon]); });
      depotMarkers(map, bounds);
      if (here) addHere();
      if (bounds.length) map.fitBounds(bounds, { padding: [30, 30], maxZoom: 16 });
    }
    function addHere() {
      if (!map || !here) return;
      L.circleMarker(here, { radius: 9, color: "#fff", weight: 3, fillColor: "#16a34a",
        fillOpacity: 1, className: "here-marker" }).addTo(map).bindTooltip(document.getElementById("position-status").dataset.here || "");
    }
    document.querySelectorAll("[data-show]").forEach(function (button) {
      button.addEventListener("click", function () {
        var showMap = button.dataset.show === "map";
        document.getElementById("queue-list").hidden = showMap;
        document.getElementById("queue-map").hidden = !showMap;
        document.querySelectorAll("[data-show]").forEach(function (b) {
          b.setAttribute("aria-pressed", String(b === button));
        });
        if (showMap) ensureMap();
        (showMap ? document.getElementById("queue-map") : document.getElementById("queue-list"))
          .scrollIntoView({ block: "nearest" });
      });
    });
    locate(function (position) {
      here = [position.coords.latitude, position.coords.longitude];
      showDistances(position);
      addHere();
    });
    // Load the tickets once while online so the service worker keeps them for offline use.
    if (navigator.onLine && "serviceWorker" in navigator) {
      navigator.serviceWorker.ready.then(function () {
        markers.slice(0, 40).forEach(function (item) {
          fetch(item.url, { credentials: "same-origin" }).catch(function () {});
        });
      });
    }
  }

  function planPage() {
    if (!document.getElementById("plan-map")) return;
    var map = baseMap("plan-map"), bounds = [];
    var line = json("plan-line", []);
    if (line.length) {
      L.polyline(line, { color: "#6d28d9", weight: 5, opacity: 0.8, className: "route-line" })
        .addTo(map);
      line.forEach(function (p) { bounds.push(p); });
    }
    json("plan-markers", []).forEach(function (item) {
      ticketMarker(map, item, String(item.number));
    });
    depotMarkers(map, bounds);
    if (bounds.length) map.fitBounds(bounds, { padding: [30, 30], maxZoom: 16 });
  }

  // One ticket: where it is, where the tablet is, where the depot is. Everything it needs is in
  // the page (and Leaflet in the service worker's cache), so a ticket loaded earlier still
  // shows its map without a connection; only the background tiles need the network.
  function ticketPage() {
    var item = json("ticket-marker", null);
    if (!item || !document.getElementById("ticket-map")) return;
    var map = baseMap("ticket-map"), bounds = [[item.lat, item.lon]];
    var marker = L.circleMarker([item.lat, item.lon], {
      radius: 14, color: "#111827", weight: 4, fillColor: "#f59e0b", fillOpacity: 1,
      className: "ticket-marker this-ticket",
    }).addTo(map);
    marker.bindTooltip(item.label, { permanent: true, direction: "top", offset: [0, -14] });
    depotMarkers(map, bounds);
    map.fitBounds(bounds, { padding: [40, 40], maxZoom: 17 });
    var status = document.getElementById("position-status");
    locate(function (position) {
      var here = [position.coords.latitude, position.coords.longitude];
      L.circleMarker(here, { radius: 9, color: "#fff", weight: 3, fillColor: "#16a34a",
        fillOpacity: 1, className: "here-marker" }).addTo(map)
        .bindTooltip(status ? status.dataset.here || "" : "");
      bounds.push(here);
      map.fitBounds(bounds, { padding: [40, 40], maxZoom: 17 });
      if (status && status.dataset.distance) {
        var metres = Math.round(haversine(here[0], here[1], item.lat, item.lon));
        status.textContent = status.dataset.distance.replace("{m}", metres);
      }
      document.getElementById("ticket-map").dataset.here = "1";
    });
  }

  window.CrewMap = { queuePage: queuePage, planPage: planPage, ticketPage: ticketPage, haversine: haversine };
})();
