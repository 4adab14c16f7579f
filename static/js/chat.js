// The chat page: Enter to send, live replies over the page's websocket, resync after a
// reconnect, copy buttons and local times. JSON messages from the socket are handled here;
// htmx handles the forms. No inline scripts (CSP).
(function () {
  "use strict";

  var main = null;
  var socket = null;
  var resyncTimer = null;

  function messagesBox() { return document.getElementById("messages"); }

  // Where a resync starts: after the last message the page shows in its final state. A reply
  // still "streaming" here may have finished or failed while the socket was away (on another
  // server process, say), so it is fetched again with everything after it; messages already on
  // the page are replaced, never added twice.
  function resyncPoint() {
    var top = 0, open = null;
    document.querySelectorAll("#messages [data-message-id]").forEach(function (el) {
      var id = parseInt(el.dataset.messageId, 10) || 0;
      if (id > top) top = id;
      if (el.dataset.status === "streaming" && (open === null || id < open)) open = id;
    });
    return open !== null ? open - 1 : top;
  }

  function nearBottom() {
    var box = messagesBox();
    return !box || box.scrollHeight - box.scrollTop - box.clientHeight < 120;
  }

  function scrollDown(force) {
    var box = messagesBox();
    if (box && (force || nearBottom())) box.scrollTop = box.scrollHeight;
  }

  function localTimes(root) {
    (root || document).querySelectorAll("time[data-local]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (!isNaN(when)) {
        el.textContent = when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
        el.title = when.toLocaleString();
      }
    });
  }

  function requestResync() {
    main = main || document.getElementById("chat-main");
    if (!socket || !main) return;
    socket.send(JSON.stringify({ type: "resync", channel: main.dataset.channel, after: resyncPoint() }));
  }

  function scheduleResync() {
    if (resyncTimer) return;
    resyncTimer = setTimeout(function () { resyncTimer = null; requestResync(); }, 800);
  }

  function applyDelta(data) {
    var body = document.querySelector("#message-" + data.message_id + " .stream-text");
    if (!body) { scheduleResync(); return; }
    var have = parseInt(body.dataset.length || "0", 10);
    var end = data.offset + data.text.length;
    if (data.offset > have) { scheduleResync(); return; }   // a gap: fetch from the database
    if (end <= have) return;                                 // already shown
    var stick = nearBottom();
    body.appendChild(document.createTextNode(data.text.slice(have - data.offset)));
    body.dataset.length = String(end);
    if (stick) scrollDown(true);
  }

  function applyMessage(data) {
    var box = messagesBox();
    if (!box) return;
    var existing = document.getElementById("message-" + data.id);
    if (existing && data.status === "streaming") {
      var shown = existing.querySelector(".stream-text");
      // The client may be ahead of the last save: keep what it has.
      if (shown && parseInt(shown.dataset.length || "0", 10) > data.length) return;
    }
    var holder = document.createElement("div");
    holder.innerHTML = data.html;
    var fresh = holder.firstElementChild;
    if (!fresh) return;
    var stick = nearBottom();
    var empty = document.getElementById("chat-empty");
    if (empty) empty.remove();
    if (existing) existing.replaceWith(fresh); else box.appendChild(fresh);
    htmx.process(fresh);
    localTimes(fresh);
    if (stick) scrollDown(true);
  }

  document.addEventListener("htmx:wsOpen", function (event) {
    socket = event.detail.socketWrapper;
    requestResync();
  });

  // Live updates are back after an outage of the server's event service: what was published
  // meanwhile is gone, so fetch it from the database.
  document.addEventListener("sanctum:live", function (event) {
    if (event.detail && event.detail.status === "ok") requestResync();
  });

  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    var text = event.detail.message;
    if (typeof text !== "string" || text.charAt(0) !== "{") return;  // HTML: htmx swaps it
    event.preventDefault();
    var data;
    try { data = JSON.parse(text); } catch (e) { return; }
    if (data.type === "delta") applyDelta(data);
    else if (data.type === "message") applyMessage(data);
  });

  // Enter sends, Shift+Enter makes a new line.
  document.addEventListener("keydown", function (event) {
    var field = event.target;
    if (field.id !== "composer-body" || event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    event.preventDefault();
    if (field.value.trim()) field.form.requestSubmit();
  });

  // The sender's own POST answer and the websocket race: the reply may already have streamed
  // in (or finished) before the answer lands. Messages already on the page are left as they are.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "messages" || typeof event.detail.serverResponse !== "string") return;
    var holder = document.createElement("template");
    holder.innerHTML = event.detail.serverResponse;
    var dropped = false;
    holder.content.querySelectorAll("article[data-message-id]").forEach(function (article) {
      if (document.getElementById(article.id)) { article.remove(); dropped = true; }
    });
    if (dropped) event.detail.serverResponse = holder.innerHTML;
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "messages") {
      var empty = document.getElementById("chat-empty");
      if (empty) empty.remove();
      localTimes(event.detail.target);
      scrollDown(true);
      var field = document.getElementById("composer-body");
      if (field) field.focus();
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.dataset.copy);
    if (!source || !navigator.clipboard) return;
    navigator.clipboard.writeText(source.innerText).then(function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    });
  });

  document.addEventListener("DOMContentLoaded", function () {
    main = document.getElementById("chat-main");
    localTimes(document);
    scrollDown(true);
  });
})();
