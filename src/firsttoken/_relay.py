"""What every adapter needs and no framework provides: chat-body parsing, error statuses, the relay.

Adapters read the body, call `parse_chat_request`, and move a `Relay`'s `body()` (sync servers) or
`abody()` (async ones) into their framework's streaming response. Everything written to the client,
idle heartbeats included, is chosen here, so the three frameworks answer byte for byte the same
and a fix lands in all of them at once.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import anthropic

from ._errors import BadRequest, UpstreamFailure
from ._heartbeat import Heartbeat, abeating, beating
from ._upstream.governor import RateLimited
from ._wire import WireFormat, get_format

if TYPE_CHECKING:
    from ._settings import Settings
    from ._timings import Timings

__all__ = ["ChatRequest", "EngineHandle", "Relay", "RelayStart", "error_response", "parse_chat_request"]

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


class _Stream(Protocol):
    """What the relay reads of the engine's sync or async stream."""

    @property
    def profile(self) -> str | None: ...

    @property
    def requested_model(self) -> str: ...

    @property
    def timings(self) -> Timings: ...

    @property
    def model(self) -> str: ...

    @property
    def usage(self) -> Mapping[str, Any]: ...

    @property
    def stop_reason(self) -> str | None: ...


class _SyncStream(_Stream, Protocol):
    def open(self) -> Any: ...

    def events(self) -> Iterator[tuple[str, Any]]: ...

    def close(self) -> None: ...


class _AsyncStream(_Stream, Protocol):
    async def open(self) -> Any: ...

    def events(self) -> AsyncIterator[tuple[str, Any]]: ...

    async def aclose(self) -> None: ...


class EngineParts(Protocol):
    """What the relay and the handles use of `firsttoken.Engine`, named here so the relay, which
    sits above the engine, never imports it."""

    @property
    def settings(self) -> Settings: ...

    @property
    def client(self) -> anthropic.Anthropic: ...

    @property
    def async_client(self) -> anthropic.AsyncAnthropic: ...

    def metrics_snapshot(self) -> dict[str, Any]: ...

    def stream(self, **call: Any) -> _SyncStream: ...

    def astream(self, **call: Any) -> _AsyncStream: ...


class Relay:
    """One browser response: opens the upstream stream, then yields the wire format's bytes.

    Sync servers: `start = relay.open()`, then iterate `relay.body()` and `close()` the relay.
    Async servers: `start = await relay.aopen()`, then iterate `relay.abody()` and `await aclose()`.
    The bodies add idle heartbeats (`Settings.heartbeat_interval`); iterating the relay itself gives
    the same bytes without them. `open` answers the upstream's refusal (overload, rate limit) as an
    HTTP error before any byte of the stream is sent; once streaming, failures become the format's
    error event.
    """

    def __init__(self, engine: EngineParts, *, format: str | WireFormat = "sse", **call: Any) -> None:
        self.engine = engine
        self.format = get_format(format) if isinstance(format, str) else format
        self._call = call
        self._sync: _SyncStream | None = None
        self._async: _AsyncStream | None = None
        # The thread iterating the sync stream, while one is: only it may close the stream.
        self._reader: int | None = None
        self.closed = False

    def _headers(self, stream: _Stream) -> list[tuple[str, str]]:
        upstream = stream.timings.upstream or 0.0
        return [
            ("Content-Type", self.format.media_type),
            *self.format.headers,
            ("Server-Timing", f'upstream;dur={upstream * 1000:.1f};desc="{stream.requested_model}"'),
        ]

    @property
    def stream(self) -> _Stream | None:
        return self._sync or self._async

    def heartbeat(self, *, clock: Callable[[], float] = time.monotonic) -> Heartbeat:
        """The idle-heartbeat timer of this response (for servers that write beats themselves)."""
        return Heartbeat(self.format.heartbeat(), self.engine.settings.heartbeat_interval, clock=clock)

    def summary(self) -> dict[str, Any]:
        stream = self.stream
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
        stream: _SyncStream = self.engine.stream(**self._call)
        self._sync = stream
        try:
            stream.open()
        except (anthropic.APIError, RateLimited) as exc:
            self.closed = True
            return upstream_error(exc)
        return RelayStart(200, self._headers(stream))

    def body(self) -> Iterator[bytes]:
        """The response body for a sync server: the stream, with idle heartbeats."""
        if self._sync is None:
            raise RuntimeError("call relay.open() before iterating it")
        return beating(iter(self), self.heartbeat())

    def __iter__(self) -> Iterator[bytes]:
        stream = self._sync
        if stream is None:
            raise RuntimeError("call relay.open() before iterating it")
        fmt = self.format
        self._reader = threading.get_ident()
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
            self._reader = None
            self.close()
        yield fmt.done(self.summary())

    def close(self) -> None:
        """Close the upstream stream (idempotent); a body read in another thread closes it itself."""
        self.closed = True
        reader = self._reader
        if self._sync is not None and reader in (None, threading.get_ident()):
            self._sync.close()

    # -- async -------------------------------------------------------------------------------

    async def aopen(self) -> RelayStart:
        stream: _AsyncStream = self.engine.astream(**self._call)
        self._async = stream
        try:
            await stream.open()
        except (anthropic.APIError, RateLimited) as exc:
            self.closed = True
            return upstream_error(exc)
        return RelayStart(200, self._headers(stream))

    def abody(self) -> AsyncIterator[bytes]:
        """The response body for an async server that iterates it: the stream, with idle heartbeats."""
        if self._async is None:
            raise RuntimeError("await relay.aopen() before iterating it")
        return abeating(self.__aiter__(), self.heartbeat())

    async def __aiter__(self) -> AsyncIterator[bytes]:
        stream = self._async
        if stream is None:
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
        if self._async is not None:
            await self._async.aclose()


# -- the adapters' handle ------------------------------------------------------------------------


class EngineHandle:
    """The base of every adapter's `FirstToken` handle: each finds its `engine` its framework's way.

    The response methods (`stream_response`, `chat_response` and the a-forms) are the adapters'
    own, since each returns its framework's response class; they build a `Relay(handle.engine, ...)`.
    """

    __slots__ = ()

    @property
    def engine(self) -> EngineParts:
        raise NotImplementedError

    @property
    def settings(self) -> Settings:
        return self.engine.settings

    @property
    def client(self) -> anthropic.Anthropic:
        """The process's shared sync `anthropic.Anthropic`."""
        return self.engine.client

    @property
    def async_client(self) -> anthropic.AsyncAnthropic:
        """The shared `anthropic.AsyncAnthropic` of the running event loop."""
        return self.engine.async_client

    def metrics_snapshot(self) -> dict[str, Any]:
        return self.engine.metrics_snapshot()
