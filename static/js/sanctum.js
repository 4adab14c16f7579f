// Sanctum's small amount of behaviour that htmx does not cover. No inline scripts: CSP.
(function () {
  "use strict";

  function currentTheme() {
    var explicit = document.documentElement.dataset.theme;
    if (explicit) return explicit;
    return window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  function setupThemeToggle() {
    var button = document.getElementById("theme-toggle");
    if (!button) return;
    function label() {
      var next = currentTheme() === "dark" ? "light" : "dark";
      button.setAttribute("aria-label", "Switch to " + next + " theme");
      button.title = "Switch to " + next + " theme";
    }
    button.addEventListener("click", function () {
      var next = currentTheme() === "dark" ? "light" : "dark";
      document.documentElement.dataset.theme = next;
      try { localStorage.setItem("sanctum-theme", next); } catch (e) { /* not saved, still applied */ }
      label();
    });
    label();
  }

  // Show an error fragment (our error partial) in the flash region when htmx does not swap it.
  function showError(html) {
    var region = document.getElementById("flashes");
    if (!region) return;
    var item = document.createElement("div");
    item.className = "flash flash-error";
    var parsed = new DOMParser().parseFromString(html || "", "text/html");
    var title = parsed.querySelector("h1");
    item.textContent = title ? title.textContent : "The request failed. Please try again.";
    region.replaceChildren(item);
  }

  document.addEventListener("htmx:responseError", function (event) {
    showError(event.detail.xhr && event.detail.xhr.responseText);
  });
  document.addEventListener("htmx:sendError", function () {
    showError("<h1>Sanctum could not be reached. Check your connection and try again.</h1>");
  });

  // Live connection state: "offline" while the websocket is down, "degraded" while the server
  // says its event service (Redis) is lost, hidden when both are fine again.
  var OFFLINE_TEXT = "Live updates are unavailable right now; pages still work. Reconnecting…";
  function liveBanner(state, text) {
    var banner = document.getElementById("live-status");
    if (!banner) return;
    banner.dataset.state = state;
    banner.hidden = state === "ok";
    var label = banner.querySelector("[data-live-text]");
    if (label && state !== "ok") label.textContent = text || OFFLINE_TEXT;
  }
  document.addEventListener("htmx:wsOpen", function () { liveBanner("ok"); });
  document.addEventListener("htmx:wsClose", function () { liveBanner("offline"); });
  document.addEventListener("htmx:wsError", function () { liveBanner("offline"); });
  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    var text = event.detail.message;
    if (typeof text !== "string" || text.charAt(0) !== "{") return;
    var data;
    try { data = JSON.parse(text); } catch (e) { return; }
    if (data.type === "hello" && data.live) {
      liveBanner(data.live === "degraded" ? "degraded" : "ok", data.live === "degraded" ?
        "Live updates are degraded (" + (data.reason || "event service unavailable") + "); pages still work." : "");
    } else if (data.type === "live") {
      liveBanner(data.status === "degraded" ? "degraded" : "ok", data.message);
      document.dispatchEvent(new CustomEvent("sanctum:live", { detail: data }));
    } else {
      return;
    }
    event.preventDefault();  // state messages are not HTML for htmx to swap
  });

  // Drawers (the audit event drawer): filled by htmx, emptied by their close button or Escape.
  function closeDrawers() {
    document.querySelectorAll(".drawer").forEach(function (drawer) { drawer.replaceChildren(); });
  }
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-drawer-close]")) closeDrawers();
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") closeDrawers();
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var focus = event.detail.target && event.detail.target.querySelector("[data-drawer-focus]");
    if (focus) focus.focus();
  });

  document.addEventListener("DOMContentLoaded", setupThemeToggle);
})();

// "Select all" checkboxes: <input type="checkbox" data-select-all="name"> toggles every
// checkbox called `name` in the same form (bulk actions on tables).
document.addEventListener("change", function (event) {
  var box = event.target;
  if (!box.matches || !box.matches("input[data-select-all]")) return;
  var form = box.form || box.closest("form");
  if (!form) return;
  form.querySelectorAll('input[type="checkbox"][name="' + box.dataset.selectAll + '"]').forEach(function (other) {
    other.checked = box.checked;
  });
});
