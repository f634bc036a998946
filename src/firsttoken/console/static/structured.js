// Structured answers (a profile with `output=`, the examples' `extract`): the object fills a card
// field by field as its JSON streams in (`object` events, each the object so far), and `done`
// brings the checked object. The raw JSON the `token` events carry stays in the answer, hidden.
"use strict";

(function () {
  const page = window.firsttokenPage;
  if (!page) return;
  const cards = new WeakMap();

  function cardFor(answer, text) {
    let card = cards.get(answer);
    if (card) return card;
    card = document.createElement("article");
    card.className = "card";
    card.dataset.state = "filling";
    text.hidden = true;
    answer.prepend(card);
    cards.set(answer, card);
    return card;
  }

  // One element per field, made when the field first arrives and updated in place after.
  function field(card, key, tag) {
    let el = card.querySelector(`[data-field="${CSS.escape(key)}"]`);
    if (!el) {
      el = document.createElement(tag);
      el.dataset.field = key;
      el.className = `card-field card-${tag === "ul" ? "list" : "value"}`;
      card.append(el);
    }
    return el;
  }

  function render(card, object) {
    if (!object || typeof object !== "object" || Array.isArray(object)) return;
    for (const [key, value] of Object.entries(object)) {
      if (Array.isArray(value)) {
        const list = field(card, key, "ul");
        list.replaceChildren(
          ...value.map((item) => {
            const li = document.createElement("li");
            li.textContent = typeof item === "string" ? item : JSON.stringify(item);
            return li;
          }),
        );
      } else {
        const el = field(card, key, key === "title" ? "h3" : "p");
        const shown = typeof value === "string" ? value : JSON.stringify(value);
        if (el.textContent !== shown) el.textContent = shown;
        // The sentiment colours the card (`data-sentiment`) once it names one.
        if (key === "sentiment") card.dataset.sentiment = shown;
      }
    }
  }

  page.on("object", (data, { body, text }) => render(cardFor(body, text), data.partial));
  page.on("done", (data, { body, text }) => {
    if (!data.object) return;
    const card = cardFor(body, text);
    render(card, data.object);
    card.dataset.state = "done";
  });
})();
