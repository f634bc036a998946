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
from dataclasses import dataclass
from typing import Any

import anthropic

__all__ = ["ChatTurn", "Conversation", "Recorded", "dump_message", "load_messages"]

# The rejections a whole replay under a new thread recovers from (the SDK's `ReplayErrorCode`).
REPLAY_CODES = ("thread_not_found", "thread_already_continued", "thread_continue_in_flight")
UNSUPPORTED_CODE = "thread_unsupported_request"
# A turn is sent at most this many times: once, a replay, and once more unthreaded.
MAX_SENDS = 3


@dataclass
class Conversation:
    """What the server holds of one chat: where the API's thread stands (the reply the next turn
    continues from; `unthreaded` once the API said it cannot thread this chat) and every message
    as the API takes it back. The two are stored apart (`_state/chats.py`): a thread's turn reads
    and rewrites only the first and appends to the second, whatever the conversation's length.
    `messages` is None until loaded."""

    messages: list[dict[str, Any]] | None = None
    previous_id: str | None = None
    unthreaded: bool = False
    # The thread was made by replaying a lost one: losing it again at once stops threading.
    replaced_lost: bool = False

    def dumps(self) -> bytes:
        """The stored head: everything but the messages."""
        head = {
            "previous_id": self.previous_id,
            "unthreaded": self.unthreaded,
            "replaced_lost": self.replaced_lost,
        }
        return json.dumps(head, separators=(",", ":")).encode()

    @classmethod
    def loads(cls, raw: bytes | None) -> Conversation | None:
        """The stored head, or None for nothing stored (or something unreadable: a chat id the
        server does not know starts a new conversation, whatever the reason)."""
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            previous = data.get("previous_id")
            if not isinstance(previous, str | None):
                return None
            return cls(None, previous, bool(data.get("unthreaded")), bool(data.get("replaced_lost")))
        except (ValueError, AttributeError):
            return None

    def contract_messages(self) -> list[dict[str, Any]]:
        """The contract's `messages` list: each user and assistant turn's text, tool rounds left
        out, and `"summarised": true` on an answer that began by summarising the turns before it."""
        shown: list[dict[str, Any]] = []
        for message in self.messages or ():
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


def dump_message(message: Mapping[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


def load_messages(raw: Sequence[bytes]) -> list[dict[str, Any]]:
    """The stored messages; one that does not read back (never written by this code) is left out."""
    messages = []
    for item in raw:
        try:
            message = json.loads(item)
        except ValueError:
            continue
        if isinstance(message, dict):
            messages.append(message)
    return messages


@dataclass(frozen=True, slots=True)
class Recorded:
    """What a finished turn stores: the new head, the messages to append, and whether they replace
    the stored ones (a client that sent another history) instead of following them."""

    head: bytes
    append: list[bytes]
    replace: bool


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
    this turn goes upstream (threaded or not), as the recovery rules change it.

    The stored messages are loaded only when the turn sends them (`needs_history`, then `load`):
    a thread's `continue` with one new message never reads them."""

    __slots__ = ("_given", "held", "new", "replaced", "replayed", "sends", "threads")

    def __init__(self, held: Conversation | None, new: Sequence[Mapping[str, Any]], *, threads: bool) -> None:
        self._given = [dict(m) for m in new]
        self.held = held if held is not None else Conversation([])
        self.new = self._given
        # Whether the browser's messages replace the stored ones rather than follow them.
        self.replaced = False
        if self.held.messages is not None:
            self.load(self.held.messages)
        self.threads = threads and not self.held.unthreaded
        # Whether this turn is the whole replay that replaced a lost thread.
        self.replayed = False
        self.sends = 0

    @property
    def continues(self) -> bool:
        return self.threads and self.held.previous_id is not None

    @property
    def needs_history(self) -> bool:
        """Whether the stored messages must be loaded before the turn is sent."""
        return self.held.messages is None and (not self.continues or len(self._given) > 1)

    def load(self, messages: list[dict[str, Any]]) -> None:
        """Take the stored messages; several given messages are matched against them (`_split`)."""
        self.held.messages = messages
        split, self.new = _split(self.held, self._given)
        if split is not self.held:
            self.held, self.replaced = split, True

    def sent_messages(self) -> list[dict[str, Any]]:
        """The messages this turn sends: only the new ones on a `continue`, else all of them."""
        if self.continues:
            return list(self.new)
        if self.held.messages is None:
            raise RuntimeError("load the held messages first (needs_history)")
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
        call builder adds its beta)."""
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
        this turn's state adjusted for it (check `needs_history` before sending it again)."""
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
    ) -> Recorded:
        """What to store once this turn's answer is complete: the new messages and `answer` (the
        turn's assistant messages, with an agent turn's tool rounds between them) after the held
        ones. A refused answer is not kept; after it or a fallback model's answer the next turn
        starts a thread."""
        held = self.held
        if stop_reason == "refusal":
            return Recorded(Conversation(None, None, held.unthreaded).dumps(), [], False)
        append = [dump_message(m) for m in (*self.new, *answer)]
        threaded = self.threads and message_id is not None and not fallback
        if not threaded:
            head = Conversation(None, None, held.unthreaded)
        else:
            # The first reply of a replayed thread marks it; the turn after it clears the mark.
            head = Conversation(None, message_id, held.unthreaded, self.replayed)
        return Recorded(head.dumps(), append, self.replaced)


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
    return Conversation([], unthreaded=held.unthreaded), given
