// The operators' dashboard: polls /api/metrics and draws small SVG line charts of its own.
// Plain JavaScript, no library and no build step: each chart is a polyline per series.
"use strict";

(() => {
  const POLL_MS = 1000;
  const KEEP = 300; // five minutes of points at one a second
  const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563"];
  const SVG = "http://www.w3.org/2000/svg";
  // chart name -> series name -> [[time, value], ...]
  const history = {};
  let previous = null; // the last snapshot's totals, to turn counters into per-interval counts

  function push(chart, series, t, value) {
    if (value === null || value === undefined || Number.isNaN(value)) return;
    const byName = (history[chart] ||= {});
    const points = (byName[series] ||= []);
    points.push([t, value]);
    if (points.length > KEEP) points.shift();
  }

  function sample(snapshot, t) {
    for (const [model, w] of Object.entries(snapshot.models || {})) {
      push("ttft", `${model} p50`, t, w.ttft_p50_ms);
      push("ttft", `${model} p95`, t, w.ttft_p95_ms);
      push("tps", model, t, w.tps_p50);
    }
    const total = snapshot.total || {};
    push("cache", "read ratio", t, total.cache_read_ratio);
    if (previous) {
      push("failures", "fallbacks", t, Math.max(0, (total.fallbacks || 0) - (previous.fallbacks || 0)));
      push("failures", "errors", t, Math.max(0, (total.errors || 0) - (previous.errors || 0)));
    }
    previous = total;
    push("streams", "open", t, snapshot.open_streams || 0);
  }

  function draw(section) {
    const name = section.dataset.chart;
    const svg = section.querySelector("svg");
    const series = history[name] || {};
    const width = svg.clientWidth || 320;
    const height = svg.clientHeight || 160;
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.replaceChildren();
    const all = Object.values(series).flat();
    if (all.length === 0) {
      section.querySelector(".legend").textContent = "no calls yet";
      return;
    }
    const t0 = Math.min(...all.map((p) => p[0]));
    const t1 = Math.max(...all.map((p) => p[0]), t0 + 1);
    const top = Math.max(...all.map((p) => p[1]), name === "cache" ? 1 : 1e-9);
    const pad = 4;
    const x = (t) => pad + ((t - t0) / (t1 - t0)) * (width - 2 * pad);
    const y = (v) => height - pad - (v / top) * (height - 2 * pad);
    const legend = [];
    const now = [];
    Object.entries(series).forEach(([label, points], i) => {
      const color = COLORS[i % COLORS.length];
      const line = document.createElementNS(SVG, "polyline");
      line.setAttribute("fill", "none");
      line.setAttribute("stroke", color);
      line.setAttribute("stroke-width", "1.5");
      line.setAttribute("points", points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" "));
      line.dataset.series = label;
      line.dataset.points = String(points.length);
      svg.appendChild(line);
      legend.push(`<span style="color:${color}">■</span> ${label}`);
      now.push(`${label}: ${points[points.length - 1][1]}`);
    });
    section.querySelector(".legend").innerHTML = legend.join(" &nbsp; ");
    section.querySelector(".now").textContent = now.join(" · ");
  }

  async function poll() {
    try {
      const response = await fetch("api/metrics", { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      sample(await response.json(), Date.now() / 1000);
      document.getElementById("banner").hidden = true;
    } catch (err) {
      const banner = document.getElementById("banner");
      banner.textContent = `could not read /api/metrics: ${err.message}`;
      banner.hidden = false;
    }
    document.querySelectorAll("section.chart").forEach(draw);
  }

  poll();
  setInterval(poll, POLL_MS);
})();
