"""`include("firsttoken_django.urls")` and `console(allow=...)`: served in DEBUG, to staff users by
default and to whom `allow` lets in; refused (403) otherwise. The chat API streams under the prefix."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any

import pytest
from django.http import HttpRequest
from django.test import Client
from django.urls import include, path

from firsttoken_django import console, staff_only
from tests.integrations.console_checks import refused, served

HI = {"messages": [{"role": "user", "content": "Hi"}], "profile": "fast"}


def _staff_header(request: HttpRequest) -> bool:
    return request.headers.get("X-Staff") == "yes"


# This module is the URLconf of its tests (the `urls` fixture).
urlpatterns = [
    path("firsttoken/", include("firsttoken_django.urls")),
    path("checked/", include(console(allow=_staff_header))),
    path("pages/", include(console(api=False))),
]


def _get(
    client: Client, prefix: str = "/firsttoken/"
) -> Callable[[str], tuple[int, Mapping[str, str], bytes]]:
    def get(path: str) -> tuple[int, Mapping[str, str], bytes]:
        response = client.get(prefix + path)
        headers = {k.lower(): v for k, v in response.headers.items()}
        if response.cookies:
            headers["set-cookie"] = response.cookies.output()
        return response.status_code, headers, response.content

    return get


@pytest.fixture
def urls(settings: Any) -> None:
    settings.ROOT_URLCONF = __name__


def test_served_with_debug(urls: None, settings: Any) -> None:
    settings.DEBUG = True
    served(_get(Client()))


def test_refused_without_debug_to_anyone_but_staff(urls: None, settings: Any) -> None:
    settings.DEBUG = False
    # This project has no authentication middleware: no user, so no staff.
    refused(_get(Client()))


def test_staff_only_is_active_staff() -> None:
    def request(**user: bool) -> Any:
        return SimpleNamespace(user=SimpleNamespace(**user))

    assert staff_only(request(is_active=True, is_staff=True))
    assert not staff_only(request(is_active=True, is_staff=False))
    assert not staff_only(request(is_active=False, is_staff=True))
    assert not staff_only(SimpleNamespace())


def test_production_asks_the_apps_check(urls: None, settings: Any) -> None:
    settings.DEBUG = False
    refused(_get(Client(), "/checked/"))
    served(_get(Client(HTTP_X_STAFF="yes"), "/checked/"))


def test_the_chat_api_streams_under_the_prefix(urls: None, settings: Any, anthropic_emulator: Any) -> None:
    settings.DEBUG = True
    settings.FIRSTTOKEN = {"BASE_URL": anthropic_emulator.base_url, "MAX_RETRIES": 0}
    client = Client()
    client.get("/firsttoken/")
    answer = client.post("/firsttoken/api/chat", HI, content_type="application/json")
    assert answer.status_code == 200
    assert b"event: done" in b"".join(answer.streaming_content)
    assert client.get("/firsttoken/api/metrics").json()["total"]["count"] >= 1
    assert b"gen_ai" in client.get("/firsttoken/metrics").content
    assert (
        client.post("/firsttoken/api/chat", {"messages": []}, content_type="application/json").status_code
        == 400
    )
    assert client.get("/firsttoken/api/chat").status_code == 405
    held = client.post("/firsttoken/api/chat", {**HI, "chat_id": "held-1"}, content_type="application/json")
    assert b"event: done" in b"".join(held.streaming_content)
    assert len(client.get("/firsttoken/api/chat/held-1/messages").json()["messages"]) == 2
    assert client.get("/firsttoken/api/chat/held-2/messages").status_code == 404


def test_api_false_serves_the_pages_only(urls: None, settings: Any) -> None:
    settings.DEBUG = True
    assert Client().get("/pages/").status_code == 200
    assert Client().post("/pages/api/chat", HI, content_type="application/json").status_code == 404
