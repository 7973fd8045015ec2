// Gate screening on the device: the JavaScript mirror of lianfang/engines/screening.py and plates.py.
// Plain browser JavaScript, no build step, no dependencies. As a classic <script> it sets
// window.LianfangScreening = {OUTCOMES, evaluate, checkTemperature, normalizePlate, rulesFromJson};
// under node it is also module.exports. Inputs are the JSON forms of Python's GateRules.to_json() and
// ScanFacts fields (snake_case); evaluate() returns {outcome, label, reasons: [{code, text}]}; errors are
// Error objects with .code and .message, the same codes and texts as the Python ScreeningError/PlateError.
// tests/engines/test_screening.py and test_plates.py hold both sides to identical results: change them together.
(function (root, factory) {
  "use strict";
  var api = factory();
  if (typeof module === "object" && module && module.exports) module.exports = api;
  if (root) root.LianfangScreening = api;
})(typeof window !== "undefined" ? window : (typeof self !== "undefined" ? self : null), function () {
  "use strict";

  var OUTCOMES = {pass: "放行", assess: "引导至研判点", turn_back: "劝返", transfer: "闭环转运", fever_clinic: "发热门诊"};
  var OUTCOME_KEYS = ["pass", "assess", "turn_back", "transfer", "fever_clinic"];
  var RISK_LEVELS = {high: "高", medium: "中", low: "低"};
  var CODE_COLOURS = {green: "绿码", yellow: "黄码", red: "红码"};
  var COLOUR_KEYS = ["green", "yellow", "red"];

  var TEMPERATURE_MIN_C = 34.0, TEMPERATURE_MAX_C = 43.0, MAX_TEST_HOURS_AGO = 100000.0;
  var FEVER_THRESHOLD_RANGE_C = [36.0, 40.0], MAX_WINDOW_DAYS = 60, MAX_TEST_HOURS = 240;
  var RULE_KEYS = ["fever_threshold_c", "code_outcomes", "origin_rules", "star_outcome", "test_required_hours",
                   "missing_test_outcome", "precedence"];
  var OPTIONAL_RULE_KEYS = ["fever_outcome"];
  var ORIGIN_RULE_KEYS = ["level", "within_days", "outcome"];
  var FACT_KEYS = ["temperature_c", "code_colour", "itinerary_star", "origins", "negative_test_hours_ago"];

  function has(obj, key) { return Object.prototype.hasOwnProperty.call(obj, key); }
  function isObject(v) { return v !== null && typeof v === "object" && !Array.isArray(v); }
  function isString(v) { return typeof v === "string"; }
  function absent(v) { return v === undefined || v === null; }

  function fail(code, message) {
    var e = new Error(message);
    e.code = code;
    return e;
  }

  // --- helpers (same digits as the Python helpers of the same names) ---------------------------
  function asFloat(v) { return typeof v === "number" && isFinite(v) ? v : null; }
  function asInt(v) { return typeof v === "number" && isFinite(v) && Math.floor(v) === v ? v : null; }
  function fmt(x) { return String(Math.floor(x * 100 + 0.5) / 100); }

  function checkKeys(obj, required, optional, what, code) {
    var i;
    for (i = 0; i < required.length; i++) {
      if (!has(obj, required[i])) throw fail(code, what + "缺少「" + required[i] + "」");
    }
    var unknown = Object.keys(obj).filter(function (k) { return required.indexOf(k) < 0 && optional.indexOf(k) < 0; });
    unknown.sort();
    if (unknown.length) throw fail(code, what + "含有未知项「" + unknown.join("、") + "」");
  }

  function outcomeOf(value, what) {
    if (isString(value) && has(OUTCOMES, value)) return value;
    var shown = isString(value) ? "「" + value + "」" : "";
    throw fail("rules", what + shown + "不是有效的处置结果（可选：" + OUTCOME_KEYS.join("、") + "）");
  }

  // --- rules -----------------------------------------------------------------------------------
  // Validate rules in their JSON form; return them normalized (a fresh object of the same shape).
  function rulesFromJson(d) {
    if (!isObject(d)) throw fail("rules", "查验规则应为 JSON 对象");
    checkKeys(d, RULE_KEYS, OPTIONAL_RULE_KEYS, "查验规则", "rules");

    var lo = FEVER_THRESHOLD_RANGE_C[0], hi = FEVER_THRESHOLD_RANGE_C[1];
    var threshold = asFloat(d.fever_threshold_c);
    if (threshold === null || threshold < lo || threshold > hi) {
      throw fail("rules", "发热标准应为 " + fmt(lo) + "–" + fmt(hi) + "℃ 之间的数值");
    }
    var feverOutcome = outcomeOf(has(d, "fever_outcome") ? d.fever_outcome : "fever_clinic", "发热的处置");

    var codes = d.code_outcomes;
    if (!isObject(codes)) throw fail("rules", "健康码处置应为 JSON 对象（green、yellow、red）");
    checkKeys(codes, COLOUR_KEYS, [], "健康码处置", "rules");
    var codeOutcomes = {};
    COLOUR_KEYS.forEach(function (colour) {
      codeOutcomes[colour] = outcomeOf(codes[colour], CODE_COLOURS[colour] + "的处置");
    });
    if (codeOutcomes.green !== "pass") throw fail("rules", "绿码的处置必须是放行");

    var rawOrigins = d.origin_rules;
    if (!Array.isArray(rawOrigins)) throw fail("rules", "来源地规则应为列表");
    var originRules = [], seen = {};
    rawOrigins.forEach(function (raw, i) {
      var what = "第 " + (i + 1) + " 条来源地规则";
      if (!isObject(raw)) throw fail("rules", what + "应为 JSON 对象");
      checkKeys(raw, ORIGIN_RULE_KEYS, [], what, "rules");
      var level = raw.level;
      if (!isString(level) || !has(RISK_LEVELS, level)) throw fail("rules", what + "的风险等级应为 high、medium 或 low");
      var days = asInt(raw.within_days);
      if (days === null || days < 1 || days > MAX_WINDOW_DAYS) {
        throw fail("rules", what + "的天数应为 1–" + MAX_WINDOW_DAYS + " 的整数");
      }
      var outcome = outcomeOf(raw.outcome, what + "的处置");
      var key = level + "/" + days;
      if (has(seen, key)) throw fail("rules", what + "与前面的规则重复（" + days + " 天内" + RISK_LEVELS[level] + "风险地区）");
      seen[key] = true;
      originRules.push({level: level, within_days: days, outcome: outcome});
    });

    var star = d.star_outcome;
    var starOutcome = star === null ? null : outcomeOf(star, "行程卡星号的处置");

    var hoursRaw = d.test_required_hours, hours = null;
    if (hoursRaw !== null) {
      hours = asInt(hoursRaw);
      if (hours === null || hours < 1 || hours > MAX_TEST_HOURS) {
        throw fail("rules", "核酸证明时限应为 1–" + MAX_TEST_HOURS + " 小时的整数，或不要求（null）");
      }
    }
    var missing = outcomeOf(d.missing_test_outcome, "无有效核酸证明的处置");

    var rawPrec = d.precedence;
    if (!Array.isArray(rawPrec)) throw fail("rules", "处置优先级应为列表");
    var precedence = [];
    rawPrec.forEach(function (value) {
      var outcome = outcomeOf(value, "处置优先级中");
      if (precedence.indexOf(outcome) >= 0) throw fail("rules", "处置优先级中「" + outcome + "」重复");
      precedence.push(outcome);
    });
    var lacking = OUTCOME_KEYS.filter(function (o) { return precedence.indexOf(o) < 0; });
    if (lacking.length) throw fail("rules", "处置优先级缺少「" + lacking.join("、") + "」");

    return {
      fever_threshold_c: threshold,
      code_outcomes: codeOutcomes,
      origin_rules: originRules,
      star_outcome: starOutcome,
      test_required_hours: hours,
      missing_test_outcome: missing,
      precedence: precedence,
      fever_outcome: feverOutcome
    };
  }

  // --- facts -----------------------------------------------------------------------------------
  function checkTemperature(t) {
    var f = asFloat(t);
    if (f === null) throw fail("temperature", "体温读数无效，请重新测量");
    if (f < TEMPERATURE_MIN_C || f > TEMPERATURE_MAX_C) {
      var shown = f > -1000 && f < 1000 ? "体温 " + fmt(f) + "℃" : "体温读数";
      throw fail("temperature", shown + "超出 34–43℃ 的测量范围，请重新测量");
    }
  }

  function factsFromJson(d) {
    if (!isObject(d)) throw fail("facts", "查验信息应为 JSON 对象");
    checkKeys(d, [], FACT_KEYS, "查验信息", "facts");

    var temperature = absent(d.temperature_c) ? null : d.temperature_c;
    if (temperature !== null) {
      checkTemperature(temperature);
      temperature = asFloat(temperature);
    }

    var colour = absent(d.code_colour) ? null : d.code_colour;
    if (colour !== null && (!isString(colour) || !has(CODE_COLOURS, colour))) {
      var shownColour = isString(colour) ? "「" + colour + "」" : "";
      throw fail("code_colour", "健康码颜色" + shownColour + "无效，应为 green、yellow 或 red");
    }

    var star = absent(d.itinerary_star) ? false : d.itinerary_star;
    if (typeof star !== "boolean") throw fail("itinerary_star", "行程卡星号应为 true 或 false");

    var rawOrigins = absent(d.origins) ? [] : d.origins;
    if (!Array.isArray(rawOrigins)) throw fail("origin", "来源地应为（风险等级，几天前）的列表");
    var origins = rawOrigins.map(function (item, i) {
      var n = i + 1;
      if (!Array.isArray(item) || item.length !== 2) throw fail("origin", "第 " + n + " 个来源地应为（风险等级，几天前）");
      var level = item[0];
      if (!isString(level) || !has(RISK_LEVELS, level)) {
        var shownLevel = isString(level) ? "「" + level + "」" : "";
        throw fail("origin", "第 " + n + " 个来源地的风险等级" + shownLevel + "无效，应为 high、medium 或 low");
      }
      var days = asInt(item[1]);
      if (days === null || days < 0) throw fail("origin", "第 " + n + " 个来源地的到访时间应为不小于 0 的整数天");
      return [level, days];
    });

    var hoursRaw = absent(d.negative_test_hours_ago) ? null : d.negative_test_hours_ago, hours = null;
    if (hoursRaw !== null) {
      hours = asFloat(hoursRaw);
      if (hours === null) throw fail("test", "核酸证明时间无效");
      if (hours < 0) throw fail("test", "核酸证明的时间晚于现在，请核对");
      if (hours > MAX_TEST_HOURS_AGO) throw fail("test", "核酸证明的时间过早，请核对");
    }

    return {temperature_c: temperature, code_colour: colour, itinerary_star: star, origins: origins,
            negative_test_hours_ago: hours};
  }

  // --- verdict ---------------------------------------------------------------------------------
  function reason(code, text) { return {code: code, text: text}; }

  function evaluate(rulesJson, factsJson) {
    var rules = rulesFromJson(rulesJson);
    var f = factsFromJson(factsJson);
    var found = [];

    var t = f.temperature_c;
    if (t !== null && t >= rules.fever_threshold_c) {
      found.push([rules.fever_outcome, reason("fever", "体温 " + fmt(t) + "℃，达到发热标准 " + fmt(rules.fever_threshold_c) + "℃")]);
    }

    var colour = f.code_colour;
    if (colour !== null && colour !== "green") {
      found.push([rules.code_outcomes[colour], reason("code_" + colour, CODE_COLOURS[colour])]);
    }

    rules.origin_rules.forEach(function (rule) {
      var days = f.origins.filter(function (o) { return o[0] === rule.level && o[1] <= rule.within_days; })
                          .map(function (o) { return o[1]; });
      if (days.length) {
        var nearest = Math.min.apply(null, days);
        var when = nearest === 0 ? "今天" : nearest + " 天前";
        var text = rule.within_days + " 天内到过" + RISK_LEVELS[rule.level] + "风险地区（" + when + "）";
        found.push([rule.outcome, reason("origin_" + rule.level, text)]);
      }
    });

    if (f.itinerary_star && rules.star_outcome !== null) {
      found.push([rules.star_outcome, reason("itinerary_star", "行程卡带星号（途经城市有中高风险地区）")]);
    }

    var limit = rules.test_required_hours;
    if (limit !== null) {
      var hours = f.negative_test_hours_ago;
      if (hours === null) {
        found.push([rules.missing_test_outcome, reason("no_test", "无 " + limit + " 小时内核酸阴性证明")]);
      } else if (hours > limit) {
        found.push([rules.missing_test_outcome,
                    reason("test_expired", "核酸阴性证明已超过 " + limit + " 小时（" + Math.ceil(hours) + " 小时前）")]);
      }
    }

    var held = [];
    found.forEach(function (entry, i) {
      if (entry[0] !== "pass") held.push({rank: rules.precedence.indexOf(entry[0]), index: i, outcome: entry[0], reason: entry[1]});
    });
    held.sort(function (a, b) { return a.rank - b.rank || a.index - b.index; });
    if (!held.length) return {outcome: "pass", label: OUTCOMES.pass, reasons: []};
    var outcome = held[0].outcome;
    return {outcome: outcome, label: OUTCOMES[outcome], reasons: held.map(function (h) { return h.reason; })};
  }

  // --- plates (mirror of lianfang/engines/plates.py) -------------------------------------------
  var PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼";
  var SUFFIXES = {"挂": "trailer", "警": "police", "领": "embassy", "学": "other", "港": "other", "澳": "other"};
  var SUFFIX_CHARS = "挂警领学港澳";
  var EMBASSY = "使";
  var SEPARATORS = " \t\r\n\u00a0\u3000·•‧・･-‐‑–—_.．";
  var LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ";
  var SERIAL = LETTERS + "0123456789";
  var SMALL_NEW_ENERGY = /^[DF][ABCDEFGHJKLMNPQRSTUVWXYZ0-9][0-9]{4}$/;
  var LARGE_NEW_ENERGY = /^[0-9]{5}[DF]$/;
  var EXAMPLE = "如 浙A12345、新能源 浙AD12345";

  function cleanPlate(raw) {
    var out = "";
    for (var i = 0; i < raw.length; i++) {
      var ch = raw.charAt(i), code = raw.charCodeAt(i);
      if (code >= 0xFF01 && code <= 0xFF5E) { code -= 0xFEE0; ch = String.fromCharCode(code); }
      if (SEPARATORS.indexOf(ch) >= 0) continue;
      if (ch >= "a" && ch <= "z") ch = String.fromCharCode(code - 32);
      out += ch;
    }
    return out;
  }

  function plateDisplay(number, province) {
    return province === EMBASSY ? number : number.slice(0, 2) + "·" + number.slice(2);
  }

  function plate(number, kind, province) {
    return {number: number, kind: kind, province: province, display: plateDisplay(number, province)};
  }

  function isDigits(s) { return /^[0-9]+$/.test(s); }

  function normalizePlate(raw) {
    if (!isString(raw)) throw fail("type", "车牌号应为文字");
    var number = cleanPlate(raw);
    if (!number) throw fail("empty", "请输入车牌号");
    var allowed = PROVINCES + EMBASSY + SUFFIX_CHARS + SERIAL + "IO";
    var chars = Array.from(number), i;
    for (i = 0; i < chars.length; i++) {
      if (allowed.indexOf(chars[i]) < 0) throw fail("chars", "车牌号中有无效字符「" + chars[i] + "」：只能是省份简称、字母和数字");
    }

    var first = number.charAt(0);
    if (first === EMBASSY) {
      if (number.length === 7 && isDigits(number.slice(1))) return plate(number, "embassy", EMBASSY);
      throw fail("format", "使馆车牌应为「使」加 6 位数字，如 使014123（现为 " + number + "）");
    }
    if (PROVINCES.indexOf(first) < 0) {
      throw fail("province", "车牌号应以省份简称开头（" + EXAMPLE + "），「" + first + "」不是省份简称");
    }
    if (number.length !== 7 && number.length !== 8) {
      throw fail("length", "车牌号长度不对：普通车牌 7 位、新能源车牌 8 位，现为 " + number.length + " 位（" + number + "）");
    }
    var issuer = number.charAt(1);
    if (issuer === "I" || issuer === "O") {
      throw fail("letter_io", "车牌号不使用字母 I 和 O（易与数字 1、0 混淆），第 2 位「" + issuer + "」请核对");
    }
    if (LETTERS.indexOf(issuer) < 0) throw fail("issuer", "车牌号第 2 位应为发牌机关字母（A–Z），现为「" + issuer + "」");
    for (i = 2; i < number.length; i++) {
      var c = number.charAt(i);
      if (c === "I" || c === "O") {
        throw fail("letter_io", "车牌号不使用字母 I 和 O（易与数字 1、0 混淆），第 " + (i + 1) + " 位「" + c + "」请核对");
      }
    }

    var rest = number.slice(2);
    if (number.length === 7) {
      var last = rest.charAt(rest.length - 1);
      var body = has(SUFFIXES, last) ? rest.slice(0, -1) : rest;
      for (i = 0; i < body.length; i++) {
        if (SERIAL.indexOf(body.charAt(i)) < 0) throw fail("format", "车牌号第 " + (i + 3) + " 位应为字母或数字，现为「" + body.charAt(i) + "」");
      }
      return plate(number, has(SUFFIXES, last) ? SUFFIXES[last] : "ordinary", first);
    }

    if (SMALL_NEW_ENERGY.test(rest) || LARGE_NEW_ENERGY.test(rest)) return plate(number, "new_energy", first);
    throw fail("format", "8 位车牌应为新能源号牌：第 3 位为 D 或 F 且后 4 位为数字（如 浙AD12345），" +
                         "或 5 位数字后接 D 或 F（如 浙A12345D），现为 " + number);
  }

  return {
    OUTCOMES: OUTCOMES,
    evaluate: evaluate,
    checkTemperature: checkTemperature,
    normalizePlate: normalizePlate,
    rulesFromJson: rulesFromJson,
    factsFromJson: factsFromJson
  };
});
