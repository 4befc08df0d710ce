// Keeps every [data-mau-live] element on the page up to date with this month's MAU (polls every 15 s).
(function () {
  "use strict";
  var script = document.currentScript;
  var url = script && script.getAttribute("data-url");
  var every = parseInt((script && script.getAttribute("data-interval-ms")) || "15000", 10);
  if (!url) return;
  var lang = document.documentElement.lang || undefined;  // figures and times as the page's language writes them
  var format = new Intl.NumberFormat(lang);
  var gettext = window.gettext || function (text) { return text; };
  var interpolate = window.interpolate || function (text, args) { return text.replace("%s", args[0]); };
  function refresh() {
    if (document.hidden) return;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body || typeof body.mau !== "number") return;
        document.querySelectorAll("[data-mau-live]").forEach(function (el) {
          el.textContent = format.format(body.mau);
          el.setAttribute("title", interpolate(gettext("Updated %s"), [new Date().toLocaleTimeString(lang)]));
        });
      })
      .catch(function () { /* keep the last figure; try again next time */ });
  }
  refresh();
  setInterval(refresh, every);
  document.addEventListener("visibilitychange", refresh);
})();
