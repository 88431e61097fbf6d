/* Dispatcher live map: open tickets coloured by deadline state, updated by server-sent events;
   when the push channel is lost, the GeoJSON endpoint is polled (config.pollSeconds, 12 s, so
   that a change shows within 15 s) until the channel is back. */
(function () {
  "use strict";
  var root = document.getElementById("dispatch-app");
  if (!root) return;
  var config = JSON.parse(document.getElementById("dispatch-config").textContent);
  var map = window[root.dataset.map];
  var layer = L.layerGroup().addTo(map);
  // "Needs attention" badges (a flag or a new ticket) above the tickets, in every mode.
  var badges = L.layerGroup().addTo(map);
  var filter = document.getElementById("attention-filter");
  // Many tickets: the map draws them from staff-only vector tiles (config.tiles, a VectorGrid
  // layer), redrawn whenever the data changes; the lists and counts still come from the data.
  var tiles = config.tiles ? window[config.tiles] : null;
  var byId = {};
  var status = document.getElementById("live-status");
  var STATES = ["unassigned", "late", "due_soon", "on_time"];
  var DAY_MS = 24 * 3600 * 1000;
  var data = JSON.parse(document.getElementById("dispatch-tickets").textContent);
  var clockOffset = 0; // server time minus browser time
  var source = null, pollTimer = null, reconnectTimer = null, refreshTimer = null;
  var inFlight = false, again = false;

  function stateOf(props, now) {
    if (props.open === false) return "closed";
    if (!props.crew) return "unassigned";
    if (!props.due_at) return "on_time";
    var due = Date.parse(props.due_at);
    if (now > due) return "late";
    if (due - now <= DAY_MS) return "due_soon";
    return "on_time";
  }

  function ticketLink(id) {
    return config.ticketUrl.replace(/\/0\/$/, "/" + id + "/");
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function formatDue(iso) {
    if (!iso) return "";
    return new Date(iso).toLocaleString(document.documentElement.lang || undefined,
      { weekday: "short", day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit" });
  }

  // Why a ticket needs attention, in words ("New ticket", "reopened by the resident", ...).
  function reasons(p) {
    var out = p.new ? ["new"] : [];
    return out.concat(p.flags || []);
  }

  function reasonText(p) {
    return reasons(p).map(function (code) { return config.attention[code] || code; }).join(" · ");
  }

  function ticketPopup(p) {
    var popup = el("div", { "class": "ticket-popup" });
    popup.appendChild(el("strong", {}, "#" + p.id + " " + p.category_name));
    if (reasons(p).length) popup.appendChild(el("div", { "class": "popup-attention" }, "⚠ " + reasonText(p)));
    popup.appendChild(el("div", {}, config.labels[p.state] + (p.due_at ? " · " + formatDue(p.due_at) : "")));
    popup.appendChild(el("div", {}, [p.place, p.district_name, p.crew_name].filter(Boolean).join(" · ")));
    popup.appendChild(el("a", { href: ticketLink(p.id) }, "→ #" + p.id));
    return popup;
  }

  if (tiles) {
    tiles.on("click", function (event) {
      var t = event.layer && event.layer.properties;
      if (!t) return;
      var p = byId[t.id] || { id: t.id, state: t.state, category_name: "" };
      L.popup().setLatLng(event.latlng).setContent(ticketPopup(p)).openOn(map);
    });
    tiles.on("tileload", function () { root.dataset.tilesLoaded = String(Number(root.dataset.tilesLoaded || 0) + 1); });
  }

  function render() {
    var now = Date.now() + clockOffset;
    var counts = { unassigned: 0, late: 0, due_soon: 0, on_time: 0 };
    var lists = { unassigned: [], late: [], due_soon: [] };
    var attention = [];
    layer.clearLayers();
    badges.clearLayers();
    byId = {};
    data.features.forEach(function (f) {
      var p = f.properties;
      var state = stateOf(p, now);
      p.state = state;
      if (state in counts) counts[state] += 1;
      if (lists[state]) lists[state].push(f);
      byId[p.id] = p;
      var c = f.geometry.coordinates;
      if (reasons(p).length) {
        attention.push(f);
        var badge = L.marker([c[1], c[0]], {
          icon: L.divIcon({
            className: "attention-marker attention-" + p.id + (p.flags && p.flags.length ? " has-flags" : " is-new"),
            html: '<span aria-hidden="true">' + (p.flags && p.flags.length ? "!" : "N") + "</span>",
            iconSize: [22, 22], iconAnchor: [-2, 24]
          }),
          title: "#" + p.id + " " + config.text.attentionMarker + ": " + reasonText(p),
          keyboard: false, zIndexOffset: 1000
        });
        badge.bindPopup(ticketPopup(p));
        badge.addTo(badges);
      }
      if (tiles && state !== "closed") return;
      var marker = L.circleMarker([c[1], c[0]], {
        radius: p.priority > 0 ? 10 : 8, color: "#111827", weight: 1,
        fillColor: config.colours[state], fillOpacity: 0.9,
        className: "ticket ticket-" + p.id + " state-" + state
      });
      marker.bindPopup(ticketPopup(p));
      marker.bindTooltip("#" + p.id + " " + p.category_name + " – " + config.labels[state]);
      marker.addTo(layer);
    });
    STATES.forEach(function (s) {
      var node = document.getElementById("count-" + s);
      if (node) node.textContent = counts[s];
    });
    Object.keys(lists).forEach(function (s) {
      var ul = document.getElementById("list-" + s);
      ul.replaceChildren();
      lists[s].forEach(function (f) {
        var p = f.properties;
        var li = el("li", { "data-ticket-id": p.id, "class": "state-" + s });
        var a = el("a", { href: ticketLink(p.id) }, "#" + p.id + " " + p.category_name);
        li.appendChild(a);
        li.appendChild(el("span", { "class": "ticket-meta" },
          [p.place, p.district_name, p.crew_name, p.due_at ? formatDue(p.due_at) : ""].filter(Boolean).join(" · ")));
        ul.appendChild(li);
      });
      document.querySelectorAll('[data-count-for="' + s + '"]').forEach(function (n) {
        n.textContent = "(" + lists[s].length + ")";
      });
    });
    renderAttention(attention);
    root.dataset.tickets = data.features.length;
    scheduleRecolour(now);
  }

  function renderAttention(items) {
    var ul = document.getElementById("list-attention");
    if (!ul) return;
    var chosen = filter ? filter.value : "";
    var shown = items.filter(function (f) { return !chosen || reasons(f.properties).indexOf(chosen) >= 0; });
    // Flags before new tickets, then the oldest first: the longest waiting comes first.
    shown.sort(function (a, b) {
      var fa = a.properties.flags.length ? 0 : 1, fb = b.properties.flags.length ? 0 : 1;
      return fa - fb || Date.parse(a.properties.created_at) - Date.parse(b.properties.created_at);
    });
    ul.replaceChildren();
    shown.forEach(function (f) {
      var p = f.properties;
      var li = el("li", { "data-ticket-id": p.id, "class": "state-" + p.state + (p.flags.length ? " flagged" : " new") });
      li.appendChild(el("a", { href: ticketLink(p.id) }, "#" + p.id + " " + p.category_name));
      li.appendChild(el("span", { "class": "attention-reasons" }, reasonText(p)));
      li.appendChild(el("span", { "class": "ticket-meta" },
        [p.district_name, p.crew_name, config.labels[p.state]].filter(Boolean).join(" · ")));
      ul.appendChild(li);
    });
    var empty = document.getElementById("attention-empty");
    if (empty) empty.hidden = shown.length > 0;
    var count = document.getElementById("count-attention");
    if (count) count.textContent = items.length;
    document.querySelectorAll('[data-count-for="attention"]').forEach(function (n) {
      n.textContent = "(" + shown.length + (chosen ? "/" + items.length : "") + ")";
    });
  }
  if (filter) filter.addEventListener("change", function () { render(); });

  // A ticket turns "due soon" or "late" by the clock alone: recolour the moment the next one
  // does (at the latest every 30 s), without asking the server.
  var recolourTimer = null;
  function scheduleRecolour(now) {
    var next = 30000;
    data.features.forEach(function (f) {
      if (!f.properties.crew || !f.properties.due_at) return;
      var due = Date.parse(f.properties.due_at);
      [due - DAY_MS, due].forEach(function (t) {
        if (t >= now && t - now < next) next = t - now;
      });
    });
    clearTimeout(recolourTimer);
    recolourTimer = setTimeout(function () { render(); if (tiles) tiles.redraw(); }, next + 20);
  }

  function refresh() {
    if (inFlight) { again = true; return; }
    inFlight = true;
    fetch(config.ticketsUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (json) {
        data = json;
        if (json.generated_at) clockOffset = Date.parse(json.generated_at) - Date.now();
        render();
        if (tiles) tiles.redraw();
        root.dataset.refreshedAt = String(Date.now());
      })
      .catch(function () { /* the next push or poll tries again */ })
      .finally(function () {
        inFlight = false;
        if (again) { again = false; refresh(); }
      });
  }

  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, 100);  // several changes in a burst: one request
  }

  // A pushed change carries the ticket's map feature (null once it is no longer open): apply
  // it instead of downloading every open ticket again (bench B4). A message without one (or
  // one that cannot be read) falls back to a refresh.
  var renderTimer = null;
  function applyChange(event) {
    var change;
    try { change = JSON.parse(event.data); } catch (e) { scheduleRefresh(); return; }
    if (!change || change.type !== "report" || !("feature" in change)) { scheduleRefresh(); return; }
    data.features = data.features.filter(function (f) { return f.properties.id !== change.id; });
    if (change.feature) {
      // In the server's order (crews.selectors.open_tickets_geojson): due first, no deadline
      // first of all, then by id.
      var key = function (f) {
        return [f.properties.due_at ? Date.parse(f.properties.due_at) : -Infinity, f.properties.id];
      };
      var k = key(change.feature);
      var at = data.features.findIndex(function (f) {
        var o = key(f);
        return o[0] > k[0] || (o[0] === k[0] && o[1] > k[1]);
      });
      data.features.splice(at < 0 ? data.features.length : at, 0, change.feature);
    }
    clearTimeout(renderTimer);
    renderTimer = setTimeout(function () {  // a burst of changes: one redraw
      render();
      if (tiles) tiles.redraw();
      root.dataset.refreshedAt = String(Date.now());
    }, 100);
  }

  function setMode(mode, text) {
    status.dataset.mode = mode;
    status.textContent = text;
  }

  function startPolling() {
    if (pollTimer) return;
    var every = config.pollSeconds + " s";
    setMode("polling", "⟳ " + (document.documentElement.lang === "de" ? "Abfrage alle " : "polling every ") + every);
    refresh();
    pollTimer = setInterval(refresh, config.pollSeconds * 1000);
  }

  function stopPolling() {
    clearInterval(pollTimer);
    pollTimer = null;
  }

  function connect() {
    clearTimeout(reconnectTimer);
    if (!window.EventSource) { startPolling(); return; }
    source = new EventSource(config.streamUrl);
    source.onopen = function () {
      stopPolling();
      setMode("push", "● live");
      refresh();  // catch up on what changed while the connection was down
    };
    source.onmessage = applyChange;
    source.onerror = function () {
      startPolling();
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (e.g. the server refused): try again at the next poll.
        reconnectTimer = setTimeout(connect, config.pollSeconds * 1000);
      }
    };
  }

  render();
  connect();
  window.civicmapDispatch = { refresh: refresh, render: render };
})();
