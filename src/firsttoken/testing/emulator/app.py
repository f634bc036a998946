"""The emulator as a pure ASGI application.

Routes: `POST /v1/messages` (JSON or SSE), `POST /v1/messages/count_tokens`, `GET /v1/models`,
`GET /v1/models/{id}`, the Message Batches API (`batches.py`), the Files API (`files.py`), and the
control plane `GET /_emulator/stats`, `POST /_emulator/reset`, `POST /_emulator/faults` (JSON list
of fault strings; `GET` reads them back).

Per-request headers: `x-emulator-seed` (int) overrides the seed, `x-emulator-fault` adds faults
in the `KIND[:RATE][@MODEL]` grammar (comma-separated, checked before the global ones), and
`x-emulator-output-tokens` (int) forces the answer length (benchmarks use it for long streams),
and `x-emulator-reply` (text) makes the answer exactly that text (tests of a classifier use it).

A request's `thread` (message threads) is resolved by `threads.py` before anything else, so the
rest sees the whole conversation; its `context_management` edits (compaction, tool-result
clearing) are applied by `context.py`.

Streaming sends headers and `message_start` at once, pings every 0.5 s (scaled) while the first
token is due, then every event at its deadline. A concurrent `receive()` watches for
`http.disconnect` and cancels generation the moment the client goes away.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
import urllib.parse
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from .batches import BatchStore, asgi_post
from .blocks import CitedText, SearchPlan, ThinkingPlan, check_turns, thinking_config
from .cache import CacheUsage, PromptCache, flatten
from .config import EmulatorConfig
from .context import read_edits
from .copies import Copies
from .faults import MIDSTREAM_AFTER_TOKENS, Fault, draw, parse_faults, pick_fault
from .files import FileStore, Reply
from .protocol import (
    ApiError,
    MessageRequest,
    error_body,
    new_id,
    parse_json,
    validate_count_tokens,
    validate_message_request,
)
from .ratelimit import RateLimiter
from .schemacheck import check_structured
from .servertools import ServerCall, check_server_tools, server_tool_usage
from .stats import Stats
from .textgen import (
    Answer,
    TextPlan,
    ToolPlan,
    canned,
    generate,
    logical_key,
    request_rng,
    search_result,
    shape,
)
from .threads import ThreadStore, ThreadTurn, betas
from .timing import Schedule, plan_schedule

__all__ = ["EmulatorApp", "create_app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PING_INTERVAL = 0.5
# Events per ASGI send when nothing waits on a deadline (time_scale 0): large enough that the
# per-send cost vanishes, small enough that a disconnect is noticed within one batch.
BATCH_EVENTS = 512
RATE_LIMIT_FAULT_RETRY_AFTER = 1.0

_MODELS = (
    ("claude-opus-5", "Claude Opus 5", "2026-05-01T00:00:00Z", "opus"),
    ("claude-sonnet-5", "Claude Sonnet 5", "2026-05-01T00:00:00Z", "sonnet"),
    ("claude-haiku-5-5", "Claude Haiku 5.5", "2026-06-01T00:00:00Z", "haiku"),
    ("claude-fable-5", "Claude Fable 5", "2026-04-01T00:00:00Z", "fable"),
    ("claude-mythos-5", "Claude Mythos 5", "2026-04-01T00:00:00Z", "mythos"),
    ("claude-opus-4-8", "Claude Opus 4.8", "2026-02-01T00:00:00Z", "opus"),
    ("claude-sonnet-4-6", "Claude Sonnet 4.6", "2026-02-01T00:00:00Z", "sonnet"),
    ("claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-01T00:00:00Z", "haiku"),
)


def _model_info(model_id: str, name: str, created: str, line: str) -> dict[str, Any]:
    return {
        "type": "model",
        "id": model_id,
        "display_name": name,
        "created_at": created,
        "lifecycle": "active",
        "line": line,
        "deprecated_at": None,
        "retires_at": None,
        "max_input_tokens": 200_000,
        "max_tokens": 64_000,
    }


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _sse(name: str, data: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + _dumps(data) + b"\n\n"


PING = _sse("ping", {"type": "ping"})


class _ClientGone(Exception):
    pass


@dataclass
class _Conn:
    disconnected: bool = False
    # Set just before the final send: uvicorn reports http.disconnect once a response completes,
    # which must not count as the client going away.
    done: bool = False
    # Called just before the final send so stats are complete by the time the client has the answer.
    before_last: Callable[[int], None] | None = None

    def finishing(self, tokens: int) -> None:
        self.done = True
        if self.before_last is not None:
            self.before_last(tokens)

    sent: int = 0  # output tokens handed to the server so far
    # Loop time when the first output token was handed to the server (streams only).
    first_sent: float | None = None


@dataclass
class _Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    origin: str  # scheme and host the client reached us by, for the URLs we hand back
    receive: Receive
    send: Send
    request_id: str
    entry: dict[str, Any]
    finish: Callable[[_Outcome], None]


@dataclass
class _Outcome:
    status: int
    fault: str | None = None
    output_tokens: int = 0
    disconnected: bool = False


class EmulatorApp:
    """ASGI callable; also the in-process control surface (stats, reset, faults)."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        clock = config.clock or time.monotonic
        self.cache = PromptCache(clock)
        self.limiter = RateLimiter(config.rate_limits, clock)
        self.threads = ThreadStore(clock)
        self._stats = Stats(config.request_log_size)
        self._faults: list[Fault] = list(config.faults)  # type: ignore[arg-type]
        self._arrivals = 0
        self._lock = threading.Lock()
        self.copies = Copies()
        self.files = FileStore(clock)
        self.batches = BatchStore(
            lambda body, headers: asgi_post(self, "/v1/messages", body, headers), config.time_scale
        )

    # -- control surface -------------------------------------------------------------------------
    @property
    def faults(self) -> list[Fault]:
        return list(self._faults)

    def set_faults(self, specs: list[str] | list[Fault] | tuple[object, ...]) -> None:
        self._faults = parse_faults(specs)

    def reset(self) -> None:
        with self._lock:
            self._arrivals = 0
        self.threads.clear()
        self._stats.clear()
        self.cache.clear()
        self.limiter.clear()
        self.files.clear()
        self.batches.clear()

    def stats(self) -> dict[str, Any]:
        snap = self._stats.snapshot()
        snap["cache_entries"] = len(self.cache)
        snap["threads_held"] = len(self.threads)
        snap["faults"] = [str(f) for f in self._faults]
        return snap

    @property
    def requests(self) -> list[dict[str, Any]]:
        return list(self._stats.snapshot()["recent_requests"])

    # -- ASGI ------------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request_id = new_id("req_")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        path: str = scope["path"]
        method: str = scope["method"]
        if path.startswith("/_emulator/"):
            await self._control(path, method, headers, receive, send)
            return
        entry: dict[str, Any] = {"id": request_id, "method": method, "path": path, "model": None}
        # The client's port names its connection: tests see which requests shared one (warm-up).
        client = scope.get("client")
        entry["client_port"] = client[1] if client else None
        recorded = False

        def finish(outcome: _Outcome) -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            entry.update(
                status=outcome.status,
                fault=outcome.fault,
                output_tokens=outcome.output_tokens,
                disconnected=outcome.disconnected,
            )
            entry.setdefault("stream", False)
            self._stats.record(entry)

        try:
            query = scope.get("query_string", b"").decode("latin-1")
            origin = f"{scope.get('scheme', 'http')}://{headers.get('host', '127.0.0.1')}"
            http = _Request(method, path, query, headers, origin, receive, send, request_id, entry, finish)
            finish(await self._api(http))
        except ApiError as err:
            finish(_Outcome(status=err.status, fault=entry.get("fault")))
            await self._send_json(
                send,
                err.status,
                error_body(err.error_type, err.message, request_id, err.details),
                request_id,
                entry.get("model") or "",
                err.headers,
            )
        except _ClientGone:
            finish(_Outcome(status=499, disconnected=True))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _control(
        self, path: str, method: str, headers: dict[str, str], receive: Receive, send: Send
    ) -> None:
        rid = new_id("req_")
        try:
            if path == "/_emulator/stats" and method == "GET":
                await self._send_json(send, 200, self.stats(), rid)
            elif path == "/_emulator/reset" and method == "POST":
                await self._read_body(receive, headers)
                self.reset()
                await self._send_json(send, 200, {"ok": True}, rid)
            elif path == "/_emulator/faults" and method in ("POST", "PUT"):
                body = await self._read_body(receive, headers)
                try:
                    specs = json.loads(body or b"[]")
                    if not isinstance(specs, list):
                        raise ValueError("expected a JSON list of fault strings")
                    self.set_faults([str(s) for s in specs])
                except ValueError as exc:
                    raise ApiError("invalid_request_error", f"faults: {exc}") from None
                await self._send_json(send, 200, {"faults": [str(f) for f in self._faults]}, rid)
            elif path == "/_emulator/faults" and method == "GET":
                await self._send_json(send, 200, {"faults": [str(f) for f in self._faults]}, rid)
            else:
                raise ApiError("not_found_error", f"Not found: {method} {path}")
        except ApiError as err:
            await self._send_json(send, err.status, error_body(err.error_type, err.message, rid), rid)
        except _ClientGone:
            return

    async def _api(self, http: _Request) -> _Outcome:
        path, method = http.path, http.method
        handler: Callable[[_Request], Awaitable[_Outcome]]
        if path == "/v1/messages" and method == "POST":
            handler = self._messages
        elif path == "/v1/messages/count_tokens" and method == "POST":
            handler = self._count_tokens
        elif path == "/v1/models" and method == "GET":
            handler = self._list_models
        elif path.startswith("/v1/models/") and method == "GET":
            handler = self._get_model
        elif path == "/v1/messages/batches" or path.startswith("/v1/messages/batches/"):
            handler = self._batches_api
        elif path == "/v1/files" or path.startswith("/v1/files/"):
            handler = self._files_api
        else:
            raise ApiError("not_found_error", f"Not found: {method} {path}")
        self._authenticate(http.headers)
        return await handler(http)

    # -- helpers ---------------------------------------------------------------------------------
    @staticmethod
    def _authenticate(headers: dict[str, str]) -> None:
        if headers.get("x-api-key", "").strip():
            return
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return
        raise ApiError("authentication_error", "x-api-key header is required")

    async def _read_body(self, receive: Receive, headers: dict[str, str]) -> bytes:
        limit = self.config.max_body_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise ApiError("request_too_large", f"Request exceeds the maximum allowed size of {limit} bytes.")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            body: bytes = message.get("body", b"")
            size += len(body)
            if size > limit:
                raise ApiError(
                    "request_too_large", f"Request exceeds the maximum allowed size of {limit} bytes."
                )
            chunks.append(body)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _headers(
        self, request_id: str, model: str, extra: dict[str, str] | None
    ) -> list[tuple[bytes, bytes]]:
        out = [(b"request-id", request_id.encode()), *self.limiter.headers(model)]
        out.extend((k.encode(), v.encode()) for k, v in (extra or {}).items())
        return out

    async def _send_json(
        self,
        send: Send,
        status: int,
        payload: Any,
        request_id: str,
        model: str = "",
        extra: dict[str, str] | None = None,
    ) -> None:
        body = _dumps(payload)
        headers = self._headers(request_id, model, extra)
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _send_reply(self, http: _Request, reply: Reply) -> _Outcome:
        if isinstance(reply.body, bytes):
            headers = self._headers(http.request_id, "", None)
            headers += [
                (b"content-type", reply.content_type.encode()),
                (b"content-length", str(len(reply.body)).encode()),
            ]
            await http.send({"type": "http.response.start", "status": reply.status, "headers": headers})
            await http.send({"type": "http.response.body", "body": reply.body, "more_body": False})
        else:
            await self._send_json(http.send, reply.status, reply.body, http.request_id)
        return _Outcome(status=reply.status)

    # -- endpoints -------------------------------------------------------------------------------
    async def _batches_api(self, http: _Request) -> _Outcome:
        body = await self._read_body(http.receive, http.headers)
        reply = self.batches.handle(http.method, http.path, http.query, http.headers, body, http.origin)
        return await self._send_reply(http, reply)

    async def _files_api(self, http: _Request) -> _Outcome:
        body = await self._read_body(http.receive, http.headers)
        reply = self.files.handle(http.method, http.path, http.query, http.headers, body)
        return await self._send_reply(http, reply)

    async def _count_tokens(self, http: _Request) -> _Outcome:
        req = validate_count_tokens(parse_json(await self._read_body(http.receive, http.headers)))
        self.files.resolve(req.raw)
        http.entry["model"] = req.model
        _check_model(req.model)
        edited, _ = read_edits(req.raw, http.headers).apply(req, sampling=False)
        body: dict[str, Any] = {"input_tokens": flatten(edited).total}
        if "context_management" in req.raw:
            body["context_management"] = {"original_input_tokens": flatten(req).total}
        await self._send_json(http.send, 200, body, http.request_id, req.model)
        return _Outcome(status=200)

    async def _list_models(self, http: _Request) -> _Outcome:
        query = dict(urllib.parse.parse_qsl(http.query))
        ids = [m[0] for m in _MODELS]
        try:
            limit = int(query.get("limit", "20"))
        except ValueError:
            raise ApiError("invalid_request_error", "limit: Input should be a valid integer") from None
        if not 1 <= limit <= 1000:
            raise ApiError("invalid_request_error", "limit: Input should be between 1 and 1000")
        start, end = 0, len(ids)
        if "after_id" in query:
            start = ids.index(query["after_id"]) + 1 if query["after_id"] in ids else len(ids)
        if "before_id" in query:
            end = ids.index(query["before_id"]) if query["before_id"] in ids else 0
            start = max(start, end - limit)
        page = [_model_info(*m) for m in _MODELS[start:end][:limit]]
        body = {
            "data": page,
            "has_more": start + len(page) < end if "before_id" not in query else start > 0,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
        }
        await self._send_json(http.send, 200, body, http.request_id)
        return _Outcome(status=200)

    async def _get_model(self, http: _Request) -> _Outcome:
        model_id = urllib.parse.unquote(http.path.removeprefix("/v1/models/"))
        http.entry["model"] = model_id
        for m in _MODELS:
            if m[0] == model_id:
                await self._send_json(http.send, 200, _model_info(*m), http.request_id, model_id)
                return _Outcome(status=200)
        raise ApiError("not_found_error", f"model: {model_id}")

    def _next_fault(self, req: MessageRequest, seed: int, headers: dict[str, str]) -> Fault | None:
        try:
            request_faults = (
                parse_faults([headers["x-emulator-fault"]]) if "x-emulator-fault" in headers else []
            )
        except ValueError as exc:
            raise ApiError("invalid_request_error", f"x-emulator-fault: {exc}") from None
        with self._lock:
            n = self._arrivals
            self._arrivals += 1
        u = draw(seed, n)
        return pick_fault([*request_faults, *self._faults], req.model, u)

    async def _messages(self, http: _Request) -> _Outcome:
        loop = asyncio.get_running_loop()
        arrived = loop.time()
        raw = await self._read_body(http.receive, http.headers)
        read = loop.time()
        data = parse_json(raw)
        # What the request itself carried, before a thread's held turns are added: tests and the
        # threaded-chat benchmark read it.
        http.entry["request_bytes"] = len(raw)
        thread, sent = data.get("thread"), data.get("messages")
        http.entry["thread"] = thread.get("type") if isinstance(thread, dict) else None
        http.entry["sent_messages"] = len(sent) if isinstance(sent, list) else None
        with self.threads.turn(data, http.headers) as turn:
            return await self._answer(http, turn, arrived, read)

    async def _answer(self, http: _Request, turn: ThreadTurn, arrived: float, read: float) -> _Outcome:
        headers, receive, send, rid, entry = (
            http.headers,
            http.receive,
            http.send,
            http.request_id,
            http.entry,
        )
        req = validate_message_request(turn.data)
        self.files.resolve(req.raw)
        entry.update(model=req.model, stream=req.stream)
        _check_model(req.model)
        thinks, shown = thinking_config(req.raw, req.model, req.max_tokens)
        check_turns(req.messages, req.model, thinks)
        check_structured(req.raw, req.model)
        check_server_tools(req.raw, betas(headers))
        seed = _int_header(headers, "x-emulator-seed", self.config.seed)
        forced = _int_header(headers, "x-emulator-output-tokens", None)
        req, context = read_edits(req.raw, headers).apply(req)
        fault = self._next_fault(req, seed, headers)
        entry["fault"] = fault.kind if fault else None
        if fault is not None and fault.kind.startswith("thread_"):
            turn.refuse(fault.kind)
        if fault is not None and fault.kind == "overloaded":
            raise ApiError("overloaded_error", "Overloaded", headers={"x-should-retry": "true"})
        if fault is not None and fault.kind == "server_error":
            raise ApiError("api_error", "Internal server error", headers={"x-should-retry": "true"})
        if fault is not None and fault.kind == "rate_limit":
            raise ApiError(
                "rate_limit_error",
                "This request would exceed your organization's rate limit (emulated fault).",
                headers=_retry_headers(RATE_LIMIT_FAULT_RETRY_AFTER, self.config.time_scale),
            )
        blocks = flatten(req)
        wait, kind = self.limiter.admit(req.model, blocks.total)
        if wait is not None:
            raise ApiError(
                "rate_limit_error",
                f"This request would exceed the rate limit for your organization of {kind} per minute "
                f"for {req.model}.",
                headers=_retry_headers(wait, 1.0),
            )
        timing = self.config.timing_for(req.model)
        diagnosis = (
            self.cache.diagnose(req.previous_message_id, req, blocks) if req.previous_message_id else None
        )
        usage = self.cache.account(blocks, timing.min_cacheable_tokens)
        self._stats.add_cache(usage.cache_read, usage.cache_creation)
        reply = headers.get("x-emulator-reply")
        answer = generate(req, seed, forced) if reply is None else canned(req, reply)
        refuse = fault is not None and fault.kind == "refusal"
        answer = shape(
            req, answer, seed, thinks=thinks, shown=shown, refuse=refuse, asked=reply is None, forced=forced
        )
        if context.paused:
            answer = Answer(stop_reason="compaction")
        message_id = new_id("msg_")
        self.cache.remember(message_id, req, blocks, usage)
        # A copy beside an identical request in flight draws its own pace (`copies.py`).
        with self.copies.take(hashlib.sha256(logical_key(req).encode()).hexdigest()) as copy:
            schedule = plan_schedule(
                timing,
                request_rng(req, seed, f"timing#{copy}" if copy else "timing"),
                uncached_tokens=usage.input_tokens + usage.cache_creation,
                cached_tokens=usage.cache_read,
                fast=req.speed == "fast",
                slow=fault is not None and fault.kind == "slow",
                time_scale=self.config.time_scale,
            )
            entry.update(copy=copy, ttft_ms=round(schedule.ttft * 1000, 3))
            message = {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": req.model,
                "content": [*context.lead, *answer.content()],
                "stop_reason": answer.stop_reason,
                "stop_sequence": answer.stop_sequence,
                "stop_details": answer.stop_details,
                "usage": _usage(usage, answer.output_tokens, req.speed),
            }
            _server_side(message, answer, new_id("container_"))
            context.annotate(message, answer.output_tokens)
            if req.diagnostics_requested:
                message["diagnostics"] = {"cache_miss_reason": diagnosis} if diagnosis else None
            extra_headers = self._headers(rid, req.model, None)
            conn = _Conn()
            fault_kind = fault.kind if fault else None

            def note_held() -> None:
                # How long the emulator held the request, from its whole body in hand to its first
                # token handed to the server: a client's TTFT minus this is the time the request
                # spent outside the emulator, free of the emulator's pace (`ttft_open_streams.py`).
                if conn.first_sent is not None:
                    entry["held_ms"] = round((conn.first_sent - read) * 1000, 3)

            def before_last(tokens: int) -> None:
                note_held()
                # Held before the client has the end of the reply, so its next `continue` finds it.
                if fault_kind != "midstream_overloaded":
                    turn.hold(message_id, message["content"])
                http.finish(_Outcome(200, fault_kind, tokens))

            conn.before_last = before_last
            if req.stream:
                self._stats.stream_opened()
                producer = self._stream(
                    send, conn, req, answer, message, schedule, arrived, fault, extra_headers
                )
            else:
                producer = self._respond_later(
                    send, conn, message, answer, schedule, arrived, fault, extra_headers
                )
            try:
                sent = await self._race(producer, receive, conn)
            finally:
                note_held()  # a client that left before the last event
                if req.stream:
                    self._stats.stream_closed(disconnected=conn.disconnected)
            self.limiter.charge_output(req.model, sent)
            return _Outcome(
                status=499 if conn.disconnected else 200,
                fault=fault.kind if fault else None,
                output_tokens=sent,
                disconnected=conn.disconnected,
            )

    async def _race(self, producer: Awaitable[int], receive: Receive, conn: _Conn) -> int:
        """Run the producer until it ends or the client disconnects, whichever comes first."""
        task: asyncio.Task[int] = asyncio.ensure_future(producer)
        watcher = asyncio.ensure_future(_watch_disconnect(receive, conn))
        try:
            await asyncio.wait((task, watcher), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not task.done():
                task.cancel()
            watcher.cancel()
        try:
            await task
        except asyncio.CancelledError:
            if not conn.disconnected:
                raise
        return conn.sent

    async def _respond_later(
        self,
        send: Send,
        conn: _Conn,
        message: dict[str, Any],
        answer: Answer,
        schedule: Schedule,
        arrived: float,
        fault: Fault | None,
        headers: list[tuple[bytes, bytes]],
    ) -> int:
        loop = asyncio.get_running_loop()
        n = answer.output_tokens
        delay = arrived + schedule.due(max(n - 1, 0)) - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        body = _dumps(message)
        headers = [
            *headers,
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if fault is not None and fault.kind == "drop":
            # Half a body then no end: uvicorn closes the socket and the client sees a cut connection.
            await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
            return 0
        self._stats.add_tokens(n, after_disconnect=conn.disconnected)
        conn.finishing(n)
        await send({"type": "http.response.body", "body": body, "more_body": False})
        conn.sent = n
        return n

    async def _stream(
        self,
        send: Send,
        conn: _Conn,
        req: MessageRequest,
        answer: Answer,
        message: dict[str, Any],
        schedule: Schedule,
        arrived: float,
        fault: Fault | None,
        headers: list[tuple[bytes, bytes]],
    ) -> int:
        events, dues, carries = _encode_stream(req, answer, message, schedule)
        cut = len(events)
        if fault is not None and fault.kind in ("midstream_overloaded", "drop"):
            seen = 0
            for cut, carry in enumerate(carries):  # noqa: B007 - cut is read after the loop
                seen += carry
                if seen > MIDSTREAM_AFTER_TOKENS:
                    break
            else:
                cut = len(events) - 2  # before message_delta: the answer never finishes
            events, dues, carries = events[:cut], dues[:cut], carries[:cut]
            if fault.kind == "midstream_overloaded":
                err = error_body("overloaded_error", "Overloaded", message["id"].replace("msg_", "req_"))
                events.append(_sse("error", err))
                dues.append(dues[-1] if dues else 0.0)
                carries.append(0)
        loop = asyncio.get_running_loop()
        scale = self.config.time_scale
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    *headers,
                    (b"content-type", b"text/event-stream; charset=utf-8"),
                    (b"cache-control", b"no-cache"),
                    (b"x-accel-buffering", b"no"),
                ],
            }
        )
        finish = fault is None or fault.kind != "drop"
        total, i, n = 0, 0, len(events)
        first_content = 1
        next_ping = arrived + PING_INTERVAL * scale
        while i < n:
            now = loop.time()
            if scale == 0:
                j = min(n, i + BATCH_EVENTS)
            else:
                j = i
                while j < n and arrived + dues[j] <= now:
                    j += 1
            if j > i:
                last = j == n and finish
                tokens = sum(carries[i:j])
                if tokens and not total:
                    conn.first_sent = now
                total += tokens
                conn.sent = total
                self._stats.add_tokens(tokens, after_disconnect=conn.disconnected)
                if last:
                    conn.finishing(total)
                await send(
                    {"type": "http.response.body", "body": b"".join(events[i:j]), "more_body": not last}
                )
                i = j
                if scale == 0:
                    # Let the disconnect watcher run between batches even when nothing sleeps.
                    await asyncio.sleep(0)
                continue
            wake = arrived + dues[i]
            if i == first_content and next_ping < wake:
                await asyncio.sleep(max(0.0, next_ping - now))
                await send({"type": "http.response.body", "body": PING, "more_body": True})
                next_ping += PING_INTERVAL * scale
                continue
            await asyncio.sleep(wake - now)
        if n == 0 and finish:
            conn.finishing(total)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        return total


async def _watch_disconnect(receive: Receive, conn: _Conn) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            conn.disconnected = not conn.done
            return


def _check_model(model: str) -> None:
    if not model.startswith("claude-"):
        raise ApiError("not_found_error", f"model: {model}")


def _int_header(headers: dict[str, str], name: str, default: int | None) -> Any:
    raw = headers.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError("invalid_request_error", f"{name}: expected an integer, got {raw!r}") from None
    if name == "x-emulator-output-tokens" and value < 0:
        raise ApiError("invalid_request_error", f"{name}: expected an integer >= 0, got {raw!r}")
    return value


def _retry_headers(seconds: float, scale: float) -> dict[str, str]:
    # `retry-after` stays in whole real seconds as the API sends it; `retry-after-ms`, which the SDK
    # prefers, is scaled so a time_scale-0 test retries at once instead of sleeping a second.
    return {
        "retry-after": str(max(1, round(seconds + 0.499))),
        "retry-after-ms": str(max(1, round(seconds * scale * 1000))),
        "x-should-retry": "true",
    }


def _server_side(message: dict[str, Any], answer: Answer, container_id: str) -> None:
    """What running server tools adds to the message: `usage.server_tool_use` for web searches and
    fetches, and the `container` code execution ran in."""
    names = [
        b.name if isinstance(b, ServerCall) else "web_search"
        for b in answer.blocks
        if isinstance(b, (SearchPlan, ServerCall))
    ]
    if "web_search" in names or "web_fetch" in names:
        message["usage"]["server_tool_use"] = server_tool_usage(names)
    if any(n.endswith("code_execution") for n in names):
        message["container"] = {"id": container_id, "expires_at": "2099-01-01T00:00:00Z", "skills": None}


def _usage(usage: CacheUsage, output_tokens: int, speed: str) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": usage.cache_creation,
        "cache_read_input_tokens": usage.cache_read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": usage.cache_5m,
            "ephemeral_1h_input_tokens": usage.cache_1h,
        },
        "service_tier": "standard",
        "speed": speed,
    }


def _encode_stream(
    req: MessageRequest, answer: Answer, message: dict[str, Any], schedule: Schedule
) -> tuple[list[bytes], list[float], list[int]]:
    """Every SSE event of the answer, the scaled time each is due, and the tokens each carries."""
    start_message = dict(message, content=[], stop_reason=None, stop_sequence=None)
    start_message.pop("context_management", None)
    start_message.pop("container", None)
    start_message["usage"] = dict(message["usage"], output_tokens=1)
    if "server_tool_use" in message["usage"]:
        start_message["usage"]["server_tool_use"] = server_tool_usage([])
    events = [_sse("message_start", {"type": "message_start", "message": start_message})]
    dues = [0.0]
    carries = [0]
    token = 0
    index = 0
    for lead in message["content"]:
        if lead["type"] != "compaction":
            break
        # A compaction block leads the answer: its start, then the whole summary in one delta.
        compaction = {"type": "compaction_delta", **{k: lead[k] for k in ("content", "encrypted_content")}}
        events += [
            _sse(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "compaction", "content": None},
                },
            ),
            _sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": compaction}),
            _sse("content_block_stop", {"type": "content_block_stop", "index": index}),
        ]
        dues += [0.0, 0.0, 0.0]
        carries += [0, 0, 0]
        index += 1
    for block in answer.blocks:
        for start_block, pieces in _block_events(block):
            prefix = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,' % index
            events.append(
                _sse(
                    "content_block_start",
                    {"type": "content_block_start", "index": index, "content_block": start_block},
                )
            )
            dues.append(schedule.due(token))
            carries.append(0)
            held = isinstance(block, ToolPlan) and not block.eager
            for piece, carry in pieces:
                events.append(prefix + piece + b"}\n\n")
                dues.append(schedule.due(token))
                carries.append(carry)
                token += carry
            if held and pieces:
                # Without eager input streaming the input is held back until it is complete.
                last = schedule.due(max(token - 1, 0))
                dues[-len(pieces) :] = [last] * len(pieces)
            events.append(_sse("content_block_stop", {"type": "content_block_stop", "index": index}))
            dues.append(dues[-1])
            carries.append(0)
            index += 1
    usage = message["usage"]
    end = schedule.due(max(token - 1, 0))
    delta: dict[str, Any] = {
        "type": "message_delta",
        "delta": {
            "stop_reason": answer.stop_reason,
            "stop_sequence": answer.stop_sequence,
            "stop_details": answer.stop_details,
        },
        "usage": {
            "input_tokens": usage["input_tokens"],
            "cache_creation_input_tokens": usage["cache_creation_input_tokens"],
            "cache_read_input_tokens": usage["cache_read_input_tokens"],
            "output_tokens": answer.output_tokens,
        },
    }
    if "server_tool_use" in usage:
        delta["usage"]["server_tool_use"] = usage["server_tool_use"]
    if "container" in message:
        delta["delta"]["container"] = message["container"]
    if "context_management" in message:
        delta["context_management"] = message["context_management"]
    events += [_sse("message_delta", delta), _sse("message_stop", {"type": "message_stop"})]
    dues += [end, end]
    carries += [0, 0]
    return events, dues, carries


_TEXT = b'"delta":{"type":"text_delta","text":'
_JSON = b'"delta":{"type":"input_json_delta","partial_json":'
_THOUGHT = b'"delta":{"type":"thinking_delta","thinking":'
Pieces = list[tuple[bytes, int]]


def _block_events(block: Any) -> list[tuple[dict[str, Any], Pieces]]:
    """Each content block a plan becomes: its `content_block_start` and its deltas' JSON (after
    `"index":N,`) with the output tokens each carries. A tool's input streams unbuffered, in
    fragments of a few characters that are not valid JSON until the block ends, as with
    `eager_input_streaming`."""
    if isinstance(block, TextPlan):
        return [({"type": "text", "text": ""}, [(_TEXT + _dumps(t) + b"}", 1) for t in block.tokens])]
    if isinstance(block, ToolPlan):
        start = {"type": "tool_use", "id": block.id, "name": block.name, "input": {}}
        return [(start, [(_JSON + _dumps(c) + b"}", 1) for c in block.chunks])]
    if isinstance(block, ThinkingPlan):
        shown = [(_THOUGHT + _dumps(t) + b"}", 1) for t in block.tokens] if block.shown else []
        signature = _delta(
            {"type": "signature_delta", "signature": block.signature}, 0 if shown else len(block.tokens)
        )
        return [({"type": "thinking", "thinking": "", "signature": ""}, [*shown, signature])]
    if isinstance(block, CitedText):
        cite = _delta({"type": "citations_delta", "citation": block.citation}, 0)
        text = [(_TEXT + _dumps(t) + b"}", 1) for t in block.tokens]
        return [({"type": "text", "text": "", "citations": []}, [cite, *text])]
    if isinstance(block, ServerCall):
        # The call's input streams in two fragments; its result arrives whole, in its start.
        encoded = _dumps(block.input).decode()
        half = len(encoded) // 2
        chunks = [(_JSON + _dumps(c) + b"}", 1) for c in (encoded[:half], encoded[half:])]
        return [(block.use_block({}), chunks), (block.result, [])]
    assert isinstance(block, SearchPlan)
    query = _dumps(block.input).decode()
    start = {"type": "server_tool_use", "id": block.id, "name": "web_search", "input": {}}
    half = len(query) // 2
    chunks = [(_JSON + _dumps(c) + b"}", 1) for c in (query[:half], query[half:])]
    return [(start, chunks), (search_result(block), [])]


def _delta(delta: dict[str, Any], carry: int) -> tuple[bytes, int]:
    return b'"delta":' + _dumps(delta), carry


def create_app(config: EmulatorConfig | None = None, **options: Any) -> EmulatorApp:
    """The emulator's ASGI app, from a config or the config's keyword arguments."""
    if config is not None and options:
        raise TypeError("pass either an EmulatorConfig or keyword options, not both")
    return EmulatorApp(config if config is not None else EmulatorConfig(**options))
