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

  // The page's other scripts (loaded after this one, each rendering the events of one feature)
  // register here: `on(event, fn)` runs fn(data, answer) for each such event of an answer, where
  // answer is {turn, body, text}; `beforeSend(fn)` lets fn(requestBody, history) add to each POST.
  const handlers = new Map();
  const bodyHooks = [];
  window.firsttokenPage = {
    on(event, fn) {
      if (!handlers.has(event)) handlers.set(event, []);
      handlers.get(event).push(fn);
    },
    beforeSend(fn) {
      bodyHooks.push(fn);
    },
    postHeaders,
    addTurn,
    history,
    resume,
    events,
    refusal,
  };

  // Headers for every POST. Django's CSRF protection wants its token back in X-CSRFToken: from
  // the `csrftoken` cookie, or a {% csrf_token %} field where the cookie is HttpOnly. Other
  // frameworks set neither, and the header is not sent.
  function postHeaders(headers) {
    const cookie = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
    const field = document.querySelector("[name=csrfmiddlewaretoken]");
    const token = cookie ? decodeURIComponent(cookie.slice("csrftoken=".length)) : field && field.value;
    return token ? { ...headers, "X-CSRFToken": token } : headers;
  }

  // Why a request was refused: firsttoken's {"error": ...}, or the text of any other error page
  // (Django's 403 for a missing CSRF token, a proxy's 502), never a JSON parse failure.
  async function refusal(response) {
    const body = await response.text();
    let reason = null;
    try {
      reason = JSON.parse(body).error;
    } catch (_) {
      reason = new DOMParser().parseFromString(body, "text/html").body.textContent;
    }
    reason = (reason || response.statusText || "").replace(/\s+/g, " ").trim().slice(0, 200);
    return reason ? `${reason} (HTTP ${response.status})` : `HTTP ${response.status}`;
  }

  async function showUpstream() {
    try {
      const response = await fetch("api/metrics", { headers: { Accept: "application/json" } });
      const metrics = await response.json();
      fillPicker(metrics.browser_profiles);
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

  // The profiles the server lets a browser name (api/metrics says which), the default chosen; the
  // page's own list stays where an older server does not say.
  function fillPicker(profiles) {
    const picker = document.getElementById("profile");
    if (!picker || !profiles || !profiles.names || !profiles.names.length) return;
    picker.replaceChildren(...profiles.names.map((name) => new Option(name, name)));
    picker.value = profiles.names.includes(profiles.default) ? profiles.default : profiles.names[0];
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
          let id = null;
          const data = [];
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) continue;
            if (line.startsWith("event:")) event = line.slice(6).trim();
            else if (line.startsWith("id:")) id = line.slice(3).trim();
            else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
          }
          if (data.length) yield { event, id, data: JSON.parse(data.join("\n")) };
        }
      }
    } finally {
      reader.releaseLock();
    }
  }

  // Thinking streams into a collapsed <details> above the answer's text: there if wanted, out of
  // the way if not. The summary line says whether it is still coming.
  function thinkingBox(answer, text) {
    let box = answer.querySelector('details.thinking[data-state="streaming"]') || answer.querySelector("details.thinking");
    if (box && box.dataset.state === "done" && afterTools(answer)) box = null;
    if (!box) {
      box = document.createElement("details");
      box.className = "thinking";
      box.dataset.state = "streaming";
      const summary = document.createElement("summary");
      summary.textContent = "Thinking…";
      const body = document.createElement("div");
      body.className = "thinking-text";
      box.append(summary, body);
      if (afterTools(answer)) answer.append(box);
      else answer.insertBefore(box, text);
    }
    return box;
  }

  function endThinking(answer) {
    const box = answer.querySelector('details.thinking[data-state="streaming"]');
    if (box) {
      box.dataset.state = "done";
      box.querySelector("summary").textContent = "Thought";
    }
  }

  // One box per tool call, its input growing as the fragments arrive (not valid JSON until the
  // call is complete, so it is shown as text), then replaced by the parsed input.
  function toolBox(answer, data) {
    let box = answer.querySelector(`.tool[data-id="${CSS.escape(data.id)}"]`);
    if (!box) {
      box = document.createElement("div");
      box.className = "tool";
      box.dataset.id = data.id;
      box.dataset.state = "streaming";
      const name = document.createElement("div");
      name.className = "tool-name";
      name.textContent = `tool call: ${data.name}`;
      const input = document.createElement("pre");
      input.className = "tool-input";
      box.append(name, input);
      answer.append(box);
    }
    return box;
  }

  // Agent turns (milestone 2): the server runs the tools and streams the next step, so text,
  // thinking and tool boxes take turns; what comes after a tool box goes below it.
  function afterTools(answer) {
    const last = answer.lastElementChild;
    return Boolean(last && last.classList.contains("tool"));
  }

  function textNodeFor(answer, node) {
    const tools = answer.querySelectorAll(".tool");
    const lastTool = tools[tools.length - 1];
    // The current text is already below the last tool box: keep growing it.
    if (!lastTool || node.parentNode.compareDocumentPosition(lastTool) & Node.DOCUMENT_POSITION_PRECEDING) return node;
    const span = document.createElement("span");
    span.className = "text";
    const next = document.createTextNode("");
    span.append(next);
    answer.append(span);
    return next;
  }

  // The profile the page asks for: the picker's choice (`chat` when the page has none).
  function chosenProfile() {
    const picker = document.getElementById("profile");
    return picker && picker.value ? picker.value : undefined;
  }

  // Resuming an answer whose connection dropped (the server has Redis: every event has an id).
  // Asks GET /api/chat/{id}/stream with the last event's id, a few times, waiting a little longer
  // each time (a phone coming out of a tunnel); null when there is nothing to resume (204), or
  // the server kept no ids.
  async function resumeStream(responseId, lastEventId) {
    if (!responseId || lastEventId == null) return null;
    for (let attempt = 0; attempt < 6; attempt++) {
      await new Promise((done) => setTimeout(done, 250 * 2 ** attempt));
      try {
        const response = await fetch(`api/chat/${encodeURIComponent(responseId)}/stream`, {
          headers: { Accept: "text/event-stream", "Last-Event-ID": lastEventId },
        });
        if (response.status === 204) return null;
        if (response.ok) return response;
      } catch (_) {
        // Still offline: try again.
      }
    }
    return null;
  }

  // The events of an answer across reconnections: after a drop, go on from the last id seen.
  async function* resumingEvents(first, position) {
    let response = first;
    while (response) {
      try {
        for await (const item of events(response.body)) {
          if (item.id != null) position.lastId = item.id;
          if (item.event === "start") position.responseId = item.data.response_id;
          yield item;
          if (item.event === "done" || item.event === "error") return;
        }
      } catch (err) {
        console.warn("connection dropped, resuming", err);
      }
      response = await resumeStream(position.responseId, position.lastId);
    }
  }

  function requestBody() {
    const body = { messages: history, profile: chosenProfile() };
    for (const hook of bodyHooks) hook(body, history);
    return body;
  }

  // The text of an answer that paused for the user's approval: the answer that resumes it ends
  // the assistant's turn in the history (one message for both).
  let carried = "";
  // The answer streaming now, if any: a resumed one starts once it has ended.
  let current = Promise.resolve();

  async function ask(question) {
    if (carried) {
      // A new question instead of an answer to the approval: the paused turn ends where it was.
      history.push({ role: "assistant", content: carried });
      carried = "";
    }
    history.push({ role: "user", content: question });
    addTurn("You", "question").body.textContent = question;
    await answerTurn({});
  }

  // Go on with the conversation as it is, `extra` added to the body (`approvals`): a new answer.
  async function resume(extra) {
    await current;
    send.disabled = true;
    try {
      current = answerTurn(extra);
      await current;
    } finally {
      send.disabled = false;
      refocus();
    }
  }

  // Back to the text box after an answer, unless the answer asked for something (a button of it
  // has the focus).
  function refocus() {
    if (!conversation.contains(document.activeElement)) prompt.focus();
  }

  async function answerTurn(extra) {
    const resuming = Object.keys(extra).length > 0;
    const { turn, body: answer } = addTurn("Claude", "answer");
    answer.dataset.state = "streaming";
    // Screen readers hear the answer once it is whole, not a token at a time.
    answer.setAttribute("aria-busy", "true");
    const text = document.createElement("span");
    text.className = "text";
    answer.append(text);
    // One growing text node: appending to it is cheaper than re-setting textContent per token.
    let node = document.createTextNode("");
    text.append(node);

    let reply = "";
    let finished = false;
    let paused = false;
    try {
      const response = await fetch("api/chat", {
        method: "POST",
        headers: postHeaders({ "Content-Type": "application/json", Accept: "text/event-stream" }),
        body: JSON.stringify({ ...requestBody(), ...extra }),
      });
      if (!response.ok) {
        showError(answer, await refusal(response));
        return;
      }
      const position = { responseId: response.headers.get("X-Response-Id"), lastId: null };
      for await (const { event, data } of resumingEvents(response, position)) {
        for (const handler of handlers.get(event) || []) handler(data, { turn, body: answer, text });
        if (event === "token") {
          endThinking(answer);
          reply += data.text;
          node = textNodeFor(answer, node);
          node.appendData(data.text);
          turn.scrollIntoView({ block: "end" });
        } else if (event === "thinking") {
          thinkingBox(answer, text).querySelector(".thinking-text").append(data.text);
        } else if (event === "tool_input") {
          endThinking(answer);
          toolBox(answer, data).querySelector(".tool-input").append(data.delta);
          turn.scrollIntoView({ block: "end" });
        } else if (event === "tool_call") {
          const box = toolBox(answer, data);
          box.dataset.state = "done";
          box.querySelector(".tool-input").textContent = JSON.stringify(data.input, null, 2);
        } else if (event === "tool_result") {
          const box = toolBox(answer, data);
          const output = document.createElement("pre");
          output.className = data.is_error ? "tool-output error" : "tool-output";
          output.textContent = typeof data.output === "string" ? data.output : JSON.stringify(data.output, null, 2);
          box.append(output);
        } else if (event === "reset") {
          // The answer starts again on another model: what it showed so far goes, quietly.
          reply = "";
          text.replaceChildren();
          answer.replaceChildren(text);
          node = document.createTextNode("");
          text.append(node);
        } else if (event === "done") {
          finished = true;
          paused = Boolean(data.awaiting_approval && data.awaiting_approval.length);
          endThinking(answer);
          answer.dataset.state = "done";
          if (data.stop_details) {
            const note = document.createElement("div");
            note.className = "refusal";
            note.textContent = `Declined${data.stop_details.category ? ` (${data.stop_details.category})` : ""}: ${data.stop_details.explanation || "no explanation given"}`;
            answer.append(note);
          }
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
      answer.removeAttribute("aria-busy");
      if (finished && paused) {
        carried += reply;
      } else if (finished) {
        history.push({ role: "assistant", content: carried + reply });
        carried = "";
      } else if (!resuming) {
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
      current = ask(question);
      await current;
    } finally {
      send.disabled = false;
      refocus();
    }
  });

  prompt.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  // Warming while the user types (POST /api/warm): once the user starts a follow-up, the
  // conversation so far goes ahead with `max_tokens: 0`, so the next turn reads it from the prompt
  // cache instead of prefilling it. Once per conversation length, WARM_DELAY_MS after the first
  // keystroke; the answer is advisory, the page waits for nothing.
  function warmWhileTyping() {
    const WARM_DELAY_MS = 300;
    let timer = null;
    let warmedLength = 0;
    const ready = () => {
      const length = history.length;
      const answered = length >= 2 && history[length - 1].role === "assistant";
      return answered && length !== warmedLength && !send.disabled;
    };
    prompt.addEventListener("input", () => {
      // Until an answer has finished there is nothing new to warm; the next keystroke asks again.
      if (timer !== null || !prompt.value.trim() || !ready()) return;
      timer = setTimeout(() => {
        timer = null;
        if (!ready()) return;
        warmedLength = history.length;
        fetch("api/warm", {
          method: "POST",
          headers: postHeaders({ "Content-Type": "application/json" }),
          body: JSON.stringify({ messages: history.slice() }),
        })
          .then((response) => (response.ok ? response.json() : { warmed: false }))
          // Shown nowhere; kept on the text box for whoever inspects the page (and the tests).
          .then((result) => {
            prompt.dataset.warmed = String(Boolean(result.warmed));
          })
          .catch(() => {});
      }, WARM_DELAY_MS);
    });
  }

  showUpstream();
  warmWhileTyping();
  prompt.focus();
})();
