// Tools the API runs itself (web search, web fetch, code execution, tool search, MCP): their calls
// render in chat.js's tool boxes; this marks those boxes "server" (and names an MCP call's server),
// and adds the answer's estimated cost and server tool requests to its stats line.
"use strict";

(function () {
  const page = window.firsttokenPage;
  if (!page) return;

  // chat.js runs the handlers before its own rendering of the same event, so the box or the stats
  // line exists once the current event is handled: a microtask runs then.
  function later(fn) {
    queueMicrotask(fn);
  }

  // The first of a call's events marks its box; its `tool_call` names an MCP call's server.
  function markServer(body, data) {
    const box = body.querySelector(`.tool[data-id="${CSS.escape(data.id)}"]`);
    if (!box) return;
    let badge = box.querySelector(".tool-server");
    if (!badge) {
      box.dataset.server = "true";
      badge = document.createElement("span");
      badge.className = "tool-server";
      badge.textContent = "server";
      badge.title = "run by the API, not by this app";
      box.querySelector(".tool-name").append(" ", badge);
    }
    if (data.server_name) badge.textContent = `server · ${data.server_name}`;
  }

  for (const event of ["tool_input", "tool_call", "tool_result"]) {
    page.on(event, (data, answer) => {
      if (data.server) later(() => markServer(answer.body, data));
    });
  }

  function dollars(cost) {
    if (cost === 0) return "$0";
    return cost < 0.01 ? `$${cost.toPrecision(2)}` : `$${cost.toFixed(3)}`;
  }

  page.on("done", (data, answer) => {
    if (typeof data.cost_usd !== "number") return;
    later(() => {
      const stats = answer.turn.querySelector(".stats");
      if (!stats) return;
      stats.dataset.costUsd = String(data.cost_usd);
      const cost = document.createElement("span");
      cost.className = "cost";
      cost.title = "estimated from the model's list prices and the answer's usage";
      cost.textContent = `~${dollars(data.cost_usd)}`;
      const parts = [" · ", cost];
      const used = data.server_tool_use || {};
      const counted = Object.entries(used)
        .filter(([, n]) => n > 0)
        .map(([name, n]) => `${n} ${name.replace(/_requests$/, "").replace(/_/g, " ")}${n > 1 ? "es" : ""}`);
      if (counted.length) parts.push(` · ${counted.join(", ")}`);
      stats.append(...parts);
    });
  });
})();
