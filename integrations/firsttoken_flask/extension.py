"""`FirstToken`: the Flask extension object (one engine per app that registers it) and the views' handle."""

from __future__ import annotations

import asyncio
import json
import os
import weakref
from typing import TYPE_CHECKING, Any

import click
from flask import Response as FlaskResponse
from flask import g, stream_with_context
from flask import request as flask_request

from firsttoken import (
    ChatRequest,
    Engine,
    EngineHandle,
    Refused,
    Relay,
    RelayStart,
    SettingsError,
    accept_chat,
    collect_calls,
    refusal,
    server_timing,
)

from .cli import firsttoken_cli, loaded_by_flask_cli
from .config import settings_from_config
from .registry import EXTENSION_KEY, get_engine
from .responses import relay_response, start_response

if TYPE_CHECKING:
    from flask import Flask, Request, Response

__all__ = ["FirstToken"]

DEVELOPMENT = "FIRSTTOKEN_DEVELOPMENT"


class FirstToken(EngineHandle):
    """Claude streaming for Flask apps: `FirstToken(app)`, or `FirstToken()` then `init_app(app)`.

    One extension object can serve several apps; each app gets its own engine (clients, profiles,
    metrics), found through `current_app`, so handlers use `firsttoken.engine` in any of them.
    """

    def __init__(self, app: Flask | None = None) -> None:
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Build the app's engine from its config and register it as `app.extensions["firsttoken"]`.

        Each key is read from `app.config`, else the environment variable of the same name, else
        its default (filled into `app.config` with `setdefault`, except the two `ANTHROPIC_*` keys,
        which are never copied there):

        - `ANTHROPIC_API_KEY`: the API key (default: none).
        - `ANTHROPIC_BASE_URL`: another endpoint, such as `firsttoken emulate` (default: none).
        - `FIRSTTOKEN_EMULATOR`: `"auto"` starts the embedded emulator when neither of the above is
          set, `"off"` refuses to start then, `"always"` uses it even with a key (default `"auto"`).
        - `FIRSTTOKEN_EMULATOR_TIME_SCALE`: the embedded emulator's delays, 1 is real time (1.0).
        - `FIRSTTOKEN_TIMEOUT`: seconds for a whole call (120.0).
        - `FIRSTTOKEN_CONNECT_TIMEOUT`: seconds to connect (5.0).
        - `FIRSTTOKEN_MAX_RETRIES`: the SDK's retries of 429/529/5xx (2).
        - `FIRSTTOKEN_MAX_CONNECTIONS`: the per-process connection pool's size (1000).
        - `FIRSTTOKEN_MAX_KEEPALIVE_CONNECTIONS`: idle connections kept open (100).
        - `FIRSTTOKEN_PROFILES`: `{name: {model, max_tokens, temperature, speed, timeout, concise}}`,
          each merged over the built-in profile of that name (`fast`, `chat`, `deep`).
        - `FIRSTTOKEN_DEFAULT_PROFILE`: the profile of calls that name none (`"chat"`).
        - `FIRSTTOKEN_HEARTBEAT_INTERVAL`: seconds between heartbeats of an idle stream (15.0).
        - `FIRSTTOKEN_COALESCE_WINDOW`: seconds a later text delta may be held to share a write
          (0.0: only what queued while writing; at most 0.1; None: one event per delta).
        - `FIRSTTOKEN_GATHER_CONCURRENCY`: parallel calls at once in `engine.gather` (8).
        - `FIRSTTOKEN_TOOL_THREADS`: threads that run agent turns' sync tools (16).
        - `FIRSTTOKEN_METRICS_WINDOW`: calls kept per model and profile for percentiles (1024).
        - `FIRSTTOKEN_ADVISOR`: log the performance guide's advice when a cause shows up (True).
        - `FIRSTTOKEN_BREAKER_FAILURES`: overloads of a model within the window that make calls
          skip it for the cooldown (5).
        - `FIRSTTOKEN_BREAKER_WINDOW`: seconds over which those overloads are counted (30.0).
        - `FIRSTTOKEN_BREAKER_COOLDOWN`: seconds an overloaded model is skipped (30.0).
        - `FIRSTTOKEN_CLASSIFY_CACHE_TTL`: seconds `engine.classify()` remembers an answer (300.0).
        - `FIRSTTOKEN_CLASSIFY_CACHE_SIZE`: answers it remembers (1024).
        - `FIRSTTOKEN_CACHE_MIN_TOKENS`: per model family, the minimum cacheable prompt length ({}).
        - `FIRSTTOKEN_PRICING`: per model family, input $/MTok for the cache savings report ({}).
        - `FIRSTTOKEN_CACHE_DEBUG`: ask the API why a conversation missed the prompt cache (False).
        - `FIRSTTOKEN_WARM_LOCK_DIR`: where the one-cache-warmer-per-machine locks live (None: the
          temporary directory).
        - `FIRSTTOKEN_REDIS_URL`: share cooldowns, budgets, warming, caches and metrics across
          workers and machines through Redis (None: this process's memory).
        - `FIRSTTOKEN_REDIS_PREFIX`: the namespace of every Redis key ("firsttoken:").
        - `FIRSTTOKEN_REDIS_TIMEOUT`: seconds each Redis step may take before local state is used (0.05).
        - `FIRSTTOKEN_RESPONSE_CACHE`: answer a repeated temperature-0 `create()` from the store (False).
        - `FIRSTTOKEN_TENANT`: keeps this app's cached responses apart from other tenants' (None).
        - `FIRSTTOKEN_DEVELOPMENT`: with no key, let the embedded emulator answer (default: the
          app's debug mode); elsewhere no key refuses to start, naming `ANTHROPIC_API_KEY`.
        - `FIRSTTOKEN_BROWSER_PROFILES`: the profiles a browser may name (None: those of "fast",
          "chat" and "agent" that exist).
        - `FIRSTTOKEN_MAX_BODY_BYTES`: the chat body's size limit, 413 past it (262144).
        - `FIRSTTOKEN_MAX_MESSAGES`: messages per request, 413 past it (100).
        - `FIRSTTOKEN_MAX_INPUT_TOKENS`: estimated input tokens per request unless the profile
          sets its own `max_input_tokens`, 413 past it (32000).
        - `FIRSTTOKEN_CLIENT_REQUESTS_PER_MINUTE`: each client's requests per minute, 429
          past it (30 in production, off in development).
        - `FIRSTTOKEN_CLIENT_TOKENS_PER_MINUTE`: each client's input tokens per minute
          (300000 in production, off in development).
        - `FIRSTTOKEN_WARM_UP`: warm the SDK's paths and open the upstream connection at start-up
          (`warm_up()`, or the first request) (True).
        - `FIRSTTOKEN_WARM_UP_TIMEOUT`: the longest start-up waits for that, in seconds (3.0).
        - `FIRSTTOKEN_STAY_WARM`: seconds after its last call a worker keeps one connection open (600.0).
        - `FIRSTTOKEN_STAY_WARM_INTERVAL`: idle seconds before a free request keeps it open (20.0).
        - `FIRSTTOKEN_WARM_AHEAD`: `POST /api/warm` pre-warms the prompt cache while the user types (True).
        - `FIRSTTOKEN_WARM_REQUESTS_PER_MINUTE`: each client's warms per minute (10 in production,
          off in development).
        - `FIRSTTOKEN_RESUMABLE`: answers survive a dropped connection, resumed from Redis on any
          worker (None: on exactly when `FIRSTTOKEN_REDIS_URL` is set).
        - `FIRSTTOKEN_RESUME_GRACE`: seconds an answer goes on with nobody reading it (5.0).
        - `FIRSTTOKEN_RESUME_TTL`: seconds a finished answer stays resumable (600.0).

        A bad value raises `firsttoken.SettingsError` naming its key, here rather than at the first
        request. The engine is closed when the app is garbage-collected, at interpreter exit, or
        by `close(app)`; not per request, since its connection pool outlives every request.
        """
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError(
                f"firsttoken is already registered on the app {app.name!r}; call init_app once per app"
            )
        # Flask's debug mode (`flask run --debug`) is development: with no key, the emulator answers.
        if app.debug and DEVELOPMENT not in app.config and DEVELOPMENT not in os.environ:
            app.config[DEVELOPMENT] = True
        try:
            engine = Engine(settings_from_config(app.config))
        except SettingsError as exc:
            if loaded_by_flask_cli():
                # `flask run`, `flask firsttoken check`...: one line naming the key and the fix, as
                # the command line's own errors, not a traceback through Flask's app loading.
                raise click.ClickException(f"firsttoken: {exc}") from None
            raise
        app.extensions[EXTENSION_KEY] = engine
        # A finalizer rather than atexit.register(engine.close): it holds no reference to the app,
        # so apps built and dropped (tests, app factories) release their engines early.
        weakref.finalize(app, engine.close)
        app.cli.add_command(firsttoken_cli)
        if engine.settings.in_development:
            # The devtools' timing panel: the calls that finished before the response went out.
            app.before_request(_collect_calls)
            app.after_request(_server_timing)
            app.teardown_request(_stop_collecting)

    # -- the handle: the same members as firsttoken_starlette's and firsttoken_django's ------------

    @property
    def engine(self) -> Engine:
        """The current app's engine (requires an app context, as in a view or a CLI command)."""
        return get_engine()

    def close(self, app: Flask | None = None) -> None:
        """Close the engine of `app` (default: the current app) now; idempotent."""
        get_engine(app).close()

    def warm_up(self, app: Flask | None = None, *, wait: bool = True) -> None:
        """Warm `app`'s engine before it serves: the SDK's code paths and the upstream connection.

        Call it where a server loads the app (a `wsgi.py`, after `create_app()`); it waits at most
        `FIRSTTOKEN_WARM_UP_TIMEOUT` seconds (`wait=False`: not at all), logs a failure once and
        never raises. A prefork server's workers (gunicorn --preload) warm again after the fork.
        """
        get_engine(app).warm_up(wait=wait)

    def stream_response(self, *, format: str = "sse", **call: Any) -> Response:
        """Stream one call in a wire format (`sse`, `ai-sdk`, `ndjson`, `text`).

        `call` takes `messages`, `profile`, profile overrides and the Messages API's arguments.
        An upstream refusal before the first token answers its status (529 -> 503, 429 -> 429)
        with `{"error": ...}`; a failure after it ends the stream with the format's error event.
        """
        return relay_response(Relay(get_engine(), format=format, **call))

    def metrics_response(self, accept: str | None = None) -> Response:
        """`GET /metrics`: the Prometheus scrape (the deployment's with Redis), for the `Accept` given."""
        from flask import Response

        body, content_type = get_engine().prometheus(accept)
        return Response(body, headers={"Content-Type": content_type, "Cache-Control": "no-store"})

    def read_chat(
        self, request: Request | None = None, *, client: str | None = None, system: Any = None
    ) -> ChatRequest:
        """The browser's chat body (default: the current request), checked against every limit
        before anything goes upstream; raises `firsttoken.Refused` (415, 413, 400, 429).

        No more than `max_body_bytes` is read. `client` identifies the caller for the per-minute
        budget (a user id); None is the peer's address. `system` is the app's own system prompt.
        """
        chat, tokens, req = self._accept(request, system)
        get_engine().limits.admit(client if client is not None else req.remote_addr, tokens)
        return chat

    def chat(self, request: Request | None = None, *, client: str | None = None, **call: Any) -> Response:
        """The whole chat endpoint: `read_chat`, then the stream; a refusal is its JSON answer."""
        try:
            chat = self.read_chat(request, client=client, system=call.get("system"))
        except Refused as exc:
            start = refusal(exc)
            return FlaskResponse(start.body, status=start.status, headers=start.headers)
        return self.chat_response(chat, **call)

    async def achat(
        self, request: Request | None = None, *, client: str | None = None, **call: Any
    ) -> Response:
        """`chat` for async views (the budget is charged on the sync store: a microsecond in memory)."""
        try:
            chat = self.read_chat(request, client=client, system=call.get("system"))
        except Refused as exc:
            start = refusal(exc)
            return FlaskResponse(start.body, status=start.status, headers=start.headers)
        return await self.achat_response(chat, **call)

    def _accept(self, request: Request | None, system: Any) -> tuple[ChatRequest, int, Request]:
        req = request if request is not None else flask_request
        limits = get_engine().limits
        limits.check_length(req.headers.get("Content-Length"))
        body = req.stream.read(limits.max_body_bytes + 1)
        chat, tokens = accept_chat(
            limits,
            body,
            content_type=req.headers.get("Content-Type"),
            protocols=req.args.getlist("protocol"),
            system=system,
        )
        return chat, tokens, req

    def warm(self, request: Request | None = None, *, client: str | None = None, **call: Any) -> Response:
        """`POST /api/warm`: the conversation so far pre-warmed in the prompt cache while the user
        types; `{"warmed": true}` or `{"warmed": false, "reason": ...}`. The body is checked as
        `read_chat` checks it (415, 413, 400); the client's warm budget, not its chat budget, is spent.
        """
        try:
            chat, _, req = self._accept(request, call.get("system"))
        except Refused as exc:
            start = refusal(exc)
            return FlaskResponse(start.body, status=start.status, headers=start.headers)
        result = get_engine().warm_for(
            chat.messages,
            profile=chat.profile,
            client=client if client is not None else req.remote_addr,
            system=call.get("system"),
        )
        return _json(result.as_json())

    async def awarm(
        self, request: Request | None = None, *, client: str | None = None, **call: Any
    ) -> Response:
        """`warm` for async views (the warm itself is sent from a thread, as `astream_response` does)."""
        try:
            chat, _, req = self._accept(request, call.get("system"))
        except Refused as exc:
            start = refusal(exc)
            return FlaskResponse(start.body, status=start.status, headers=start.headers)
        engine = get_engine()
        result = await asyncio.to_thread(
            lambda: engine.warm_for(
                chat.messages,
                profile=chat.profile,
                client=client if client is not None else req.remote_addr,
                system=call.get("system"),
            )
        )
        return _json(result.as_json())

    def chat_response(self, chat: ChatRequest, **call: Any) -> Response:
        """`stream_response` for a body parsed by `firsttoken.parse_chat_request`; `call` overrides it."""
        return self.stream_response(format=chat.format, chat_id=chat.chat_id, **chat.call_kwargs(**call))

    async def astream_response(self, *, format: str = "sse", **call: Any) -> Response:
        """`stream_response` for async views: the upstream is opened off the view's event loop.

        Flask serves the response from its WSGI thread after the view's loop has ended, so the
        body is the same sync stream as `stream_response`'s.
        """
        relay = Relay(get_engine(), format=format, **call)
        return relay_response(relay, await asyncio.to_thread(relay.open))

    async def achat_response(self, chat: ChatRequest, **call: Any) -> Response:
        return await self.astream_response(
            format=chat.format, chat_id=chat.chat_id, **chat.call_kwargs(**call)
        )

    def resume(self, request: Request | None, response_id: str, *, owner: str | None = None) -> Response:
        """`GET /api/chat/{response_id}/stream`: the answer after the `Last-Event-ID` header, then
        live (`?protocol=ai-sdk`: `response_id` is the AI SDK's chat id); 204 with nothing to resume.
        `request` None is the current one; `owner` is what the app gave `chat` (a session, a user id)."""
        req = request if request is not None else flask_request
        found = self.follow(
            response_id,
            owner=owner,
            last_event_id=req.headers.get("Last-Event-ID"),
            protocols=req.args.getlist("protocol"),
        )
        if isinstance(found, RelayStart):
            return start_response(found)
        response = FlaskResponse(stream_with_context(found.body()), status=200, headers=found.start.headers)
        response.call_on_close(found.close)
        return response

    async def aresume(
        self, request: Request | None, response_id: str, *, owner: str | None = None
    ) -> Response:
        """`resume` for async views: Flask serves the body from its WSGI thread either way."""
        return self.resume(request, response_id, owner=owner)

    def stop(self, request: Request | None, response_id: str, *, owner: str | None = None) -> Response:
        """`POST /api/chat/{response_id}/stop`: the answer and its upstream call end, on any worker."""
        return start_response(self.stop_answer(response_id, owner=owner))

    async def astop(self, request: Request | None, response_id: str, *, owner: str | None = None) -> Response:
        return start_response(await asyncio.to_thread(self.stop_answer, response_id, owner=owner))


def _json(payload: dict[str, Any]) -> Response:
    return FlaskResponse(
        json.dumps(payload), headers={"Content-Type": "application/json", "Cache-Control": "no-store"}
    )


def _collect_calls() -> None:
    collecting = collect_calls()
    g.firsttoken_calls = (collecting, collecting.__enter__())


def _server_timing(response: Response) -> Response:
    collecting = g.get("firsttoken_calls")
    if collecting is not None and collecting[1]:
        response.headers.add("Server-Timing", server_timing(collecting[1]))
    return response


def _stop_collecting(exc: BaseException | None) -> None:
    collecting = g.pop("firsttoken_calls", None)
    if collecting is not None:
        collecting[0].__exit__(None, None, None)
