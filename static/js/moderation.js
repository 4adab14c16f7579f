// The moderation queue and item pages, live: rows arrive, move and leave as moderators work.
(function () {
  "use strict";

  function matches(queue, data) {
    var want = queue.dataset;
    if (want.state === "open" && data.state !== "open") return false;
    if (want.state === "resolved" && data.state !== "resolved") return false;
    if (want.reason && want.reason !== data.reason) return false;
    if (want.agent && String(data.agent) !== want.agent) return false;
    if (want.source && want.source !== data.source) return false;
    if (want.user && want.user !== data.user) return false;
    return true;
  }

  function place(rows, row, score) {
    // Highest score first; among equals the older item (already on the page) stays ahead.
    var children = rows.querySelectorAll("tr[data-score]");
    for (var i = 0; i < children.length; i++) {
      if (Number(children[i].dataset.score) < score) { rows.insertBefore(row, children[i]); return; }
    }
    rows.appendChild(row);
  }

  function onItem(data) {
    var count = document.getElementById("queue-open-count");
    if (count) { count.textContent = data.open_count; count.setAttribute("aria-label", data.open_count + " open"); }
    var queue = document.getElementById("queue");
    if (queue) {
      var rows = document.getElementById("queue-rows");
      var existing = document.getElementById("item-" + data.id);
      if (existing) existing.remove();
      if (matches(queue, data)) {
        var holder = document.createElement("tbody");
        holder.innerHTML = data.html.trim();
        var row = holder.firstElementChild;
        row.classList.add("row-new");
        if (queue.dataset.state === "open") place(rows, row, data.score); else rows.insertBefore(row, rows.firstChild);
        if (window.htmx) htmx.process(row);
      }
      var empty = rows.children.length === 0;
      document.getElementById("queue-empty").hidden = !empty;
      document.getElementById("queue-table").hidden = empty;
    }
    var page = document.getElementById("item-page");
    if (page && String(data.id) === page.dataset.itemId && page.dataset.state === "open" && data.state !== "open") {
      var note = document.getElementById("item-decided-elsewhere");
      if (note && !page.dataset.deciding) note.hidden = false;
    }
  }

  document.addEventListener("submit", function (event) {
    if (event.target.classList && event.target.classList.contains("decision-form")) {
      var page = document.getElementById("item-page");
      if (page) page.dataset.deciding = "1";
    }
  });

  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    var text = event.detail.message;
    if (typeof text !== "string" || text.charAt(0) !== "{") return;
    var data;
    try { data = JSON.parse(text); } catch (e) { return; }
    if (data.type !== "moderation:item") return;
    event.preventDefault();
    onItem(data);
  });
})();
