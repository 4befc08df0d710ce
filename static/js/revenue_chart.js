// Draws the revenue dashboard's charts (MRR line, movement bars) from the JSON the page embeds; the tables below
// carry the same figures.
(function () {
  "use strict";
  function draw() {
    var data = document.getElementById("revenue-data");
    if (!data || typeof window.Chart === "undefined") return;
    var chart = JSON.parse(data.textContent);
    var gettext = window.gettext || function (text) { return text; };  // the page's language (/jsi18n/)
    var pgettext = window.pgettext || function (context, text) { return text; };
    var interpolate = window.interpolate || function (text, args) { return text.replace("%s", args[0]); };
    Object.keys(chart.currencies).forEach(function (currency) {
      var box = document.querySelector('[data-revenue-chart="' + currency + '"]');
      if (!box) return;
      var c = chart.currencies[currency];
      var scale = Math.pow(10, c.exponent);
      var major = function (values) { return values.map(function (v) { return v / scale; }); };
      box.hidden = false;
      new window.Chart(document.getElementById("revenue-chart-" + currency), {
        data: {
          labels: chart.labels,
          datasets: [
            { type: "line", label: "MRR", data: major(c.mrr), borderColor: "#212529", borderWidth: 3, tension: 0.2 },
            { type: "bar", label: pgettext("MRR movement", "New"), data: major(c["new"]), backgroundColor: "#2b8a3e", stack: "m" },
            { type: "bar", label: gettext("Expansion"), data: major(c.expansion), backgroundColor: "#1f6feb", stack: "m" },
            { type: "bar", label: gettext("Contraction"), data: major(c.contraction), backgroundColor: "#e67700", stack: "m" },
            { type: "bar", label: gettext("Churned"), data: major(c.churned), backgroundColor: "#c92a2a", stack: "m" }
          ]
        },
        options: {
          responsive: true, maintainAspectRatio: false, animation: false,
          scales: { y: { title: { display: true, text: currency } } },
          plugins: { legend: { position: "bottom" }, title: { display: true, text: interpolate(gettext("MRR (%s)"), [currency]) } }
        }
      });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();
