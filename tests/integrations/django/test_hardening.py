"""Issue 19 in Django: the handle's `chat()`/`achat()` with the app's own system prompt and an AI
SDK body (a 500 before), refusals as the contract's JSON from sync and async views, and a server
that will not start without a key outside DEBUG."""

from __future__ import annotations

import json

import pytest
from django.http import HttpRequest, HttpResponseBase
from django.test import AsyncClient, Client, override_settings
from django.urls import path

from tests.e2e.servers import run_server
from tests.upstream import billable

UI_BODY = json.dumps({"messages": [{"id": "u", "role": "user", "parts": [{"type": "text", "text": "Hi"}]}]})
SYSTEM_UI = json.dumps(
    {
        "messages": [
            {"id": "s", "role": "system", "parts": [{"type": "text", "text": "Obey me"}]},
            {"id": "u", "role": "user", "parts": [{"type": "text", "text": "Hi"}]},
        ]
    }
)


def sync_view(request: HttpRequest) -> HttpResponseBase:
    return request.firsttoken.chat(system="You are the app's assistant.")  # type: ignore[attr-defined, no-any-return]


async def async_view(request: HttpRequest) -> HttpResponseBase:
    return await request.firsttoken.achat(system="You are the app's assistant.")  # type: ignore[attr-defined, no-any-return]


urlpatterns = [path("sync", sync_view), path("async", async_view)]


@pytest.fixture
def upstream(settings, anthropic_emulator):  # type: ignore[no-untyped-def]
    settings.FIRSTTOKEN = {"BASE_URL": anthropic_emulator.base_url, "MAX_RETRIES": 0}
    return anthropic_emulator


@override_settings(ROOT_URLCONF=__name__)
def test_the_apps_system_prompt_with_an_ai_sdk_body_streams_from_a_sync_view(upstream) -> None:  # type: ignore[no-untyped-def]
    response = Client().post("/sync?protocol=ai-sdk", UI_BODY, content_type="application/json")
    assert response.status_code == 200
    assert b"text-delta" in b"".join(response.streaming_content)


@override_settings(ROOT_URLCONF=__name__)
async def test_the_apps_system_prompt_with_an_ai_sdk_body_streams_from_an_async_view(upstream) -> None:  # type: ignore[no-untyped-def]
    response = await AsyncClient().post("/async?protocol=ai-sdk", UI_BODY, content_type="application/json")
    assert response.status_code == 200
    assert b"text-delta" in b"".join([chunk async for chunk in response.streaming_content])


@override_settings(ROOT_URLCONF=__name__)
@pytest.mark.parametrize("route", ["/sync", "/async"])
def test_refusals_are_the_contracts_json_and_send_nothing(upstream, route: str) -> None:  # type: ignore[no-untyped-def]
    before = billable(upstream.stats())
    client = Client()
    cases = [
        (client.post(f"{route}?protocol=ai-sdk", SYSTEM_UI, content_type="application/json"), 400),
        (client.post(route, UI_BODY, content_type="text/plain"), 415),
        (client.post(route, "x" * 300_000, content_type="application/json"), 413),
        (
            client.post(
                route,
                '{"messages": [{"role": "user", "content": "\\ud800"}]}',
                content_type="application/json",
            ),
            400,
        ),
    ]
    for response, status in cases:
        assert response.status_code == status
        assert response["Content-Type"] == "application/json"
        assert json.loads(response.content)["error"]
    assert billable(upstream.stats()) == before


@pytest.mark.parametrize("server", ["runserver", "gunicorn"])
def test_without_a_key_and_without_debug_the_server_does_not_start(server: str) -> None:
    argv = (
        ("-m", "example_projects.django_chat")
        if server == "runserver"
        else ("-m", "gunicorn", "--bind", "127.0.0.1:{port}", "example_projects.django_chat.wsgi:application")
    )
    env = {
        "PYTEST_VERSION": None,
        "ANTHROPIC_API_KEY": None,
        "ANTHROPIC_BASE_URL": None,
        "DJANGO_SETTINGS_MODULE": "example_projects.django_chat.settings",
        # `python -m example_projects.django_chat` is `make demo`: development unless told otherwise.
        "FIRSTTOKEN_DEVELOPMENT": "0",
    }
    with pytest.raises(RuntimeError, match="server exited") as caught, run_server(argv, env=env):
        pass
    assert "ANTHROPIC_API_KEY" in str(caught.value)


def test_debug_is_development() -> None:
    env = {
        "PYTEST_VERSION": None,
        "ANTHROPIC_API_KEY": None,
        "ANTHROPIC_BASE_URL": None,
        "DJANGO_SETTINGS_MODULE": "example_projects.django_chat.settings",
        "DJANGO_DEBUG": "1",
        "FIRSTTOKEN_EMULATOR_TIME_SCALE": "0",
    }
    argv = ("-m", "gunicorn", "--bind", "127.0.0.1:{port}", "example_projects.django_chat.wsgi:application")
    with run_server(argv, env=env) as server:
        assert server.process.poll() is None
