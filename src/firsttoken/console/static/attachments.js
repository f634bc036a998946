// Attachments (issue 31): images and PDFs picked with the paperclip or dropped on the composer go
// with the next question as the contract's content blocks, are shown in the conversation (a
// thumbnail, or a chip with the file's name), and the answer lists what it cited from them. The
// server judges each file by its bytes and answers 413/415 with the reason, which chat.js shows.
"use strict";

(function () {
  const page = window.firsttokenPage;
  const form = document.getElementById("composer");
  const send = document.getElementById("send");
  const conversation = document.getElementById("conversation");
  if (!page || !form || !send) return;

  const ACCEPT = "image/png,image/jpeg,image/gif,image/webp,application/pdf";
  // Files picked for the next question: {name, type, dataUrl}.
  let pending = [];

  const input = document.createElement("input");
  input.type = "file";
  input.id = "attach-input";
  input.accept = ACCEPT;
  input.multiple = true;
  input.hidden = true;
  const button = document.createElement("button");
  button.type = "button";
  button.id = "attach";
  button.className = "attach";
  button.title = "Attach images or PDFs (or drop them here)";
  button.setAttribute("aria-label", "Attach files");
  button.textContent = "📎";
  const tray = document.createElement("div");
  tray.id = "attachments";
  tray.className = "attachment-tray";
  send.before(input, button);
  form.before(tray);

  function chip(file, removable) {
    const item = document.createElement("span");
    item.className = "attachment-chip";
    if (file.type.startsWith("image/")) {
      const thumb = document.createElement("img");
      thumb.className = "attachment-thumb";
      thumb.src = file.dataUrl;
      thumb.alt = file.name;
      item.append(thumb);
    }
    const name = document.createElement("span");
    name.textContent = file.name;
    item.append(name);
    if (removable) {
      const remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "×";
      remove.setAttribute("aria-label", `Remove ${file.name}`);
      remove.addEventListener("click", () => {
        pending = pending.filter((f) => f !== file);
        showTray();
      });
      item.append(remove);
    }
    return item;
  }

  function showTray() {
    tray.replaceChildren(...pending.map((file) => chip(file, true)));
  }

  function read(file) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve({ name: file.name, type: file.type, dataUrl: reader.result });
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(file);
    });
  }

  async function add(files) {
    for (const file of files) pending.push(await read(file));
    showTray();
  }

  button.addEventListener("click", () => input.click());
  input.addEventListener("change", async () => {
    await add(Array.from(input.files || []));
    input.value = "";
  });
  form.addEventListener("dragover", (event) => {
    event.preventDefault();
    form.classList.add("dropping");
  });
  form.addEventListener("dragleave", () => form.classList.remove("dropping"));
  form.addEventListener("drop", async (event) => {
    event.preventDefault();
    form.classList.remove("dropping");
    await add(Array.from(event.dataTransfer ? event.dataTransfer.files : []));
  });

  // The file as the contract's block. The type it claims is only a label: the server reads the
  // bytes. A PDF asks for citations, titled by its name.
  function block(file) {
    const data = file.dataUrl.slice(file.dataUrl.indexOf(",") + 1);
    if (file.type === "application/pdf") {
      const source = { type: "base64", media_type: "application/pdf", data };
      return { type: "document", source, title: file.name, citations: { enabled: true } };
    }
    return { type: "image", source: { type: "base64", media_type: file.type || "image/png", data } };
  }

  // The question chat.js just added to the history takes the files as blocks before its text; the
  // history keeps them, so later turns send them again (the server keeps no conversation).
  page.beforeSend((body, history) => {
    const last = history[history.length - 1];
    if (!pending.length || !last || last.role !== "user" || typeof last.content !== "string") return;
    last.content = [...pending.map(block), { type: "text", text: last.content }];
    const questions = conversation.querySelectorAll(".question");
    const shown = questions[questions.length - 1];
    if (shown) {
      const row = document.createElement("div");
      row.className = "user-attachments";
      row.append(...pending.map((file) => chip(file, false)));
      shown.append(row);
    }
    watchRefusal(pending);
    pending = [];
    showTray();
  });

  // A turn that fails (a 413 or 415 for a file, a network error) is dropped from the history by
  // chat.js: its files go back to the tray, to be removed or sent again.
  function watchRefusal(files) {
    const answers = conversation.querySelectorAll(".answer");
    const answer = answers[answers.length - 1];
    if (!answer) return;
    const watch = new MutationObserver(() => {
      const state = answer.dataset.state;
      if (state === "streaming") return;
      watch.disconnect();
      if (state === "error") {
        pending = [...files, ...pending];
        showTray();
      }
    });
    watch.observe(answer, { attributes: true, attributeFilter: ["data-state"] });
  }

  // `citation`: {cited_text, document_index, title, start_page_number...}, one per cited span.
  page.on("citation", (data, answer) => {
    let list = answer.body.querySelector(".citations");
    if (!list) {
      list = document.createElement("ol");
      list.className = "citations";
      answer.body.append(list);
    }
    const item = document.createElement("li");
    const quote = document.createElement("q");
    quote.textContent = data.cited_text || "";
    const where = document.createElement("span");
    where.className = "citation-source";
    const pageNumber = data.start_page_number ? `, p. ${data.start_page_number}` : "";
    where.textContent = ` — ${data.title || data.url || `document ${(data.document_index || 0) + 1}`}${pageNumber}`;
    item.append(quote, where);
    list.append(item);
  });
})();
