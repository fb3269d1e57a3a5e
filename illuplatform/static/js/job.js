// Live job progress: Server-Sent Events (the session cookie goes along, same origin), or
// polling the job resource when EventSource is missing or fails. When the job ends, the
// result part of the page is fetched again and swapped in.
(function () {
  "use strict";
  var root = document.getElementById("job-live");
  if (!root || root.dataset.final === "true") return;
  var FINAL = ["succeeded", "failed", "cancelled"];
  var POLL_MS = 1000;
  var finished = false;

  function byId(id) { return document.getElementById(id); }

  function showStatus(status) {
    var el = byId("job-status");
    el.textContent = status;
    el.dataset.status = status;
    el.className = "status status-" + status;
  }

  function showProgress(progress) {
    if (!progress || !progress.total) return;
    var percent = Math.round((progress.step / progress.total) * 100);
    byId("job-progress").value = percent;
    byId("job-progress").textContent = percent + " %";
    byId("job-step").textContent = progress.step;
    byId("job-total").textContent = progress.total;
    byId("job-percent").textContent = percent;
  }

  function showQueue(queue) {
    var el = byId("job-queue");
    if (!el) return;
    if (!queue) { el.hidden = true; return; }
    byId("job-queue-position").textContent = queue.position === null ? "—" : queue.position;
    var start = byId("job-queue-start");
    start.setAttribute("datetime", queue.estimated_start);
    start.textContent = new Date(queue.estimated_start).toISOString().substring(11, 19);
    el.hidden = false;
  }

  function showPreview(step, image) {
    var figure = byId("job-preview-figure");
    if (!figure || !image) return;
    byId("job-preview").src = image;
    byId("job-preview-step").textContent = step;
    figure.hidden = false;
  }

  function finish() {
    if (finished) return;
    finished = true;
    root.dataset.final = "true";
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        ["job-state", "job-result"].forEach(function (id) {
          var replacement = fresh.getElementById(id);
          if (replacement) byId(id).replaceWith(replacement);
        });
      });
  }

  function onJob(job) {
    showStatus(job.status);
    showQueue(job.queue);
    if (FINAL.indexOf(job.status) === -1) {
      showProgress(job.progress);
      if (job.progress) showPreview(job.progress.preview_step, job.progress.preview);
    } else {
      // The resource reports no step for a stopped job; the page's own render knows it.
      if (job.status === "succeeded") showProgress(job.progress);
      finish();
    }
  }

  function poll() {
    root.dataset.live = "poll";
    fetch(root.dataset.pollUrl, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (job) {
        onJob(job);
        if (!finished) window.setTimeout(poll, POLL_MS);
      })
      .catch(function () { window.setTimeout(poll, POLL_MS * 3); });
  }

  if (!("EventSource" in window)) { poll(); return; }
  var source = new EventSource(root.dataset.eventsUrl);
  root.dataset.live = "sse";
  source.addEventListener("status", function (event) {
    var status = JSON.parse(event.data).status;
    showStatus(status);
    if (status !== "queued") showQueue(null);
  });
  source.addEventListener("queue", function (event) {
    showQueue(JSON.parse(event.data));
  });
  source.addEventListener("preview", function (event) {
    var preview = JSON.parse(event.data);
    root.dataset.previewEvents = Number(root.dataset.previewEvents || 0) + 1;
    showPreview(preview.step, preview.image);
  });
  source.addEventListener("progress", function (event) {
    root.dataset.progressEvents = Number(root.dataset.progressEvents) + 1;
    showProgress(JSON.parse(event.data));
  });
  source.addEventListener("completed", function (event) {
    source.close();  // the server ends the stream; without this EventSource reconnects
    onJob(JSON.parse(event.data));
  });
  source.onerror = function () {
    if (finished) return;
    source.close();
    poll();
  };
})();
