"""Issue 19 in Starlette and FastAPI: `handle.chat()` with the app's own system prompt and an AI
SDK body (a 500 before), refusals as the contract's JSON, FastAPI's own errors in that shape."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from firsttoken.testing.emulator import Emulator
from firsttoken_starlette import FirstTokenMiddleware, firsttoken_of
from firsttoken_starlette.fastapi import exception_handlers
from tests.upstream import billable

UI_BODY = {"messages": [{"id": "u", "role": "user", "parts": [{"type": "text", "text": "Hi"}]}]}


async def chat(request: Request) -> Response:
    return await firsttoken_of(request).chat(system="You are the app's assistant.")


def app(emulator: Emulator) -> Starlette:
    settings = {"base_url": emulator.base_url, "api_key": "sk-ant-test", "max_retries": 0}
    return Starlette(
        routes=[Route("/chat", chat, methods=["POST"])],
        middleware=[Middleware(FirstTokenMiddleware, settings=settings)],
    )


def test_the_apps_system_prompt_with_an_ai_sdk_body_streams(anthropic_emulator: Any) -> None:
    emulator = anthropic_emulator.emulator
    with TestClient(app(emulator)) as client:
        response = client.post("/chat?protocol=ai-sdk", json=UI_BODY)
    assert response.status_code == 200
    assert "text-delta" in response.text


def test_refusals_are_the_contracts_json_and_send_nothing(anthropic_emulator: Any) -> None:
    emulator = anthropic_emulator.emulator
    before = billable(emulator.stats())
    system_ui = {
        "messages": [
            {"id": "s", "role": "system", "parts": [{"type": "text", "text": "x"}]},
            *UI_BODY["messages"],
        ]
    }
    with TestClient(app(emulator)) as client:
        cases = [
            (client.post("/chat?protocol=ai-sdk", json=system_ui), 400),
            (client.post("/chat", content=json.dumps(UI_BODY), headers={"Content-Type": "text/plain"}), 415),
            (client.post("/chat", content=b"x" * 300_000, headers={"Content-Type": "application/json"}), 413),
            (client.post("/chat?protocol=sse&protocol=ai-sdk", json=UI_BODY), 400),
            (
                client.post(
                    "/chat", content=b'{"a": "\\udfff"}', headers={"Content-Type": "application/json"}
                ),
                400,
            ),
        ]
    for response, status in cases:
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/json"
        assert response.json()["error"]
    assert billable(emulator.stats()) == before


def test_fastapis_own_errors_answer_error_not_detail() -> None:
    api = FastAPI(exception_handlers=exception_handlers())

    @api.post("/items/{number}")
    async def item(number: int, body: dict[str, int]) -> dict[str, int]:
        return body

    with TestClient(api) as client:
        invalid = client.post("/items/x", json={})
        malformed = client.post("/items/1", content=b"{", headers={"Content-Type": "application/json"})
        missing = client.get("/nowhere")
        wrong_method = client.get("/items/1")
    assert invalid.status_code == 400 and "number" in invalid.json()["error"]
    assert malformed.status_code == 400 and invalid.json().keys() == {"error"}
    assert missing.status_code == 404 and missing.json() == {"error": "Not Found"}
    assert wrong_method.status_code == 405 and "error" in wrong_method.json()
    assert "POST" in wrong_method.headers["allow"]
