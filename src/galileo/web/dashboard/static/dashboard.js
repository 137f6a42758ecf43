// Galileo dashboard: live run view (SSE), controls, workers/routing and the designer.
// Plain JavaScript on plotly.js; every number shown is aggregated by the server.
"use strict";
const Galileo = (() => {
  const $ = (sel) => document.querySelector(sel);
  const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  const num = (v, d = 1) => (v === null || v === undefined ? "–" : Number(v).toFixed(d));
  // the same as the server's PLOTLY_CONFIG: no logo, no cloud or Chart Studio links
  const cfg = {displaylogo: false, responsive: true, showLink: false, showSendToCloud: false, showEditInChartStudio: false,
    modeBarButtonsToRemove: ["sendDataToCloud", "editInChartStudio", "lasso2d", "select2d"]};

  async function api(method, url, body) {
    const opts = {method, headers: {"Accept": "application/json"}, credentials: "same-origin"};
    if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    const r = await fetch(url, opts);
    const type = r.headers.get("content-type") || "";
    const data = type.includes("json") ? await r.json() : await r.text();
    if (!r.ok) {
      const detail = (data && (data.message || data.detail)) || r.statusText;
      throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
    }
    return data;
  }

  function say(text, ok) {
    const el = $("#message");
    if (!el) return;
    el.textContent = text;
    el.className = "msg " + (ok ? "ok" : "bad");
  }

  function rows(table, html) {
    const t = $(table);
    while (t.rows.length > 1) t.deleteRow(1);
    t.insertAdjacentHTML("beforeend", html);
  }

  function plot(container, name, fig, config) {
    let div = document.getElementById("fig-" + name);
    if (!div) {
      div = document.createElement("div");
      div.className = "fig"; div.id = "fig-" + name; div.dataset.figure = name;
      container.appendChild(div);
      // a chart that appears later (replicas once an autoscaler decides) takes its place in
      // the server's order, next to rate and latency, not after the telemetry
      const after = document.getElementById("fig-" + (fig.after || ""));
      if (after && after.parentNode === container) after.after(div);
    }
    // layout.uirevision is constant per run: Plotly.react keeps the user's zoom and the
    // series hidden in the legend across updates
    Plotly.react(div, fig.data, fig.layout, config || cfg);
    div.dataset.points = fig.data.reduce((n, t) => n + (t.meta === "events" || !t.x ? 0 : t.x.length), 0);
    div.dataset.empty = fig.empty ? "1" : "";
  }

  const pct = (v) => (v === null || v === undefined ? "–" : `${(100 * v).toFixed(2)} %`);

  // ------------------------------------------------------------------ live run
  function live(expId, config) {
    const box = $("#live-figures");
    const source = new EventSource(`/ui/api/runs/${encodeURIComponent(expId)}/live`);
    source.addEventListener("snapshot", (ev) => {
      const s = JSON.parse(ev.data);
      const badge = $("#status");
      const failedSoFar = Boolean(s.outcome);
      badge.textContent = s.status;
      badge.className = "badge " + (failedSoFar ? "FAILED" : s.status);
      badge.dataset.status = failedSoFar ? "FAILED" : s.status;
      $("#failed-reason").textContent = s.outcome || "";
      const target = s.groups.reduce((n, g) => n + (g.paused ? 0 : g.rps), 0);
      $("#stage").textContent = s.stage ? `stage: ${s.stage} (${(100 * s.progress).toFixed(0)} %), target now ${num(target)} req/s` : "";
      $("#updated").textContent = s.status === "QUEUED" ? "waiting for a runner" : `t = ${s.now} s`;
      const hint = $("#queued-hint");
      if (hint && s.status !== "QUEUED") hint.remove();
      const h = s.headline;
      $("#hl-rate").textContent = `${num(h.sent_rps)} / ${num(h.target_rps)}`;
      $("#hl-errors").textContent = h.error_rate === null ? (h.errors_rps ? `${num(h.errors_rps)}/s` : "–") : pct(h.error_rate);
      $("#hl-errors-n").textContent = h.requests ? `${h.failed} of ${h.requests} requests` : "";
      $("#hl-errors-box").className = (h.error_rate || h.errors_rps) ? "bad" : "";
      $("#hl-pcts").textContent = h.pcts ? h.pcts.map((v) => num(v, 2)).join(" / ") : "–";
      const b = h.backlog;
      if ($("#hl-backlog")) {
        $("#hl-backlog").textContent = b ? `${b.entries} / ${b.cap}` : "–";
        $("#hl-backlog-n").textContent = b ? (b.entries ? `entries, oldest ${num(b.oldest_age_s, 1)} s` : "entries: none") : "";
        $("#hl-backlog-box").className = b && b.behind ? "bad" : "";
      }
      document.body.dataset.tick = (Number(document.body.dataset.tick || 0) + 1).toString();
      for (const [name, fig] of Object.entries(s.figures)) plot(box, name, fig, config);
      rows("#services", s.services.map((r) => `<tr data-service="${esc(r.service)}"><td class="l">${esc(r.service)}</td><td>${num(r.target)}</td><td class="sent">${r.sent}</td><td class="errors ${r.errors ? "err" : ""}">${r.errors}</td><td>${r.late}</td><td>${r.inflight}</td><td>${num(r.p50_ms, 2)}</td><td>${num(r.p95_ms, 2)}</td><td>${num(r.p99_ms, 2)}</td></tr>`).join(""));
      rows("#workers", s.workers.map((w) => `<tr><td class="l">${esc(w.worker)}</td><td class="l" title="group ${esc(w.group)}">${esc(w.name)}</td><td>${w.sent}</td><td class="${w.errors ? "err" : ""}">${w.errors}</td><td>${w.inflight}</td><td>${num(w.p99_ms, 2)}</td><td>${w.age_s} s ago</td></tr>`).join(""));
      const decisions = s.autoscale || [];
      $("#autoscale-box").hidden = !decisions.length;
      rows("#autoscale", decisions.map((d) => `<tr data-service="${esc(d.service)}"><td>${num(d.t_s)}</td><td class="l">${esc(d.service)}</td><td class="l">${esc(d.action)}</td><td>${d.replicas_from} → ${d.replicas_to}</td><td>${d.ready ?? "–"}</td><td class="l">${esc(d.metric)}</td><td>${num(d.observed, 2)}</td><td>${num(d.target, 2)}</td><td class="l reason">${esc(d.reason)}</td></tr>`).join(""));
      rows("#errors", s.errors.map((e) => `<tr><td class="l">${esc(e.service)}</td><td class="l">${esc(e.kind)}</td><td class="err">${e.count}</td></tr>`).join(""));
      updateGroups(s.groups);
    });
    source.addEventListener("finished", () => { source.close(); location.reload(); });
    source.addEventListener("gone", () => { source.close(); $("#gone").hidden = false; });
    source.addEventListener("problem", (ev) => say(JSON.parse(ev.data).detail, false));
    $("#stop").addEventListener("click", async () => {
      if (!confirm("Stop this experiment? Sending ends now; the data recorded so far is kept.")) return;
      try { const r = await api("POST", `/ui/api/runs/${encodeURIComponent(expId)}/stop`); say(`stop requested (${r.status})`, true); }
      catch (e) { say(e.message, false); }
    });
  }

  function updateGroups(groups) {
    const table = $("#groups");
    const ids = groups.map((g) => g.gid + "=" + g.name).join(",");
    if (table.dataset.ids === ids) {  // keep what the user is typing; refresh the numbers
      for (const g of groups) {
        const tr = table.querySelector(`tr[data-gid="${CSS.escape(g.gid)}"]`);
        tr.querySelector(".target").textContent = num(g.rps, 1);
        tr.querySelector(".state").textContent = g.paused ? "paused" : "running";
        tr.querySelector(".toggle").textContent = g.paused ? "Resume" : "Pause";
      }
      return;
    }
    table.dataset.ids = ids;
    rows("#groups", groups.map((g, i) => `<tr data-gid="${esc(g.gid)}"><td class="l" title="group ${esc(g.gid)}">${esc(g.name)}</td><td>${g.workers}</td><td>${g.clients}</td><td class="target">${num(g.rps, 1)}</td>
      <td class="l"><form class="inline rate-form"><label class="sr" for="rate-${i}">rate of ${esc(g.name)} (req/s)</label><input id="rate-${i}" type="number" class="rate" step="any" placeholder="req/s"><label class="sr" for="ramp-${i}">ramp of ${esc(g.name)} (s)</label><input id="ramp-${i}" type="number" class="ramp" step="any" placeholder="ramp s"><button class="set-rate" type="submit">Set</button></form></td>
      <td class="l"><span class="state">${g.paused ? "paused" : "running"}</span> <button class="toggle" type="button">${g.paused ? "Resume" : "Pause"}</button></td></tr>`).join(""));
    for (const tr of table.querySelectorAll("tr[data-gid]")) {
      const gid = tr.dataset.gid;
      const name = tr.cells[0].textContent;
      const url = `/ui/api/groups/${encodeURIComponent(gid)}`;
      tr.querySelector(".rate-form").addEventListener("submit", async (ev) => {
        ev.preventDefault();  // Enter in either field submits too
        const rate = tr.querySelector(".rate").value, ramp = tr.querySelector(".ramp").value;
        if (rate === "") { say(`give a rate (req/s) for ${name}`, false); return; }
        try {
          const r = await api("POST", url + "/rate", {rps: Number(rate), ramp_s: ramp === "" ? 0 : Number(ramp)});
          say(`${name}: rate set to ${r.rps} req/s`, true);
        } catch (e) { say(e.message, false); }
      });
      tr.querySelector(".toggle").addEventListener("click", async (ev) => {
        const resume = ev.target.textContent === "Resume";
        try { await api("POST", url + (resume ? "/resume" : "/pause")); say(`${name} ${resume ? "resumed" : "paused"}`, true); }
        catch (e) { say(e.message, false); }
      });
    }
  }

  function watchGone(expId) {  // a finished run deleted while viewed
    const timer = setInterval(async () => {
      const r = await fetch(`/ui/api/runs/${encodeURIComponent(expId)}`, {headers: {"Accept": "application/json"}, credentials: "same-origin"});
      if (r.status === 404) { $("#gone").hidden = false; clearInterval(timer); }
    }, 2000);
  }

  // ------------------------------------------------------------------ workers and routing
  function cluster() {
    async function refresh() {
      let c;
      try { c = await api("GET", "/ui/api/cluster"); } catch (e) { say(e.message, false); return; }
      rows("#workers", c.workers.map((w) => `<tr><td class="l">${esc(w.name)}</td><td class="l">${esc(w.host)}</td><td class="l">${Object.entries(w.labels).map(([k, v]) => esc(`${k}=${v}`)).join(", ")}</td><td>${w.processes}</td><td>${w.clients}</td><td>${w.groups}</td><td>${w.heartbeat_age_s} s ago</td></tr>`).join(""));
      rows("#all-groups", c.groups.map((g) => `<tr><td class="l">${esc(g.service)}</td><td class="l muted">${esc(g.gid)}</td><td>${num(g.rps)}</td><td class="l">${g.exp_id ? `<a href="/runs/${esc(g.exp_id)}">${esc(g.exp_id)}</a>` : "–"}</td><td class="l">${g.paused ? "paused" : "running"}</td></tr>`).join(""));
      const table = $("#routing");
      const sig = JSON.stringify(c.routing);
      if (table.dataset.sig === sig) return;
      table.dataset.sig = sig;
      rows("#routing", c.routing.map((r) => `<tr data-service="${esc(r.service)}"><td class="l">${esc(r.service)}</td><td class="l"><input class="hosts" size="30" aria-label="hosts of ${esc(r.service)}" value="${esc(r.hosts.join(","))}"></td><td class="l"><input class="weights" aria-label="weights of ${esc(r.service)}" value="${esc(r.weights.join(","))}"></td><td>${r.version}</td><td><button class="save">Save</button></td></tr>`).join(""));
      for (const tr of table.querySelectorAll("tr[data-service]")) {
        tr.querySelector(".save").addEventListener("click", () => setRoute(tr.dataset.service, tr.querySelector(".hosts").value, tr.querySelector(".weights").value));
      }
    }
    async function setRoute(service, hosts, weights) {
      try {
        const r = await api("PUT", `/ui/api/routing/${encodeURIComponent(service)}`, {hosts, weights});
        say(`${r.service}: ${r.hosts.length} host(s), version ${r.version}`, true);
        refresh();
      } catch (e) { say(e.message, false); }
    }
    $("#route-form").addEventListener("submit", (ev) => { ev.preventDefault(); setRoute($("#new-service").value.trim(), $("#new-hosts").value, $("#new-weights").value); });
    refresh();
    setInterval(refresh, 2000);
  }

  // ------------------------------------------------------------------ designer
  const FIELDS = {
    constant: ["rps"], stages: ["stages"], steps: ["start", "step", "every", "count"],
    sine: ["mean", "amplitude", "period", "duration", "interval"], spike: ["base", "peak", "at", "duration", "ramp"],
  };
  const DEFAULTS = {rps: "50", stages: "5,20,2; 10,60,3; 5,0,2", start: "10", step: "10", every: "5", count: "4",
    mean: "50", amplitude: "30", period: "20", duration: "30", interval: "1", base: "20", peak: "100", at: "10", ramp: "0"};

  const value = (text) => { const t = String(text).trim(); if (t === "") return undefined; const n = Number(t); return Number.isNaN(n) ? t : n; };

  function profileOf(div) {
    const type = div.querySelector(".ptype").value;
    const out = {type};
    for (const f of FIELDS[type]) {
      const raw = div.querySelector(`[data-field="${f}"]`).value;
      if (f === "stages") {
        out.stages = raw.split(";").filter((s) => s.trim()).map((s) => {
          const [duration, rps, ramp] = s.split(",").map(value);
          const st = {duration, rps};
          if (ramp !== undefined) st.ramp = ramp;
          return st;
        });
      } else if (value(raw) !== undefined) out[f] = value(raw);
    }
    return out;
  }

  function scenario() {
    const doc = {name: $("#sc-name").value.trim() || "designed"};
    const d = value($("#sc-duration").value);
    if (d !== undefined) doc.duration = d;
    const apps = $("#sc-apps").value.split(",").map((s) => s.trim()).filter(Boolean);
    if (apps.length) doc.apps = apps;
    doc.workloads = [...document.querySelectorAll(".workload")].map((div) => {
      const w = {service: div.querySelector(".service").value.trim(), clients: value(div.querySelector(".clients").value) ?? 1,
        request: {method: "GET", path: div.querySelector(".path").value || "/"}, profile: profileOf(div)};
      const name = div.querySelector(".wname").value.trim();
      return name ? {name, ...w} : w;
    });
    return doc;
  }

  function addWorkload(type = "stages") {
    const div = document.createElement("fieldset");
    div.className = "workload";
    div.innerHTML = `<legend>workload</legend><div class="row">
      <label>name <input class="wname" placeholder="(service)"></label><label>service <input class="service" value="echo"></label>
      <label>clients <input class="clients" type="number" value="2" min="1"></label><label>path <input class="path" value="/"></label>
      <label>profile <select class="ptype">${Object.keys(FIELDS).map((t) => `<option ${t === type ? "selected" : ""}>${t}</option>`).join("")}</select></label>
      <button class="remove" type="button">Remove</button></div><div class="row params"></div>`;
    const params = div.querySelector(".params");
    const fill = () => {
      params.innerHTML = FIELDS[div.querySelector(".ptype").value].map((f) => f === "stages"
        ? `<label>stages (duration,rps[,ramp]; …) <input data-field="stages" size="40" value="${DEFAULTS.stages}"></label>`
        : `<label>${f} <input data-field="${f}" value="${DEFAULTS[f]}"></label>`).join("");
    };
    fill();
    div.querySelector(".ptype").addEventListener("change", () => { fill(); schedule(); });
    div.querySelector(".remove").addEventListener("click", () => { div.remove(); schedule(); });
    $("#workloads").appendChild(div);
    schedule();
  }

  let timer = null, lastOk = false;
  function schedule() { clearTimeout(timer); timer = setTimeout(preview, 200); }

  async function preview() {
    let r;
    try { r = await api("POST", "/ui/api/designer/plan", scenario()); }
    catch (e) { $("#problems").textContent = e.message; lastOk = false; return; }
    lastOk = r.ok;
    document.body.dataset.planned = r.ok ? "ok" : "problems";
    $("#problems").innerHTML = r.problems.map(esc).join("<br>");
    $("#save-yaml").disabled = $("#submit").disabled = !r.ok;
    if (!r.ok) { $("#total").textContent = ""; return; }
    $("#total").textContent = `${r.total.toLocaleString("en")} requests planned over ${r.length_s} s`;
    $("#yaml").textContent = r.yaml;
    const fig = {data: r.workloads.map((w) => ({type: "scatter", mode: "lines", name: `${w.name} (${w.requests} requests)`, x: w.points.map((p) => p[0]), y: w.points.map((p) => p[1])})),
      layout: {title: {text: "Planned rate", font: {size: 14}}, height: 320, margin: {l: 60, r: 20, t: 40, b: 45}, xaxis: {title: {text: "time (s)"}}, yaxis: {title: {text: "requests per second"}}}};
    Plotly.react("fig-plan", fig.data, fig.layout, cfg);
    document.getElementById("fig-plan").dataset.points = fig.data.length;
  }

  function designer() {
    $("#workloads").addEventListener("input", schedule);
    for (const id of ["#sc-name", "#sc-duration", "#sc-apps"]) $(id).addEventListener("input", schedule);
    $("#add-workload").addEventListener("click", () => addWorkload());
    $("#save-yaml").addEventListener("click", async () => {
      if (!lastOk) return;
      try {
        const r = await fetch("/ui/api/designer/yaml", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(scenario()), credentials: "same-origin"});
        if (!r.ok) throw new Error((await r.json()).detail);
        const a = document.createElement("a");
        a.href = URL.createObjectURL(await r.blob());
        a.download = `${scenario().name}.yaml`;
        document.body.appendChild(a); a.click(); a.remove();
        say("saved", true);
      } catch (e) { say(e.message, false); }
    });
    $("#submit").addEventListener("click", async () => {
      try {
        const doc = scenario();
        const r = await api("POST", "/ui/api/designer/submit", {scenario: doc, name: doc.name});
        $("#message").innerHTML = `queued as <a id="submitted" href="${esc(r.url)}">${esc(r.id)}</a>`;
        $("#message").className = "msg ok";
      } catch (e) { say(e.message, false); }
    });
    addWorkload();
  }

  return {live, watchGone, cluster, designer, api};
})();
