"""`FirstTokenMiddleware`: owns one engine for an app's lifetime and hands each request its handle."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from firsttoken import Engine, FirstTokenError, Settings, collect_calls, server_timing

from .handle import STATE_KEY, FirstToken, current_engine

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["FirstTokenMiddleware"]


class FirstTokenMiddleware:
    """Pure ASGI middleware: `Middleware(FirstTokenMiddleware, settings={"timeout": 60})`.

    `settings`: a `Settings`, or a mapping of setting names merged over `Settings.from_env()`
    (so `ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL` and `FIRSTTOKEN_*` still apply); a bad one
    fails when the app starts, naming the key. `engine`: share one engine between several apps
    instead; the middleware then never closes it, since it does not own it.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: Mapping[str, Any] | Settings | None = None,
        engine: Engine | None = None,
    ) -> None:
        if engine is not None and settings is not None:
            raise TypeError("pass settings= or engine=, not both: a given engine has its own settings")
        self.app = app
        self._given = engine
        # Built now, not at the first request: Starlette builds its middleware at startup, so
        # a wrong key or value stops the app there rather than on some later request.
        # A bad setting raises here. Starlette builds its middleware inside the first ASGI call
        # (the lifespan's), where uvicorn takes an exception for "no lifespan support" and goes on
        # serving; an app that must not start with a bad environment builds its `Settings` at
        # import (as the examples do) and hands them over.
        if engine is not None:
            self.settings = engine.settings
        elif isinstance(settings, Settings):
            self.settings = settings
        else:
            self.settings = Settings.from_env(**dict(settings or {}))
        self._engine = engine
        # What `get_engine()` calls inside this app's requests and lifespan (made once, not per request).
        self._current = lambda: self.engine

    @property
    def engine(self) -> Engine:
        """The engine, built on first use when the server never ran the app's lifespan."""
        engine = self._engine
        if engine is None or (engine.closed and self._given is None):
            # No await between the check and the assignment: concurrent first requests on
            # one event loop cannot both build an engine. A closed owned engine (a second
            # lifespan cycle, as test clients run) is replaced by a fresh one.
            engine = self._engine = Engine(self.settings)
        return engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            engine = self.engine
            # A copy, not the server's dict: a mounted app with its own middleware must not
            # overwrite the outer app's handle for the rest of the outer request.
            state = dict(scope.get("state", ()))
            scope = {**scope, "state": state}
            state[STATE_KEY] = FirstToken(engine, scope, receive)
            token = current_engine.set(self._current)
            try:
                if not self.settings.in_development:
                    await self.app(scope, receive, send)
                    return
                # In development, the model calls that finished before the response began (the
                # devtools' timing panel shows them) as `Server-Timing` entries; never in
                # production, where wrapping `send` would cost every streamed chunk a call.
                with collect_calls() as rows:
                    await self.app(scope, receive, _timed(send, rows))
            finally:
                current_engine.reset(token)
                # The handle holds the scope that holds it: let go of it here, so the request's
                # objects are freed by their reference counts, not by a garbage collection (the
                # collector's pauses were a busy worker's slowest requests, BENCHMARKS.md).
                state.pop(STATE_KEY, None)
        elif kind == "lifespan":
            token = current_engine.set(self._current)
            try:
                await self._lifespan(scope, receive, send)
            finally:
                current_engine.reset(token)
        else:
            await self.app(scope, receive, send)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def receive_startup() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    engine = self.engine
                except FirstTokenError as exc:
                    # Said here, not left to the app: Starlette reads this first message outside
                    # the block that reports `startup.failed`, and uvicorn would take a bare
                    # exception for "lifespan unsupported" and serve 500s. This stops the server.
                    await send({"type": "lifespan.startup.failed", "message": f"firsttoken: {exc}"})
                    raise
                # The server is about to serve on this loop: its first request must not pay for
                # the SDK's first call or the upstream's handshakes. Bounded, and never raises.
                await engine.awarm_up()
            return message

        async def send_shutdown(message: Message) -> None:
            ending = message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed")
            if ending and self._given is None and self._engine is not None:
                await self._engine.aclose()
            await send(message)

        await self.app(scope, receive_startup, send_shutdown)


def _timed(send: Send, rows: list[dict[str, Any]]) -> Send:
    async def sending(message: Message) -> None:
        if rows and message["type"] == "http.response.start":
            headers = [*message.get("headers", ()), (b"server-timing", server_timing(rows).encode("latin-1"))]
            message = {**message, "headers": headers}
        await send(message)

    return sending
