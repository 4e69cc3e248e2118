// The live map: applies numbered frames from /stream to the server-drawn SVG.
// No libraries, nothing fetched from anywhere but this server.
"use strict";
(function () {
  const meta = JSON.parse(document.getElementById("meta").textContent);
  const UNITS = 100000; // util values are utilisation x UNITS
  // log scale: class u0 (idle, < 0.01 %) .. u9 (<= 100 %), u10 above capacity
  const EDGES = [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 0.7, 1.0000001];
  const LEGEND = ["< 0.01 %", "0.03 %", "0.1 %", "0.3 %", "1 %", "3 %", "10 %", "30 %", "70 %", "100 %", "> 100 %"];
  const linkEls = meta.links.map((_, i) => document.getElementById("l-" + i));
  const siteEls = meta.sites.map((_, i) => document.getElementById("s-" + i));
  const linkHome = document.getElementById("links");
  const siteHome = document.getElementById("sites");
  const failedG = document.getElementById("failed");
  const cutG = document.getElementById("cut");
  const routeG = document.getElementById("route");
  const siteIndex = new Map(meta.sites.map((s, i) => [s[0], i]));
  const linkIndex = new Map(meta.links.map((x, i) => [x, i]));
  const SVGNS = "http://www.w3.org/2000/svg";
  const live = (window.live = {
    seq: 0, frames: 0, snapshots: 0, timings: [], recolour: [], util: [],
    failedLinks: new Set(), failedSites: new Set(), cut: new Set(), control: {}, faults: [],
    path: null, history: {},
  });
  const bucketOf = (v) => {
    const u = v / UNITS;
    let k = 0;
    while (k < EDGES.length && u >= EDGES[k]) k++;
    return k; // 0..10
  };
  const linkClass = (i) => {
    const el = linkEls[i];
    return el.dataset.base || (el.dataset.base = el.getAttribute("class").replace(/ u\d+$/, ""));
  };

  const buckets = new Int8Array(linkEls.length); // each link's colour class now (u0 at load)
  function recolour(util) {
    const t0 = performance.now();
    live.util = util;
    for (let i = 0; i < util.length; i++) {
      const b = bucketOf(util[i]);
      if (b === buckets[i]) continue; // only the links whose colour changes are touched
      buckets[i] = b;
      const el = linkEls[i];
      el.setAttribute("class", linkClass(i) + " u" + b + (live.failedLinks.has(i) ? " down" : ""));
    }
    live.recolour.push(performance.now() - t0);
    if (live.recolour.length > 1000) live.recolour.shift();
  }
  window.liveRecolourAll = function (util) { recolour(util); }; // for the benchmark

  function setFailedLinks(list) {
    const next = new Set(list);
    for (const i of live.failedLinks) if (!next.has(i)) {
      const el = linkEls[i];
      el.classList.remove("down");
      linkHome.appendChild(el);
    }
    for (const i of next) {
      if (live.failedLinks.has(i)) continue;
      const el = linkEls[i];
      el.classList.add("down");
      failedG.insertBefore(el, failedG.firstChild); // links below failed sites, above all else
    }
    live.failedLinks = next;
  }
  function setFailedSites(list) {
    const next = new Set(list);
    for (const i of live.failedSites) if (!next.has(i)) {
      const el = siteEls[i];
      el.classList.remove("down");
      siteHome.appendChild(el);
    }
    for (const i of next) {
      if (live.failedSites.has(i)) continue;
      const el = siteEls[i];
      el.classList.add("down");
      failedG.appendChild(el);
    }
    live.failedSites = next;
  }
  const rings = new Map(); // site index -> its ring in #cut
  function setCut(list) {
    const next = new Set(list);
    for (const [i, ring] of rings) if (!next.has(i)) {
      ring.remove();
      rings.delete(i);
      siteEls[i].classList.remove("cut");
    }
    live.cut = next;
    for (const i of list) {
      if (rings.has(i)) continue;
      const el = siteEls[i];
      el.classList.add("cut");
      const ring = document.createElementNS(SVGNS, "circle");
      ring.setAttribute("cx", el.getAttribute("cx"));
      ring.setAttribute("cy", el.getAttribute("cy"));
      ring.setAttribute("r", "3.2");
      ring.setAttribute("class", "cutring");
      ring.dataset.cut = meta.sites[i][0];
      cutG.appendChild(ring);
      rings.set(i, ring);
    }
    document.getElementById("cut-count").textContent = String(list.length);
  }
  function setPath(p) {
    live.path = p;
    if (p) document.getElementById("path-service").value = p.service;
    routeG.textContent = "";
    const text = document.getElementById("path-text");
    if (!p) { text.textContent = "–"; return; }
    const name = (i) => { const s = meta.sites[i]; return (s[2] || s[1]) + (s[2] ? " " + s[1] : ""); };
    if (p.reachable === null) {  // the emulator has not said yet
      text.textContent = "経路を確認中 asking: " + p.site + " → " + p.service;
      text.className = "";
      return;
    }
    if (!p.reachable) {
      text.textContent = "到達不能 unreachable: " + p.site + " → " + p.service + " @ " + p.host;
      text.className = "bad";
      return;
    }
    const pts = p.sites.map((i) => {
      const el = siteEls[i];
      return el.getAttribute("cx") + "," + el.getAttribute("cy");
    });
    const line = document.createElementNS(SVGNS, "polyline");
    line.setAttribute("points", pts.join(" "));
    line.setAttribute("class", "routeline");
    line.dataset.route = p.links.map((i) => meta.links[i]).join(" ");
    routeG.appendChild(line);
    text.className = "";
    text.textContent = p.sites.map(name).join(" → ") + " (" + p.delay_ms + " ms)";
  }

  // -- plots ------------------------------------------------------------------------------
  const plots = document.getElementById("plots");
  const plotEls = {};
  for (const s of meta.services) {
    const box = document.createElement("div");
    box.className = "plot";
    box.innerHTML = '<div class="pt"></div><svg viewBox="0 0 200 40" preserveAspectRatio="none">' +
      '<polyline class="pd"/><polyline class="px"/></svg>';
    box.querySelector(".pt").textContent = s.title || s.name;
    box.dataset.service = s.name;
    plots.appendChild(box);
    plotEls[s.name] = box;
    live.history[s.name] = [];
  }
  function drawPlot(name) {
    const box = plotEls[name];
    const rows = live.history[name] || [];
    if (!box || !rows.length) return;
    const n = rows.length;
    let top = 1;
    for (const r of rows) top = Math.max(top, r[1], r[2] + r[3]);
    const xy = (k, v) => ((200 * k) / Math.max(1, n - 1)).toFixed(1) + "," + (40 - (38 * v) / top).toFixed(1);
    box.querySelector(".pd").setAttribute("points", rows.map((r, k) => xy(k, r[2])).join(" "));
    box.querySelector(".px").setAttribute("points", rows.map((r, k) => xy(k, r[3])).join(" "));
    const last = rows[n - 1];
    box.dataset.delivered = String(last[2]);
    box.dataset.dropped = String(last[3]);
    box.querySelector(".pt").textContent = (meta.services.find((s) => s.name === name).title || name) +
      ": " + Math.round(last[2]) + " / " + Math.round(last[3]);
  }

  // -- timeline -----------------------------------------------------------------------------
  const timeline = document.getElementById("timeline");
  function addLines(lines) {
    for (const e of lines) {
      const li = document.createElement("li");
      li.textContent = e.clock + "  " + e.text;
      timeline.insertBefore(li, timeline.firstChild);
    }
    while (timeline.children.length > 300) timeline.removeChild(timeline.lastChild);
  }

  // -- frames -------------------------------------------------------------------------------
  function apply(f) {
    if (f.reload) { location.reload(); return; }
    if (f.snapshot || f.reset) {
      timeline.textContent = "";
      for (const k in live.history) live.history[k] = [];
    }
    if (f.failed_links) setFailedLinks(f.failed_links);
    if (f.failed_sites) setFailedSites(f.failed_sites);
    if (f.util) recolour(f.util);
    if (f.cut_off) setCut(f.cut_off);
    if ("path" in f) setPath(f.path);
    if (f.clock) {
      document.getElementById("clock").textContent = f.clock;
      live.sim_s = f.sim_s;
    }
    if (f.history) {
      for (const k in f.history) { live.history[k] = f.history[k].slice(); drawPlot(k); }
    }
    if (f.bin) {
      for (const k in f.bin.services) {
        const h = live.history[k] || (live.history[k] = []);
        h.push([f.bin.end_s, ...f.bin.services[k]]);
        if (h.length > 288) h.shift();
        drawPlot(k);
      }
    }
    if (f.timeline) addLines(f.timeline);
    if (f.events) addLines(f.events);
    if (f.control) setControl(f.control);
    if (f.faults) live.faults = f.faults;
  }
  function setControl(c) {
    live.control = c;
    document.getElementById("play").textContent = c.paused ? "再生 Play" : "一時停止 Pause";
    const sel = document.getElementById("speed");
    const v = String(Math.round(c.speed));
    if (![...sel.options].some((o) => o.value === v)) sel.add(new Option(v, v));
    sel.value = v;
    const st = document.getElementById("status");
    const bits = [];
    if (c.ended) bits.push("終了 ended");
    if (c.attached === false) bits.push("エミュレータ未接続 no emulator");
    if (c.scenario) bits.push("シナリオ scenario: " + c.scenario);
    st.textContent = bits.join(" · ");
    document.body.classList.toggle("ended", !!c.ended);
  }

  function connect() {
    const es = (window.es = new EventSource("/stream"));
    const conn = document.getElementById("conn");
    es.onopen = () => { conn.textContent = "接続 live"; conn.className = "on"; };
    es.onerror = () => { conn.textContent = "再接続中 reconnecting"; conn.className = "off"; };
    es.onmessage = (ev) => {
      const t0 = performance.now();
      const f = JSON.parse(ev.data);
      if (f.snapshot) { live.snapshots++; live.firstSeq = f.seq; live.frames = 0; }
      else if (live.seq && f.seq !== live.seq + 1) { es.close(); connect(); return; } // a gap: resync
      apply(f);
      live.seq = f.seq;
      live.frames++;
      document.getElementById("seq").textContent = String(f.seq);
      const t1 = performance.now();
      live.timings.push({ seq: f.seq, apply_ms: t1 - t0, latency_ms: performance.timeOrigin + t1 - f.t_ms });
      if (live.timings.length > 5000) live.timings.shift();
    };
  }

  // -- controls -----------------------------------------------------------------------------
  async function post(verb, body) {
    const r = await fetch("/api/" + verb, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    const out = await r.json();
    const st = document.getElementById("status");
    if (!r.ok) st.textContent = "エラー error: " + (out.error || r.status);
    return out;
  }
  window.livePost = post;
  document.getElementById("play").onclick = () =>
    post("clock", { action: live.control.paused ? "play" : "pause" });
  document.getElementById("step").onclick = () => post("clock", { action: "step" });
  document.getElementById("speed").onchange = (e) => post("clock", { action: "speed", value: e.target.value });
  const drill = document.getElementById("drill-start");
  if (drill) drill.onclick = () => post("drill", {
    scenario: document.getElementById("drill-scenario").value,
    speed: document.getElementById("speed").value,
  });

  const bodies = document.getElementById("bodies");
  const byLabel = new Map();
  for (const s of meta.sites) {
    if (s[3] !== "municipality" && s[3] !== "prefecture") continue;
    const label = (s[2] ? s[2] + " " : "") + s[1] + " (" + s[0] + ")";
    byLabel.set(label, s[0]);
    const o = document.createElement("option");
    o.value = label;
    bodies.appendChild(o);
  }
  const svcSel = document.getElementById("path-service");
  for (const s of meta.services) svcSel.add(new Option(s.title || s.name, s.name));
  function choosePath(siteId) {
    post("path", { site: siteId, service: svcSel.value });
  }
  document.getElementById("path-site").onchange = (e) => {
    const id = byLabel.get(e.target.value) || (siteIndex.has(e.target.value) ? e.target.value : null);
    if (id) choosePath(id);
  };
  svcSel.onchange = () => { if (live.path) choosePath(live.path.site); };

  const mapEl = document.getElementById("map");
  const targetSel = document.getElementById("target");
  mapEl.addEventListener("click", (ev) => {
    const el = ev.target;
    let target = targetSel ? targetSel.value : "path";
    if (meta.mode === "replay") target = "path";
    if (el.dataset.site !== undefined) {
      const s = meta.sites[siteIndex.get(el.dataset.site)];
      if (target === "path") { if (s[3] === "municipality" || s[3] === "prefecture") choosePath(s[0]); return; }
      if (target === "campus") { if (s[5]) post("fault", { target: "campus", id: s[5] }); return; }
      if (target === "pref") { if (s[4]) post("fault", { target: "pref", id: s[4] }); return; }
      post("fault", { target: "site", id: s[0] });
    } else if (el.dataset.link !== undefined) {
      if (target === "link" || target === "site") post("fault", { target: "link", id: el.dataset.link });
    } else if (el.dataset.pref !== undefined && target === "pref") {
      post("fault", { target: "pref", id: el.dataset.pref });
    }
  });
  const tip = document.getElementById("tip");
  mapEl.addEventListener("mousemove", (ev) => {
    const el = ev.target;
    let text = "";
    if (el.dataset.site !== undefined) {
      const i = siteIndex.get(el.dataset.site), s = meta.sites[i];
      text = (s[2] ? s[2] + " " : "") + s[1] + " [" + s[0] + ", " + s[3] + "]" +
        (live.failedSites.has(i) ? " 障害 FAILED" : "") + (live.cut.has(i) ? " 孤立 CUT OFF" : "");
    } else if (el.dataset.link !== undefined) {
      const i = linkIndex.get(el.dataset.link);
      text = el.dataset.link + ": " + ((live.util[i] || 0) * 100 / UNITS).toFixed(3) + " %" +
        (live.failedLinks.has(i) ? " 障害 FAILED" : "");
    }
    tip.hidden = !text;
    tip.textContent = text;
  });

  // -- legend -------------------------------------------------------------------------------
  const legend = document.getElementById("legend");
  let html = '<div class="lt">回線利用率 Link utilisation (log)</div><div class="scale">';
  for (let k = 0; k < LEGEND.length; k++) html += '<span class="sw u' + k + '"></span><span>' + LEGEND[k] + "</span>";
  html += '</div><div class="keys"><span class="sw down"></span>障害 failed' +
    ' <span class="sw cutk"></span>孤立した団体 cut off (<span id="cut-count">0</span>)' +
    ' <span class="sw routek"></span>経路 path</div>';
  legend.innerHTML = html;

  connect();
})();
