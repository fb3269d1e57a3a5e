// Live training progress: Server-Sent Events (step, loss, ETA; a sample or the end reloads
// the page's result part), or polling the training resource when EventSource fails.
(function () {
  "use strict";
  var root = document.getElementById("training-live");
  if (!root || root.dataset.final === "true") return;
  var FINAL = ["succeeded", "failed", "cancelled"];
  var WIDTH = 600, HEIGHT = 160, MAX_POINTS = 300;
  var history = JSON.parse(document.getElementById("loss-history").textContent || "[]");
  var finished = false;

  function byId(id) { return document.getElementById(id); }

  function plot() {
    if (!history.length) return;
    var stride = Math.max(1, Math.floor(history.length / MAX_POINTS));
    var values = history.filter(function (_, i) { return i % stride === 0; });
    var low = Math.min.apply(null, values), high = Math.max.apply(null, values);
    var span = (high - low) || 1, last = Math.max(1, values.length - 1);
    byId("loss-line").setAttribute("points", values.map(function (v, i) {
      return (i * WIDTH / last).toFixed(1) + "," + (HEIGHT - (v - low) / span * HEIGHT).toFixed(1);
    }).join(" "));
  }

  function showStatus(status) {
    var el = byId("training-status");
    el.textContent = status;
    el.dataset.status = status;
    el.className = "status status-" + status;
  }

  function showProgress(p) {
    if (!p || !p.total) return;
    var percent = Math.round((p.step / p.total) * 100);
    byId("training-progress").value = percent;
    byId("training-step").textContent = p.step;
    byId("training-total").textContent = p.total;
    if (p.loss !== null && p.loss !== undefined) {
      byId("training-loss").textContent = p.loss.toFixed(4);
      // Events are throttled: the plot gets the points that arrive (the page has them all).
      while (history.length < p.step - 1) history.push(p.loss);
      if (history.length < p.step) history.push(p.loss);
      plot();
    }
    if (p.eta_s !== null && p.eta_s !== undefined) byId("training-eta").textContent = "ETA " + Math.round(p.eta_s) + " s";
  }

  function refresh(final) {
    if (final) { if (finished) return; finished = true; root.dataset.final = "true"; }
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var ids = final ? ["training-state", "training-result"] : ["training-result"];
        ids.forEach(function (id) {
          var node = fresh.getElementById(id);
          if (node) byId(id).replaceWith(node);
        });
      });
  }

  function poll() {
    root.dataset.live = "poll";
    fetch(root.dataset.pollUrl, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (run) {
        showStatus(run.status);
        if (FINAL.indexOf(run.status) !== -1) { refresh(true); return; }
        showProgress(run.progress);
        setTimeout(poll, 2000);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }

  if (!window.EventSource) { poll(); return; }
  var source = new EventSource(root.dataset.eventsUrl);
  root.dataset.live = "sse";
  source.addEventListener("progress", function (e) { showProgress(JSON.parse(e.data)); });
  source.addEventListener("sample", function () { refresh(false); });
  source.addEventListener("status", function (e) {
    var data = JSON.parse(e.data);
    showStatus(data.status);
  });
  source.addEventListener("completed", function () { source.close(); refresh(true); });
  source.onerror = function () { if (!finished) { source.close(); poll(); } };
})();
