// Draws every Plotly figure embedded as JSON by liveloop.web.templating.figure (no inline scripts).
(function () {
  function draw() {
    document.querySelectorAll("[data-figure]").forEach(function (el) {
      var data = document.getElementById(el.getAttribute("data-figure"));
      if (!data || typeof Plotly === "undefined") { return; }
      var fig = JSON.parse(data.textContent);
      Plotly.newPlot(el, fig.data, fig.layout, {displaylogo: false, responsive: true});
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
