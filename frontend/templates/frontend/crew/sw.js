/* civicmap crew service worker ({{ version }}): keeps the queue, loaded tickets and the
   assets they need usable without a connection. Actions are queued by the page, not here. */
"use strict";
var CACHE = "civicmap-{{ version }}";
var QUEUE_URL = "{{ queue_url|escapejs }}";
var PRECACHE = [QUEUE_URL{% for url in precache %}, "{{ url|escapejs }}"{% endfor %}];

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE).then(function (cache) {
      return Promise.all(PRECACHE.map(function (url) {
        return cache.add(new Request(url, { credentials: "same-origin" })).catch(function () {});
      }));
    }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (k) {
        return k.indexOf("civicmap-crew") === 0 && k !== CACHE;
      }).map(function (k) { return caches.delete(k); }));
    }).then(function () { return self.clients.claim(); })
  );
});

function networkFirst(request) {
  return fetch(request).then(function (response) {
    if (response.ok && response.type === "basic" && !response.redirected) {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) { cache.put(request, copy); });
    }
    return response;
  }).catch(function () {
    return caches.match(request).then(function (hit) {
      if (hit) return hit;
      var url = new URL(request.url);
      // A filtered queue that was never loaded: show the full one.
      if (url.pathname === QUEUE_URL) return caches.match(QUEUE_URL, { ignoreSearch: true });
      return Response.error();
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  // Network first everywhere: online the tablet always gets fresh pages and assets; the
  // cache only answers when the network does not.
  if (url.pathname.indexOf("/static/") === 0 || url.pathname.indexOf("/media/thumbs/") === 0) {
    event.respondWith(networkFirst(request));
  } else if (url.pathname.indexOf(QUEUE_URL) === 0 && url.pathname !== QUEUE_URL + "sw.js") {
    event.respondWith(networkFirst(request));
  }
});
