// The book storyboard: drag a page onto another to reorder (posted to the reorder API with
// the session's CSRF token), and live progress: each `page` event of the book's stream
// fetches the page again and swaps the storyboard in; `completed` ends the stream.
(function () {
  "use strict";
  var root = document.getElementById("book-live");
  if (!root) { return; }

  function csrfToken() {
    var match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    if (match) { return decodeURIComponent(match[1]); }
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function refresh() {
    return fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("book-live");
        if (fresh) { root.innerHTML = fresh.innerHTML; root.dataset.status = fresh.dataset.status; }
        bindDrag();
      });
  }

  var dragged = null;
  function bindDrag() {
    var board = document.getElementById("storyboard");
    if (!board) { return; }
    board.querySelectorAll("li[data-page]").forEach(function (item) {
      item.addEventListener("dragstart", function (event) {
        dragged = item;
        event.dataTransfer.effectAllowed = "move";
        event.dataTransfer.setData("text/plain", item.dataset.page);
      });
      item.addEventListener("dragover", function (event) { event.preventDefault(); });
      item.addEventListener("drop", function (event) {
        event.preventDefault();
        if (!dragged || dragged === item) { return; }
        var items = Array.prototype.slice.call(board.children);
        var before = items.indexOf(dragged) > items.indexOf(item);
        board.insertBefore(dragged, before ? item : item.nextSibling);
        var order = Array.prototype.map.call(board.querySelectorAll("li[data-page]"),
          function (li) { return li.dataset.page; });
        fetch(root.dataset.reorderUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
          body: JSON.stringify({ order: order })
        }).then(refresh);
      });
    });
  }
  bindDrag();

  if (root.dataset.status !== "generating" || !window.EventSource) { return; }
  var source = new EventSource(root.dataset.eventsUrl);
  source.addEventListener("page", refresh);
  source.addEventListener("completed", function () { source.close(); refresh(); });
  source.onerror = function () { source.close(); };
})();
