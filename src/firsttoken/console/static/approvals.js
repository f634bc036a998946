// Approvals: a tool that needs the user's yes (`needs_approval=True`) pauses the answer after its
// call (`event: tool_approval`). Its tool box gains Approve and Deny buttons (plain buttons:
// Tab reaches them, Enter or Space presses them); once every waiting call of the answer is
// decided and the answer has ended, the page posts the same conversation with `approvals`, and
// the turn goes on in a new answer. A new question instead leaves the calls unanswered.
"use strict";

(function () {
  const page = window.firsttokenPage;
  if (!page) return;
  // The answer whose calls wait: {ids: Map(id -> decision or null), ended}.
  let waiting = null;

  function box(answer, data) {
    return answer.querySelector(`.tool[data-id="${CSS.escape(data.id)}"]`);
  }

  function settle() {
    if (!waiting || !waiting.ended || [...waiting.ids.values()].includes(null)) return;
    const approvals = [...waiting.ids].map(([id, approved]) => ({ id, approved }));
    waiting = null;
    page.resume({ approvals });
  }

  page.on("tool_approval", (data, { body }) => {
    if (!waiting || waiting.body !== body) waiting = { body, ids: new Map(), ended: false };
    waiting.ids.set(data.id, null);
    const tool = box(body, data);
    if (!tool) return;
    tool.dataset.approval = "waiting";
    const row = document.createElement("div");
    row.className = "approval";
    row.setAttribute("role", "group");
    row.setAttribute("aria-label", `Allow ${data.name}?`);
    const ask = document.createElement("span");
    ask.textContent = `Allow ${data.name}? `;
    const decide = (approved) => {
      if (!waiting || !waiting.ids.has(data.id)) return;
      waiting.ids.set(data.id, approved);
      tool.dataset.approval = approved ? "approved" : "denied";
      for (const button of row.querySelectorAll("button")) button.disabled = true;
      ask.textContent = approved ? "Approved. " : "Denied. ";
      settle();
    };
    const yes = document.createElement("button");
    yes.type = "button";
    yes.className = "approve";
    yes.textContent = "Approve";
    yes.addEventListener("click", () => decide(true));
    const no = document.createElement("button");
    no.type = "button";
    no.className = "deny";
    no.textContent = "Deny";
    no.addEventListener("click", () => decide(false));
    row.append(ask, yes, no);
    tool.append(row);
    yes.focus();
  });

  page.on("done", (data, { body }) => {
    if (waiting && waiting.body === body) {
      waiting.ended = true;
      // After the answer's own end: its history is written before the next request leaves.
      setTimeout(settle, 0);
    }
  });

  page.beforeSend((request) => {
    if (request.approvals || !waiting) return;
    // A new question: the calls that waited stay unanswered, their buttons with them.
    for (const button of waiting.body.querySelectorAll(".approval button")) button.disabled = true;
    waiting = null;
  });
})();
