"""`firsttoken_flask.console()`: served under a prefix in debug mode or to whom `allow` lets in,
refused (403) otherwise; its chat API streams through the app's extension."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from firsttoken_flask import FirstToken, console
from tests.integrations.console_checks import refused, served

HI = {"messages": [{"role": "user", "content": "Hi"}], "profile": "fast"}


def _app(*, debug: bool, base_url: str = "http://127.0.0.1:9", **options: Any) -> Flask:
    app = Flask(__name__)
    app.debug = debug
    app.config.update(ANTHROPIC_BASE_URL=base_url, FIRSTTOKEN_MAX_RETRIES=0)
    FirstToken(app)
    app.register_blueprint(console(**options), url_prefix="/firsttoken")
    return app


def _get(client: FlaskClient) -> Callable[[str], tuple[int, Mapping[str, str], bytes]]:
    def get(path: str) -> tuple[int, Mapping[str, str], bytes]:
        response = client.get("/firsttoken/" + path)
        return response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.get_data()

    return get


def test_served_in_debug_mode() -> None:
    served(_get(_app(debug=True).test_client()))


def test_refused_in_production() -> None:
    refused(_get(_app(debug=False).test_client()))


def test_production_asks_the_apps_check() -> None:
    app = _app(debug=False, allow=lambda request: request.headers.get("X-Staff") == "yes")
    refused(_get(app.test_client()))
    client = app.test_client()
    client.environ_base["HTTP_X_STAFF"] = "yes"
    served(_get(client))


def test_the_chat_api_streams_under_the_prefix(anthropic_emulator: Any) -> None:
    client = _app(debug=True, base_url=anthropic_emulator.base_url).test_client()
    client.get("/firsttoken/")
    answer = client.post("/firsttoken/api/chat", json=HI)
    assert answer.status_code == 200 and b"event: done" in answer.get_data()
    assert client.get("/firsttoken/api/metrics").get_json()["total"]["count"] >= 1
    assert b"gen_ai" in client.get("/firsttoken/metrics").get_data()
    assert client.post("/firsttoken/api/chat", json={"messages": []}).status_code == 400
    assert b"event: done" in client.post("/firsttoken/api/chat", json={**HI, "chat_id": "held-1"}).get_data()
    assert len(client.get("/firsttoken/api/chat/held-1/messages").get_json()["messages"]) == 2
    assert client.get("/firsttoken/api/chat/held-2/messages").status_code == 404


def test_api_false_serves_the_pages_only() -> None:
    client = _app(debug=True, api=False).test_client()
    assert client.get("/firsttoken/").status_code == 200
    assert client.post("/firsttoken/api/chat", json=HI).status_code == 404
