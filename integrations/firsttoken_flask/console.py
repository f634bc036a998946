"""`console()`: firsttoken's chat page and dashboard as a blueprint to register in one line.

app.register_blueprint(console(), url_prefix="/firsttoken")
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from flask import Blueprint, current_app, jsonify, request

from firsttoken.console import HEADERS, OWNER_COOKIE, PAGES, REFUSAL, asset, content_type, new_owner

from .extension import FirstToken

if TYPE_CHECKING:
    from pathlib import Path

    from flask import Request, Response

__all__ = ["Allow", "console"]

# The app's access check: the request in, whether it may see the console.
Allow = Callable[["Request"], bool]

# The views' handle: the extension object's members work on the current app and request.
_handle = FirstToken()


def console(*, allow: Allow | None = None, api: bool = True) -> Blueprint:
    """The chat page at the blueprint's root, the dashboard at `dashboard`, their files at
    `static/`, and (`api=True`) the chat API they call at `api/...` and the Prometheus scrape at
    `metrics`; a new blueprint named `firsttoken_console` each call.

    Served when the app is in debug mode (`app.debug`, `flask run --debug`) or `allow(request)`
    says so; anyone else gets a 403 (`allow` is how an app opens it in production: its own login,
    staff only). `api=False` when the app serves the chat API itself at `api/...` beside the pages.
    The API needs the app's `FirstToken` extension, as any view does.
    """
    blueprint = Blueprint("firsttoken_console", __name__)

    @blueprint.before_request
    def gate() -> Response | None:
        if current_app.debug or (allow is not None and allow(request)):
            return None
        return current_app.response_class(
            json.dumps(REFUSAL), status=403, headers={**HEADERS, "Content-Type": "application/json"}
        )

    blueprint.add_url_rule("/", "index", lambda: _page(PAGES[""]))
    blueprint.add_url_rule("/dashboard", "dashboard", lambda: _page(PAGES["dashboard"]))
    blueprint.add_url_rule("/static/<path:name>", "static", _static)
    if api:
        blueprint.add_url_rule("/api/chat", "chat", _chat, methods=["POST"])
        blueprint.add_url_rule("/api/chat/<response_id>/stream", "resume", _resume)
        blueprint.add_url_rule("/api/chat/<response_id>/stop", "stop", _stop, methods=["POST"])
        blueprint.add_url_rule("/api/chat/<chat_id>/messages", "messages", _messages)
        blueprint.add_url_rule("/api/warm", "warm", _warm, methods=["POST"])
        blueprint.add_url_rule("/api/metrics", "metrics", _metrics)
        blueprint.add_url_rule("/metrics", "prometheus", _prometheus)
    return blueprint


def _page(name: str) -> Response:
    path = asset(name)
    assert path is not None, name  # the package's own pages
    response = _file(path)
    if OWNER_COOKIE not in request.cookies:
        response.set_cookie(OWNER_COOKIE, new_owner(), httponly=True, samesite="Lax")
    return response


def _static(name: str) -> Response:
    path = asset(name)
    if path is None:
        return current_app.response_class(
            json.dumps({"error": "no such file"}),
            status=404,
            headers={**HEADERS, "Content-Type": "application/json"},
        )
    return _file(path)


def _file(path: Path) -> Response:
    # Read whole (the largest, uPlot, is 51 kB): no file handle outlives the request.
    headers = {**HEADERS, "Content-Type": content_type(path), "Cache-Control": "no-cache"}
    return current_app.response_class(path.read_bytes(), headers=headers)


def _chat() -> Response:
    return _handle.chat(owner=request.cookies.get(OWNER_COOKIE))


def _resume(response_id: str) -> Response:
    return _handle.resume(response_id, owner=request.cookies.get(OWNER_COOKIE))


def _stop(response_id: str) -> Response:
    return _handle.stop(response_id, owner=request.cookies.get(OWNER_COOKIE))


def _messages(chat_id: str) -> Response:
    return _handle.messages(chat_id, owner=request.cookies.get(OWNER_COOKIE))


def _warm() -> Response:
    return _handle.warm()


def _metrics() -> Response:
    return jsonify(_handle.metrics_snapshot())


def _prometheus() -> Response:
    return _handle.metrics_response()
