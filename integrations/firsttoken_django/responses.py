"""Relays as Django responses whose iterator matches the server.

Django consumes a sync iterator under ASGI, and an async one under WSGI, whole before sending a
byte, so the kind is chosen from the request class: `ASGIRequest` gets an async iterator,
anything else a sync one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync, sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse

from firsttoken import Engine, Relay, RelayStart

from .state import get_engine

if TYPE_CHECKING:
    from django.http import HttpRequest

__all__ = ["astream_response", "is_asgi", "stream_response"]


def is_asgi(request: HttpRequest) -> bool:
    return isinstance(request, ASGIRequest)


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def stream_response(
    request: HttpRequest, *, format: str = "sse", engine: Engine | None = None, **call: Any
) -> HttpResponseBase:
    """From a sync view: the upstream is opened before returning, so a refusal is an HTTP status.

    `call` is `messages=`, `profile=`, profile overrides and any Messages API argument; `engine`
    defaults to the one built from `settings.FIRSTTOKEN`.
    """
    if _in_event_loop():
        raise RuntimeError(
            "stream_response() cannot open the upstream from inside an event loop without blocking it; "
            "in an async view use `await request.firsttoken.astream_response(...)`"
        )
    engine = engine or get_engine()
    relay = engine.relay(format=format, **call)
    if is_asgi(request):
        # A sync view under ASGI runs in a worker thread; the relay must be opened on the server's
        # loop, where Django will iterate it.
        start = async_to_sync(relay.aopen)()
        return _response(request, start, relay, asynchronous=True, engine=engine)
    return _response(request, relay.open(), relay, asynchronous=False, engine=engine)


async def astream_response(
    request: HttpRequest, *, format: str = "sse", engine: Engine | None = None, **call: Any
) -> HttpResponseBase:
    """From an async view; under WSGI the response still iterates synchronously, as the server needs."""
    engine = engine or get_engine()
    relay = engine.relay(format=format, **call)
    if is_asgi(request):
        return _response(request, await relay.aopen(), relay, asynchronous=True, engine=engine)
    # An async view under WSGI runs in a loop that ends when the view returns; the stream it hands
    # back must live on in the server's thread, so it is a sync one.
    start = await sync_to_async(relay.open)()
    return _response(request, start, relay, asynchronous=False, engine=engine)


def _response(
    request: HttpRequest, start: RelayStart, relay: Relay, *, asynchronous: bool, engine: Engine
) -> HttpResponseBase:
    if start.body is not None:
        refused = HttpResponse(start.body, status=start.status)
        _set_headers(refused, start.headers)
        return refused
    content = _aiter(relay, engine.settings.heartbeat_interval) if asynchronous else _iter(relay)
    response = StreamingHttpResponse(content, status=start.status)
    _set_headers(response, start.headers)
    # GZipMiddleware compresses a sync stream through one GzipFile that holds tokens until its
    # buffer fills, and an async one as a gzip member per token. Token-sized SSE events gain
    # nothing from either, so the stream is kept out of it: gzip answers only clients that accept
    # it, and this request now does not. (`Content-Encoding: identity` would also skip it, but
    # RFC 9110 reserves `identity` for Accept-Encoding.)
    request.META.pop("HTTP_ACCEPT_ENCODING", None)
    return response


def _set_headers(response: HttpResponseBase, headers: list[tuple[str, str]]) -> None:
    for name, value in headers:
        response.headers[name] = value


def _iter(relay: Relay) -> Iterator[bytes]:
    # A generator, so the server's `close()` after a failed write (WSGI's way of saying the client
    # left) closes the upstream stream at once.
    try:
        yield from relay
    finally:
        relay.close()


async def _aiter(relay: Relay, heartbeat_interval: float) -> AsyncIterator[bytes]:
    """The relay's bytes, with a heartbeat whenever the upstream is silent for `heartbeat_interval`.

    Django 5 cancels this iterator when the client disconnects; the cancellation lands in the
    `await` below and the `finally` closes the upstream stream.
    """
    chunks = aiter(relay)
    beat = relay.format.heartbeat()
    pending: asyncio.Task[bytes] | None = None
    try:
        while True:
            pending = asyncio.ensure_future(anext(chunks))
            while beat:
                done, _ = await asyncio.wait((pending,), timeout=heartbeat_interval)
                if done:
                    break
                yield beat
            try:
                chunk = await pending
            except StopAsyncIteration:
                return
            pending = None
            yield chunk
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            # The cancelled `anext` is finished before the relay is closed: an async generator
            # cannot be closed while it is running.
            await asyncio.gather(pending, return_exceptions=True)
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()
        await relay.aclose()
