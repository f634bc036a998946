"""`firsttoken_starlette.console()`: served under a prefix in development or to whom `allow` lets
in, refused (403) otherwise; its chat API streams through the app's middleware."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.routing import Mount
from starlette.testclient import TestClient

from firsttoken_starlette import FirstTokenMiddleware, console
from tests.integrations.console_checks import refused, served

HI = {"messages": [{"role": "user", "content": "Hi"}], "profile": "fast"}


def _app(*, debug: bool, base_url: str = "http://127.0.0.1:9", **options: Any) -> Starlette:
    settings = {"base_url": base_url, "max_retries": 0}
    return Starlette(
        debug=debug,
        routes=[Mount("/firsttoken", app=console(**options))],
        middleware=[Middleware(FirstTokenMiddleware, settings=settings)],
    )


def _get(
    client: TestClient, prefix: str = "/firsttoken/"
) -> Callable[[str], tuple[int, Mapping[str, str], bytes]]:
    def get(path: str) -> tuple[int, Mapping[str, str], bytes]:
        response = client.get(prefix + path)
        return response.status_code, response.headers, response.content

    return get


def test_served_in_development() -> None:
    with TestClient(_app(debug=True)) as client:
        served(_get(client))
        # The mount without its slash goes to the page's own folder, where its relative URLs work.
        response = client.get("/firsttoken", follow_redirects=False)
        assert response.status_code in (307, 308) and response.headers["location"].endswith("/firsttoken/")


def test_refused_in_production() -> None:
    with TestClient(_app(debug=False)) as client:
        refused(_get(client))


async def _staff(request: Request) -> bool:
    return request.headers.get("x-staff") == "yes"


@pytest.mark.parametrize("allow", [_staff, lambda request: request.headers.get("x-staff") == "yes"])
def test_production_asks_the_apps_check(allow: Any) -> None:
    with TestClient(_app(debug=False, allow=allow)) as client:
        refused(_get(client))
        client.headers["x-staff"] = "yes"
        served(_get(client))


def test_the_chat_api_streams_under_the_prefix(anthropic_emulator: Any) -> None:
    with TestClient(_app(debug=True, base_url=anthropic_emulator.base_url)) as client:
        client.get("/firsttoken/")  # the owner cookie, as the page sets it
        answer = client.post("/firsttoken/api/chat", json=HI)
        assert answer.status_code == 200 and "event: done" in answer.text
        assert client.get("/firsttoken/api/metrics").json()["total"]["count"] >= 1
        assert "gen_ai" in client.get("/firsttoken/metrics").text
        assert client.post("/firsttoken/api/chat", json={"messages": []}).status_code == 400
        assert "event: done" in client.post("/firsttoken/api/chat", json={**HI, "chat_id": "held-1"}).text
        assert len(client.get("/firsttoken/api/chat/held-1/messages").json()["messages"]) == 2
        assert client.get("/firsttoken/api/chat/held-2/messages").status_code == 404


def test_api_false_serves_the_pages_only() -> None:
    with TestClient(_app(debug=True, api=False)) as client:
        assert client.get("/firsttoken/").status_code == 200
        assert client.post("/firsttoken/api/chat", json=HI).status_code == 404
