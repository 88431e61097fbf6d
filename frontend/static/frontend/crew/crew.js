/* Crew tablet: the offline outbox and the service worker.
 *
 * Every action (start, close with its photo, reject, duplicate) is first stored in IndexedDB
 * with an idempotency key, then sent to the crew API in the order it was taken. Without a
 * connection it waits (and survives a reload); when the connection is back it is sent. The
 * server applies a key once, so a resend after a lost answer never applies twice.
 */
(function () {
  "use strict";

  var DB_NAME = "civicmap-crew", STORE = "outbox";
  var root = document.querySelector(".crew");
  if (!root) return;
  var API = root.dataset.api;
  var texts = (document.getElementById("outbox-texts") || { dataset: {} }).dataset;
  var flushing = false;

  function openDb() {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = function () {
        request.result.createObjectStore(STORE, { keyPath: "seq", autoIncrement: true });
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function tx(mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(STORE, mode), store = t.objectStore(STORE), result;
        result = work(store);
        t.oncomplete = function () { db.close(); resolve(result && "result" in result ? result.result : result); };
        t.onerror = function () { db.close(); reject(t.error); };
      });
    });
  }

  function all() { return tx("readonly", function (s) { return s.getAll(); }); }
  function put(item) { return tx("readwrite", function (s) { return s.put(item); }); }
  function remove(seq) { return tx("readwrite", function (s) { return s.delete(seq); }); }

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function render() {
    return all().then(function (items) {
      var box = document.getElementById("outbox");
      var list = document.getElementById("outbox-list");
      document.getElementById("outbox-count").textContent =
        items.filter(function (i) { return i.state !== "failed"; }).length;
      box.hidden = items.length === 0;
      list.innerHTML = "";
      items.forEach(function (item) {
        var li = document.createElement("li");
        li.className = "outbox-item " + item.state;
        li.dataset.ticket = item.ticket;
        li.dataset.key = item.key;
        var label = "#" + item.ticket + " " + (texts[item.action] || item.action) + " – " +
          (texts[item.state] || item.state);
        if (item.error) label += ": " + item.error;
        li.appendChild(document.createTextNode(label));
        if (item.state === "failed") {
          var discard = document.createElement("button");
          discard.type = "button";
          discard.className = "big-button secondary";
          discard.textContent = texts.discard || "Remove";
          discard.addEventListener("click", function () { remove(item.seq).then(render); });
          li.appendChild(discard);
        }
        list.appendChild(li);
      });
      var pending = document.getElementById("ticket-pending");
      if (pending) {
        var ticket = +document.querySelector(".ticket[data-ticket]").dataset.ticket;
        pending.hidden = !items.some(function (i) {
          return i.ticket === ticket && i.state === "waiting";
        });
      }
      return items;
    });
  }

  function showLogin() {
    var box = document.getElementById("outbox-login");
    if (box) box.hidden = false;
  }

  function showNetwork() {
    var status = document.getElementById("net-status");
    if (status) status.hidden = navigator.onLine;
  }

  function enqueue(form) {
    var data = new FormData(form);
    var ticket = +document.querySelector(".ticket[data-ticket]").dataset.ticket;
    var photo = data.get("photo");
    return all().then(function (items) {
      var earlier = items.some(function (i) { return i.ticket === ticket && i.state !== "failed"; });
      var item = {
        key: data.get("idempotency_key") || (Date.now() + "-" + Math.random()),
        ticket: ticket,
        action: form.dataset.crewAction,
        expected_version: +data.get("expected_version"),
        // A later action on a ticket waiting for an earlier one follows that one's version.
        chain: earlier,
        note: data.get("note") || "",
        reason: data.get("reason") || "",
        duplicate_of: data.get("duplicate_of") || "",
        photo: photo && photo.size ? photo : null,
        photo_name: photo && photo.name ? photo.name : "",
        state: "waiting",
        created: new Date().toISOString(),
      };
      return put(item);
    });
  }

  function send(item, versions) {
    var version = item.sent_version ||
      (item.chain && versions[item.ticket] ? versions[item.ticket] : item.expected_version);
    if (item.sent_version === version) return post(item, version);
    // Kept with the item: a resend after a lost answer carries the very same body, so the
    // server replays its first answer (another body under the same key would be refused).
    item.sent_version = version;
    return put(item).then(function () { return post(item, version); });
  }

  function post(item, version) {
    var body = new FormData();
    body.append("expected_version", version);
    if (item.note) body.append("note", item.note);
    if (item.reason) body.append("reason", item.reason);
    if (item.duplicate_of) body.append("duplicate_of", item.duplicate_of);
    if (item.photo) body.append("photo", item.photo, item.photo_name || "after.jpg");
    return fetch(API + "tickets/" + item.ticket + "/" + item.action + "/", {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "Idempotency-Key": item.key },
    });
  }

  function errorText(response) {
    return response.json().then(function (body) {
      if (body.detail) return String(body.detail);
      return Object.keys(body).map(function (k) { return [].concat(body[k]).join(" "); }).join(" ");
    }).catch(function () { return "HTTP " + response.status; });
  }

  // Send waiting items one by one, oldest first; stop at the first network failure.
  function flush() {
    if (flushing || !navigator.onLine) return Promise.resolve();
    flushing = true;
    var versions = {}, sentHere = [];
    return all().then(function (items) {
      var waiting = items.filter(function (i) { return i.state === "waiting"; });
      return waiting.reduce(function (chain, item) {
        return chain.then(function (stop) {
          if (stop) return true;
          return send(item, versions).then(function (response) {
            if (response.ok) {
              return response.json().then(function (body) {
                versions[item.ticket] = body.version;
                sentHere.push(body);
                return remove(item.seq).then(function () { return false; });
              });
            }
            if (response.status >= 500) return true;  // try again later
            if (response.status === 401) {  // logged out meanwhile: keep it, ask to log in
              showLogin();
              return true;
            }
            return errorText(response).then(function (text) {
              item.state = "failed";
              item.error = text;
              return put(item).then(function () { return false; });
            });
          }, function () { return true; });  // offline again
        });
      }, Promise.resolve(false));
    }).then(function () {
      flushing = false;
      return render();
    }, function () { flushing = false; }).then(function () {
      var here = document.querySelector(".ticket[data-ticket]");
      if (here && sentHere.some(function (b) { return b.id === +here.dataset.ticket; })) {
        window.location.reload();
      }
    });
  }

  document.querySelectorAll("form[data-crew-action]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!form.reportValidity()) return;
      form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      enqueue(form).then(render).then(function () {
        form.reset();
        form.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
        return flush();
      });
    });
  });

  // Logging out forgets the pages kept for offline use (another person may use the tablet).
  document.querySelectorAll(".crew-nav form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.caches) return;
      event.preventDefault();
      caches.keys().then(function (keys) {
        return Promise.all(keys.filter(function (k) { return k.indexOf("civicmap-crew") === 0; })
          .map(function (k) { return caches.delete(k); }));
      }).catch(function () {}).then(function () { form.submit(); });
    });
  });

  window.addEventListener("online", function () { showNetwork(); flush(); });
  window.addEventListener("offline", showNetwork);
  setInterval(flush, 20000);
  showNetwork();
  render().then(flush);

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(root.dataset.swUrl, { scope: root.dataset.swScope })
      .catch(function () {});
  }

  window.CrewOutbox = { flush: flush, render: render, all: all };
})();
