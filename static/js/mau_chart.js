// Draws the "MAU information" line chart from the JSON the page embeds; the table stays as the fallback.
(function () {
  "use strict";
  function draw() {
    var data = document.getElementById("mau-history");
    var box = document.querySelector("[data-mau-chart]");
    if (!data || !box || typeof window.Chart === "undefined") return;
    var history = JSON.parse(data.textContent);
    var gettext = window.gettext || function (text) { return text; };  // the page's language (/jsi18n/)
    var palette = ["#1f6feb", "#d9480f", "#2b8a3e", "#9c36b5", "#e67700", "#0b7285", "#c2255c", "#5c940d"];
    var datasets = [{ label: gettext("All RPs"), data: history.total, borderColor: "#212529", borderWidth: 3, tension: 0.2 }];
    Object.keys(history.by_rp).forEach(function (rp, i) {
      datasets.push({ label: rp, data: history.by_rp[rp], borderColor: palette[i % palette.length], tension: 0.2 });
    });
    box.hidden = false;
    var table = document.querySelector("[data-mau-table]");
    if (table) table.open = false;
    new window.Chart(document.getElementById("mau-chart-canvas"), {
      type: "line",
      data: { labels: history.labels, datasets: datasets },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        scales: { y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: "MAU" } } },
        plugins: { legend: { position: "bottom" } }
      }
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();

// Changing the period reloads the panel (no inline handler: the Content-Security-Policy forbids them).
(function () {
  const select = document.getElementById("mau-months");
  if (select) { select.addEventListener("change", function () { select.form.submit(); }); }
})();
