"""A small app served by uvicorn in the adapter tests: every format, per-request faults, resources.

Run as `python -m uvicorn testapp:app --app-dir tests/integrations/starlette`; settings come from
the environment (`ANTHROPIC_BASE_URL`, `FIRSTTOKEN_HEARTBEAT_INTERVAL`, ...).
"""

from __future__ import annotations

import asyncio
import gc
import json
from collections import Counter
from typing import Any

import psutil
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from firsttoken import AsyncTextStream, Relay
from firsttoken_starlette import FirstToken, FirstTokenMiddleware, RelayResponse


async def chat(request: Request) -> Response:
    """`POST /chat?format=sse|text|ndjson|ai-sdk` with `{"messages", "profile", "max_tokens"}`.

    The `x-emulator-fault` and `x-emulator-output-tokens` headers are passed on to the emulator.
    """
    firsttoken: FirstToken = request.state.firsttoken
    body = json.loads(await request.body())
    forwarded = {k: v for k, v in request.headers.items() if k.startswith("x-emulator-")}
    call: dict[str, Any] = {"messages": body["messages"], "profile": body.get("profile", "fast")}
    if "max_tokens" in body:
        call["max_tokens"] = body["max_tokens"]
    if forwarded:
        call["extra_headers"] = forwarded
    return await firsttoken.stream_response(format=request.query_params.get("format", "sse"), **call)


async def resources(request: Request) -> Response:
    """Debug only: what a leak would grow (tasks, sockets, file descriptors)."""
    process = psutil.Process()
    return JSONResponse(
        {
            "tasks": len(asyncio.all_tasks()),
            "fds": process.num_fds(),
            "tcp": len(process.net_connections(kind="tcp")),
        }
    )


async def garbage(request: Request) -> Response:
    """Debug only: `?start` keeps what the collector would free; `?stop` names the relay's share.

    A relay whose objects form a cycle leaves each request to the collector, whose pauses were
    the slowest requests of a busy worker (see BENCHMARKS.md, Starlette).
    """
    if "start" in request.query_params:
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        return JSONResponse({})
    gc.collect()
    kinds = (AsyncTextStream, Relay, RelayResponse, asyncio.CancelledError)
    left = Counter(type(o).__name__ for o in gc.garbage if isinstance(o, kinds))
    gc.set_debug(0)
    gc.garbage.clear()
    return JSONResponse(left)


async def healthz(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def create(request: Request) -> Response:
    """Two one-shot calls, then a JSON answer: what the `Server-Timing` rows are for."""
    engine = request.state.firsttoken.engine
    for _ in range(2):
        await engine.acreate(profile="fast", max_tokens=3, messages=[{"role": "user", "content": "hi"}])
    return JSONResponse({"ok": True})


app = Starlette(
    routes=[
        Route("/chat", chat, methods=["POST"]),
        Route("/debug/resources", resources),
        Route("/debug/garbage", garbage),
        Route("/healthz", healthz),
        Route("/create", create),
    ],
    middleware=[Middleware(FirstTokenMiddleware)],
)
