// Live Monitor: keeps a WebSocket to /v1/live/{session}/stream and redraws on every snapshot.
(function () {
  "use strict";
  var statusEl = document.getElementById("live-status");
  if (!statusEl) { return; }
  var session = statusEl.getAttribute("data-session");
  if (!session) { return; }
  var L = {};  // the page's words (messages and slugs), from data-labels
  try { L = JSON.parse(statusEl.getAttribute("data-labels") || "{}"); } catch (e) { L = {}; }
  function word(slug) { return L[slug] || slug; }
  var drawn = false;
  var reloading = false;
  var updates = 0;

  function text(el, value) { if (el) { el.textContent = value; } }

  function list(id, items, render) {
    var el = document.getElementById(id);
    if (!el) { return; }
    el.replaceChildren();
    if (!items.length) {
      var li = document.createElement("li");
      li.className = "empty";
      li.textContent = "—";
      el.appendChild(li);
      return;
    }
    items.forEach(function (item) {
      var li = document.createElement("li");
      li.textContent = render(item);
      li.setAttribute("data-user-content", "");  // names and comment texts from the data
      if (item.severity) { li.className = "sev-" + item.severity; }
      el.appendChild(li);
    });
  }

  // Trace names in the page's language, from the chart's data-names (set by the template).
  function names(id) {
    var el = document.getElementById(id);
    try { return JSON.parse(el.getAttribute("data-names") || "{}"); } catch (e) { return {}; }
  }

  function charts(s) {
    if (typeof Plotly === "undefined") { return; }
    var sn = names("chart-sentiment"), hn = names("chart-heat");
    var line = s.sentiment_line || [];
    var xs = line.map(function (p) { return new Date(p.ts * 1000).toISOString(); });
    var sentiment = [{x: xs, y: line.map(function (p) { return p.index; }), mode: "lines", name: sn.sentiment || "sentiment",
                      line: {color: "#e4393c"}}];
    var heat = s.product_heat || [];
    var bars = [
      {x: heat.map(function (h) { return h.name; }), y: heat.map(function (h) { return h.mentions; }), type: "bar", name: hn.mentions || "mentions"},
      {x: heat.map(function (h) { return h.name; }), y: heat.map(function (h) { return h.clicks; }), type: "bar", name: hn.clicks || "clicks"},
      {x: heat.map(function (h) { return h.name; }), y: heat.map(function (h) { return h.purchases; }), type: "bar", name: hn.purchases || "purchases"}
    ];
    var layout = {height: 300, margin: {l: 40, r: 10, t: 10, b: 40}};
    var config = window.liveloopPlotConfig ? window.liveloopPlotConfig() : {displaylogo: false, responsive: true};
    if (!drawn) {
      Plotly.newPlot("chart-sentiment", sentiment, Object.assign({yaxis: {range: [-100, 100]}}, layout), config);
      Plotly.newPlot("chart-heat", bars, Object.assign({barmode: "group"}, layout), config);
      drawn = true;
    } else {
      Plotly.react("chart-sentiment", sentiment, Object.assign({yaxis: {range: [-100, 100]}}, layout), config);
      Plotly.react("chart-heat", bars, Object.assign({barmode: "group"}, layout), config);
    }
  }

  function update(s) {
    updates += 1;
    var w1 = s.windows["1min"], w5 = s.windows["5min"];
    text(document.getElementById("kpi-viewers"), String(s.viewers));
    text(document.getElementById("kpi-cpm"), String(w1.comments_per_min));
    text(document.getElementById("kpi-sentiment"), String(w1.sentiment_index));
    text(document.getElementById("kpi-gifts"), "¥" + w5.gift_value.toFixed(2));
    var names = {};
    (s.product_heat || []).forEach(function (h) { names[h.product_id] = h.name; });
    list("live-alerts", s.advisor.alerts, function (a) {  // the alert's kind in the page's language
      if (a.kind === "low_stock" || a.kind === "sold_out") {
        var left = (s.stock_left || {})[a.subject];
        return word(a.kind) + ": " + (names[a.subject] || a.subject) + (typeof left === "number" ? " · " + left : "");
      }
      return word(a.kind) + (a.kind === "unanswered_question" ? ": " + a.subject : "");
    });
    list("live-advice", s.advisor.next_products, function (p) { return p.name + " (" + p.score + "): " + p.reason; });
    list("live-points", s.advisor.talking_points, function (p) {
      return p.point + (p.reason ? " — " + p.reason : "");
    });
    list("live-questions", s.questions, function (q) {
      var a = q.answer || {};
      return "×" + q.askers + " " + q.text + (a.status === "answered" ? " → " + a.answer : " " + word(a.status || "pending"));
    });
    list("live-comments", (s.recent_comments || []).slice().reverse(), function (c) {
      return "[" + word(c.sentiment) + "/" + word(c.intent) + "] " + c.text;
    });
    charts(s);
    statusEl.setAttribute("data-updates", String(updates));
    statusEl.setAttribute("data-processed", String(s.processed));
  }

  function connect() {
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(proto + location.host + "/v1/live/" + encodeURIComponent(session) + "/stream");
    ws.onopen = function () { text(statusEl, word("connected")); };
    ws.onmessage = function (msg) {
      var data = JSON.parse(msg.data);
      if (data.type === "state") {
        update(data);
        var model = data.model || {};
        text(statusEl, model.state === "training"
          ? word("training") + " (" + (model.stage || "") + ") · " + data.queued + " " + word("queued")
          : word("live") + " · v" + data.version);
        statusEl.setAttribute("data-model", model.state || "");
        if (data.ended && !reloading) {  // the session ended: show its review, read from the warehouse
          reloading = true;
          setTimeout(function () { location.reload(); }, 1500);
        }
      }
      else if (data.type === "waiting") { text(statusEl, word("waiting")); }
    };
    ws.onclose = function () { text(statusEl, word("reconnecting")); setTimeout(connect, 2000); };
  }
  connect();
})();
