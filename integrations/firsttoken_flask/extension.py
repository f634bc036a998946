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


class FirstToken(EngineHandle["Response"]):
    """Claude streaming for Flask apps: `FirstToken(app)`, or `FirstToken()` then `init_app(app)`.

    One extension object can serve several apps; each app gets its own engine (clients, profiles,
    metrics), found through `current_app`, and each request is Flask's current `request`: views
    call `firsttoken.chat()` with the same members as Django's `request.firsttoken` and
    Starlette's `request.state.firsttoken`.
    """

    def __init__(self, app: Flask | None = None) -> None:
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Build the app's engine from its config and register it as `app.extensions["firsttoken"]`.

        Every setting is a config key: `FIRSTTOKEN_<SETTING>` in upper case (`FIRSTTOKEN_TIMEOUT`),
        and `ANTHROPIC_API_KEY` and `ANTHROPIC_BASE_URL` for the first two (`CONFIG_KEYS` lists
        them all; the [settings reference](settings.md) says what each does). Each is read from
        `app.config`, else the environment variable of the same name, else its default, which is
        filled into `app.config` with `setdefault` (never the `ANTHROPIC_*` two). In debug mode
        `FIRSTTOKEN_DEVELOPMENT` defaults to true: with no key, the embedded emulator answers.

        A bad value raises `firsttoken.SettingsError` naming its key, here rather than at the first
        request. The engine is closed when the app is garbage-collected or at interpreter exit (or
        by `get_engine().close()` in the app's context); not per request, since its connection
        pool outlives every request.
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

    @property
    def request(self) -> Request:
        """The request being served: Flask's own context-local `request`, so one extension object
        serves every request as Django's and Starlette's per-request handles each serve theirs."""
        return flask_request._get_current_object()  # type: ignore[attr-defined, no-any-return]

    def stream_response(self, *, format: str = "sse", **call: Any) -> Response:
        """Stream one call in a wire format (`sse`, `ai-sdk`, `ndjson`, `text`).

        `call` takes `messages`, `profile`, profile overrides and the Messages API's arguments.
        An upstream refusal before the first token answers its status (529 -> 503, 429 -> 429)
        with `{"error": ...}`; a failure after it ends the stream with the format's error event.
        """
        return relay_response(Relay(get_engine(), format=format, **call))

    async def astream_response(self, *, format: str = "sse", **call: Any) -> Response:
        """`stream_response` for async views: the upstream is opened off the view's event loop.

        Flask serves the response from its WSGI thread after the view's loop has ended, so the
        body is the same sync stream as `stream_response`'s.
        """
        relay = Relay(get_engine(), format=format, **call)
        return relay_response(relay, await asyncio.to_thread(relay.open))

    def chat_response(self, chat: ChatRequest, **call: Any) -> Response:
        """`stream_response` for a body parsed by `firsttoken.parse_chat_request`; `call` overrides it."""
        return self.stream_response(
            format=chat.format, chat_id=chat.chat_id, hold=chat.held, **chat.call_kwargs(**call)
        )

    async def achat_response(self, chat: ChatRequest, **call: Any) -> Response:
        return await self.astream_response(
            format=chat.format, chat_id=chat.chat_id, hold=chat.held, **chat.call_kwargs(**call)
        )

    def metrics_response(self, accept: str | None = None) -> Response:
        """`GET /metrics`: the Prometheus scrape (the deployment's with Redis) in the format `accept`
        asks for (None: the request's `Accept` header)."""
        body, content_type = get_engine().prometheus(accept or self.request.headers.get("Accept"))
        return FlaskResponse(body, headers={"Content-Type": content_type, "Cache-Control": "no-store"})

    def _accept(self, system: Any) -> tuple[ChatRequest, int]:
        request, limits = self.request, get_engine().limits
        limits.check_length(request.headers.get("Content-Length"))
        body = request.stream.read(limits.max_body_bytes + 1)
        return accept_chat(
            limits,
            body,
            content_type=request.headers.get("Content-Type"),
            protocols=request.args.getlist("protocol"),
            system=system,
        )

    def _client(self, client: str | None) -> str | None:
        return client if client is not None else self.request.remote_addr

    def _refusal_response(self, exc: Refused) -> Response:
        return start_response(refusal(exc))

    def _json_response(self, payload: dict[str, Any]) -> Response:
        return FlaskResponse(
            json.dumps(payload), headers={"Content-Type": "application/json", "Cache-Control": "no-store"}
        )

    def read_chat(self, *, client: str | None = None, system: Any = None) -> ChatRequest:
        """The browser's chat body, checked against every limit before anything goes upstream;
        raises `firsttoken.Refused` (415, 413, 400, 429).

        No more than `max_body_bytes` is read. `client` identifies the caller for the per-minute
        budget (a user id); None is the peer's address. `system` is the app's own system prompt.
        """
        chat, tokens = self._accept(system)
        get_engine().limits.admit(self._client(client), tokens)
        return chat

    async def aread_chat(self, *, client: str | None = None, system: Any = None) -> ChatRequest:
        """`read_chat` for async views (the body is read, and the budget charged, on the sync
        stream and store: a WSGI body is a blocking file either way)."""
        return self.read_chat(client=client, system=system)

    async def awarm(self, *, client: str | None = None, **call: Any) -> Response:
        """`warm` for async views (the warm itself is sent from a thread, as `astream_response` does)."""
        try:
            chat, _ = self._accept(call.get("system"))
        except Refused as exc:
            return self._refusal_response(exc)
        engine, who, system = get_engine(), self._client(client), call.get("system")
        result = await asyncio.to_thread(
            lambda: engine.warm_for(chat.messages, profile=chat.profile, client=who, system=system)
        )
        return self._json_response(result.as_json())

    def resume(self, response_id: str, *, owner: str | None = None) -> Response:
        """`GET /api/chat/{response_id}/stream`: the answer after the `Last-Event-ID` header, then
        live (`?protocol=ai-sdk`: `response_id` is the AI SDK's chat id); 204 with nothing to resume.
        `owner` is what the app gave `chat` (a session, a user id)."""
        request = self.request
        found = self.follow(
            response_id,
            owner=owner,
            last_event_id=request.headers.get("Last-Event-ID"),
            protocols=request.args.getlist("protocol"),
        )
        if isinstance(found, RelayStart):
            return start_response(found)
        response = FlaskResponse(stream_with_context(found.body()), status=200, headers=found.start.headers)
        response.call_on_close(found.close)
        return response

    async def aresume(self, response_id: str, *, owner: str | None = None) -> Response:
        """`resume` for async views: Flask serves the body from its WSGI thread either way."""
        return self.resume(response_id, owner=owner)

    def stop(self, response_id: str, *, owner: str | None = None) -> Response:
        """`POST /api/chat/{response_id}/stop`: the answer and its upstream call end, on any worker."""
        return start_response(self.stop_answer(response_id, owner=owner))

    async def astop(self, response_id: str, *, owner: str | None = None) -> Response:
        return start_response(await asyncio.to_thread(self.stop_answer, response_id, owner=owner))

    def messages(self, chat_id: str, *, owner: str | None = None) -> Response:
        """`GET /api/chat/{chat_id}/messages`: the conversation the server holds for the chat (a
        body that named `chat_id`), as the contract's `messages` list; 404 for another `owner`."""
        return start_response(self.held_messages(chat_id, owner=owner))

    async def amessages(self, chat_id: str, *, owner: str | None = None) -> Response:
        return start_response(await asyncio.to_thread(self.held_messages, chat_id, owner=owner))


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
