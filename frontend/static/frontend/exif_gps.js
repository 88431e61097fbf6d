/* Reads the GPS position from a JPEG's EXIF block in the browser, so the pin can be placed
 * before anything is uploaded. Returns null for anything else (PNG, HEIC, no GPS, broken data).
 * Only the first 256 KB are read: EXIF sits in the APP1 segment at the start of the file. */
(function (global) {
  "use strict";

  function parse(buffer) {
    var view = new DataView(buffer);
    if (view.byteLength < 4 || view.getUint16(0) !== 0xffd8) { return null; }
    var offset = 2;
    while (offset + 4 <= view.byteLength) {
      var marker = view.getUint16(offset);
      if ((marker & 0xff00) !== 0xff00) { return null; }
      var size = view.getUint16(offset + 2);
      if (marker === 0xffe1 && offset + 10 <= view.byteLength &&
          view.getUint32(offset + 4) === 0x45786966 && view.getUint16(offset + 8) === 0) {
        return readTiff(view, offset + 10);
      }
      if (marker === 0xffda) { return null; } // image data starts: no EXIF before it
      offset += 2 + size;
    }
    return null;
  }

  function readTiff(view, start) {
    var order = view.getUint16(start);
    if (order !== 0x4949 && order !== 0x4d4d) { return null; }
    var little = order === 0x4949;
    var u16 = function (at) { return view.getUint16(start + at, little); };
    var u32 = function (at) { return view.getUint32(start + at, little); };
    if (u16(2) !== 42) { return null; }

    function entries(ifd) {
      var found = {};
      var count = u16(ifd);
      for (var i = 0; i < count; i++) {
        var at = ifd + 2 + i * 12;
        found[u16(at)] = { type: u16(at + 2), count: u32(at + 4), valueAt: at + 8 };
      }
      return found;
    }

    function rationals(entry) {
      if (!entry || (entry.type !== 5 && entry.type !== 10) || entry.count < 3) { return null; }
      var at = u32(entry.valueAt);
      var values = [];
      for (var i = 0; i < 3; i++) {
        var num = u32(at + i * 8), den = u32(at + 4 + i * 8);
        values.push(den ? num / den : 0);
      }
      return values[0] + values[1] / 60 + values[2] / 3600;
    }

    function ref(entry) {
      if (!entry) { return ""; }
      return String.fromCharCode(view.getUint8(start + entry.valueAt));
    }

    var ifd0 = entries(u32(4));
    if (!ifd0[0x8825]) { return null; }
    var gps = entries(u32(ifd0[0x8825].valueAt));
    var lat = rationals(gps[2]), lon = rationals(gps[4]);
    if (lat === null || lon === null || (lat === 0 && lon === 0)) { return null; }
    if (ref(gps[1]).toUpperCase() === "S") { lat = -lat; }
    if (ref(gps[3]).toUpperCase() === "W") { lon = -lon; }
    if (Math.abs(lat) > 90 || Math.abs(lon) > 180) { return null; }
    return { lat: lat, lon: lon };
  }

  global.readExifGps = function (file) {
    return file.slice(0, 262144).arrayBuffer().then(function (buffer) {
      try { return parse(buffer); } catch (e) { return null; }
    }, function () { return null; });
  };
})(window);
