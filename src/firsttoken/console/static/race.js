// The race: one question sent to two profiles at once, their answers side by side, each lane's
// clock running until its first token arrives. What routing and caching buy, seen in a second.
// Builds its own button and panel, so the page's markup holds one <script> line for it.
"use strict";

(function () {
  const page = window.firsttokenPage;
  if (!page) return;
  const header = document.querySelector("header.top");

  const toggle = document.createElement("button");
  toggle.type = "button";
  toggle.id = "race-toggle";
  toggle.className = "race-toggle";
  toggle.textContent = "Race two profiles";
  toggle.setAttribute("aria-expanded", "false");
  toggle.setAttribute("aria-controls", "race");

  const panel = document.createElement("section");
  panel.id = "race";
  panel.className = "race";
  panel.hidden = true;
  panel.setAttribute("aria-label", "Race two profiles");
  panel.innerHTML = `
    <form class="race-form" autocomplete="off">
      <label>Left <select id="race-a"></select></label>
      <label>Right <select id="race-b"></select></label>
      <label class="race-question"><span class="visually-hidden">Question for both</span>
        <input id="race-prompt" type="text" required placeholder="One question, both profiles"></label>
      <button id="race-go" type="submit">Race</button>
    </form>
    <div class="race-lanes">
      <div class="race-lane" data-lane="a"></div>
      <div class="race-lane" data-lane="b"></div>
    </div>`;
  header.append(toggle);
  header.after(panel);

  const form = panel.querySelector("form");
  const pickers = [panel.querySelector("#race-a"), panel.querySelector("#race-b")];
  const lanes = [...panel.querySelectorAll(".race-lane")];

  // The chat's picker holds the profiles the server allows (chat.js fills it from api/metrics).
  function fillPickers() {
    const names = [...document.querySelectorAll("#profile option")].map((o) => o.value);
    pickers.forEach((picker, i) => {
      const chosen = picker.value;
      picker.replaceChildren(...names.map((name) => new Option(name, name)));
      const fallback = names[i] || names[0];
      picker.value = names.includes(chosen) ? chosen : i === 0 && names.includes("fast") ? "fast" : fallback;
    });
    if (pickers[0].value === pickers[1].value && names.length > 1) {
      pickers[1].value = names.find((n) => n !== pickers[0].value);
    }
  }

  toggle.addEventListener("click", () => {
    const open = panel.hidden;
    panel.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    if (open) {
      fillPickers();
      panel.querySelector("#race-prompt").focus();
    }
  });

  function laneParts(lane, profile) {
    lane.replaceChildren();
    lane.dataset.state = "waiting";
    delete lane.dataset.first;
    delete lane.dataset.firstTokenMs;
    const title = document.createElement("h2");
    title.textContent = profile;
    const clock = document.createElement("div");
    clock.className = "race-clock";
    clock.setAttribute("role", "status");
    clock.textContent = "waiting for the first token…";
    const text = document.createElement("div");
    text.className = "race-text";
    const stats = document.createElement("div");
    stats.className = "stats";
    lane.append(title, clock, text, stats);
    return { clock, text, stats };
  }

  async function run(lane, profile, question, started, race) {
    const parts = laneParts(lane, profile);
    const tick = () => {
      if (lane.dataset.state !== "waiting") return;
      parts.clock.textContent = `${Math.round(performance.now() - started)} ms, no token yet`;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
    try {
      const response = await fetch("api/chat", {
        method: "POST",
        headers: page.postHeaders({ "Content-Type": "application/json", Accept: "text/event-stream" }),
        body: JSON.stringify({ messages: [{ role: "user", content: question }], profile }),
      });
      if (!response.ok) throw new Error(await page.refusal(response));
      for await (const { event, data } of page.events(response.body)) {
        if (event === "token") {
          if (lane.dataset.state === "waiting") {
            const ms = Math.round(performance.now() - started);
            lane.dataset.state = "streaming";
            lane.dataset.firstTokenMs = String(ms);
            if (!race.first) {
              race.first = lane;
              lane.dataset.first = "true";
            }
            parts.clock.textContent = `first token after ${ms} ms${race.first === lane ? " — first" : ""}`;
          }
          parts.text.append(data.text);
        } else if (event === "done") {
          lane.dataset.state = "done";
          const tps = data.tps == null ? "–" : `${Math.round(data.tps)} tokens/s`;
          const ttft = data.ttft_ms == null ? "–" : `${Math.round(data.ttft_ms)} ms`;
          const hit = ((data.usage || {}).cache_read_input_tokens || 0) > 0 ? "cache hit" : "cache miss";
          parts.stats.textContent = `server TTFT ${ttft} · ${tps} · ${data.model || "unknown model"} · ${hit}`;
        } else if (event === "error") {
          throw new Error(`${data.type}: ${data.message}`);
        }
      }
      if (lane.dataset.state !== "done") throw new Error("the connection closed before the answer finished");
    } catch (err) {
      lane.dataset.state = "error";
      parts.clock.textContent = err.message;
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const question = panel.querySelector("#race-prompt").value.trim();
    const go = panel.querySelector("#race-go");
    if (!question || go.disabled) return;
    go.disabled = true;
    const race = { first: null };
    const started = performance.now();
    try {
      await Promise.all(lanes.map((lane, i) => run(lane, pickers[i].value, question, started, race)));
    } finally {
      go.disabled = false;
    }
  });
})();
