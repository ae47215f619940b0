/* Live timers of the emergency panel between server renders: every element with data-since shows
   the time since then (server clock, from .emergency-clock-ref's data-now), and past data-limit it
   is flagged (a stuck unit, a call with no update). Only the text node's value and classes are
   touched, never the element tree, so React's next render applies cleanly. Nothing on other pages. */
(function () {
  var offset = 0, seenNow = null;
  function clock(s) {
    s = Math.max(0, Math.floor(s));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    var mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(sec).padStart(2, "0");
  }
  function tick() {
    var page = document.querySelector(".emergency-page");
    if (!page) { return; }
    var ref = page.querySelector(".emergency-clock-ref");
    if (ref && ref.dataset.now !== seenNow) {
      seenNow = ref.dataset.now;
      offset = parseFloat(seenNow) - Date.now() / 1000;
    }
    var now = Date.now() / 1000 + offset;
    page.querySelectorAll("[data-since]").forEach(function (el) {
      var text = el.firstChild;
      if (!text || text.nodeType !== 3) { return; }  // already a flag element: the server decided
      var elapsed = now - parseFloat(el.dataset.since);
      var limit = el.dataset.limit ? parseFloat(el.dataset.limit) : NaN;
      var stuck = !isNaN(limit) && elapsed > limit;
      var value = stuck && el.dataset.stuck ? el.dataset.stuck
        : (stuck && el.dataset.prefix ? el.dataset.prefix : "") + clock(elapsed);
      if (text.nodeValue !== value) { text.nodeValue = value; }
      if (stuck) {
        el.classList.add("timer-stuck");
        var holder = el.closest(".unit-tile") || el.closest("tr");
        if (holder) { holder.classList.add(holder.tagName === "TR" ? "row-stuck" : "unit-stuck"); }
      }
    });
  }
  setInterval(tick, 1000);
})();
