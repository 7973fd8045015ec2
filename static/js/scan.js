// The gate's scan page. Judges on the device (the cached editions' gate rules and the pass key),
// shows the verdict at once, and sends the scan; when the network is down the scan waits in a
// queue on the device and is synced later, exactly once (each scan carries its own nonce).
(function () {
  "use strict";
  var app = document.getElementById("scan-app");
  if (!app) return;
  var gateId = app.dataset.gate;
  var BOOT_KEY = "lianfang-gate-" + gateId + "-boot";
  // One queue per gate and person: on a shared gate phone, scans queued by one person are synced
  // under their own login, never under the next person's (base.html warns before logging out).
  var QUEUE_KEY = "lianfang-gate-" + gateId + "-user-" + app.dataset.user + "-queue";
  var LEGACY_KEY = "lianfang-gate-" + gateId + "-queue";  // before queues were per person
  if (localStorage.getItem(LEGACY_KEY) && !localStorage.getItem(QUEUE_KEY)) {
    localStorage.setItem(QUEUE_KEY, localStorage.getItem(LEGACY_KEY));
    localStorage.removeItem(LEGACY_KEY);
  }
  var boot = null;
  var lastScanId = null;
  var S = window.LianfangScreening;

  function $(sel) { return app.querySelector(sel); }
  function csrf() { var m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/); return m ? decodeURIComponent(m[1]) : ""; }
  function queue() { try { return JSON.parse(localStorage.getItem(QUEUE_KEY) || "[]"); } catch (e) { return []; } }
  function saveQueue(q) { localStorage.setItem(QUEUE_KEY, JSON.stringify(q)); $("#queue-count").textContent = String(q.length); }
  function uuid() { return (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2)); }
  function post(url, body) {
    return fetch(url, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf()}, body: JSON.stringify(body)});
  }
  function setNet() { $("#net-status").textContent = navigator.onLine ? "在线" : "离线（扫描会先存在本机）"; }

  function loadBoot() {
    try { boot = JSON.parse(localStorage.getItem(BOOT_KEY) || "null"); } catch (e) { boot = null; }
    showRules();
    return fetch(app.dataset.bootstrap, {credentials: "same-origin"}).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (data) {
      boot = data; localStorage.setItem(BOOT_KEY, JSON.stringify(data)); showRules();
    }).catch(function () { /* offline: keep the cached copy */ });
  }

  function editionOn(day) {
    if (!boot) return null;
    var found = null;
    boot.editions.forEach(function (e) { if (e.effective_from <= day) found = e; });
    return found;
  }
  function localDay(d) {
    var z = new Date(d.getTime() - d.getTimezoneOffset() * 60000);
    return z.toISOString().slice(0, 10);
  }
  function showRules() {
    var e = editionOn(localDay(new Date()));
    $("#rules-name").textContent = e ? e.name : (boot ? "无生效规则" : "未缓存");
  }
  function riskLevel(place, day) {
    var order = {high: 3, medium: 2, low: 1}, best = null;
    (boot ? boot.risk_areas : []).forEach(function (a) {
      if (a.from <= day && (!a.to || a.to >= day) && (place.indexOf(a.place) >= 0 || a.place.indexOf(place) >= 0)) {
        if (!best || order[a.level] > order[best]) best = a.level;
      }
    });
    return best;
  }

  function formData() {
    var f = $("#scan-form"), subject = f.subject.value, data = {subject: subject};
    if (subject === "pass") { data.token = f.token.value.trim(); return data; }
    if (subject === "vehicle") {
      data.plate = f.plate.value; data.vehicle_type = f.vehicle_type.value; data.passengers = f.passengers.value;
    } else { data.id_number = f.id_number.value.trim(); data.name = f.name.value.trim(); }
    if (f.temperature.value !== "") data.temperature = f.temperature.value;
    data.code_colour = f.code_colour.value;
    data.itinerary_star = f.itinerary_star.checked;
    if (f.origin_place.value.trim()) data.origins = [{place: f.origin_place.value.trim(), days_ago: Number(f.origin_days.value || 0)}];
    if (f.negative_test_hours_ago.value !== "") data.negative_test_hours_ago = Number(f.negative_test_hours_ago.value);
    return data;
  }

  function b64bytes(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/"); while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function checkPassLocally(token, when) {
    var parts = token.split(".");
    if (parts.length !== 2 || !boot) return Promise.resolve({ok: false, code: "pass_malformed", text: "无法识别的通行证"});
    var payload;
    try { payload = JSON.parse(new TextDecoder().decode(b64bytes(parts[0]))); } catch (e) {
      return Promise.resolve({ok: false, code: "pass_malformed", text: "无法识别的通行证"});
    }
    return crypto.subtle.importKey("jwk", boot.pass_key, {name: "ECDSA", namedCurve: "P-256"}, false, ["verify"]).then(function (key) {
      return crypto.subtle.verify({name: "ECDSA", hash: "SHA-256"}, key, b64bytes(parts[1]), new TextEncoder().encode(parts[0]));
    }).then(function (valid) {
      var t = when.getTime() / 1000;
      if (!valid) return {ok: false, code: "pass_forged", text: "通行证签名无效（伪造或被篡改）"};
      if (payload.z !== boot.gate.zone_id) return {ok: false, code: "pass_other_zone", text: "不是本防区的通行证"};
      if (t > payload.t) return {ok: false, code: "pass_expired", text: "通行证已过期"};
      if (boot.revoked.indexOf(payload.c) >= 0) return {ok: false, code: "pass_revoked", text: "通行证已撤销"};
      return {ok: true, code: "zone_pass", text: "凭防区通行证放行：" + payload.l};
    });
  }

  function judgeLocally(data, when) {
    if (data.subject === "pass") {
      if (!(data.token || "").trim()) return Promise.reject(new Error("请扫描或粘贴防区通行证"));
      return checkPassLocally(data.token, when).then(function (c) {
        return {outcome: c.ok ? "pass" : "refused", label: c.ok ? "放行" : "通行证无效，请按常规查验", reasons: [{code: c.code, text: c.text}]};
      });
    }
    if (data.subject === "vehicle") S.normalizePlate(data.plate);  // throws with a Chinese message
    if (data.temperature !== undefined) S.checkTemperature(Number(data.temperature));
    var day = localDay(when), edition = editionOn(day);
    if (!edition) return Promise.reject(new Error("本机没有生效的查验规则：请联网同步一次"));
    var origins = (data.origins || []).map(function (o) {
      var left = new Date(when.getTime() - o.days_ago * 86400000);
      return [riskLevel(o.place, localDay(left)), o.days_ago];
    }).filter(function (o) { return o[0]; });
    var facts = {temperature_c: data.temperature === undefined ? null : Number(data.temperature), code_colour: data.code_colour,
                 itinerary_star: !!data.itinerary_star, origins: origins,
                 negative_test_hours_ago: data.negative_test_hours_ago === undefined ? null : data.negative_test_hours_ago};
    return Promise.resolve(S.evaluate(edition.rules, facts));
  }

  function show(v, note) {
    var box = $("#verdict");
    box.hidden = false; box.className = "verdict " + v.outcome; box.dataset.outcome = v.outcome;
    $("#verdict-label").textContent = v.label;
    var ul = $("#verdict-reasons"); ul.innerHTML = "";
    (v.reasons || []).forEach(function (r) { var li = document.createElement("li"); li.textContent = r.text; ul.appendChild(li); });
    $("#verdict-note").textContent = (box.dataset.who ? box.dataset.who + " · " : "") + (note || "");
    $("#pass-qr").innerHTML = (v.qr_svg || "") + (v.pass_url ? '<p><a class="btn small secondary" href="' + v.pass_url + '" target="_blank">打印通行证</a></p>' : "");
    $("#escalate").hidden = !v.id;
    lastScanId = v.id || null;
    $("#scan-error").hidden = true;
    box.scrollIntoView({block: "center"});
  }
  function fail(message) {
    $("#verdict").hidden = true;
    var e = $("#scan-error"); e.textContent = message; e.hidden = false; e.scrollIntoView({block: "center"});
  }
  function who(data) {
    var id = (data.id_number || "").replace(/\s/g, ""), plate = data.plate;
    try { if (data.subject === "vehicle") plate = S.normalizePlate(data.plate).number; } catch (e) { /* said by the check */ }
    var w = data.subject === "vehicle" ? plate : data.subject === "pass" ? "通行证"
      : (data.name || (id ? "证件尾号" + id.slice(-4) : ""));
    var t = new Date(); return w + " · " + String(t.getHours()).padStart(2, "0") + ":" + String(t.getMinutes()).padStart(2, "0");
  }

  function send(item) {
    return post(app.dataset.scanUrl, item).then(function (r) {
      if (r.status >= 500) throw new Error("server");
      return r.json();
    });
  }

  var inFlight = null;  // one sync at a time: an 'online' event and a retry must not race
  function flush() {
    if (inFlight) return inFlight;
    var q = queue();
    if (!q.length || !navigator.onLine) return Promise.resolve();
    inFlight = post(app.dataset.batchUrl, {scans: q}).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (data) {
      var done = {};
      data.results.forEach(function (res) { done[res.nonce] = res; });
      // Acknowledged or refused for good: either way it leaves the queue; nothing is sent twice.
      var temporary = {nonce_race: 1, retry_race: 1};  // another sync of the same scan is under way: retry later
      saveQueue(queue().filter(function (it) { var r = done[it.nonce]; return !r || (!r.ok && temporary[r.error_code]); }));
      var refused = data.results.filter(function (x) { return !x.ok; });
      if (refused.length) fail("有 " + refused.length + " 条离线扫描被拒绝：" + refused[0].error);
    }).catch(function () { /* still offline: try later */ }).then(function () { inFlight = null; });
    return inFlight;
  }

  // The browser's own check of a field (体温 30–45 …) would leave the last person's verdict on
  // screen and speak in the browser's language: say it here, in Chinese, instead.
  $("#scan-form").addEventListener("invalid", function (ev) {
    ev.preventDefault();
    var i = ev.target, p = i.closest("p"), l = p && p.querySelector("label");
    var name = (l ? l.textContent : i.name).replace(/（.*?）|\s|℃/g, ""), v = i.validity;
    var msg = v.valueMissing ? "请填写" + name
      : (v.rangeUnderflow || v.rangeOverflow) ? name + "须在 " + i.min + " 到 " + i.max + " 之间（现为 " + i.value + "）"
      : v.stepMismatch ? name + "最多一位小数" : v.badInput ? name + "须为数字" : name + "填写有误";
    fail(msg); i.focus();
  }, true);

  var busy = false;  // a double tap on 查验 must not record the person twice
  $("#scan-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (busy) return;
    busy = true;
    var button = $("#scan-form").querySelector("button[type=submit], button:not([type])");
    if (button) button.disabled = true;
    var data = formData(), when = new Date();
    $("#verdict").hidden = true; $("#scan-error").hidden = true;
    $("#verdict").dataset.who = who(data);
    var item = {nonce: uuid(), device_time: when.toISOString(), offline: false, device_id: navigator.userAgent.slice(0, 60),
                lane_id: $("#scan-form").lane_id.value ? Number($("#scan-form").lane_id.value) : null, data: data};
    Promise.resolve().then(function () { return judgeLocally(data, when); }).then(function (local) {
      show(local, "本机判定");
      if (!navigator.onLine) {
        item.offline = true; var q = queue(); q.push(item); saveQueue(q); show(local, "离线：已存本机，联网后自动同步");
        $("#scan-form").reset(); switchTo(data.subject);  // stored: the next person starts from an empty form
        return;
      }
      return send(item).then(function (res) {
        if (!res.ok) { fail(res.error); return; }
        show(res, res.outcome !== local.outcome ? "以服务器判定为准" : "已登记");
        $("#scan-form").reset(); switchTo(data.subject);
      }).catch(function () {
        item.offline = true; var q = queue(); q.push(item); saveQueue(q);
        show(local, "网络中断：已存本机，联网后自动同步");
        $("#scan-form").reset(); switchTo(data.subject);
      });
    }).catch(function (err) { fail(err.message || String(err)); })
      .then(function () { busy = false; if (button) button.disabled = false; });
  });

  $("#escalate").addEventListener("click", function () {
    if (!lastScanId) return;
    var note = prompt("现场情况（可选）") || "";
    post("/api/gate/scans/" + lastScanId + "/escalate", {note: note}).then(function (r) { return r.json(); })
      .then(function (d) { $("#verdict-note").textContent = d.message || "已直达指挥部"; });
  });

  function switchTo(subject) {
    var f = $("#scan-form");
    f.subject.value = subject;
    app.querySelectorAll(".tab").forEach(function (t) {
      var on = t.dataset.subject === subject; t.classList.toggle("secondary", !on); t.classList.toggle("active", on);
    });
    app.querySelectorAll("[data-for]").forEach(function (el) {
      var off = el.dataset.for.split(" ").indexOf(subject) < 0;
      el.hidden = off;
      el.querySelectorAll("input, select").forEach(function (i) { i.disabled = off; });  // hidden fields never block a submit
    });
  }
  app.querySelectorAll(".tab").forEach(function (t) { t.addEventListener("click", function () { switchTo(t.dataset.subject); }); });

  window.addEventListener("online", function () { setNet(); flush(); loadBoot(); });
  window.addEventListener("offline", setNet);
  setInterval(flush, 15000);
  switchTo("person"); setNet(); saveQueue(queue());
  loadBoot().then(flush);
  if ("serviceWorker" in navigator) navigator.serviceWorker.register(app.dataset.sw, {scope: "/gates/"}).catch(function () {});
  window.LianfangScan = {flush: flush, queue: queue};
})();
