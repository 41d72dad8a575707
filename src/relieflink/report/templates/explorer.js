/* relieflink flag explorer: decodes the page's embedded data (gzip + base64, columnar JSON;
   see relieflink/report/explorer.py) and renders search, filters, sorting, paging, CSV export
   and the evidence panel. No network, no library. Everything shown is built with textContent. */
(function () {
  "use strict";
  var PAGE = 50;
  var STATUS_ZH = { finding: "发现", review: "待复核", held: "身份待确认" };
  var DECISION_ZH = { confirmed: "已确认", dismissed: "已排除" };
  var CATEGORY_ZH = { duplicate: "重复救助", overlap: "多头救助", missed: "遗漏救助" };
  var NOTE_ZH = { "decided; evidence changed since": "已复核；此后证据有变化" };
  var JOINED_ZH = {
    same_identity: "各记录的身份信息（姓名、证件号、出生日期等）完全一致，属同一身份节点，无需概率性关联。",
    valid_id: "各记录均载有此人的有效身份证号，按身份证号关联（锚定），不涉及概率性关联。",
    links: "这些记录由概率性关联连接；下图为连接它们所必需的关联中最弱的一对（匹配权重最低）：",
    indirect: "这些记录经由此人的其他记录或身份证号锚定间接关联；下图为本预警记录之间最弱的直接关联："
  };
  // first the findings, then the review items (each by amount), then identity questions
  var D, F, R, P, N, recStart, recIdx, rules, view = [], page = 0, sortKey = "status", sortDesc = false;
  var searchMatch = null, searchSeq = 0;

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function fen(v) {
    if (v === null || v === undefined) return "";
    return (v / 100).toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }
  function day(v) { return v === null || v === undefined ? "" : new Date(v * 86400000).toISOString().slice(0, 10); }
  function period(a, b) {
    if (a === null || a === undefined) return "";
    if (b === null || b === undefined) return day(a) + " 起";
    return a === b ? day(a) : day(a) + " 至 " + day(b);
  }
  function flagId(i) { return typeof F.id === "string" ? "F" + F.id.substr(16 * i, 16) : F.id[i]; }
  function ruleOf(i) { return rules[F.rule[i]] || ["", "", "", ""]; }
  function statusOf(i) { return D.dict.status[F.status[i]]; }
  function decisionOf(i) { return D.dict.decision[F.decision[i]] || ""; }
  function agencyNames(mask) {
    var out = [];
    D.dict.agency.forEach(function (a, k) { if (mask & (1 << k)) out.push(a[1]); });
    return out;
  }
  function personName(i) { var p = F.person[i]; return p >= 0 && P.name[p] >= 0 ? D.dict.name[P.name[p]] : ""; }
  function personId(i) { var p = F.person[i]; return p >= 0 && P.id[p] >= 0 ? D.dict.id[P.id[p]] : ""; }
  function programsOf(set) { return set >= 0 ? D.dict.progset[set].map(function (p) { return D.dict.program[p][1]; }) : []; }
  function missedOf(i) { var s = F.miss[i]; return s >= 0 ? D.dict.missset[s].map(function (p) { return D.dict.program[p][1]; }) : []; }
  function subName(code) { return code >= 0 ? D.dict.sub[code][1] : ""; }

  // -------------------------------------------------------------------- loading
  function bytes(b64) {
    var bin = atob(b64), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function load() {
    var text = $("rl-data").textContent.trim();
    if (typeof DecompressionStream === "undefined") return Promise.reject(new Error("此浏览器不支持 DecompressionStream，请使用较新的 Chrome、Edge 或 Firefox"));
    var stream = new Blob([bytes(text)]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text().then(JSON.parse);
  }
  function index() {
    F = D.flags; R = D.records; P = D.persons; rules = D.dict.rule;
    N = F.rule.length;
    recStart = new Int32Array(N + 1);
    for (var i = 0; i < N; i++) recStart[i + 1] = recStart[i] + F.n[i];
    recIdx = new Int32Array(recStart[N]);
    for (var j = 0, k = 0; j < N; j++) {
      var prev = 0;
      for (var m = 0; m < F.n[j]; m++, k++) { prev = m === 0 ? F.rec[k] : prev + F.rec[k]; recIdx[k] = prev; }
    }
  }

  // -------------------------------------------------------------------- controls
  function option(select, value, label) { var o = el("option", null, label); o.value = value; select.appendChild(o); }
  function fillControls() {
    var cats = {}, used = {};
    for (var i = 0; i < N; i++) { used[F.rule[i]] = true; cats[ruleOf(i)[2]] = true; }
    ["duplicate", "overlap", "missed"].forEach(function (c) { if (cats[c]) option($("rl-category"), c, CATEGORY_ZH[c]); });
    rules.forEach(function (r, k) { if (used[k]) option($("rl-rule"), String(k), r[0] + " " + r[1]); });
    var statuses = [["finding", "发现"], ["review", "待复核"]];
    if (D.scope === null) statuses.push(["held", "身份待确认"], ["dismissed", "已排除"]);
    statuses.push(["confirmed", "已确认"]);
    statuses.forEach(function (s) { option($("rl-status"), s[0], s[1]); });
    D.dict.agency.forEach(function (a, k) { option($("rl-agency"), String(k), a[1]); });
    var subs = {};
    for (var s = 0; s < N; s++) subs[F.sub[s]] = true;
    D.dict.sub.forEach(function (x, k) { if (subs[k]) option($("rl-sub"), String(k), x[1]); });
    ["rl-category", "rl-rule", "rl-status", "rl-agency", "rl-sub", "rl-min", "rl-max"].forEach(function (id) {
      $(id).addEventListener("change", apply);
    });
    var timer = null;
    $("rl-q").addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(search, 200); });
    $("rl-reset").addEventListener("click", function () {
      ["rl-q", "rl-category", "rl-rule", "rl-status", "rl-agency", "rl-sub", "rl-min", "rl-max"].forEach(function (id) { $(id).value = ""; });
      searchMatch = null; apply();
    });
    $("rl-csv").addEventListener("click", exportCsv);
    $("rl-first").addEventListener("click", function () { page = 0; draw(); });
    $("rl-prev").addEventListener("click", function () { page = Math.max(0, page - 1); draw(); });
    $("rl-next").addEventListener("click", function () { page = Math.min(pages() - 1, page + 1); draw(); });
    $("rl-last").addEventListener("click", function () { page = pages() - 1; draw(); });
    Array.prototype.forEach.call(document.querySelectorAll("#rl-table th[data-sort]"), function (th) {
      th.addEventListener("click", function () {
        var key = th.getAttribute("data-sort");
        if (sortKey === key) sortDesc = !sortDesc; else { sortKey = key; sortDesc = key === "amt" || key === "p0"; }
        sortView(); page = 0; draw();
      });
    });
    $("rl-close").addEventListener("click", closePanel);
    $("rl-panel").addEventListener("click", function (ev) { if (ev.target === $("rl-panel")) closePanel(); });
    document.addEventListener("keydown", function (ev) { if (ev.key === "Escape") closePanel(); });
  }

  // -------------------------------------------------------------------- search
  function normName(s) {
    s = s.normalize("NFKC").replace(/\s+/g, "");
    var out = "", prevDot = false;
    for (var ch of s) {
      var dot = D.dots.indexOf(ch) >= 0;
      if (dot && prevDot) continue;
      out += dot ? "·" : ch; prevDot = dot;
    }
    return out.replace(/^·+|·+$/g, "");
  }
  function hmac32(text) {
    if (!(window.crypto && crypto.subtle)) return Promise.resolve(null);
    var raw = new Uint8Array(D.key.match(/../g).map(function (h) { return parseInt(h, 16); }));
    return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]).then(function (k) {
      return crypto.subtle.sign("HMAC", k, new TextEncoder().encode(text));
    }).then(function (sig) { return new DataView(sig).getUint32(0, false); });
  }
  function includes(list, text, t) { return list.map(function (x) { return text(x).toLowerCase().indexOf(t) >= 0; }); }
  function tokenMatch(tok, hashes) {
    var t = tok.toLowerCase();
    var ruleM = rules.map(function (r) {
      return (r[0] + " " + r[1] + " " + (CATEGORY_ZH[r[2]] || "")).toLowerCase().indexOf(t) >= 0;
    });
    var progM = includes(D.dict.program, function (p) { return p[0] + " " + p[1]; }, t);
    var setM = D.dict.progset.map(function (s) { return s.some(function (p) { return progM[p]; }); });
    var missM = D.dict.missset.map(function (s) { return s.some(function (p) { return progM[p]; }); });
    var agMask = 0;
    D.dict.agency.forEach(function (a, k) { if ((a[0] + " " + a[1]).toLowerCase().indexOf(t) >= 0) agMask |= (1 << k); });
    var subM = includes(D.dict.sub, function (s) { return s[0] + " " + s[1]; }, t);
    var nameM = includes(D.dict.name, function (s) { return s; }, t);
    var idM = includes(D.dict.id, function (s) { return s; }, t);
    var fileM = includes(D.dict.file, function (s) { return s; }, t);
    var statusM = {};
    ["finding", "review", "held"].forEach(function (s, k) { statusM[k] = STATUS_ZH[s].indexOf(tok) >= 0; });
    var personM = new Uint8Array(P.name.length);
    for (var p = 0; p < personM.length; p++) {
      personM[p] = (P.name[p] >= 0 && nameM[P.name[p]]) || (P.id[p] >= 0 && idM[P.id[p]]) ||
        (hashes.id !== null && P.hid[p] === hashes.id) || (hashes.name !== null && P.hname[p] === hashes.name) ? 1 : 0;
    }
    var recM = new Uint8Array(R.file.length), anyRec = false;
    for (var r = 0; r < recM.length; r++) {
      if ((R.file[r] >= 0 && fileM[R.file[r]]) || (R.name[r] >= 0 && nameM[R.name[r]]) || (R.id[r] >= 0 && idM[R.id[r]])) { recM[r] = 1; anyRec = true; }
    }
    var idLike = /^f?[0-9a-f]{3,}$/.test(t);
    var out = new Uint8Array(N);
    for (var i = 0; i < N; i++) {
      var m = ruleM[F.rule[i]] || (F.prog[i] >= 0 && setM[F.prog[i]]) || (F.miss[i] >= 0 && missM[F.miss[i]]) ||
        ((F.ag[i] | F.gr[i]) & agMask) || (F.sub[i] >= 0 && subM[F.sub[i]]) || (F.person[i] >= 0 && personM[F.person[i]]) ||
        statusM[F.status[i]] || (idLike && flagId(i).toLowerCase().indexOf(t) >= 0);
      if (!m && anyRec) {
        for (var k = recStart[i]; k < recStart[i + 1]; k++) if (recM[recIdx[k]]) { m = true; break; }
      }
      out[i] = m ? 1 : 0;
    }
    return out;
  }
  function search() {
    var q = $("rl-q").value.trim(), seq = ++searchSeq;
    if (!q) { searchMatch = null; apply(); document.documentElement.setAttribute("data-rl-query", ""); return; }
    var tokens = q.split(/\s+/);
    Promise.all(tokens.map(function (tok) {
      var asId = /^[0-9]{17}[0-9xX]$|^[0-9]{15}$/.test(tok) ? hmac32(tok.toUpperCase()) : Promise.resolve(null);
      return Promise.all([asId, hmac32(normName(tok))]).then(function (h) { return { id: h[0], name: h[1] }; });
    })).then(function (hashes) {
      if (seq !== searchSeq) return;
      var all = null;
      tokens.forEach(function (tok, k) {
        var m = tokenMatch(tok, hashes[k]);
        if (all === null) all = m; else for (var i = 0; i < N; i++) all[i] &= m[i];
      });
      searchMatch = all; apply();
      document.documentElement.setAttribute("data-rl-query", q);
    }).catch(fail);
  }

  // -------------------------------------------------------------------- filters, sorting
  function apply() {
    var cat = $("rl-category").value, rule = $("rl-rule").value, st = $("rl-status").value;
    var ag = $("rl-agency").value, sub = $("rl-sub").value;
    var lo = $("rl-min").value === "" ? null : Number($("rl-min").value) * 100;
    var hi = $("rl-max").value === "" ? null : Number($("rl-max").value) * 100;
    var agBit = ag === "" ? 0 : (1 << Number(ag));
    view = [];
    for (var i = 0; i < N; i++) {
      if (searchMatch && !searchMatch[i]) continue;
      if (cat && ruleOf(i)[2] !== cat) continue;
      if (rule !== "" && F.rule[i] !== Number(rule)) continue;
      if (st) {
        var s = statusOf(i), d = decisionOf(i);
        if (st === "dismissed" || st === "confirmed") { if (d !== st) continue; }
        else if (s !== st || d === "dismissed") continue;
      }
      if (agBit && !((F.ag[i] | F.gr[i]) & agBit)) continue;
      if (sub !== "" && F.sub[i] !== Number(sub)) continue;
      if (lo !== null && !(F.amt[i] !== null && F.amt[i] >= lo)) continue;
      if (hi !== null && !(F.amt[i] !== null && F.amt[i] <= hi)) continue;
      view.push(i);
    }
    sortView(); page = 0; draw();
  }
  function sortView() {
    var key = sortKey, sign = sortDesc ? -1 : 1, nameOrder = null;
    if (key === "name") {
      var names = D.dict.name.map(function (n, k) { return k; }).sort(function (a, b) { return D.dict.name[a] < D.dict.name[b] ? -1 : D.dict.name[a] > D.dict.name[b] ? 1 : 0; });
      nameOrder = new Int32Array(D.dict.name.length); names.forEach(function (k, r) { nameOrder[k] = r; });
    }
    function value(i) {
      switch (key) {
        case "amt": return F.amt[i];
        case "p0": return F.p0[i];
        case "rule": return F.rule[i];
        case "status": return F.status[i] * 4 + F.decision[i];
        case "sub": return F.sub[i];
        case "name": var p = F.person[i]; return p >= 0 && P.name[p] >= 0 ? nameOrder[P.name[p]] : null;
        case "id": return i;
        default: return i;
      }
    }
    var keys = new Float64Array(N);  // NaN: no value (sorted last either way)
    view.forEach(function (i) { var v = value(i); keys[i] = v === null || v === undefined ? NaN : v; });
    view.sort(function (a, b) {
      var x = keys[a], y = keys[b];
      if (x !== y) {
        if (x !== x) return 1;
        if (y !== y) return -1;
        return (x < y ? -1 : 1) * sign;
      }
      // then the larger amount first, then the page's order
      var u = F.amt[a], w = F.amt[b];
      if (u !== w) { if (u === null) return 1; if (w === null) return -1; return w - u; }
      return a - b;
    });
    Array.prototype.forEach.call(document.querySelectorAll("#rl-table th[data-sort]"), function (th) {
      var on = th.getAttribute("data-sort") === sortKey;
      th.classList.toggle("sorted", on); th.classList.toggle("asc", on && !sortDesc);
    });
  }
  function pages() { return Math.max(1, Math.ceil(view.length / PAGE)); }

  // -------------------------------------------------------------------- the table
  function tag(kind, label) { return el("span", "tag " + kind, label); }
  function statusCell(i) {
    var td = el("td");
    var s = statusOf(i), d = decisionOf(i);
    td.appendChild(tag(s, STATUS_ZH[s] || s));
    if (d) { td.appendChild(el("br")); td.appendChild(tag(d, DECISION_ZH[d] || d)); }
    return td;
  }
  function draw() {
    var body = document.querySelector("#rl-table tbody");
    body.textContent = "";
    var from = page * PAGE, to = Math.min(view.length, from + PAGE);
    for (var k = from; k < to; k++) body.appendChild(row(view[k]));
    $("rl-page").textContent = "第 " + (page + 1) + " / " + pages() + " 页";
    $("rl-table").setAttribute("data-count", String(view.length));
    var held = 0;
    if (D.scope === null) for (var i = 0; i < N; i++) if (F.status[i] === 2) held++;
    $("rl-status-line").textContent = "共 " + N.toLocaleString("zh-CN") + " 条" + (held ? "（含身份待确认 " + held.toLocaleString("zh-CN") + " 条）" : "") +
      "，符合条件 " + view.length.toLocaleString("zh-CN") + " 条" + (view.length ? "；显示第 " + (from + 1) + "–" + to + " 条" : "");
  }
  function row(i) {
    var tr = el("tr");
    tr.setAttribute("data-flag", flagId(i));
    tr.appendChild(el("td", "mono", flagId(i)));
    var r = ruleOf(i), td = el("td");
    td.appendChild(el("div", null, r[0]));
    td.appendChild(tag(r[2], CATEGORY_ZH[r[2]] || r[2]));
    tr.appendChild(td);
    tr.appendChild(statusCell(i));
    td = el("td");
    td.appendChild(el("div", null, personName(i) || "—"));
    td.appendChild(el("div", "small", personId(i)));
    tr.appendChild(td);
    tr.appendChild(el("td", "text", agencyNames(F.ag[i]).join("、")));
    tr.appendChild(el("td", null, subName(F.sub[i])));
    td = el("td");
    td.appendChild(el("div", null, day(F.p0[i])));
    if (F.p1[i] !== F.p0[i]) td.appendChild(el("div", null, day(F.p1[i])));
    tr.appendChild(td);
    tr.appendChild(el("td", "n", F.amt[i] === null ? (F.full[i] ? "" : "不显示") : fen(F.amt[i])));
    td = el("td", "text");
    var text = el("div", "clamp", F.text[i]);
    text.title = F.text[i];
    td.appendChild(text);
    tr.appendChild(td);
    tr.addEventListener("click", function () { openPanel(i); });
    return tr;
  }

  // -------------------------------------------------------------------- the evidence panel
  function closePanel() { $("rl-panel").classList.remove("open"); }
  function kv(dl, key, value) {
    if (value === "" || value === null || value === undefined) return;
    var tr = el("tr"); tr.appendChild(el("th", null, key)); tr.appendChild(el("td", null, value)); dl.appendChild(tr);
  }
  function openPanel(i) {
    var box = $("rl-panel-body");
    box.textContent = "";
    var r = ruleOf(i), s = statusOf(i), d = decisionOf(i);
    var h = el("h2", null, flagId(i) + " · " + r[0] + " " + r[1]);
    box.appendChild(h);
    var tags = el("div");
    tags.appendChild(tag(r[2], CATEGORY_ZH[r[2]] || r[2])); tags.appendChild(document.createTextNode(" "));
    tags.appendChild(tag(s, STATUS_ZH[s] || s));
    if (d) { tags.appendChild(document.createTextNode(" ")); tags.appendChild(tag(d, DECISION_ZH[d] || d)); }
    var note = D.dict.note[F.note[i]];
    if (note) tags.appendChild(el("span", "small", " " + (NOTE_ZH[note] || note)));
    box.appendChild(tags);
    box.appendChild(el("p", "explanation", F.text[i]));
    var facts = el("table"), tb = el("tbody"); facts.appendChild(tb);
    kv(tb, "对象", (personName(i) || "—") + "　" + personId(i));
    kv(tb, "期间", period(F.p0[i], F.p1[i]));
    kv(tb, "涉及金额（元）", F.amt[i] === null ? (F.full[i] ? "" : "涉及其他部门的记录，不显示") : fen(F.amt[i]));
    kv(tb, "身份关联置信度", F.conf[i] === null ? "" : (F.conf[i] / 1000).toFixed(3));
    kv(tb, "涉及部门", agencyNames(F.ag[i]).join("、"));
    kv(tb, "街道", subName(F.sub[i]));
    kv(tb, "项目", programsOf(F.prog[i]).join("、"));
    kv(tb, "应享未享", missedOf(i).join("、"));
    box.appendChild(facts);
    box.appendChild(el("h3", null, "政策依据"));
    box.appendChild(el("div", "basis", F.basis[i] >= 0 ? D.dict.basis[F.basis[i]] : r[3]));
    var li = F.link[i], link = li >= 0 ? li : null;
    box.appendChild(el("h3", null, "所涉记录"));
    box.appendChild(recordsTable(i, link));
    box.appendChild(el("h3", null, "身份关联"));
    var joined = D.dict.joined[F.joined[i]];
    if ((joined === "links" || joined === "indirect") && link === null) {
      box.appendChild(el("p", null, D.scope !== null ? "这些记录由概率性关联连接；该关联涉及其他部门的记录，本部门视图不显示其明细。" :
        "本预警记录之间没有直接的评分关联（经由此人的其他记录关联）。"));
    } else {
      box.appendChild(el("p", null, JOINED_ZH[joined] || ""));
    }
    if (link !== null) { box.appendChild(waterfall(link)); box.appendChild(weightsTable(link)); }
    $("rl-panel").classList.add("open");
    $("rl-panel").querySelector(".sheet").scrollTop = 0;
  }
  function recordsTable(i, link) {
    var t = el("table", "records"), head = el("tr");
    ["", "来源文件", "行号", "部门", "项目", "期间", "金额（元）", "街道", "姓名", "证件号"].forEach(function (x) { head.appendChild(el("th", null, x)); });
    var thead = el("thead"); thead.appendChild(head); t.appendChild(thead);
    var body = el("tbody");
    var a = link !== null ? D.links.a[link] : -1, b = link !== null ? D.links.b[link] : -1;
    for (var k = recStart[i]; k < recStart[i + 1]; k++) {
      var r = recIdx[k], tr = el("tr");
      var mark = r === a ? "关联A" : r === b ? "关联B" : "";
      if (mark) tr.className = "link";
      tr.appendChild(el("td", "nw", mark));
      if (R.own[r]) {
        tr.appendChild(el("td", null, R.file[r] >= 0 ? D.dict.file[R.file[r]] : ""));
        tr.appendChild(el("td", "n", R.row[r]));
      } else {
        var other = el("td", "small", "其他部门的记录（只显示部门、项目、期间）"); other.colSpan = 2; tr.appendChild(other);
      }
      tr.appendChild(el("td", null, R.ag[r] >= 0 ? D.dict.agency[R.ag[r]][1] : ""));
      tr.appendChild(el("td", null, R.prog[r] >= 0 ? D.dict.program[R.prog[r]][1] : ""));
      tr.appendChild(el("td", "nw", period(R.p0[r], R.p1[r])));
      tr.appendChild(el("td", "n", fen(R.amt[r])));
      tr.appendChild(el("td", null, subName(R.sub[r])));
      tr.appendChild(el("td", "who", R.name[r] >= 0 ? D.dict.name[R.name[r]] : ""));
      tr.appendChild(el("td", "mono", R.id[r] >= 0 ? D.dict.id[R.id[r]] : ""));
      body.appendChild(tr);
    }
    t.appendChild(body);
    return t;
  }
  function weightsTable(link) {
    var t = el("table", "weights"), head = el("tr");
    ["比较项", "比较结果", "权重（bit）"].forEach(function (x) { head.appendChild(el("th", null, x)); });
    var thead = el("thead"); thead.appendChild(head); t.appendChild(thead);
    var body = el("tbody");
    function line(a, b, w) { var tr = el("tr"); tr.appendChild(el("td", null, a)); tr.appendChild(el("td", null, b)); tr.appendChild(el("td", "n", w)); body.appendChild(tr); }
    line("先验（两条随机记录属同一人）", "", (D.links.prior[link] / 100).toFixed(2));
    D.dict.comparison.forEach(function (c, k) {
      var lv = D.links.lv[k][link];
      line(c[1], lv >= 0 ? c[2][lv] : "", (D.links.w[k][link] / 100).toFixed(2));
    });
    line("匹配权重合计", "概率 " + (D.links.prob[link] / 10000).toFixed(4), (D.links.mw[link] / 100).toFixed(2));
    t.appendChild(body);
    return t;
  }
  var SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function waterfall(link) {
    // Splink's waterfall: the prior, then each comparison's weight from the running total, then the final score
    var steps = [{ label: "先验", w: D.links.prior[link] / 100, total: true }];
    D.dict.comparison.forEach(function (c, k) {
      var lv = D.links.lv[k][link];
      steps.push({ label: c[1], sub: lv >= 0 ? c[2][lv] : "", w: D.links.w[k][link] / 100 });
    });
    var final = D.links.mw[link] / 100;
    var run = 0, lo = 0, hi = 0;
    steps.forEach(function (s) {
      s.from = s.total ? 0 : run; s.to = s.total ? s.w : run + s.w; run = s.to;
      lo = Math.min(lo, s.from, s.to); hi = Math.max(hi, s.from, s.to);
    });
    steps.push({ label: "合计", sub: "概率 " + (D.links.prob[link] / 10000).toFixed(4), w: final, from: 0, to: final, total: true });
    lo = Math.min(lo, final); hi = Math.max(hi, final);
    var step = 78, left = 48, right = 70, top = 20, height = 250, bottom = 56;
    var width = left + right + step * steps.length;
    var root = svg("svg", { width: width, height: top + height + bottom, viewBox: "0 0 " + width + " " + (top + height + bottom), "class": "waterfall", role: "img", "aria-label": "匹配权重瀑布图" });
    var span = (hi - lo) || 1;
    function y(v) { return top + (hi - v) / span * height; }
    var tickStep = span > 40 ? 10 : span > 16 ? 5 : 2;
    for (var t = Math.ceil(lo / tickStep) * tickStep; t <= hi; t += tickStep) {
      root.appendChild(svg("line", { x1: left, x2: width - right, y1: y(t), y2: y(t), stroke: t === 0 ? "#555" : "#e3e7eb", "stroke-width": t === 0 ? 1 : 0.6 }));
      root.appendChild(svg("text", { x: left - 6, y: y(t) + 4, "text-anchor": "end", fill: "#555" }, String(t)));
      var p = 1 / (1 + Math.pow(2, -t));
      root.appendChild(svg("text", { x: width - right + 6, y: y(t) + 4, fill: "#555" }, p < 0.001 ? p.toExponential(0) : p > 0.995 ? "1−" + (1 - p).toExponential(0) : p.toPrecision(2)));
    }
    root.appendChild(svg("text", { x: 4, y: 12, fill: "#333" }, "匹配权重（bit）"));
    root.appendChild(svg("text", { x: width - right, y: 12, fill: "#333" }, "概率"));
    steps.forEach(function (s, k) {
      var x = left + k * step + 9, w = step - 18;
      var y0 = y(Math.max(s.from, s.to)), y1 = y(Math.min(s.from, s.to));
      var color = s.w < 0 ? "#c62828" : "#2e7d32";
      root.appendChild(svg("rect", { x: x, y: y0, width: w, height: Math.max(1, y1 - y0), fill: color, "fill-opacity": s.total ? 0.95 : 0.55 }));
      root.appendChild(svg("text", { x: x + w / 2, y: y0 - 4, "text-anchor": "middle", fill: "#222" }, (s.w > 0 ? "+" : "") + s.w.toFixed(2)));
      if (k < steps.length - 1 && !steps[k + 1].total) {
        root.appendChild(svg("line", { x1: x + w, x2: x + step, y1: y(s.to), y2: y(s.to), stroke: "#888", "stroke-dasharray": "2,2" }));
      }
      root.appendChild(svg("text", { x: x + w / 2, y: top + height + 18, "text-anchor": "middle", fill: "#222" }, s.label));
      if (s.sub) root.appendChild(svg("text", { x: x + w / 2, y: top + height + 34, "text-anchor": "middle", fill: "#666" }, s.sub));
    });
    var wrap = el("div", "chart");
    wrap.appendChild(root);
    return wrap;
  }

  // -------------------------------------------------------------------- CSV export
  function csvCell(v) {
    var s = v === null || v === undefined ? "" : String(v);
    if (/^[\s]*[=+\-@]/.test(s) || /^[\t\r]/.test(s)) s = "'" + s;  // never a formula in a spreadsheet
    return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }
  function exportCsv() {
    var lines = [["编号", "规则", "规则名称", "类别", "状态", "复核决定", "姓名", "证件号", "涉及部门", "街道", "项目", "应享未享",
      "期间起", "期间止", "涉及金额（元）", "置信度", "所涉记录", "说明"].map(csvCell).join(",")];
    view.forEach(function (i) {
      var r = ruleOf(i), recs = [];
      for (var k = recStart[i]; k < recStart[i + 1]; k++) {
        var x = recIdx[k];
        recs.push(R.own[x] ? (D.dict.file[R.file[x]] + " 第" + R.row[x] + "行") :
          (D.dict.agency[R.ag[x]][1] + "：" + D.dict.program[R.prog[x]][1]));
      }
      var d = decisionOf(i);
      lines.push([flagId(i), r[0], r[1], CATEGORY_ZH[r[2]] || r[2], STATUS_ZH[statusOf(i)], DECISION_ZH[d] || "", personName(i), personId(i),
        agencyNames(F.ag[i]).join("、"), subName(F.sub[i]), programsOf(F.prog[i]).join("、"), missedOf(i).join("、"),
        day(F.p0[i]), day(F.p1[i]), F.amt[i] === null ? "" : (F.amt[i] / 100).toFixed(2),
        F.conf[i] === null ? "" : (F.conf[i] / 1000).toFixed(3), recs.join("；"), F.text[i]].map(csvCell).join(","));
    });
    var blob = new Blob(["\ufeff" + lines.join("\r\n") + "\r\n"], { type: "text/csv;charset=utf-8" });
    var a = el("a");
    a.href = URL.createObjectURL(blob);
    a.download = (D.scope ? D.scope + "_" : "") + "预警清单.csv";
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(function () { URL.revokeObjectURL(a.href); }, 10000);
  }

  function fail(err) {
    $("rl-status-line").textContent = "预警数据无法载入：" + (err && err.message ? err.message : err);
    if (window.console) console.error(err);
  }
  function start() {
    load().then(function (data) {
      D = data; index(); fillControls(); apply();
      document.documentElement.setAttribute("data-rl-ready", String(Math.round(performance.now())));
    }).catch(fail);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
