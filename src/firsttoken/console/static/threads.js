// Threaded chats: the page names its conversation with a chat id (kept in sessionStorage, so a
// reload keeps it) and sends only the new message; the server holds the rest. On load, a chat the
// server holds is shown again from GET /api/chat/{chat_id}/messages. Where the API summarised the
// earlier turns (compaction), the answer says so.
(function () {
  const page = window.firsttokenPage;
  if (!page) return;
  const KEY = "firsttoken.chat_id";

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return `chat-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  }

  let chatId = sessionStorage.getItem(KEY);
  // A chat this tab has not named before has nothing held to restore (and asking would log a 404).
  const known = Boolean(chatId);
  if (!known) {
    chatId = newId();
    sessionStorage.setItem(KEY, chatId);
  }
  document.documentElement.dataset.chatId = chatId;

  page.beforeSend((body, history) => {
    body.chat_id = chatId;
    body.messages = history.slice(-1);
  });

  function summarisedNote(answer) {
    if (answer.querySelector(".compacted")) return;
    const note = document.createElement("div");
    note.className = "compacted";
    note.textContent = "earlier turns summarised";
    answer.prepend(note);
  }

  page.on("compaction", (data, answer) => summarisedNote(answer.body));

  async function restore() {
    let response;
    try {
      response = await fetch(`api/chat/${encodeURIComponent(chatId)}/messages`, {
        headers: { Accept: "application/json" },
      });
    } catch (err) {
      return;
    }
    // 404: the server holds nothing of this chat (new, expired, or another owner's).
    if (!response.ok) return;
    const held = await response.json();
    // Only before the first question of this page: a turn already under way has its own history.
    if (page.history.length) return;
    for (const message of held.messages || []) {
      page.history.push({ role: message.role, content: message.content });
      const user = message.role === "user";
      const { body } = page.addTurn(user ? "You" : "Claude", user ? "question" : "answer");
      if (user) {
        body.textContent = message.content;
        continue;
      }
      body.dataset.state = "done";
      const text = document.createElement("span");
      text.className = "text";
      text.textContent = message.content;
      body.append(text);
      if (message.summarised) summarisedNote(body);
    }
    document.documentElement.dataset.restored = String((held.messages || []).length);
  }

  if (known) restore();
})();
