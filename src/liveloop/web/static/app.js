// Draws every Plotly figure embedded as JSON by liveloop.web.templating.figure (no inline scripts).
// On Chinese pages Plotly uses its zh-CN locale (months, weekdays, dates as 2026-11-11), registered here
// so that no locale file has to be fetched.
(function () {
  var ZH = {
    moduleType: "locale",
    name: "zh-CN",
    dictionary: {"Autoscale": "自动缩放", "Reset axes": "重置坐标轴", "Zoom in": "放大", "Zoom out": "缩小",
                 "Pan": "平移", "Zoom": "缩放", "Download plot as a png": "下载图表为PNG",
                 "Double-click to zoom back out": "双击返回缩小显示"},
    format: {
      days: ["星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六"],
      shortDays: ["周日", "周一", "周二", "周三", "周四", "周五", "周六"],
      months: ["一月", "二月", "三月", "四月", "五月", "六月", "七月", "八月", "九月", "十月", "十一月", "十二月"],
      shortMonths: ["1月", "2月", "3月", "4月", "5月", "6月", "7月", "8月", "9月", "10月", "11月", "12月"],
      date: "%Y-%m-%d",
      year: "%Y年",
      month: "%Y年%-m月",
      dayMonth: "%-m月%-d日",
      dayMonthYear: "%Y年%-m月%-d日"
    }
  };
  var registered = false;

  // The Plotly config of every chart: the page's language decides the locale.
  window.liveloopPlotConfig = function () {
    var config = {displaylogo: false, responsive: true};
    if ((document.documentElement.lang || "").toLowerCase().indexOf("zh") === 0 && typeof Plotly !== "undefined") {
      if (!registered) { Plotly.register(ZH); registered = true; }
      config.locale = "zh-CN";
    }
    return config;
  };

  function draw() {
    document.querySelectorAll("[data-figure]").forEach(function (el) {
      var data = document.getElementById(el.getAttribute("data-figure"));
      if (!data || typeof Plotly === "undefined") { return; }
      var fig = JSON.parse(data.textContent);
      Plotly.newPlot(el, fig.data, fig.layout, window.liveloopPlotConfig());
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
