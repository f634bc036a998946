"""The example's routes, per EXAMPLE_CONTRACT.md: the same app as the Starlette and Django examples."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask, Request, Response, jsonify, request

from example_projects.agent_tools import profiles_with_agent
from example_projects.extract import EXTRACT
from example_projects.loopback import is_loopback
from firsttoken.console import OWNER_COOKIE
from firsttoken_flask import FirstToken, console

__all__ = ["OWNER_COOKIE", "create_app", "firsttoken", "from_this_machine"]

firsttoken = FirstToken()

# Who may resume or stop an answer: a random id the packaged page sets in OWNER_COOKIE (an app
# would use its session).


def from_this_machine(request: Request) -> bool:
    # The console's access check (example_projects/loopback.py): the example runs without debug.
    return is_loopback(request.remote_addr)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    # Flask's own static route would take `/static/`, where the packaged page's files are.
    app = Flask(__name__, static_folder=None)
    app.config.update(config or {})
    # The contract's `agent` profile (Flask's config replaces the environment's profiles, so the
    # environment's are merged in here).
    app.config.setdefault("FIRSTTOKEN_PROFILES", {"extract": EXTRACT, **profiles_with_agent(os.environ)})
    firsttoken.init_app(app)
    # The packaged page at `/`, the dashboard at `/dashboard`, their files at `/static/`; the chat
    # API they call is the routes below (api=False).
    app.register_blueprint(console(api=False, allow=from_this_machine))

    @app.post("/api/chat")
    def chat() -> Response:
        # Limits, the profiles a browser may name and the client's budget (its IP here) are firsttoken's.
        return firsttoken.chat(owner=request.cookies.get(OWNER_COOKIE))

    @app.get("/api/chat/<response_id>/stream")
    def resume(response_id: str) -> Response:
        # With Redis set: the answer after Last-Event-ID, from any worker; 204 when there is none.
        return firsttoken.resume(response_id, owner=request.cookies.get(OWNER_COOKIE))

    @app.post("/api/chat/<response_id>/stop")
    def stop(response_id: str) -> Response:
        return firsttoken.stop(response_id, owner=request.cookies.get(OWNER_COOKIE))

    @app.get("/api/chat/<chat_id>/messages")
    def held(chat_id: str) -> Response:
        # A chat that named a `chat_id`: what the server holds of it, for a page reload.
        return firsttoken.messages(chat_id, owner=request.cookies.get(OWNER_COOKIE))

    @app.post("/api/warm")
    def warm() -> Response:
        # While the user types: the conversation so far pre-warmed in the prompt cache.
        return firsttoken.warm()

    @app.get("/api/metrics")
    def metrics() -> Response:
        return jsonify(firsttoken.metrics_snapshot())

    @app.get("/metrics")
    def prometheus() -> Response:
        return firsttoken.metrics_response()

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(ok=True)

    return app
