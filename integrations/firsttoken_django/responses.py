"""Relays as Django responses whose iterator matches the server.

Django consumes a sync iterator under ASGI, and an async one under WSGI, whole before sending a
byte, so the kind is chosen from the request class: `ASGIRequest` gets an async iterator,
anything else a sync one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync, sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse

from firsttoken import Engine, Relay, RelayStart, ResumedStream

from .server import is_sync_gunicorn
from .state import get_engine

if TYPE_CHECKING:
    from django.http import HttpRequest

__all__ = ["astream_response", "is_asgi", "start_response", "stream_response", "streaming"]

logger = logging.getLogger("firsttoken.django")


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
    relay = Relay(engine, format=format, **call)
    if is_asgi(request):
        # A sync view under ASGI runs in a worker thread; the relay must be opened on the server's
        # loop, where Django will iterate it.
        start = async_to_sync(relay.aopen)()
        return _response(request, start, relay, asynchronous=True)
    _warn_if_sync_gunicorn(request)
    return _response(request, relay.open(), relay, asynchronous=False)


async def astream_response(
    request: HttpRequest, *, format: str = "sse", engine: Engine | None = None, **call: Any
) -> HttpResponseBase:
    """From an async view; under WSGI the response still iterates synchronously, as the server needs."""
    engine = engine or get_engine()
    relay = Relay(engine, format=format, **call)
    if is_asgi(request):
        return _response(request, await relay.aopen(), relay, asynchronous=True)
    # An async view under WSGI runs in a loop that ends when the view returns; the stream it hands
    # back must live on in the server's thread, so it is a sync one.
    _warn_if_sync_gunicorn(request)
    start = await sync_to_async(relay.open)()
    return _response(request, start, relay, asynchronous=False)


def start_response(start: RelayStart) -> HttpResponseBase:
    """A start that is not a stream: a JSON answer (a refusal), or a 204."""
    response = HttpResponse(start.body or b"", status=start.status)
    if start.body is None:
        del response["Content-Type"]
    _set_headers(response, start.headers)
    return response


_warned: list[bool] = []


def _warn_if_sync_gunicorn(request: HttpRequest) -> None:
    """Once per process: the system check (firsttoken.W018) cannot always see how gunicorn was
    started, but a request served by its sync worker says so in its environ."""
    if not _warned and is_sync_gunicorn(request.META):
        _warned.append(True)
        logger.warning(
            "firsttoken: this stream is served by gunicorn's sync worker, which cannot stream safely "
            "(a client that never reads blocks the worker until its timeout kills it); "
            "run gunicorn -k gthread --threads 32, see docs/deployment.md"
        )


def _response(
    request: HttpRequest, start: RelayStart, relay: Relay, *, asynchronous: bool
) -> HttpResponseBase:
    if start.body is not None:
        return start_response(start)
    return streaming(request, start, relay, asynchronous=asynchronous)


def streaming(
    request: HttpRequest, start: RelayStart, relay: Relay | ResumedStream, *, asynchronous: bool
) -> HttpResponseBase:
    """The streaming response over an opened relay or a resumed answer."""
    # The body's iterator is closed by the server when the client leaves (a failed WSGI write, or
    # Django 5 cancelling the async one), which closes the upstream stream.
    response = StreamingHttpResponse(relay.abody() if asynchronous else relay.body(), status=start.status)
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
