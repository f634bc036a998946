"""What every adapter needs and no framework provides: chat-body parsing, error statuses, the relay.

Adapters read the body, call `parse_chat_request`, and move a `Relay`'s bytes into their
framework's streaming response. Keeping this here means the three frameworks answer byte for byte
the same, and a fix lands in all of them at once.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Collection, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anthropic

from ._errors import BadRequest, UpstreamFailure
from ._upstream.governor import RateLimited
from ._upstream.stream import AsyncTextStream, TextStream
from ._wire import WireFormat, get_format

if TYPE_CHECKING:
    from ._engine import Engine

__all__ = ["ChatRequest", "Relay", "RelayStart", "error_response", "parse_chat_request"]

ROLES = ("user", "assistant")


@dataclass(frozen=True, slots=True)
class ChatRequest:
    messages: list[dict[str, Any]]
    profile: str | None = None
    system: str | None = None
    # The wire format the client asked for: `sse`, or `ai-sdk` for the AI SDK's protocol.
    format: str = "sse"

    def call_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"messages": self.messages, "profile": self.profile}
        if self.system:
            kwargs["system"] = self.system
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


class Relay:
    """One browser response: opens the upstream stream, then yields the wire format's bytes.

    Sync servers: `start = relay.open()`, then iterate `relay` and `close()` it.
    Async servers: `start = await relay.aopen()`, then `async for` it and `await aclose()`.
    `open` answers the upstream's refusal (overload, rate limit) as an HTTP error before any byte
    of the stream is sent; once streaming, failures become the format's error event.
    """

    def __init__(self, engine: Engine, *, format: str | WireFormat = "sse", **call: Any) -> None:
        self.engine = engine
        self.format = get_format(format) if isinstance(format, str) else format
        self._call = call
        self._stream: TextStream | AsyncTextStream | None = None
        self.closed = False

    def _headers(self, stream: TextStream | AsyncTextStream) -> list[tuple[str, str]]:
        upstream = stream.timings.upstream or 0.0
        return [
            ("Content-Type", self.format.media_type),
            *self.format.headers,
            ("Server-Timing", f'upstream;dur={upstream * 1000:.1f};desc="{stream.requested_model}"'),
        ]

    @property
    def stream(self) -> TextStream | AsyncTextStream | None:
        return self._stream

    def summary(self) -> dict[str, Any]:
        stream = self._stream
        if stream is None:
            return {}
        usage = stream.usage
        timings = stream.timings
        tps = timings.tps
        return {
            "model": stream.model,
            "stop_reason": stream.stop_reason,
            "usage": {
                "input_tokens": int(usage.get("input_tokens") or 0),
                "output_tokens": int(usage.get("output_tokens") or 0),
                "cache_read_input_tokens": int(usage.get("cache_read_input_tokens") or 0),
                "cache_creation_input_tokens": int(usage.get("cache_creation_input_tokens") or 0),
            },
            "ttft_ms": None if timings.ttft is None else round(timings.ttft * 1000, 1),
            "tps": None if tps is None else round(tps, 1),
            "profile": stream.profile,
            "retries": timings.retries,
            "served_by": timings.served_by or stream.model,
            "fallbacks": timings.fallbacks,
            **({"route": timings.route, "classify_ms": timings.classify_ms} if timings.route else {}),
        }

    def _encode(self, name: str, data: Any) -> bytes:
        """The bytes one upstream event becomes on the wire: text and heartbeats; the rest, none."""
        if name == "content_block_delta":
            delta = data["delta"]
            if delta["type"] == "text_delta":
                return self.format.token(delta["text"])
        elif name == "ping":
            return self.format.heartbeat()
        return b""

    # -- sync --------------------------------------------------------------------------------

    def open(self) -> RelayStart:
        stream = self.engine.stream(**self._call)
        self._stream = stream
        try:
            stream.open()
        except (anthropic.APIError, RateLimited) as exc:
            self.closed = True
            return upstream_error(exc)
        return RelayStart(200, self._headers(stream))

    def __iter__(self) -> Iterator[bytes]:
        stream = self._stream
        if not isinstance(stream, TextStream):
            raise RuntimeError("call relay.open() before iterating it")
        fmt = self.format
        try:
            first = fmt.start()
            if first:
                yield first
            for name, data in stream.events():
                chunk = self._encode(name, data)
                if chunk:
                    yield chunk
        except UpstreamFailure as exc:
            yield fmt.error(exc.type, exc.message)
            return
        finally:
            self.close()
        yield fmt.done(self.summary())

    def close(self) -> None:
        self.closed = True
        if isinstance(self._stream, TextStream):
            self._stream.close()

    # -- async -------------------------------------------------------------------------------

    async def aopen(self) -> RelayStart:
        stream = self.engine.astream(**self._call)
        self._stream = stream
        try:
            await stream.open()
        except (anthropic.APIError, RateLimited) as exc:
            self.closed = True
            return upstream_error(exc)
        return RelayStart(200, self._headers(stream))

    async def __aiter__(self) -> AsyncIterator[bytes]:
        stream = self._stream
        if not isinstance(stream, AsyncTextStream):
            raise RuntimeError("await relay.aopen() before iterating it")
        fmt = self.format
        try:
            first = fmt.start()
            if first:
                yield first
            async for name, data in stream.events():
                chunk = self._encode(name, data)
                if chunk:
                    yield chunk
        except UpstreamFailure as exc:
            yield fmt.error(exc.type, exc.message)
            return
        finally:
            await self.aclose()
        yield fmt.done(self.summary())

    async def aclose(self) -> None:
        self.closed = True
        if isinstance(self._stream, AsyncTextStream):
            await self._stream.aclose()
