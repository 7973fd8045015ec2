// The sampling page: tube barcode, then people by ID or name/pinyin; every entry carries a nonce, so
// a retry (or a queue synced later through the batch endpoint) is never recorded twice.
(function () {
  "use strict";
  var page = document.getElementById("sample-page");
  if (!page) return;
  var round = page.dataset.round, site = page.dataset.site, lane = page.dataset.lane, home = !!page.dataset.home;
  var device = page.dataset.device, perBag = parseInt(page.dataset.perBag, 10);
  var api = "/api/masstesting/rounds/" + round;
  var csrf = page.querySelector("input[name=csrfmiddlewaretoken]").value;
  var $ = function (id) { return document.getElementById(id); };
  var tube = null, queueKey = "mt-queue-" + round + "-user-" + page.dataset.user;  // per person, as the gates'
  if (localStorage.getItem("mt-queue-" + round) && !localStorage.getItem(queueKey)) {  // queued before that
    localStorage.setItem(queueKey, localStorage.getItem("mt-queue-" + round));
    localStorage.removeItem("mt-queue-" + round);
  }

  function nonce() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
    return Date.now().toString(16) + Math.random().toString(16).slice(2);
  }
  function post(path, body) {
    return fetch(api + path, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf}, body: JSON.stringify(body)})
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (j) {
          // the framework answers these in English: say what to do instead
          if (r.status === 401) j = {message: "登录已过期：请重新登录后再录入（本条未记录）"};
          else if (r.status === 403 && !j.message) j = {message: "没有权限或页面已过期：请刷新页面后重试（本条未记录）"};
          return {status: r.status, body: j};
        });
      });
  }
  function show(kind, html) {
    var box = $("result-box");
    box.hidden = false;
    box.className = "card " + (kind === "ok" ? "ok-box" : kind === "warn" ? "warn-box" : "error-box");
    box.innerHTML = html;
  }
  function esc(s) { return String(s == null ? "" : s).replace(/[&<>"]/g, function (c) { return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]; }); }
  function log(text) {
    var li = document.createElement("li");
    li.textContent = new Date().toTimeString().slice(0, 5) + " " + text;
    $("log").insertBefore(li, $("log").firstChild);
  }
  function renderTube() {
    if (!tube) {
      $("tube-status").textContent = "请先扫描试管条码。";
      $("tube-members").innerHTML = "";
      $("person-box").hidden = true;
      $("close-tube").hidden = true;
      $("tube-input").focus();
      return;
    }
    var closed = tube.status === "closed";
    $("tube-status").innerHTML = "试管 <b id='tube-code'>" + esc(tube.barcode) + "</b> · <b id='tube-count'>" + tube.count + "/" + tube.pool_size +
      "</b>" + (closed ? " · 已封管" : " · 采样中");
    $("tube-members").innerHTML = (tube.members || []).map(function (m) { return "<li>" + esc(m) + "</li>"; }).join("");
    $("person-box").hidden = closed;
    $("close-tube").hidden = closed || tube.count === 0;
    $("close-tube").textContent = "封管（" + tube.count + "/" + tube.pool_size + " 人，未满）";
    if (closed) { tube = null; $("tube-input").value = ""; $("tube-input").focus(); }
    else { $("person-input").focus(); }
  }
  function waiting(delta) { var el = $("bag-waiting"); el.textContent = Math.max(0, parseInt(el.textContent, 10) + delta); }

  $("tube-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var code = $("tube-input").value.trim();
    if (!code) { show("error", "请先扫描或输入试管条码"); $("tube-input").focus(); return; }
    if (tube && tube.status !== "closed" && tube.count > 0 && code.toUpperCase() !== String(tube.barcode).toUpperCase()) {
      // a half-full tube left open is never bagged: close it first, or keep filling it
      if (!confirm("试管 " + tube.barcode + " 已采 " + tube.count + "/" + tube.pool_size + " 人，尚未封管。\n先封管，再开新管 " + code + "？")) {
        $("tube-input").value = ""; $("person-input").focus(); return;
      }
      var old = tube;
      post("/tubes/" + encodeURIComponent(old.barcode) + "/close", {}).then(function (r) {
        if (r.status >= 400) { show("error", esc(r.body.message || r.body.detail || "封管失败")); return; }
        tube = null; waiting(1); log("封管 " + old.barcode + "（" + r.body.count + " 人）");
        $("tube-form").requestSubmit();
      }).catch(function () { show("error", "网络中断：试管 " + esc(old.barcode) + " 未能封管，请联网后重试"); });
      return;
    }
    var size = $("tube-size").value, body = {barcode: code, home: home};
    if (site) body.site_id = parseInt(site, 10);
    if (lane) body.lane_id = parseInt(lane, 10);
    if (size === "household") body.kind = "household"; else body.pool_size = parseInt(size, 10);
    post("/tubes", body).then(function (r) {
      if (r.status >= 400) { show("error", esc(r.body.message || r.body.detail || "开管失败")); $("tube-input").select(); return; }
      tube = r.body;
      show("ok", (r.body.created ? "已开管 " : "继续使用 ") + esc(tube.barcode));
      renderTube();
    }).catch(function () {
      // Offline: the tube opens on this device; its first queued entry tells the server how to open it.
      tube = {barcode: code.toUpperCase(), pool_size: body.kind === "household" ? 20 : (body.pool_size || 10), count: 0,
              members: [], status: "open", offline: true, kind: body.kind || ""};
      show("warn", "网络中断：已在本机开管 " + esc(tube.barcode) + "，录入将暂存，联网后补传");
      renderTube();
    });
  });

  // A yellow or red code seen on someone's phone and refused from a pool stays with that person on
  // this device: tapping them again (into a pooled tube) must not pass them as green.
  var seenColour = {};
  function whoKey(item) { return item.person_id ? "id:" + item.person_id : "doc:" + (item.doc_number || ""); }
  function entry(item, label) {
    if (tube.offline && tube.count === 0) { if (tube.kind) item.kind = tube.kind; else item.pool_size = tube.pool_size; }
    var colour = $("code-colour").value || seenColour[whoKey(item)] || "";
    if (colour) item.code_colour = colour;
    item.nonce = nonce();
    item.tube = tube.barcode;
    item.device_id = device;
    item.device_time = new Date().toISOString();
    send(item, label);
  }
  function send(item, label) {
    $("code-colour").value = "";  // a health code belongs to one person: never carried to the next
    post("/samples", item).then(function (r) {
      if (r.status >= 400) { show("error", esc(r.body.message || r.body.detail || "录入失败")); return; }
      var out = r.body;
      if (!out.ok) {
        if (out.error_code === "alert_single_tube" && item.code_colour) seenColour[whoKey(item)] = item.code_colour;
        show("error", esc(out.error));
        log("✗ " + (label || "") + " " + out.error);
        if (out.error_code === "tube_closed") { tube = null; renderTube(); }
        return;
      }
      tube.count = out.tube_count; tube.pool_size = out.tube_size;
      if (out.created) tube.members = (tube.members || []).concat([out.name]);
      var warn = (out.warnings || []).concat(out.alert ? ["⚠ " + out.alert + "：已单管采样，请立即报告"] : []);
      show(warn.length ? "warn" : "ok", "✓ " + esc(out.name) + " " + esc(out.doc_masked) + " 已采样（" + out.tube_count + "/" + out.tube_size + "）" +
        (warn.length ? "<br>" + warn.map(esc).join("<br>") : "") + (out.tube_closed ? "<br><b>试管已满，已封管：请扫描新试管</b>" : ""));
      log("✓ " + out.name + " → " + out.tube + (out.duplicate ? "（重复采样）" : ""));
      if (out.tube_closed) { tube.status = "closed"; waiting(1); }
      $("person-input").value = ""; $("hits").innerHTML = ""; $("code-colour").value = "";
      renderTube();
    }).catch(function () {
      // Offline: keep the entry (same nonce) and send it later with the batch endpoint.
      var q = JSON.parse(localStorage.getItem(queueKey) || "[]");
      q.push(item);
      localStorage.setItem(queueKey, JSON.stringify(q));
      $("queue-count").textContent = q.length;
      show("warn", "网络中断：已暂存 " + esc(label || "") + "，联网后自动补传");
      tube.count += 1;
      if (tube.count >= tube.pool_size) tube.status = "closed";
      $("person-input").value = ""; renderTube();
    });
  }
  var flushing = false;  // one sync at a time: an 'online' event and the timer must not race
  function flush() {
    var q = JSON.parse(localStorage.getItem(queueKey) || "[]");
    if (flushing || !q.length || !navigator.onLine) return;
    var sent = q.slice(0, 500);
    var body = {samples: sent, home: home};
    if (site) body.site_id = parseInt(site, 10);
    if (lane) body.lane_id = parseInt(lane, 10);
    flushing = true;
    post("/samples/batch", body).then(function (r) {
      flushing = false;
      if (r.status >= 400) return;
      // Drop what was sent from the queue as it is now: entries queued during the sync stay.
      var done = {};
      sent.forEach(function (it) { done[it.nonce] = true; });
      var rest = JSON.parse(localStorage.getItem(queueKey) || "[]").filter(function (it) { return !done[it.nonce]; });
      localStorage.setItem(queueKey, JSON.stringify(rest));
      $("queue-count").textContent = rest.length;
      var bad = r.body.results.filter(function (x) { return !x.ok; });
      log("已补传 " + (r.body.results.length - bad.length) + " 条" + (bad.length ? "，" + bad.length + " 条被拒：" + bad.map(function (x) { return x.error; }).join("；") : ""));
    }).catch(function () { flushing = false; });
  }
  window.addEventListener("online", flush);
  setInterval(flush, 15000);
  $("queue-count").textContent = JSON.parse(localStorage.getItem(queueKey) || "[]").length;

  $("person-form").addEventListener("submit", function (e) {
    e.preventDefault();
    if (!tube) return;
    var v = $("person-input").value.trim().replace(/\s+/g, "");
    if (!v) { show("error", "请扫描身份证，或输入姓名、拼音首字母查找"); return; }
    $("result-box").hidden = true;  // the last person's message is not this search's
    if (/^\d{17}[\dXx]$/.test(v)) { entry({doc_number: v, entered_by: "scan"}, v.slice(0, 3) + "****" + v.slice(-4)); return; }
    fetch(api + "/persons?q=" + encodeURIComponent(v), {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (hits) {
      if (!Array.isArray(hits) || !hits.length) { $("hits").innerHTML = "<p class='muted'>本轮范围内没有找到“" + esc(v) + "”：请核对或扫描身份证</p>"; return; }
      $("hits").innerHTML = hits.map(function (h) {
        return "<button type='button' class='btn secondary hit' data-id='" + h.id + "' data-name='" + esc(h.name) + "'>" + esc(h.name) + " " + esc(h.doc_masked) +
          " <span class='muted'>" + esc(h.village) + " " + esc(h.address) + "</span>" + (h.student ? " <span class='tag grey'>学生</span>" : "") +
          (h.sampled ? " <span class='tag'>本轮已采</span>" : "") + "</button>";
      }).join(" ");
    });
  });
  $("hits").addEventListener("click", function (e) {
    var b = e.target.closest("button.hit");
    if (!b || !tube) return;
    entry({person_id: parseInt(b.dataset.id, 10), entered_by: "search"}, b.dataset.name);
  });
  var hp = $("home-person");
  if (hp) hp.addEventListener("click", function () { if (tube) entry({person_id: parseInt(hp.dataset.person, 10), entered_by: "home"}, hp.textContent); });
  $("close-tube").addEventListener("click", function () {
    if (!tube) return;
    post("/tubes/" + encodeURIComponent(tube.barcode) + "/close", {}).then(function (r) {
      if (r.status >= 400) { show("error", esc(r.body.message || r.body.detail)); return; }
      show("ok", "试管 " + esc(tube.barcode) + " 已封管（" + r.body.count + " 人）");
      tube = r.body; waiting(1); renderTube();
    });
  });
  $("bag-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var code = $("bag-input").value.trim();
    if (!code) { show("error", "请先扫描转运袋条码"); $("bag-input").focus(); return; }
    var body = {code: code};
    if (site) body.site_id = parseInt(site, 10);
    post("/bags", body).then(function (r) {
      if (r.status >= 400) { show("error", esc(r.body.message || r.body.detail)); return; }
      show("ok", "转运袋 " + esc(r.body.code) + " 已装 " + r.body.tubes + " 管，请送检测机构扫码交接");
      waiting(-r.body.tubes); $("bag-input").value = "";
    });
  });
  renderTube();
  page.dataset.ready = "1";  // the handlers are on: a scan now goes through them
})();
