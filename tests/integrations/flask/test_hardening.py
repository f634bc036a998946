"""Issue 19 in Flask: `firsttoken.chat()` with the app's own system prompt and an AI SDK body (a
500 before), refusals as the contract's JSON, the repeated `?protocol=` and the debug switch."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from flask import Flask, Response

from firsttoken.testing.emulator import Emulator
from firsttoken_flask import FirstToken

UI_BODY = {"messages": [{"id": "u", "role": "user", "parts": [{"type": "text", "text": "Hi"}]}]}
SYSTEM = "You are the app's assistant."


@pytest.fixture
def app(emulator: Emulator) -> Iterator[Flask]:
    app = Flask(__name__)
    app.config.update(
        ANTHROPIC_BASE_URL=emulator.base_url, ANTHROPIC_API_KEY="sk-ant-test", FIRSTTOKEN_MAX_RETRIES=0
    )
    firsttoken = FirstToken(app)

    @app.post("/sync")
    def sync_view() -> Response:
        return firsttoken.chat(system=SYSTEM)

    @app.post("/async")
    async def async_view() -> Response:
        return await firsttoken.achat(system=SYSTEM)

    yield app
    app.extensions["firsttoken"].close()


@pytest.mark.parametrize("route", ["/sync", "/async"])
def test_the_apps_system_prompt_with_an_ai_sdk_body_streams(app: Flask, route: str) -> None:
    response = app.test_client().post(f"{route}?protocol=ai-sdk", json=UI_BODY)
    assert response.status_code == 200
    assert b"text-delta" in response.get_data()


@pytest.mark.parametrize("route", ["/sync", "/async"])
def test_refusals_are_the_contracts_json_and_send_nothing(app: Flask, emulator: Emulator, route: str) -> None:
    before = emulator.stats()["requests_total"]
    client = app.test_client()
    system_ui = {
        "messages": [
            {"id": "s", "role": "system", "parts": [{"type": "text", "text": "x"}]},
            *UI_BODY["messages"],
        ]
    }
    cases = [
        (client.post(f"{route}?protocol=ai-sdk", json=system_ui), 400),
        (client.post(route, data=json.dumps(UI_BODY), content_type="text/plain"), 415),
        (client.post(route, data=b"x" * 300_000, content_type="application/json"), 413),
        (client.post(f"{route}?protocol=sse&protocol=ai-sdk", json=UI_BODY), 400),
        (client.post(route, data=b"[" * 2000, content_type="application/json"), 400),
    ]
    for response, status in cases:
        assert response.status_code == status, response.get_data()
        assert response.headers["Content-Type"] == "application/json"
        assert response.get_json()["error"]
    assert emulator.stats()["requests_total"] == before


def test_debug_mode_is_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_VERSION", raising=False)
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "FIRSTTOKEN_DEVELOPMENT"):
        monkeypatch.delenv(name, raising=False)
    debug = Flask(__name__)
    debug.debug = True
    FirstToken(debug)
    assert debug.extensions["firsttoken"].upstream.kind == "emulator"
    production = Flask(__name__)
    with pytest.raises(Exception, match="ANTHROPIC_API_KEY"):
        FirstToken(production)


def test_an_unknown_config_key_names_the_closest() -> None:
    app = Flask(__name__)
    app.config["FIRSTTOKEN_MAX_BODY"] = 10
    with pytest.raises(Exception, match="did you mean FIRSTTOKEN_MAX_BODY_BYTES"):
        FirstToken(app)
