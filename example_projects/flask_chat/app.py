"""The example's routes, per EXAMPLE_CONTRACT.md: the same app as the Starlette and Django examples."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, jsonify, request, send_from_directory

from example_projects.agent_tools import profiles_with_agent
from example_projects.extract import EXTRACT
from firsttoken.console import STATIC_DIR
from firsttoken_flask import FirstToken

__all__ = ["CHAT_PAGE", "create_app", "firsttoken"]

# The one chat page all three examples serve.
CHAT_PAGE = STATIC_DIR

firsttoken = FirstToken()

# Who may resume or stop an answer: a random cookie the page sets (an app would use its session).
OWNER_COOKIE = "chat_owner"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    # Flask's own static route would serve from flask_chat/static; the page lives in chat_page/.
    app = Flask(__name__, static_folder=None)
    app.config.update(config or {})
    # The contract's `agent` profile (Flask's config replaces the environment's profiles, so the
    # environment's are merged in here).
    app.config.setdefault("FIRSTTOKEN_PROFILES", {"extract": EXTRACT, **profiles_with_agent(os.environ)})
    firsttoken.init_app(app)

    @app.get("/")
    def index() -> Response:
        response = send_from_directory(CHAT_PAGE, "index.html")
        if OWNER_COOKIE not in request.cookies:
            response.set_cookie(OWNER_COOKIE, secrets.token_urlsafe(18), httponly=True, samesite="Lax")
        return response

    @app.get("/static/<path:filename>")
    def static_file(filename: str) -> Response:
        return send_from_directory(CHAT_PAGE, filename)

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

    @app.get("/dashboard")
    def dashboard() -> Response:
        return send_from_directory(CHAT_PAGE, "dashboard.html")

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(ok=True)

    return app
