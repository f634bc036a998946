"""The servers of the benchmarks on `_rig.py` (`capacity.py` and the rest): in each framework, firsttoken's
relay and hand-written ones.

Every app answers `POST /api/chat` (firsttoken's `stream_response`, as a view would call it),
`POST /api/helper` (the relay the SDK's documentation leads a user to write: `messages.stream()`,
each `text_stream` delta as an `event: token` with its JSON) and `POST /api/bare` (the least a
relay on the SDK does in that framework: one fixed `event: token` per upstream chunk holding a text
delta, nothing parsed, no heartbeat, no metrics), all asking the same question of the upstream at
`ANTHROPIC_BASE_URL`. The answer's model and length ride on request headers the
emulator reads (`x-bench-model`, `x-emulator-output-tokens`), so one server serves every trial.

    uvicorn --app-dir benchmarks --factory _capacity_apps:starlette_app
    uvicorn --app-dir benchmarks --factory _capacity_apps:django_asgi
    gunicorn -k gthread --chdir benchmarks '_capacity_apps:flask_app()'
    gunicorn -k gthread --chdir benchmarks '_capacity_apps:django_wsgi()'
    granian --factory --interface asgi --working-dir benchmarks _capacity_apps:starlette_app
    granian --factory --interface wsgi --working-dir benchmarks _capacity_apps:flask_app
"""

from __future__ import annotations

import gc
import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anthropic

QUESTION = [{"role": "user", "content": "Explain streaming."}]
DEFAULT_MODEL = "claude-sonnet-5-5"
TOKEN = b'event: token\ndata: {"text":"."}\n\n'


def _call(headers: Any) -> dict[str, Any]:
    """The Messages API arguments of one request (from its headers mapping), the same on both endpoints."""
    forwarded = {k: v for k, v in headers.items() if k.lower().startswith("x-emulator-")}
    return {
        "model": headers.get("x-bench-model", DEFAULT_MODEL),
        "max_tokens": 100_000,
        "messages": QUESTION,
        "extra_headers": forwarded,
    }


def _token(text: str) -> bytes:
    return b"event: token\ndata: " + json.dumps({"text": text}).encode() + b"\n\n"


async def _ahelper_body(sdk: anthropic.AsyncAnthropic, headers: Any) -> AsyncIterator[bytes]:
    """The SDK-helper relay's body, its stream opened before the response starts (as a view would)."""
    manager = sdk.messages.stream(**_call(headers))
    stream = await manager.__aenter__()

    async def body() -> AsyncIterator[bytes]:
        try:
            async for text in stream.text_stream:
                yield _token(text)
        finally:
            await manager.__aexit__(None, None, None)

    return body()


def _helper_body(sdk: anthropic.Anthropic, headers: Any) -> Iterator[bytes]:
    """`_ahelper_body` for a sync view."""
    manager = sdk.messages.stream(**_call(headers))
    stream = manager.__enter__()

    def body() -> Iterator[bytes]:
        try:
            for text in stream.text_stream:
                yield _token(text)
        finally:
            manager.__exit__(None, None, None)

    return body()


def _sdk_kwargs() -> dict[str, Any]:
    return {"api_key": os.environ.get("ANTHROPIC_API_KEY", "bench"), "max_retries": 0}


def _async_sdk() -> anthropic.AsyncAnthropic:
    """The hand-written and helper relays' async client: on the SDK's aiohttp transport when the rig
    runs a `/aiohttp` setup (`BENCH_TRANSPORT`), as firsttoken's is then."""
    if os.environ.get("BENCH_TRANSPORT") == "aiohttp":
        return anthropic.AsyncAnthropic(**_sdk_kwargs(), http_client=anthropic.DefaultAioHttpClient())
    return anthropic.AsyncAnthropic(**_sdk_kwargs())


def _collector() -> None:
    """`BENCH_GC` in the server's environment: `off` turns its garbage collector off, a number sets
    the youngest generation's threshold (BENCHMARKS.md, "TTFT with the emulator's hold taken out")."""
    value = os.environ.get("BENCH_GC")
    if value == "off":
        gc.disable()
    elif value:
        gc.set_threshold(int(value), *gc.get_threshold()[1:])


# -- Starlette on uvicorn ----------------------------------------------------------------------


def starlette_app() -> Any:
    _collector()
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    from firsttoken_starlette import FirstToken, FirstTokenMiddleware

    sdk = _async_sdk()

    async def chat(request: Request) -> Response:
        await request.body()
        firsttoken: FirstToken = request.state.firsttoken
        return await firsttoken.stream_response(**_call(request.headers))

    async def bare(request: Request) -> Response:
        await request.body()
        opened = sdk.messages.with_streaming_response.create(stream=True, **_call(request.headers))
        upstream = await opened.__aenter__()

        async def body() -> AsyncIterator[bytes]:
            try:
                async for chunk in upstream.http_response.aiter_bytes():
                    if b'"text_delta"' in chunk:
                        yield TOKEN
            finally:
                await opened.__aexit__(None, None, None)

        return StreamingResponse(body(), media_type="text/event-stream")

    async def helper(request: Request) -> Response:
        await request.body()
        return StreamingResponse(await _ahelper_body(sdk, request.headers), media_type="text/event-stream")

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/api/chat", chat, methods=["POST"]),
            Route("/api/bare", bare, methods=["POST"]),
            Route("/api/helper", helper, methods=["POST"]),
            Route("/healthz", healthz),
        ],
        middleware=[Middleware(FirstTokenMiddleware)],
    )


# -- Flask on gunicorn gthread ---------------------------------------------------------------


def flask_app() -> Any:
    _collector()
    from flask import Flask, Response, request

    from firsttoken_flask import FirstToken

    app = Flask("capacity")
    app.config["FIRSTTOKEN_ADVISOR"] = False
    ext = FirstToken(app)
    sdk = anthropic.Anthropic(**_sdk_kwargs())

    @app.post("/api/chat")
    def chat() -> Response:
        request.get_data()
        return ext.stream_response(**_call(request.headers))

    @app.post("/api/bare")
    def bare() -> Response:
        request.get_data()
        opened = sdk.messages.with_streaming_response.create(stream=True, **_call(request.headers))
        upstream = opened.__enter__()

        def body() -> Iterator[bytes]:
            try:
                for chunk in upstream.http_response.iter_bytes():
                    if b'"text_delta"' in chunk:
                        yield TOKEN
            finally:
                opened.__exit__(None, None, None)

        return Response(body(), mimetype="text/event-stream")

    @app.post("/api/helper")
    def helper() -> Response:
        request.get_data()
        return Response(_helper_body(sdk, request.headers), mimetype="text/event-stream")

    @app.get("/healthz")
    def healthz() -> dict[str, bool]:
        return {"ok": True}

    return app


# -- Django, under uvicorn (ASGI) and gunicorn gthread (WSGI) ----------------------------------


def _django() -> None:
    import django
    from django.conf import settings

    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        SECRET_KEY="capacity-benchmark",
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=["firsttoken_django"],
        MIDDLEWARE=["firsttoken_django.middleware.FirstTokenMiddleware"],
        FIRSTTOKEN={"ADVISOR": False},
        USE_TZ=True,
    )
    django.setup()


def _django_views() -> list[Any]:
    from django.http import HttpRequest, HttpResponseBase, JsonResponse, StreamingHttpResponse
    from django.urls import path
    from django.views.decorators.csrf import csrf_exempt

    from firsttoken_django import FirstToken

    sync_sdk = anthropic.Anthropic(**_sdk_kwargs())
    async_sdk = _async_sdk()

    # The view matches the server, as a Django user writes it: async under ASGI, sync under WSGI.
    @csrf_exempt
    async def achat(request: HttpRequest) -> HttpResponseBase:
        firsttoken: FirstToken = request.firsttoken  # type: ignore[attr-defined]
        return await firsttoken.astream_response(**_call(request.headers))

    @csrf_exempt
    def chat(request: HttpRequest) -> HttpResponseBase:
        firsttoken: FirstToken = request.firsttoken  # type: ignore[attr-defined]
        return firsttoken.stream_response(**_call(request.headers))

    @csrf_exempt
    async def abare(request: HttpRequest) -> HttpResponseBase:
        opened = async_sdk.messages.with_streaming_response.create(stream=True, **_call(request.headers))
        upstream = await opened.__aenter__()

        async def body() -> AsyncIterator[bytes]:
            try:
                async for chunk in upstream.http_response.aiter_bytes():
                    if b'"text_delta"' in chunk:
                        yield TOKEN
            finally:
                await opened.__aexit__(None, None, None)

        return StreamingHttpResponse(body(), content_type="text/event-stream")

    @csrf_exempt
    def bare(request: HttpRequest) -> HttpResponseBase:
        opened = sync_sdk.messages.with_streaming_response.create(stream=True, **_call(request.headers))
        upstream = opened.__enter__()

        def body() -> Iterator[bytes]:
            try:
                for chunk in upstream.http_response.iter_bytes():
                    if b'"text_delta"' in chunk:
                        yield TOKEN
            finally:
                opened.__exit__(None, None, None)

        return StreamingHttpResponse(body(), content_type="text/event-stream")

    @csrf_exempt
    async def ahelper(request: HttpRequest) -> HttpResponseBase:
        body = await _ahelper_body(async_sdk, request.headers)
        return StreamingHttpResponse(body, content_type="text/event-stream")

    @csrf_exempt
    def helper(request: HttpRequest) -> HttpResponseBase:
        return StreamingHttpResponse(
            _helper_body(sync_sdk, request.headers), content_type="text/event-stream"
        )

    def healthz(request: HttpRequest) -> HttpResponseBase:
        return JsonResponse({"ok": True})

    @csrf_exempt
    async def full_collection(request: HttpRequest) -> HttpResponseBase:
        """One full garbage collection now, as CPython runs one by itself (`gc_pauses.py`), on the
        server's loop, and the objects the next one walks. Not `gc.get_freeze_count()`: it walks
        the frozen objects' list, itself a stall of the size measured."""
        started = time.perf_counter()
        gc.collect()
        ms = (time.perf_counter() - started) * 1000
        return JsonResponse({"ms": ms, "tracked": len(gc.get_objects())})

    asgi = os.environ.get("BENCH_DJANGO") == "asgi"
    return [
        path("api/chat", achat if asgi else chat),
        path("api/bare", abare if asgi else bare),
        path("api/helper", ahelper if asgi else helper),
        path("healthz", healthz),
        path("api/gc", full_collection),
    ]


urlpatterns: list[Any] = []


def django_asgi() -> Any:
    _collector()
    os.environ["BENCH_DJANGO"] = "asgi"
    _django()
    urlpatterns[:] = _django_views()
    from firsttoken_django.asgi import get_asgi_application

    return get_asgi_application()


def django_wsgi() -> Any:
    _collector()
    os.environ["BENCH_DJANGO"] = "wsgi"
    _django()
    urlpatterns[:] = _django_views()
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()
