// The dashboard's only script: pickers submit on change, and the stock chart is drawn with uPlot.
(function () {
  "use strict";

  document.querySelectorAll("form.picker select").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  var source = document.getElementById("stock-chart-data");
  var target = document.getElementById("stock-chart");
  if (!source || !target || typeof window.uPlot !== "function") { return; }
  var chart = JSON.parse(source.textContent);
  var colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf"];
  var xs = chart.days.map(function (day) { return Date.parse(day + "T23:59:59Z") / 1000; });
  var data = [xs].concat(chart.series.map(function (s) { return s.values; }));
  var series = [{}].concat(chart.series.map(function (s, i) {
    return { label: s.warehouse, stroke: colours[i % colours.length], width: 2 };
  }));
  function size() { return { width: Math.max(280, target.clientWidth), height: 260 }; }
  var options = Object.assign(size(), {
    series: series,
    scales: { x: { time: true } },
    axes: [{}, { label: "available", size: 60 }],
    legend: { live: true },
  });
  var plot = new window.uPlot(options, data, target);
  var pending = null;
  window.addEventListener("resize", function () {
    if (pending) { window.cancelAnimationFrame(pending); }
    pending = window.requestAnimationFrame(function () { plot.setSize(size()); });
  });
})();
