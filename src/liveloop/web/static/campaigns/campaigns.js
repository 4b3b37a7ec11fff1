// The campaign builder's live audience preview: asks /campaigns/audience-preview (a page endpoint that
// answers JSON in the page's language, a refused definition included) as the form changes.
(function () {
  "use strict";
  var form = document.getElementById("campaign-form");
  var panel = document.getElementById("audience-preview");
  if (!form || !panel) { return; }
  var statusEl = document.getElementById("preview-status");
  var errorEl = document.getElementById("preview-error");
  var bodyEl = document.getElementById("preview-body");
  var FIELDS = ["audience_id", "rule", "segment", "lifecycle", "tags"];
  var seq = 0;
  var timer = null;

  function value(name) {
    var el = form.elements.namedItem(name);
    return el && typeof el.value === "string" ? el.value.trim() : "";
  }

  function firstChannel() {
    var boxes = form.querySelectorAll("input[name=channels]:checked");
    return boxes.length ? boxes[0].value : "";
  }

  function rows(id, items, cells) {
    var tbody = document.querySelector("#" + id + " tbody");
    tbody.replaceChildren();
    items.forEach(function (item) {
      var tr = document.createElement("tr");
      cells(item).forEach(function (cell) {
        var td = document.createElement("td");
        if (cell.num) { td.className = "num"; }
        if (cell.data) { td.setAttribute("data-user-content", ""); }
        if (cell.node) { td.appendChild(cell.node); } else { td.textContent = cell.text; }
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    });
  }

  function userLink(id) {
    var a = document.createElement("a");
    a.href = "/users?user_id=" + encodeURIComponent(id);
    a.textContent = id;
    return a;
  }

  function clearMarks() {
    form.querySelectorAll(".invalid").forEach(function (el) { el.classList.remove("invalid"); });
  }

  function show(data) {
    clearMarks();
    if (!data.ok) {
      bodyEl.hidden = true;
      errorEl.hidden = false;
      errorEl.replaceChildren();
      errorEl.setAttribute("data-field", data.field || "");
      errorEl.appendChild(document.createTextNode(data.message + " "));
      var detail = document.createElement("span");
      detail.className = "detail";
      detail.setAttribute("data-user-content", "");
      detail.textContent = data.detail || "";
      errorEl.appendChild(detail);
      var field = form.elements.namedItem(data.field);
      if (field && field.classList) { field.classList.add("invalid"); }
      return;
    }
    errorEl.hidden = true;
    bodyEl.hidden = false;
    document.getElementById("preview-size").textContent = data.size_text;
    document.getElementById("preview-size").setAttribute("data-size", String(data.size));
    var zh = (document.documentElement.lang || "").indexOf("zh") === 0;
    document.getElementById("preview-channel").textContent = data.channel ? (zh ? "（" + data.channel + "）" : "(" + data.channel + ")") : "";
    document.getElementById("preview-reachable").textContent = data.reachable_text || "—";
    rows("preview-segments", data.by_segment, function (s) {
      return [{text: s.name, data: true}, {text: s.users, num: true}];
    });
    rows("preview-stages", data.by_lifecycle, function (s) {
      return [{text: s.name}, {text: s.users, num: true}];
    });
    rows("preview-sample", data.sample, function (u) {
      return [{node: userLink(u.user_id)}, {text: u.lifecycle}, {text: u.value_tier}, {text: u.spend, num: true}];
    });
  }

  function preview() {
    var params = new URLSearchParams();
    var defined = false;
    FIELDS.forEach(function (name) {
      var v = value(name);
      if (v) { params.set(name, v); defined = true; }
    });
    if (!defined) { return; }
    var channel = firstChannel();
    if (channel) { params.set("channel", channel); }
    var mine = ++seq;
    statusEl.textContent = panel.getAttribute("data-loading") || "…";
    fetch("/campaigns/audience-preview?" + params.toString(), {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (resp) { return resp.json(); })
      .then(function (data) {
        if (mine !== seq) { return; }
        statusEl.textContent = panel.getAttribute("data-ready") || "";
        show(data);
      })
      .catch(function () {
        if (mine !== seq) { return; }
        statusEl.textContent = panel.getAttribute("data-failed") || "";
      });
  }

  function later() {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(preview, 400);
  }

  form.addEventListener("input", function (ev) {
    if (ev.target && (FIELDS.indexOf(ev.target.name) >= 0 || ev.target.name === "channels")) { later(); }
  });
  form.addEventListener("change", function (ev) {
    if (ev.target && (FIELDS.indexOf(ev.target.name) >= 0 || ev.target.name === "channels")) { later(); }
  });
  document.getElementById("preview-button").addEventListener("click", preview);
  preview();  // a form shown again (after an error) previews what it holds
})();
