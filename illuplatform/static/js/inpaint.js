// The image page's inpaint brush: strokes show in red over the image and are drawn in white
// on black on a hidden canvas of the image's own size, which is sent as the mask PNG.
(function () {
  "use strict";
  var form = document.getElementById("inpaint-form");
  var canvas = document.getElementById("mask-canvas");
  if (!form || !canvas) { return; }
  var shown = canvas.getContext("2d");
  var mask = document.createElement("canvas");
  mask.width = canvas.width;
  mask.height = canvas.height;
  var maskContext = mask.getContext("2d");
  var brush = document.getElementById("brush-size");
  var painted = false;
  var last = null;

  function clear() {
    shown.clearRect(0, 0, canvas.width, canvas.height);
    maskContext.fillStyle = "#000";
    maskContext.fillRect(0, 0, mask.width, mask.height);
    painted = false;
  }

  function point(event) {
    var box = canvas.getBoundingClientRect();
    return {
      x: (event.clientX - box.left) * canvas.width / box.width,
      y: (event.clientY - box.top) * canvas.height / box.height
    };
  }

  function stroke(context, colour, from, to) {
    context.strokeStyle = colour;
    context.lineWidth = Number(brush.value) * canvas.width / canvas.getBoundingClientRect().width;
    context.lineCap = "round";
    context.lineJoin = "round";
    context.beginPath();
    context.moveTo(from.x, from.y);
    context.lineTo(to.x, to.y);
    context.stroke();
  }

  function paint(to) {
    var from = last || to;
    stroke(shown, "rgba(255, 40, 40, 0.55)", from, to);
    stroke(maskContext, "#fff", from, to);
    last = to;
    painted = true;
  }

  canvas.addEventListener("pointerdown", function (event) {
    canvas.setPointerCapture(event.pointerId);
    last = null;
    paint(point(event));
    event.preventDefault();
  });
  canvas.addEventListener("pointermove", function (event) {
    if (last) { paint(point(event)); }
  });
  ["pointerup", "pointercancel"].forEach(function (name) {
    canvas.addEventListener(name, function () { last = null; });
  });
  document.getElementById("mask-clear").addEventListener("click", clear);

  form.addEventListener("submit", function (event) {
    var error = document.getElementById("mask-error");
    if (!painted) {
      error.hidden = false;
      event.preventDefault();
      return;
    }
    error.hidden = true;
    document.getElementById("inpaint-mask").value = mask.toDataURL("image/png");
  });
  clear();
}());
