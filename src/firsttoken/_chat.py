"""What a browser sends and what it gets back before any stream: the chat body, checked, and the
HTTP error an upstream refusal becomes. No I/O: every adapter calls these, so all three frameworks
answer byte for byte the same.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import anthropic

from ._errors import BadRequest, UpstreamFailure
from ._upstream.governor import RateLimited

__all__ = ["ChatRequest", "RelayStart", "error_response", "parse_chat_request", "upstream_error"]

ROLES = ("user", "assistant")


@dataclass(frozen=True, slots=True)
class ChatRequest:
    messages: list[dict[str, Any]]
    profile: str | None = None
    system: str | None = None
    # The wire format the client asked for: `sse`, or `ai-sdk` for the AI SDK's protocol.
    format: str = "sse"

    def call_kwargs(self, **overrides: Any) -> dict[str, Any]:
        """The engine call's arguments; `overrides` (a view's `max_tokens=`, say) win over the body's."""
        kwargs: dict[str, Any] = {"messages": self.messages, "profile": self.profile}
        if self.system:
            kwargs["system"] = self.system
        kwargs.update(overrides)
        return kwargs


def parse_chat_request(
    body: bytes | str, *, protocol: str | None = None, profiles: Collection[str] | None = None
) -> ChatRequest:
    """Validate a browser's chat body; raises `BadRequest` whose message names the problem.

    `protocol="ai-sdk"` accepts the Vercel AI SDK's body (`messages` as `UIMessage`s with `parts`).
    """
    if protocol not in (None, "", "sse", "ai-sdk"):
        raise BadRequest(f"unknown protocol {protocol!r}; use 'ai-sdk' or leave it out")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object with a 'messages' list")
    profile = data.get("profile")
    if profile is not None:
        if not isinstance(profile, str):
            raise BadRequest("'profile' must be a string")
        if profiles is not None and profile not in profiles:
            raise BadRequest(f"unknown profile {profile!r}; profiles are {', '.join(sorted(profiles))}")
    raw = data.get("messages")
    if not isinstance(raw, list) or not raw:
        raise BadRequest("'messages' must be a non-empty list")
    if protocol == "ai-sdk":
        messages, system = _from_ui_messages(raw)
        return ChatRequest(messages, profile, system, "ai-sdk")
    messages = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise BadRequest(f"messages[{i}] must be an object with 'role' and 'content'")
        role, content = item.get("role"), item.get("content")
        if role not in ROLES:
            raise BadRequest(f"messages[{i}].role must be 'user' or 'assistant', not {role!r}")
        if not isinstance(content, str) or not content.strip():
            raise BadRequest(f"messages[{i}].content must be non-empty text")
        messages.append({"role": role, "content": content})
    _check_turns(messages)
    return ChatRequest(messages, profile)


def _from_ui_messages(raw: list[Any]) -> tuple[list[dict[str, Any]], str | None]:
    """AI SDK `UIMessage`s to Anthropic messages: text parts joined; other parts (tools, files,
    reasoning, data) are the front end's own state and are not sent back to the model."""
    messages: list[dict[str, Any]] = []
    system: list[str] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise BadRequest(f"messages[{i}] must be a UIMessage object")
        role, parts = item.get("role"), item.get("parts")
        if role not in (*ROLES, "system"):
            raise BadRequest(f"messages[{i}].role must be 'user', 'assistant' or 'system', not {role!r}")
        if not isinstance(parts, list):
            raise BadRequest(f"messages[{i}].parts must be a list")
        texts = [p.get("text") for p in parts if isinstance(p, dict) and p.get("type") == "text"]
        if not all(isinstance(t, str) for t in texts):
            raise BadRequest(f"messages[{i}].parts: a text part needs a 'text' string")
        text = "".join(t for t in texts if isinstance(t, str))
        if role == "system":
            if text.strip():
                system.append(text)
            continue
        if not text.strip():
            if role == "assistant":
                continue  # an assistant turn that was only tool calls or reasoning
            raise BadRequest(f"messages[{i}] has no text")
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"] += "\n\n" + text
        else:
            messages.append({"role": role, "content": text})
    if not messages:
        raise BadRequest("'messages' has no user text")
    _check_turns(messages)
    return messages, "\n\n".join(system) or None


def _check_turns(messages: list[dict[str, Any]]) -> None:
    if messages[0]["role"] != "user":
        raise BadRequest("messages[0].role must be 'user': a conversation starts with the user")


# -- errors ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RelayStart:
    """What to answer with: a status, headers, and for an error the whole JSON body."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | None = None

    @property
    def ok(self) -> bool:
        return self.body is None


def error_response(
    status: int, message: str, type: str | None = None, *, headers: list[tuple[str, str]] | None = None
) -> RelayStart:
    payload: dict[str, str] = {"error": message}
    if type:
        payload["type"] = type
    return RelayStart(
        status,
        [("Content-Type", "application/json"), ("Cache-Control", "no-store"), *(headers or [])],
        json.dumps(payload).encode(),
    )


def _upstream_message(exc: anthropic.APIStatusError) -> tuple[str, str]:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return str(error.get("type", "api_error")), str(error.get("message", ""))
    return "api_error", str(exc.message)


def upstream_error(exc: BaseException) -> RelayStart:
    """An upstream failure before the first token, as the status the browser should see.

    529 overloaded → 503 (and 429 → 429, with the API's `retry-after`): the client may retry.
    Anything the API rejected or failed at is a bad gateway from the browser's side (502);
    our key or request being wrong is not the browser's fault, so it never sees a 4xx for it.
    """
    if isinstance(exc, anthropic.APITimeoutError):
        return error_response(504, "the model did not answer in time", "timeout_error")
    if isinstance(exc, anthropic.APIConnectionError):
        return error_response(502, "could not reach the model's API", "api_connection_error")
    if isinstance(exc, anthropic.APIStatusError):
        kind, message = _upstream_message(exc)
        retry = exc.response.headers.get("retry-after")
        extra = [("Retry-After", retry)] if retry else []
        if exc.status_code == 529:
            return error_response(
                503, message or "the model is overloaded; try again shortly", kind, headers=extra
            )
        if exc.status_code == 429:
            return error_response(429, message or "rate limited; try again shortly", kind, headers=extra)
        if exc.status_code in (401, 403):
            return error_response(502, "the server's API credentials were refused", kind)
        return error_response(502, message or f"upstream error {exc.status_code}", kind)
    if isinstance(exc, UpstreamFailure):
        return error_response(503 if exc.type == "overloaded_error" else 502, exc.message, exc.type)
    if isinstance(exc, RateLimited):
        # The governor refused before any request: the browser may retry once the budget refills.
        wait = [("Retry-After", str(max(1, math.ceil(exc.retry_after))))]
        return error_response(429, "rate limited; try again shortly", "rate_limit_error", headers=wait)
    raise exc


# -- the relay ---------------------------------------------------------------------------------
