// Keeps every [data-mau-live] element on the page up to date with this month's MAU (polls every 15 s).
(function () {
  "use strict";
  var script = document.currentScript;
  var url = script && script.getAttribute("data-url");
  var every = parseInt((script && script.getAttribute("data-interval-ms")) || "15000", 10);
  if (!url) return;
  var format = new Intl.NumberFormat();
  function refresh() {
    if (document.hidden) return;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body || typeof body.mau !== "number") return;
        document.querySelectorAll("[data-mau-live]").forEach(function (el) {
          el.textContent = format.format(body.mau);
          el.setAttribute("title", "Updated " + new Date().toLocaleTimeString());
        });
      })
      .catch(function () { /* keep the last figure; try again next time */ });
  }
  refresh();
  setInterval(refresh, every);
  document.addEventListener("visibilitychange", refresh);
})();
