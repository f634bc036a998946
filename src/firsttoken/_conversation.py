"""A held chat's conversation and one turn of it, no I/O: what a turn sends and what it records.

A browser that names a `chat_id` sends only its new messages; the server keeps the rest
(`_state/chats.py`). With the profile's `threads` on, the API keeps it too (the message threads
beta): the first turn is a `thread: {"type": "create"}` with the whole conversation, each later one
a `continue` from the previous reply with only the new messages (and no `system` or `tools`, which
the thread keeps). The recovery rules are the anthropic SDK's (`anthropic/lib/threads/`):

- a `continue` refused as `thread_not_found`, `thread_already_continued` or
  `thread_continue_in_flight` is sent again once as a `create` with the whole conversation; a thread
  lost again right after such a replay stops threading (the server may be unable to keep it);
- a request refused as `thread_unsupported_request` goes on unthreaded, that turn and every later
  one (the whole conversation each time, as without `threads`);
- a refused answer (`stop_reason: "refusal"`) is not held, and the next turn starts a new thread,
  since the server may hold the refused turn; likewise after an answer a fallback model wrote
  (the server holds no turn a fallback wrote).

Blocks the API needs back verbatim (thinking with its signature, `compaction`) are held as they
streamed; the contract's `messages` list (`GET /api/chat/{chat_id}/messages`) shows the text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anthropic

__all__ = ["ChatTurn", "Conversation"]

# The rejections a whole replay under a new thread recovers from (the SDK's `ReplayErrorCode`).
REPLAY_CODES = ("thread_not_found", "thread_already_continued", "thread_continue_in_flight")
UNSUPPORTED_CODE = "thread_unsupported_request"
# A turn is sent at most this many times: once, a replay, and once more unthreaded.
MAX_SENDS = 3


@dataclass
class Conversation:
    """What the server holds of one chat: every message as the API takes it back, and where the
    API's thread stands (the reply the next turn continues from; `unthreaded` once the API said it
    cannot thread this chat)."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    previous_id: str | None = None
    unthreaded: bool = False
    # The thread was made by replaying a lost one: losing it again at once stops threading.
    replaced_lost: bool = False

    def dumps(self) -> bytes:
        return json.dumps(
            {
                "messages": self.messages,
                "previous_id": self.previous_id,
                "unthreaded": self.unthreaded,
                "replaced_lost": self.replaced_lost,
            },
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()

    @classmethod
    def loads(cls, raw: bytes | None) -> Conversation | None:
        """The stored conversation, or None for nothing stored (or something unreadable: a chat
        id the server does not know starts a new conversation, whatever the reason)."""
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            messages = data["messages"]
            previous = data.get("previous_id")
            if not isinstance(messages, list) or not isinstance(previous, str | None):
                return None
            return cls(messages, previous, bool(data.get("unthreaded")), bool(data.get("replaced_lost")))
        except (ValueError, KeyError, TypeError):
            return None

    def contract_messages(self) -> list[dict[str, Any]]:
        """The contract's `messages` list: each user and assistant turn's text, tool rounds left
        out, and `"summarised": true` on an answer that began by summarising the turns before it."""
        shown: list[dict[str, Any]] = []
        for message in self.messages:
            content = message.get("content")
            text = content if isinstance(content, str) else _text(content)
            summarised = isinstance(content, list) and any(_is_compaction(b) for b in content)
            if not text and not summarised:
                continue  # a tool round: results going back, or a call with no text around it
            role = message.get("role")
            if shown and shown[-1]["role"] == role == "assistant":
                shown[-1]["content"] += text  # the steps of one agent turn
                continue
            entry: dict[str, Any] = {"role": role, "content": text}
            if summarised:
                entry["summarised"] = True
            shown.append(entry)
        return shown


def _text(content: Any) -> str:
    if not isinstance(content, list):
        return ""
    return "".join(
        b["text"]
        for b in content
        if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
    )


def _is_compaction(block: Any) -> bool:
    return isinstance(block, dict) and block.get("type") == "compaction"


def _details(exc: BaseException) -> Mapping[str, Any]:
    """The `error.details` of an API rejection's body, or nothing."""
    if not isinstance(exc, anthropic.APIStatusError):
        return {}
    body = exc.body
    error = body.get("error") if isinstance(body, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    return details if isinstance(details, dict) else {}


class ChatTurn:
    """One turn of a held chat: the conversation as loaded, the browser's new messages, and how
    this turn goes upstream (threaded or not), as the recovery rules change it."""

    __slots__ = ("held", "new", "replayed", "sends", "threads")

    def __init__(self, held: Conversation | None, new: Sequence[Mapping[str, Any]], *, threads: bool) -> None:
        self.held, self.new = _split(held or Conversation(), [dict(m) for m in new])
        self.threads = threads and not self.held.unthreaded
        # Whether this turn is the whole replay that replaced a lost thread.
        self.replayed = False
        self.sends = 0

    @property
    def threaded(self) -> bool:
        return self.threads

    @property
    def continues(self) -> bool:
        return self.threads and self.held.previous_id is not None

    def sent_messages(self) -> list[dict[str, Any]]:
        """The messages this turn sends: only the new ones on a `continue`, else all of them."""
        if self.continues:
            return list(self.new)
        return [*self.held.messages, *self.new]

    def counted_messages(self) -> list[dict[str, Any]]:
        """What the API reads of `sent_messages()`: a compaction block stands for every turn
        before it, so the input-token limit counts from the last one on."""
        sent = self.sent_messages()
        for i in range(len(sent) - 1, -1, -1):
            content = sent[i].get("content")
            if isinstance(content, list) and any(_is_compaction(b) for b in content):
                return sent[i:]
        return sent

    def arguments(self) -> dict[str, Any]:
        """The engine call's arguments for this turn: `messages`, and when threaded `thread` (the
        betas are the call's `betas`, merged with the profile's by the call builder)."""
        self.sends += 1
        arguments: dict[str, Any] = {"messages": self.sent_messages()}
        if self.threads:
            previous = self.held.previous_id
            arguments["thread"] = (
                {"type": "continue", "previous_message_id": previous}
                if previous is not None
                else {"type": "create"}
            )
        return arguments

    def recovers_from(self, exc: BaseException) -> bool:
        """Whether the turn goes again after `exc` (the SDK's rules, in the module docstring),
        this turn's state adjusted for it."""
        if not self.threads or self.sends >= MAX_SENDS:
            return False
        code = _details(exc).get("error_code")
        if code in REPLAY_CODES and self.held.previous_id is not None:
            if code == "thread_not_found" and self.held.replaced_lost:
                self._stop_threading()
            else:
                self.held.previous_id = None
                self.replayed = code == "thread_not_found"
            return True
        if code == UNSUPPORTED_CODE:
            self._stop_threading()
            return True
        return False

    def _stop_threading(self) -> None:
        self.threads = False
        self.held.unthreaded = True
        self.held.previous_id = None
        self.held.replaced_lost = False

    def recorded(
        self,
        answer: Sequence[Mapping[str, Any]],
        *,
        message_id: str | None,
        stop_reason: str | None,
        fallback: bool,
    ) -> Conversation:
        """The conversation once this turn's answer is complete: the new messages and `answer`
        (the turn's assistant messages, with an agent turn's tool rounds between them). A refused
        answer is not kept; after it or a fallback model's answer the next turn starts a thread."""
        held = self.held
        if stop_reason == "refusal":
            return Conversation(held.messages, None, held.unthreaded)
        messages = [*held.messages, *self.new, *(dict(m) for m in answer)]
        threaded = self.threads and message_id is not None and not fallback
        if not threaded:
            return Conversation(messages, None, held.unthreaded)
        # The first reply of a replayed thread marks it; the turn after it clears the mark.
        return Conversation(messages, message_id, held.unthreaded, self.replayed)


def _split(held: Conversation, given: list[dict[str, Any]]) -> tuple[Conversation, list[dict[str, Any]]]:
    """The conversation this turn continues and its new messages, as the SDK's thread takes a
    history: one message is the next turn; several that repeat the held conversation (the AI SDK's
    default body, the whole history with its chat id) add only what follows it; any other list
    replaces the conversation, and a new thread starts."""
    if not held.messages or len(given) <= 1:
        return held, given
    shown = held.contract_messages()
    head = [{"role": m.get("role"), "content": m.get("content")} for m in given[: len(shown)]]
    plain = [{"role": m["role"], "content": m["content"]} for m in shown]
    if len(given) > len(shown) and head == plain:
        return held, given[len(shown) :]
    return Conversation(unthreaded=held.unthreaded), given
