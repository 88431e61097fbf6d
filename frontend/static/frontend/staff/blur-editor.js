/* Blur-box editor for staff: boxes are fractions (0..1) of the upright photo.
 * Drag on the photo: new box. Drag a box: move. Drag its corner: resize. Select + Delete: remove.
 * The form posts the boxes as JSON; the server re-renders the public copies. */
(function () {
  "use strict";
  var editor = document.getElementById("blur-editor");
  if (!editor) return;
  var image = document.getElementById("blur-image");
  var form = document.getElementById("blur-form");
  var field = document.getElementById("blur-boxes");
  var removeButton = document.getElementById("blur-remove");
  var count = document.getElementById("blur-count");
  var boxes = JSON.parse(document.getElementById("blur-boxes-data").textContent || "[]");
  var selected = -1;
  var drag = null;
  var MIN = 0.01;

  function clamp(v, lo, hi) { return Math.min(Math.max(v, lo), hi); }

  function fraction(event) {
    var rect = image.getBoundingClientRect();
    return {
      x: clamp((event.clientX - rect.left) / rect.width, 0, 1),
      y: clamp((event.clientY - rect.top) / rect.height, 0, 1)
    };
  }

  function render() {
    Array.prototype.slice.call(editor.querySelectorAll(".blur-box")).forEach(function (el) { el.remove(); });
    boxes.forEach(function (box, index) {
      var el = document.createElement("div");
      el.className = "blur-box " + (box.source === "staff" ? "staff" : "auto") + (index === selected ? " selected" : "");
      el.dataset.index = String(index);
      el.title = (box.label || "") + " (" + (box.source || "staff") + ")";
      el.style.left = box.x * 100 + "%";
      el.style.top = box.y * 100 + "%";
      el.style.width = box.w * 100 + "%";
      el.style.height = box.h * 100 + "%";
      var handle = document.createElement("span");
      handle.className = "handle";
      el.appendChild(handle);
      editor.appendChild(el);
    });
    removeButton.disabled = selected < 0;
    count.textContent = boxes.length + " ×";
    field.value = JSON.stringify(boxes);
  }

  editor.addEventListener("pointerdown", function (event) {
    if (event.button !== 0) return;
    event.preventDefault();
    var at = fraction(event);
    var target = event.target;
    var boxEl = target.closest(".blur-box");
    if (boxEl) {
      selected = Number(boxEl.dataset.index);
      var box = boxes[selected];
      box.source = "staff";
      drag = { mode: target.classList.contains("handle") ? "resize" : "move", start: at, orig: Object.assign({}, box) };
    } else {
      boxes.push({ x: at.x, y: at.y, w: 0, h: 0, source: "staff", label: "" });
      selected = boxes.length - 1;
      drag = { mode: "new", start: at, orig: null };
    }
    editor.setPointerCapture(event.pointerId);
    render();
  });

  editor.addEventListener("pointermove", function (event) {
    if (!drag || selected < 0) return;
    var at = fraction(event);
    var box = boxes[selected];
    var dx = at.x - drag.start.x, dy = at.y - drag.start.y;
    if (drag.mode === "new") {
      box.x = Math.min(at.x, drag.start.x); box.y = Math.min(at.y, drag.start.y);
      box.w = Math.abs(dx); box.h = Math.abs(dy);
    } else if (drag.mode === "move") {
      box.x = clamp(drag.orig.x + dx, 0, 1 - box.w); box.y = clamp(drag.orig.y + dy, 0, 1 - box.h);
    } else {
      box.w = clamp(drag.orig.w + dx, MIN, 1 - box.x); box.h = clamp(drag.orig.h + dy, MIN, 1 - box.y);
    }
    render();
  });

  function finish() {
    if (drag && drag.mode === "new" && selected >= 0) {
      var box = boxes[selected];
      if (box.w < MIN || box.h < MIN) { boxes.splice(selected, 1); selected = -1; }
    }
    drag = null;
    render();
  }
  editor.addEventListener("pointerup", finish);
  editor.addEventListener("pointercancel", finish);

  function removeSelected() {
    if (selected < 0) return;
    boxes.splice(selected, 1);
    selected = -1;
    render();
  }
  removeButton.addEventListener("click", removeSelected);
  editor.addEventListener("keydown", function (event) {
    if (event.key === "Delete" || event.key === "Backspace") { event.preventDefault(); removeSelected(); }
  });
  form.addEventListener("submit", function () { field.value = JSON.stringify(boxes); });
  if (image.complete) render(); else image.addEventListener("load", render);
  render();
})();
