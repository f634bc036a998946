// The operators' dashboard: polls api/metrics (the whole deployment's when the app has Redis) and
// plots it with uPlot (static/vendor/, MIT; a 51 kB script with time axes, units and the values
// under the cursor in each chart's legend). No build step, nothing from another origin.
"use strict";

(() => {
  const POLL_MS = 1000;
  const KEEP = 900; // fifteen minutes of points at one a second
  const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563", "#be185d", "#65a30d"];
  // Each chart's unit: on its y axis, and after every value in its legend.
  const UNITS = {
    ttft_model: "ms",
    ttft_profile: "ms",
    tps: "tokens/s",
    cache: "%",
    money: "$",
    failures: "calls",
    warming: "requests",
    agent: "count",
    tools: "s",
    streams: "streams",
  };
  const times = [];
  const charts = {}; // name -> {series: Map(label -> values aligned with times), plot, labels}
  let previous = null; // the last poll's counters, to plot counts per poll

  function format(value, unit) {
    if (value == null || Number.isNaN(value)) return "–";
    const abs = Math.abs(value);
    const digits = Number.isInteger(value) || abs >= 100 ? 0 : abs >= 1 ? 1 : unit === "$" ? 4 : 3;
    const text = value.toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: 0 });
    return unit === "$" ? `$${text}` : `${text} ${unit}`;
  }

  // What one poll shows: chart -> label -> value.
  function sample(snapshot) {
    const out = {};
    const put = (chart, label, value) => {
      if (value === undefined) return;
      (out[chart] ||= {})[label] = value;
    };
    const percentiles = (chart, groups) => {
      for (const [name, w] of Object.entries(groups || {})) {
        put(chart, `${name} p50`, w.ttft_p50_ms);
        put(chart, `${name} p95`, w.ttft_p95_ms);
        put(chart, `${name} p99`, w.ttft_p99_ms);
      }
    };
    percentiles("ttft_model", snapshot.models);
    percentiles("ttft_profile", snapshot.profiles);
    for (const [model, w] of Object.entries(snapshot.models || {})) put("tps", model, w.tps_p50);
    const total = snapshot.total || {};
    put("cache", "read ratio", total.cache_read_ratio == null ? null : total.cache_read_ratio * 100);
    put("money", "saved by caching (total)", total.cost_saved_usd || 0);

    // Counters, plotted as what changed since the last poll.
    const counters = {
      fallbacks: total.fallbacks || 0,
      errors: total.errors || 0,
      cost: total.cost_usd,
    };
    if (total.hedges !== undefined) counters.hedges = total.hedges;
    // Warming's usual outcomes are drawn from zero on, the others once they happen.
    for (const key of ["ahead sent", "ahead skipped", "ahead hit", "keep_warm sent", "stay_warm sent"]) {
      counters[`warm:${key}`] = 0;
    }
    counters.resumed = 0;
    for (const c of (snapshot.series || {}).counters || []) {
      if (c.name === "firsttoken.streams.resumed") counters.resumed += c.value;
      if (c.name !== "firsttoken.warming") continue;
      const a = c.attributes;
      const key = `warm:${a["firsttoken.warm.kind"]} ${a["firsttoken.warm.outcome"]}`;
      counters[key] = (counters[key] || 0) + c.value;
    }
    const turns = Object.values(snapshot.turns || {});
    const sum = (field) => turns.reduce((n, t) => n + (t[field] || 0), 0);
    Object.assign(counters, {
      turns: sum("turns"),
      steps: sum("steps"),
      tool_errors: sum("tool_errors"),
      tool_seconds: sum("tool_seconds"),
    });
    if (previous) {
      const delta = (key) => Math.max(0, (counters[key] || 0) - (previous.counters[key] || 0));
      const seconds = Math.max(1e-3, (Date.now() - previous.at) / 1000);
      put("failures", "fallbacks", delta("fallbacks"));
      put("failures", "errors", delta("errors"));
      if (counters.hedges !== undefined) put("failures", "hedges", delta("hedges"));
      if (counters.cost !== undefined) put("money", "cost per hour", (delta("cost") / seconds) * 3600);
      for (const key of Object.keys(counters)) {
        if (key.startsWith("warm:")) put("warming", key.slice(5), delta(key));
      }
      put("agent", "turns", delta("turns"));
      put("agent", "steps", delta("steps"));
      put("agent", "tool errors", delta("tool_errors"));
      put("tools", "tool time", delta("tool_seconds"));
      put("streams", "resumed", delta("resumed"));
    }
    previous = { counters, at: Date.now() };
    put("streams", "open", snapshot.open_streams || 0);
    return out;
  }

  function append(values, t) {
    times.push(t);
    for (const name of Object.keys(UNITS)) {
      const chart = (charts[name] ||= { series: new Map(), plot: null, labels: "" });
      for (const [label, value] of Object.entries(values[name] || {})) {
        if (!chart.series.has(label)) chart.series.set(label, new Array(times.length - 1).fill(null));
      }
      for (const [label, points] of chart.series) {
        const value = (values[name] || {})[label];
        points.push(value == null ? null : value);
      }
    }
    if (times.length > KEEP) {
      times.shift();
      for (const chart of Object.values(charts)) for (const points of chart.series.values()) points.shift();
    }
  }

  function options(name, labels, width) {
    const unit = UNITS[name];
    return {
      width,
      height: 200,
      scales: {
        x: { time: true },
        y: { range: (u, min, max) => [0, unit === "%" ? 100 : max > 0 ? max * 1.1 : 1] },
      },
      axes: [
        { stroke: "#6b7380", grid: { stroke: "#eef0f3" } },
        {
          stroke: "#6b7380",
          grid: { stroke: "#eef0f3" },
          label: unit,
          size: 64,
          values: (u, ticks) => ticks.map((v) => format(v, unit).replace(` ${unit}`, "")),
        },
      ],
      series: [
        { label: "time", value: (u, v) => (v == null ? "–" : new Date(v * 1000).toLocaleTimeString()) },
        ...labels.map((label, i) => ({
          label,
          stroke: COLORS[i % COLORS.length],
          width: 1.5,
          spanGaps: true,
          points: { show: true, size: 4 },
          value: (u, v) => format(v, unit),
        })),
      ],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    };
  }

  function draw(section) {
    const name = section.dataset.chart;
    const chart = charts[name];
    const holder = section.querySelector(".plot");
    const now = section.querySelector(".now");
    if (!chart || chart.series.size === 0) {
      now.textContent = "no calls yet";
      return;
    }
    const labels = [...chart.series.keys()];
    const data = [times.slice(), ...labels.map((label) => chart.series.get(label).slice())];
    const width = Math.max(240, holder.clientWidth);
    if (!chart.plot || chart.labels !== labels.join("\n")) {
      if (chart.plot) chart.plot.destroy();
      chart.plot = new uPlot(options(name, labels, width), data, holder);
      chart.labels = labels.join("\n");
    } else {
      if (chart.plot.width !== width) chart.plot.setSize({ width, height: 200 });
      chart.plot.setData(data);
    }
    section.dataset.points = String(times.length);
    now.textContent = labels
      .map((label) => {
        const points = chart.series.get(label);
        return `${label}: ${format(points[points.length - 1], UNITS[name])}`;
      })
      .join(" · ");
  }

  async function poll() {
    const banner = document.getElementById("banner");
    try {
      const response = await fetch("api/metrics", { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      append(sample(await response.json()), Date.now() / 1000);
      banner.hidden = true;
    } catch (err) {
      banner.textContent = `could not read api/metrics: ${err.message}`;
      banner.hidden = false;
    }
    document.querySelectorAll("section.chart").forEach(draw);
  }

  poll();
  setInterval(poll, POLL_MS);
})();
