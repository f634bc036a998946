"""What a browser sends: the chat body, read and checked against the limits before anything goes
upstream. No I/O: every adapter calls these, so all three frameworks answer byte for byte the same
(what they answer with before a stream is `_statuses.py`).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from ._aisdk import approval_answers, as_blocks, assistant_turns, user_content
from ._attachments import Attachment, checked_block
from ._errors import BadRequest
from ._limits import Limits
from ._tools import Approval, as_approvals

__all__ = ["ChatRequest", "accept_chat", "parse_chat_request", "single_protocol"]

ROLES = ("user", "assistant")


@dataclass(frozen=True, slots=True)
class ChatRequest:
    messages: list[dict[str, Any]]
    profile: str | None = None
    system: str | None = None
    # The wire format the client asked for: `sse`, `ai-sdk` for the AI SDK's protocol, or `text`
    # for the answer's text alone (a structured answer's JSON, as the AI SDK's `useObject` reads it).
    format: str = "sse"
    # The AI SDK's chat id (its body's `id`): what its `resume` names the answer by; or the
    # contract's `chat_id`.
    chat_id: str | None = None
    # The server holds the chat's conversation and `messages` are only the new ones: a body with a
    # `chat_id`, or the AI SDK's "send only the last message" body (`message` and `id`).
    held: bool = False
    # The files its user messages attach, as checked (`_attachments.py`), for the size limits.
    attachments: tuple[Attachment, ...] = ()
    # The user's answers to a paused turn's approvals (the body's `approvals`, or the AI SDK's
    # `tool-approval-response`s), and the AI SDK message that turn's answer continues.
    approvals: tuple[Approval, ...] = ()
    message_id: str | None = None

    def call_kwargs(self, **overrides: Any) -> dict[str, Any]:
        """The engine call's arguments; `overrides` (a view's `max_tokens=`, say) win over the body's."""
        kwargs: dict[str, Any] = {"messages": self.messages, "profile": self.profile}
        if self.system:
            kwargs["system"] = self.system
        if self.approvals:
            kwargs["approvals"] = self.approvals
        if self.message_id:
            kwargs["message_id"] = self.message_id
        kwargs.update(overrides)
        return kwargs


def parse_chat_request(
    body: bytes | str | dict[str, Any] | list[Any],
    *,
    protocol: str | None = None,
    profiles: Collection[str] | None = None,
) -> ChatRequest:
    """Validate a browser's chat body; raises `BadRequest` whose message names the problem.

    `protocol="ai-sdk"` accepts the Vercel AI SDK's body (`messages` as `UIMessage`s with `parts`).
    """
    if protocol not in (None, "", "sse", "ai-sdk", "text"):
        raise BadRequest(f"unknown protocol {_quoted(protocol)}; use 'ai-sdk', 'text' or leave it out")
    # Anything else is a body `accept_chat` loaded already (checked for depth and surrogates).
    data = _load(body) if isinstance(body, bytes | str) else body
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object with a 'messages' list")
    profile = data.get("profile")
    if profile is not None:
        if not isinstance(profile, str):
            raise BadRequest("'profile' must be a string")
        if profiles is not None and profile not in profiles:
            raise BadRequest(
                f"unknown profile {_quoted(profile)}; profiles are {', '.join(sorted(profiles))}"
            )
    if protocol == "ai-sdk":
        return _from_ai_sdk(data, profile)
    chat_id = _chat_id(data, "chat_id")
    raw = data.get("messages")
    if not isinstance(raw, list) or not raw:
        raise BadRequest("'messages' must be a non-empty list")
    given = data.get("approvals")
    approvals = as_approvals(given) if given is not None else ()
    messages = []
    attachments: list[Attachment] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise BadRequest(f"messages[{i}] must be an object with 'role' and 'content'")
        role, content = item.get("role"), item.get("content")
        if role not in ROLES:
            why = f"; {SYSTEM_REFUSED}" if role == "system" else ""
            raise BadRequest(f"messages[{i}].role must be 'user' or 'assistant', not {_quoted(role)}{why}")
        if role == "user" and isinstance(content, list):
            content = _user_blocks(content, f"messages[{i}].content", attachments)
        elif not isinstance(content, str) or not content.strip():
            what = "text or a list of blocks" if role == "user" else "text"
            raise BadRequest(f"messages[{i}].content must be non-empty {what}")
        messages.append({"role": role, "content": content})
    _check_turns(messages)
    return ChatRequest(
        messages,
        profile,
        format="text" if protocol == "text" else "sse",
        chat_id=chat_id,
        held=chat_id is not None,
        attachments=tuple(attachments),
        approvals=approvals,
    )


# The longest chat id a client may name, and what it may hold: printable ASCII, no spaces.
MAX_CHAT_ID = 128


def _chat_id(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= MAX_CHAT_ID
        or not all("!" <= c <= "~" for c in value)
    ):
        raise BadRequest(f"'{key}' must be 1 to {MAX_CHAT_ID} printable ASCII characters without spaces")
    return value


def _from_ai_sdk(data: dict[str, Any], profile: str | None) -> ChatRequest:
    """The AI SDK's body: `messages` (the whole conversation, its `id` naming the chat to resume),
    or its "send only the last message" body, `message` with the chat's `id` (the server holds
    the rest)."""
    if "message" in data and "messages" not in data:
        chat_id = _chat_id(data, "id")
        if chat_id is None:
            raise BadRequest("a body with one 'message' needs the chat's 'id'")
        messages, system, files = _from_ui_messages([data["message"]])
        return ChatRequest(messages, profile, system, "ai-sdk", chat_id, held=True, attachments=files)
    raw = data.get("messages")
    if not isinstance(raw, list) or not raw:
        raise BadRequest("'messages' must be a non-empty list")
    messages, system, files = _from_ui_messages(raw)
    chat_id = data.get("id")
    given = data.get("approvals")
    approvals = as_approvals(given) if given is not None else ()
    answered, message_id = approval_answers(raw)
    return ChatRequest(
        messages,
        profile,
        system,
        "ai-sdk",
        chat_id if isinstance(chat_id, str) else None,
        attachments=files,
        approvals=approvals or answered,
        message_id=message_id if approvals or answered else None,
    )


def _user_blocks(content: list[Any], where: str, attachments: list[Attachment]) -> list[dict[str, Any]]:
    """A user message's blocks: text, and images and PDFs checked by their bytes (415 otherwise)."""
    if not content:
        raise BadRequest(f"{where} must not be an empty list")
    blocks: list[dict[str, Any]] = []
    for j, block in enumerate(content):
        at = f"{where}[{j}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            text = block.get("text")
            if not isinstance(text, str) or not text.strip():
                raise BadRequest(f"{at}.text must be non-empty text")
            blocks.append({"type": "text", "text": text})
        elif kind in ("image", "document"):
            checked, found = checked_block(block, at)
            blocks.append(checked)
            attachments.append(found)
        else:
            raise BadRequest(f"{at} must be a 'text', 'image' or 'document' block, not {_quoted(kind)}")
    return blocks


# The app's own system prompt is the only one sent: a browser that could set it could turn the
# endpoint into a general-purpose one on the operator's key.
SYSTEM_REFUSED = "a system message cannot come from the browser; the app sets the system prompt"
# Deeper than any chat body needs and far below the recursion limit json.loads would hit.
MAX_DEPTH = 32


def _load(body: bytes | str) -> Any:
    """The body's JSON, or a 400: not JSON, nested past `MAX_DEPTH`, or holding a lone surrogate
    (`"\\ud800"` decodes to a str no UTF-8 encoder will send upstream)."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes | bytearray) else body
        data = json.loads(text)
        if _depth(data) > MAX_DEPTH:
            raise BadRequest(f"body is nested deeper than {MAX_DEPTH} levels")
    except RecursionError:
        raise BadRequest(f"body is nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, BadRequest):
            raise
        # The decoder's message names a position, never the body's text.
        raise BadRequest(f"body is not valid JSON: {_quoted(str(exc))[1:-1]}") from None
    try:
        # UTF-8 bytes cannot hold a surrogate, so in a body of bytes only a `\\uD8xx`-style escape
        # makes one; a str from app code is checked whole.
        if isinstance(body, str) or "\\ud" in text or "\\uD" in text:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest("body holds a lone surrogate (\\ud800-\\udfff), which is not text") from None
    return data


def _depth(data: Any) -> int:
    """How deep the loaded containers nest, walked without recursion: the cost is one step per
    list or object, not per character. Deeper than the interpreter allows, the parser itself
    raised RecursionError (its C code guards each level), which `_load` answers as a 400."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = value.values()
        elif not isinstance(value, list):
            continue
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        stack.extend((child, depth + 1) for child in value if isinstance(child, dict | list))
    return deepest


def _quoted(value: Any) -> str:
    """`repr(value)` cut short, for an error message: a client's own value, never a whole body."""
    text = ascii(value)
    return text if len(text) <= 80 else text[:77] + "..."


def single_protocol(values: Sequence[str]) -> str | None:
    """The `?protocol=` value; given twice is a 400, since frameworks disagree on which one wins."""
    if len(values) > 1:
        raise BadRequest("?protocol= is given more than once; give it once")
    return values[0] if values else None


def accept_chat(
    limits: Limits,
    body: bytes,
    *,
    content_type: str | None,
    protocols: Sequence[str],
    system: Any = None,
) -> tuple[ChatRequest, int]:
    """A body read by an adapter (at most `max_body_bytes + 1` bytes), checked against every limit
    that needs no I/O: size (413), the body itself (400), its content type (415), which profiles a
    browser may name (400), messages and estimated input tokens (413). Returns the request and its
    token estimate, for the client's budget the adapter charges next. `system` is the app's own
    prompt, counted in.

    A malformed body is a 400 whatever it was labelled; a well-formed one not sent as JSON is a
    415 (no cross-site post reaches the model).
    """
    limits.check_size(len(body))
    protocol = single_protocol(protocols)
    if not body.strip():
        raise BadRequest("the body is empty; send the chat as JSON")
    try:
        data = _load(body)
    except BadRequest:
        # Past the text limit, only room for files let it be read: garbage that large is a 413.
        limits.check_text_size(len(body))
        raise
    limits.check_media_type(content_type)
    chat = parse_chat_request(data, protocol=protocol, profiles=limits.settings.browser_profile_names())
    limits.check_attachments(chat.attachments, len(body))
    return chat, limits.check_chat(chat.messages, chat.profile, system=system)


def _from_ui_messages(raw: list[Any]) -> tuple[list[dict[str, Any]], str | None, tuple[Attachment, ...]]:
    """AI SDK `UIMessage`s to Anthropic messages: user text parts joined, a user's `file` parts
    (images and PDFs as data URLs) as the API's blocks; an assistant's reasoning (with its
    signature) and tool calls go back as the API's blocks (`_aisdk.py`); data parts are the front
    end's own state and are not sent back to the model."""
    messages: list[dict[str, Any]] = []
    attachments: list[Attachment] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise BadRequest(f"messages[{i}] must be a UIMessage object")
        role, parts = item.get("role"), item.get("parts")
        if role == "system":
            raise BadRequest(f"messages[{i}]: {SYSTEM_REFUSED}")
        if role not in ROLES:
            raise BadRequest(f"messages[{i}].role must be 'user' or 'assistant', not {role!r}")
        if not isinstance(parts, list):
            raise BadRequest(f"messages[{i}].parts must be a list")
        if role == "assistant":
            # An assistant turn with nothing the API can take back (a tool call still running) is skipped.
            turns = assistant_turns(parts, i)
        else:
            content = user_content(parts, i, attachments)
            if isinstance(content, str) and not content.strip():
                raise BadRequest(f"messages[{i}] has no text")
            turns = [{"role": "user", "content": content}]
        for turn in turns:
            last = messages[-1] if messages else None
            if last is None or last["role"] != turn["role"]:
                messages.append(turn)
            elif isinstance(last["content"], str) and isinstance(turn["content"], str):
                last["content"] += "\n\n" + turn["content"]
            else:
                last["content"] = [*as_blocks(last["content"]), *as_blocks(turn["content"])]
    if not messages:
        raise BadRequest("'messages' has no user text")
    _check_turns(messages)
    return messages, None, tuple(attachments)


def _check_turns(messages: list[dict[str, Any]]) -> None:
    if messages[0]["role"] != "user":
        raise BadRequest("messages[0].role must be 'user': a conversation starts with the user")
