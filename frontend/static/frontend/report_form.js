/* The resident's report form: photo (with EXIF position), category, place (map, device position,
 * address search or part of town), route preview, nearby duplicates, upload with progress and a
 * safe retry (the same Idempotency-Key for the whole form fill). Sends to POST /api/v1/reports/. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("report-form-config").textContent);
  var T = config.text;
  var form = document.getElementById("report-form");
  var $ = function (id) { return document.getElementById(id); };

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (m, key) { return key in values ? values[key] : m; });
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function cookie(name) {
    var match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }

  // The page's language, in the phone's regional variant when it matches (en-GB dates for en-GB).
  var locale = (navigator.language || "").indexOf(config.language) === 0 ? navigator.language : config.language;

  function formatDue(iso) {
    var date = new Date(iso);
    try {
      // The city's clock, not the phone's: a deadline is a local working day.
      return date.toLocaleString(locale, { weekday: "short", day: "numeric", month: "long", hour: "2-digit", minute: "2-digit", timeZone: config.timeZone });
    } catch (e) { return date.toLocaleString(); }
  }

  // One key per form fill: a retry after a broken connection cannot create a second report.
  var idempotencyKey = $("idempotency-key").value || newKey();
  var state = { photo: null, lat: null, lon: null, source: null, placeText: "" };

  // ---- map ---------------------------------------------------------------------------------
  var map = null, pin = null, openPins = null;
  if (window.L) {
    map = L.map("pick-map", { center: config.center, zoom: 13, tap: true });
    L.tileLayer(config.tiles, { attribution: config.attribution, maxZoom: 19 }).addTo(map);
    openPins = L.layerGroup().addTo(map);
    map.on("click", function (event) {
      setLocation(event.latlng.lat, event.latlng.lng, "map");
      status($("location-status"), T.pin_set);
    });
  }

  function setLocation(lat, lon, source, options) {
    state.lat = lat; state.lon = lon; state.source = source;
    if (map) {
      if (!pin) {
        pin = L.marker([lat, lon], { draggable: true, autoPan: true, title: T.pin_set, alt: T.pin_set }).addTo(map);
        pin.on("dragend", function () {
          var p = pin.getLatLng();
          state.lat = p.lat; state.lon = p.lng; state.source = "map";
          status($("location-status"), T.pin_set);
          refreshPlaceInfo();
        });
      } else {
        pin.setLatLng([lat, lon]);
      }
      if (!options || options.pan !== false) { map.setView([lat, lon], Math.max(map.getZoom(), 17)); }
    }
    clearError("location");
    refreshPlaceInfo();
  }

  // ---- open reports around the pin: shown while placing it ----------------------------------------
  function categoryName(code) {
    var label = form.querySelector("label[for=cat-" + code + "] span:last-child");
    return label ? label.firstChild.textContent.trim() : code;
  }

  var openSequence = 0;
  function loadOpenAround() {
    if (!map || !config.api.openReports || state.lat === null) { return; }
    var mine = ++openSequence;
    var d = 0.004;  // about 300-450 m around the pin
    var bbox = [state.lon - d, state.lat - d * 0.63, state.lon + d, state.lat + d * 0.63]
      .map(function (v) { return v.toFixed(5); }).join(",");
    getJson(config.api.openReports + "?status=new,assigned,in_progress&limit=200&bbox=" + bbox)
      .then(function (answer) {
        if (mine !== openSequence || !answer.ok) { return; }
        openPins.clearLayers();
        answer.body.features.forEach(function (f) {
          var c = f.geometry.coordinates, p = f.properties;
          L.circleMarker([c[1], c[0]], {
            radius: 8, color: "#ffffff", weight: 2, fillColor: "#b45309", fillOpacity: 0.9,
            className: "open-report-pin open-report-" + p.id
          }).bindTooltip(fill(T.open_report, { id: p.id, category: categoryName(p.category) }))
            .addTo(openPins);
        });
        if (pin) { pin.setZIndexOffset(1000); }
        document.getElementById("pick-map").dataset.openReports = String(answer.body.features.length);
      }).catch(function () {});
  }

  function status(element, text) { element.textContent = text || ""; }

  // ---- device position -----------------------------------------------------------------------
  function locate(explicit) {
    if (!navigator.geolocation) { if (explicit) { status($("location-status"), T.locate_failed); } return; }
    if (explicit) { status($("location-status"), T.locating); }
    navigator.geolocation.getCurrentPosition(function (position) {
      // A pin the resident placed, or one from the photo, wins over an automatic position.
      if (!explicit && state.source) { return; }
      setLocation(position.coords.latitude, position.coords.longitude, "device");
      status($("location-status"), T.located);
    }, function () {
      if (explicit) { status($("location-status"), T.locate_failed); }
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  }
  $("locate").addEventListener("click", function () { locate(true); });
  // Ask the browser only when the resident already allowed it; otherwise wait for the button.
  if (navigator.permissions && navigator.permissions.query) {
    navigator.permissions.query({ name: "geolocation" }).then(function (result) {
      if (result.state === "granted") { locate(false); }
    }, function () {});
  }

  // ---- photo -----------------------------------------------------------------------------------
  function photoChosen(input) {
    var file = input.files && input.files[0];
    if (!file) { return; }
    state.photo = file;
    clearError("photo");
    status($("photo-status"), fill(T.photo_chosen, { name: file.name }));
    var preview = $("photo-preview");
    if (/^image\/(jpeg|png|webp|gif)$/.test(file.type)) {
      preview.src = URL.createObjectURL(file);
      preview.hidden = false;
    } else {
      preview.hidden = true;
    }
    window.readExifGps(file).then(function (gps) {
      if (gps) {
        if (state.source !== "map" && state.source !== "address") {
          setLocation(gps.lat, gps.lon, "photo");
          status($("location-status"), T.photo_gps);
        }
      } else if (!state.source) {
        status($("location-status"), T.photo_no_gps);
      }
    });
  }
  ["photo-camera", "photo-file"].forEach(function (id) {
    $(id).addEventListener("change", function (event) { photoChosen(event.target); });
  });

  // ---- category --------------------------------------------------------------------------------
  function category() {
    var checked = form.querySelector("input[name=category]:checked");
    return checked ? checked.value : "";
  }
  Array.prototype.forEach.call(form.querySelectorAll("input[name=category]"), function (input) {
    input.addEventListener("change", function () { clearError("category"); refreshPlaceInfo(); });
  });

  // ---- without the map: address search, part of town -------------------------------------------
  var addressInput = $("address-q");
  if (addressInput) {
    var searchAddresses = function () {
      var q = addressInput.value.trim();
      var list = $("address-results");
      list.textContent = "";
      if (q.length < 3) { return; }
      fetch(config.api.addresses + "?q=" + encodeURIComponent(q), { headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          if (!data.results || !data.results.length) {
            var none = document.createElement("li"); none.textContent = T.no_addresses; list.appendChild(none);
            return;
          }
          data.results.forEach(function (a) {
            var item = document.createElement("li");
            var button = document.createElement("button");
            button.type = "button"; button.className = "link-button";
            button.textContent = a.label + (a.district ? " (" + a.district + ")" : "");
            button.addEventListener("click", function () {
              state.placeText = a.label;
              setLocation(a.lat, a.lon, "address");
              status($("location-status"), fill(T.address_chosen, { label: a.label }));
              list.textContent = "";
            });
            item.appendChild(button); list.appendChild(item);
          });
        });
    };
    $("address-search").addEventListener("click", searchAddresses);
    addressInput.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); searchAddresses(); }
    });
  }
  $("district").addEventListener("change", function (event) {
    var option = event.target.selectedOptions[0];
    if (!option || !option.value) { return; }
    setLocation(parseFloat(option.dataset.lat), parseFloat(option.dataset.lon), "district");
    map && map.setView([state.lat, state.lon], 14);
    status($("location-status"), T.district_set);
  });

  // ---- route preview and nearby reports ----------------------------------------------------------
  var placeTimer = null;
  function refreshPlaceInfo() {
    clearTimeout(placeTimer);
    placeTimer = setTimeout(loadPlaceInfo, 250);
  }

  function getJson(url) {
    return fetch(url, { headers: { Accept: "application/json", "Accept-Language": config.language } })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); });
  }

  function loadPlaceInfo() {
    var code = category();
    loadOpenAround();
    if (state.lat === null || !code) { showOffer([]); return; }
    var query = "?lat=" + state.lat.toFixed(6) + "&lon=" + state.lon.toFixed(6) + "&category=" + encodeURIComponent(code);
    getJson(config.api.route + query).then(function (answer) {
      var route = $("route");
      if (!answer.ok) {
        route.textContent = "";
        showErrors(answer.body);
        return;
      }
      var r = answer.body;
      var district = r.district ? r.district.name : "–";
      var place = r.place && r.place !== district ? r.place + " · " : "";
      route.textContent = place + (r.unassigned
        ? fill(T.route_unassigned, { district: district })
        : fill(T.route, { district: district, due: formatDue(r.due_at) }));
    }).catch(function () {});
    getJson(config.api.nearby + query).then(function (answer) {
      showNearby(answer.ok ? answer.body.results : []);
    }).catch(function () {});
    checkPickup(code);
  }

  // ---- a scheduled public bulky-waste collection next to the place --------------------------------
  function cityToday() {
    // en-CA writes dates as YYYY-MM-DD; the city's calendar day, not the phone's.
    try {
      return new Intl.DateTimeFormat("en-CA", { timeZone: config.timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
    } catch (e) { return new Date().toISOString().slice(0, 10); }
  }

  var pickupSequence = 0;
  function checkPickup(code) {
    var notice = $("pickup");
    var mine = ++pickupSequence;
    if (!notice || !config.api.pickup) { return; }
    if (code !== "bulky_waste" || state.lat === null) { notice.textContent = ""; return; }
    var query = "?lat=" + state.lat.toFixed(6) + "&lon=" + state.lon.toFixed(6) + "&date=" + cityToday();
    getJson(config.api.pickup + query).then(function (answer) {
      if (mine !== pickupSequence) { return; }
      var probable = answer.ok && answer.body.probable_pickup;
      notice.textContent = probable ? answer.body.message + " " + T.pickup_hint : "";
      notice.setAttribute("data-answer", probable ? "pickup" : "none");
    }).catch(function () {});
  }

  // The nearest possible duplicate, offered where the resident looks: at the pin and next to
  // the Send button (the full list with its buttons is in the "nearby" section).
  function showOffer(results) {
    var send = $("offer-send");
    if (map && pin) { pin.unbindPopup(); }
    if (!results.length) { send.hidden = true; send.textContent = ""; return; }
    var r = results[0];
    var values = { id: r.id, category: r.category_name, distance: r.distance_m };
    if (map && pin) {
      var box = document.createElement("div");
      box.className = "pin-offer";
      box.appendChild(document.createTextNode(fill(T.offer, values) + " "));
      var show = document.createElement("a");
      show.href = "#nearby"; show.textContent = T.offer_show;
      box.appendChild(show);
      pin.bindPopup(box, { maxWidth: 220, autoPan: true, autoPanPaddingTopLeft: L.point(50, 10), autoPanPaddingBottomRight: L.point(10, 10) }).openPopup();
    }
    send.textContent = fill(T.offer_send, values) + " ";
    var link = document.createElement("a");
    link.href = "#nearby"; link.textContent = T.offer_show;
    send.appendChild(link);
    send.hidden = false;
  }

  function showNearby(results) {
    var section = $("nearby"), list = $("nearby-list");
    list.textContent = "";
    showOffer(results);
    if (!results.length) { section.hidden = true; return; }
    $("nearby-title").textContent = T.nearby_title;
    results.forEach(function (r) {
      var item = document.createElement("li");
      item.className = "nearby-item";
      if (r.thumbnail_url) {
        var img = document.createElement("img");
        img.src = r.thumbnail_url; img.alt = ""; img.width = 64; img.height = 64;
        item.appendChild(img);
      }
      var text = document.createElement("p");
      var link = document.createElement("a");
      link.href = r.page_url; link.textContent = "#" + r.id + " " + r.category_name;
      text.appendChild(link);
      text.appendChild(document.createTextNode(" – " + fill(T.nearby_item, {
        distance: r.distance_m,
        date: new Date(r.created_at).toLocaleDateString(locale, { timeZone: config.timeZone }), status: r.status_display
      })));
      item.appendChild(text);
      var button = document.createElement("button");
      button.type = "button"; button.className = "button";
      button.textContent = T.confirm;
      button.addEventListener("click", function () { confirmReport(r, item, button); });
      item.appendChild(button);
      list.appendChild(item);
    });
    section.hidden = false;
  }

  function confirmReport(report, item, button) {
    button.disabled = true;
    fetch(config.api.confirm.replace("/0/", "/" + report.id + "/"), {
      method: "POST",
      headers: { Accept: "application/json", "Accept-Language": config.language, "X-CSRFToken": cookie("csrftoken") }
    }).then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (answer) {
        if (!answer.ok) { button.disabled = false; showErrors(answer.body); return; }
        var done = document.createElement("p");
        done.className = "notice notice-success";
        done.setAttribute("role", "status");
        done.textContent = fill(T.confirmed, { id: report.id }) + " ";
        var link = document.createElement("a");
        link.href = answer.body.page_url; link.textContent = T.view_report;
        done.appendChild(link);
        item.replaceChildren(done);
      }, function () { button.disabled = false; status($("submit-status"), T.network_error); });
  }

  // ---- errors -----------------------------------------------------------------------------------
  var FIELD_FOR = { lat: "location", lon: "location", location: "location", category: "category", photo: "photo", description: "description", email: "email" };

  function clearError(field) {
    var box = $("error-" + field);
    if (box) { box.textContent = ""; }
    var inputs = { photo: ["photo-camera", "photo-file"], description: ["description"], email: ["email"] }[field] || [];
    inputs.forEach(function (id) { $(id).removeAttribute("aria-invalid"); });
  }

  function clearAllErrors() {
    ["photo", "category", "location", "description", "email"].forEach(clearError);
    $("form-error").hidden = true;
    $("form-error").textContent = "";
  }

  function asText(value) {
    if (Array.isArray(value)) { return value.map(asText).join(" "); }
    if (value && typeof value === "object") { return Object.keys(value).map(function (k) { return asText(value[k]); }).join(" "); }
    return String(value);
  }

  function showErrors(body) {
    var general = [];
    var first = null;
    Object.keys(body || {}).forEach(function (key) {
      var field = FIELD_FOR[key];
      var box = field && $("error-" + field);
      if (box) {
        box.textContent = (box.textContent ? box.textContent + " " : "") + asText(body[key]);
        var inputs = { photo: ["photo-camera", "photo-file"], description: ["description"], email: ["email"] }[field] || [];
        inputs.forEach(function (id) { $(id).setAttribute("aria-invalid", "true"); });
        first = first || box;
      } else {
        general.push(asText(body[key]));
      }
    });
    var summary = $("form-error");
    summary.textContent = general.length ? general.join(" ") : T.fix_errors;
    summary.hidden = false;
    (first || summary).scrollIntoView({ block: "center" });
    summary.focus({ preventScroll: true });
  }

  // ---- sending ------------------------------------------------------------------------------------
  function description() {
    var parts = [];
    var place = $("place").value.trim();
    if (state.source === "address" && state.placeText) { parts.push(T.place_prefix + ": " + state.placeText); }
    if (place) { parts.push(T.place_prefix + ": " + place); }
    var text = $("description").value.trim();
    if (text) { parts.push(text); }
    return parts.join("\n");
  }

  function send() {
    clearAllErrors();
    var problems = {};
    if (!category()) { problems.category = [T.need_category]; }
    if (state.lat === null && !state.photo) { problems.location = [T.need_location]; }
    if (Object.keys(problems).length) { showErrors(problems); return; }

    var data = new FormData();
    data.append("category", category());
    if (state.lat !== null) {
      data.append("lat", state.lat.toFixed(6));
      data.append("lon", state.lon.toFixed(6));
    }
    data.append("description", description());
    data.append("email", $("email").value.trim());
    data.append("website", $("website") ? $("website").value : "");  // honeypot: empty for people
    if (state.photo) { data.append("photo", state.photo, state.photo.name); }

    var xhr = new XMLHttpRequest();
    var progress = $("progress");
    xhr.open("POST", config.api.submit);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("Accept-Language", config.language);
    xhr.setRequestHeader("Idempotency-Key", idempotencyKey);
    var csrf = cookie("csrftoken");
    if (csrf) { xhr.setRequestHeader("X-CSRFToken", csrf); }
    xhr.timeout = 120000;
    progress.hidden = false; progress.value = 0;
    $("submit").disabled = true; $("retry").hidden = true;
    status($("submit-status"), fill(T.sending, { percent: 0 }));
    xhr.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable) {
        var percent = Math.round(event.loaded / event.total * 100);
        progress.value = percent;
        status($("submit-status"), fill(T.sending, { percent: percent }));
      }
    });
    xhr.addEventListener("load", function () {
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
      if ((xhr.status === 201 || xhr.status === 200) && body) {
        status($("submit-status"), T.sent);
        window.location.assign(config.track.replace("TOKEN", body.properties.tracking_token) + "?new=1");
        return;
      }
      finish();
      if (xhr.status === 400 && body) { status($("submit-status"), ""); showErrors(body); return; }
      if (xhr.status === 429) { showErrors({ detail: T.too_many_requests }); return; }
      failed(T.server_error);
    });
    xhr.addEventListener("error", function () { finish(); failed(T.network_error); });
    xhr.addEventListener("timeout", function () { finish(); failed(T.network_error); });
    xhr.send(data);
  }

  function finish() {
    $("submit").disabled = false;
    $("progress").hidden = true;
  }

  function failed(message) {
    status($("submit-status"), message);
    $("retry").hidden = false;
    $("retry").focus();
  }

  form.addEventListener("submit", function (event) { event.preventDefault(); send(); });
  $("retry").addEventListener("click", send);
})();
