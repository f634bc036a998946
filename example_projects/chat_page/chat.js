// The chat page shared by the Starlette, Flask and Django examples. No build step, no libraries:
// fetch() + a ReadableStream reader parse the server-sent events of POST /api/chat as they arrive.
"use strict";

(function () {
  const conversation = document.getElementById("conversation");
  const form = document.getElementById("composer");
  const prompt = document.getElementById("prompt");
  const send = document.getElementById("send");
  const banner = document.getElementById("banner");
  const empty = document.getElementById("empty");

  // The whole conversation goes with every turn: the server is stateless.
  const history = [];

  async function showUpstream() {
    try {
      const response = await fetch("/api/metrics", { headers: { Accept: "application/json" } });
      const metrics = await response.json();
      const upstream = metrics.upstream || {};
      if (upstream.kind === "emulator") {
        banner.textContent =
          "Answers come from the embedded emulator, not Claude: no ANTHROPIC_API_KEY or " +
          "ANTHROPIC_BASE_URL is set. Timing follows the real models' latency.";
        banner.hidden = false;
      }
    } catch (err) {
      // The banner is informational; the chat works without it.
      console.warn("could not read /api/metrics", err);
    }
  }

  function addTurn(who, className) {
    const turn = document.createElement("div");
    turn.className = "turn";
    const label = document.createElement("div");
    label.className = "who";
    label.textContent = who;
    const body = document.createElement("div");
    body.className = className;
    turn.append(label, body);
    conversation.append(turn);
    empty.hidden = true;
    return { turn, body };
  }

  function showError(answer, message) {
    answer.dataset.state = "error";
    const line = document.createElement("span");
    line.className = "error";
    line.textContent = message;
    answer.append(line);
    answer.scrollIntoView({ block: "end" });
  }

  function showStats(turn, done) {
    const stats = document.createElement("div");
    stats.className = "stats";
    const usage = done.usage || {};
    const hit = (usage.cache_read_input_tokens || 0) > 0;
    stats.dataset.ttftMs = done.ttft_ms == null ? "" : String(done.ttft_ms);
    stats.dataset.tps = done.tps == null ? "" : String(done.tps);
    stats.dataset.model = done.model || "";
    stats.dataset.cache = hit ? "hit" : "miss";
    const ttft = done.ttft_ms == null ? "–" : `${Math.round(done.ttft_ms)} ms`;
    const tps = done.tps == null ? "–" : `${Math.round(done.tps)} tokens/s`;
    const cache = document.createElement("span");
    cache.className = hit ? "cache-hit" : "cache-miss";
    cache.textContent = hit ? "prompt cache hit" : "prompt cache miss";
    stats.append(`first token ${ttft} · ${tps} · ${done.model || "unknown model"} · `, cache);
    turn.append(stats);
    turn.scrollIntoView({ block: "end" });
  }

  // Yields {event, data} for each complete server-sent event; comments (": ping") are skipped.
  async function* events(body) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) !== -1) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let event = "message";
          const data = [];
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) continue;
            if (line.startsWith("event:")) event = line.slice(6).trim();
            else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
          }
          if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
        }
      }
    } finally {
      reader.releaseLock();
    }
  }

  async function ask(question) {
    history.push({ role: "user", content: question });
    addTurn("You", "question").body.textContent = question;
    const { turn, body: answer } = addTurn("Claude", "answer");
    answer.dataset.state = "streaming";
    const text = document.createElement("span");
    text.className = "text";
    answer.append(text);
    // One growing text node: appending to it is cheaper than re-setting textContent per token.
    const node = document.createTextNode("");
    text.append(node);

    let reply = "";
    let finished = false;
    try {
      const response = await fetch("/api/chat", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify({ messages: history }),
      });
      if (!response.ok) {
        let reason = `HTTP ${response.status}`;
        try {
          reason = (await response.json()).error || reason;
        } catch (_) {
          // Not our JSON (a proxy's error page): the status says enough.
        }
        showError(answer, `${reason} (HTTP ${response.status})`);
        return;
      }
      for await (const { event, data } of events(response.body)) {
        if (event === "token") {
          reply += data.text;
          node.appendData(data.text);
          turn.scrollIntoView({ block: "end" });
        } else if (event === "done") {
          finished = true;
          answer.dataset.state = "done";
          showStats(turn, data);
        } else if (event === "error") {
          showError(answer, `${data.type}: ${data.message}`);
        }
      }
      if (!finished && answer.dataset.state === "streaming") {
        showError(answer, "the connection closed before the answer finished");
      }
    } catch (err) {
      showError(answer, `network error: ${err.message}`);
    } finally {
      if (finished) {
        history.push({ role: "assistant", content: reply });
      } else {
        // A failed turn is dropped, so the next question is not sent after an unanswered one.
        history.pop();
      }
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const question = prompt.value.trim();
    if (!question || send.disabled) return;
    prompt.value = "";
    send.disabled = true;
    try {
      await ask(question);
    } finally {
      send.disabled = false;
      prompt.focus();
    }
  });

  prompt.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  showUpstream();
  prompt.focus();
})();
