"""Sync and async views under both request classes, every format, errors, settings reloads."""

from __future__ import annotations

import json

import pytest
from django.test import AsyncClient, Client, override_settings

from firsttoken import SettingsError
from firsttoken_django import get_engine
from tests.upstream import billable

from .sse import events, text_of

BODY = json.dumps({"messages": [{"role": "user", "content": "Hello there"}], "profile": "fast"})
ROUTES = ["/api/chat", "/test/sync-chat", "/test/async-chat"]


@pytest.fixture
def upstream(settings, anthropic_emulator):
    settings.FIRSTTOKEN = {"BASE_URL": anthropic_emulator.base_url, "MAX_RETRIES": 0}
    return anthropic_emulator


async def _aread(response) -> bytes:
    assert response.is_async, "an ASGI request must get an async iterator"
    return b"".join([chunk async for chunk in response.streaming_content])


@pytest.mark.parametrize("route", ROUTES)
def test_wsgi_request_gets_a_sync_stream(upstream, route):
    response = Client().post(route, BODY, content_type="application/json")
    assert response.status_code == 200
    assert not response.is_async
    body = b"".join(response.streaming_content)
    assert text_of(body)
    assert response["Cache-Control"] == "no-store"
    assert response["X-Accel-Buffering"] == "no"
    assert "upstream;dur=" in response["Server-Timing"]


@pytest.mark.parametrize("route", ROUTES)
async def test_asgi_request_gets_an_async_stream(upstream, route):
    response = await AsyncClient().post(route, BODY, content_type="application/json")
    assert response.status_code == 200
    done = events(await _aread(response))[-1]
    assert done[0] == "done"
    assert done[1]["usage"]["output_tokens"] > 0


@pytest.mark.parametrize(
    ("fmt", "media", "check"),
    [
        ("text", "text/plain", lambda b: b and b"event:" not in b),
        ("ndjson", "application/x-ndjson", lambda b: json.loads(b.splitlines()[-1])["type"] == "done"),
        ("sse", "text/event-stream", lambda b: events(b)[-1][0] == "done"),
        ("ai-sdk", "text/event-stream", lambda b: b.endswith(b"data: [DONE]\n\n")),
    ],
)
def test_every_format(upstream, fmt, media, check):
    response = Client().post(f"/test/sync-chat?format={fmt}", BODY, content_type="application/json")
    assert response["Content-Type"].startswith(media)
    assert check(b"".join(response.streaming_content))


def test_ai_sdk_protocol(upstream):
    body = {"messages": [{"id": "1", "role": "user", "parts": [{"type": "text", "text": "Hi"}]}]}
    response = Client().post("/api/chat?protocol=ai-sdk", json.dumps(body), content_type="application/json")
    assert response["x-vercel-ai-ui-message-stream"] == "v1"
    parts = [data for name, data in events(b"".join(response.streaming_content)) if name == "message"]
    assert parts[0]["type"] == "start"
    assert any(p != "[DONE]" and p["type"] == "text-delta" for p in parts)


FAULTS = pytest.mark.parametrize(
    ("fault", "status"), [("overloaded", 503), ("rate_limit", 429), ("server_error", 502)]
)
FAULT_ROUTES = pytest.mark.parametrize("route", ["/test/sync-chat", "/test/async-chat"])


@FAULTS
@FAULT_ROUTES
def test_errors_before_the_first_token_are_statuses_wsgi(upstream, route, fault, status):
    response = Client().post(route, BODY, content_type="application/json", headers={"x-test-fault": fault})
    assert response.status_code == status
    assert json.loads(response.content)["error"]


@FAULTS
@FAULT_ROUTES
async def test_errors_before_the_first_token_are_statuses_asgi(upstream, route, fault, status):
    response = await AsyncClient().post(
        route, BODY, content_type="application/json", headers={"x-test-fault": fault}
    )
    assert response.status_code == status
    assert json.loads(response.content)["error"]


MIDSTREAM = {"x-test-fault": "midstream_overloaded"}


def _ends_in_error(body: bytes) -> None:
    names = [name for name, _ in events(body)]
    assert "token" in names
    assert names[-1] == "error"


def test_error_after_the_first_token_is_an_event_wsgi(upstream):
    response = Client().post("/test/sync-chat", BODY, content_type="application/json", headers=MIDSTREAM)
    assert response.status_code == 200
    _ends_in_error(b"".join(response.streaming_content))


async def test_error_after_the_first_token_is_an_event_asgi(upstream):
    response = await AsyncClient().post(
        "/test/async-chat", BODY, content_type="application/json", headers=MIDSTREAM
    )
    assert response.status_code == 200
    _ends_in_error(await _aread(response))


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "{}",
        json.dumps({"messages": []}),
        json.dumps({"messages": [{"role": "system", "content": "x"}]}),
        json.dumps({"messages": [{"role": "user", "content": "  "}]}),
        json.dumps({"messages": [{"role": "user", "content": "x"}], "profile": "nope"}),
    ],
)
def test_bad_bodies_are_400(upstream, body):
    response = Client().post("/api/chat", body, content_type="application/json")
    assert response.status_code == 400
    assert json.loads(response.content)["error"]
    assert billable(upstream.stats()) == 0


async def test_plain_stream_response_refuses_inside_an_event_loop(upstream):
    response = await AsyncClient().get("/test/misuse")
    assert response.status_code == 500
    assert "astream_response" in json.loads(response.content)["error"]


def test_gzip_middleware_leaves_the_stream_alone(upstream):
    response = Client().post(
        "/api/chat", BODY, content_type="application/json", headers={"accept-encoding": "gzip"}
    )
    assert not response.has_header("Content-Encoding")
    assert text_of(b"".join(response.streaming_content))
    page = Client().get("/api/metrics", headers={"accept-encoding": "gzip"})
    assert page.status_code == 200  # the rest of the site is still gzip's to compress


def test_changed_settings_rebuild_the_engine_and_close_the_old_one(settings, anthropic_emulator):
    settings.FIRSTTOKEN = {"BASE_URL": anthropic_emulator.base_url}
    first = get_engine()
    settings.FIRSTTOKEN = {"BASE_URL": anthropic_emulator.base_url, "PROFILES": {"chat": {"max_tokens": 300}}}
    second = get_engine()
    assert first is not second
    assert first.closed
    assert second.settings.profiles["chat"].max_tokens == 300
    assert second.settings.profiles["chat"].model == first.settings.profiles["chat"].model


def test_bad_settings_fail_loudly_on_first_use():
    with override_settings(FIRSTTOKEN={"TIMEOUT": -1}):
        with pytest.raises(SettingsError, match=r'FIRSTTOKEN\["TIMEOUT"\]'):
            get_engine()
        response = Client(raise_request_exception=False).post(
            "/api/chat", BODY, content_type="application/json"
        )
        assert response.status_code == 500


def test_upper_case_profile_fields_are_accepted(settings, anthropic_emulator):
    settings.FIRSTTOKEN = {
        "BASE_URL": anthropic_emulator.base_url,
        "PROFILES": {"quick": {"MODEL": "claude-haiku-5-5", "MAX_TOKENS": 9}},
    }
    assert get_engine().settings.profiles["quick"].max_tokens == 9


def test_the_api_key_never_appears_in_errors_or_metrics(settings, anthropic_emulator):
    secret = "sk-ant-secret-value-123"
    settings.FIRSTTOKEN = {"BASE_URL": anthropic_emulator.base_url, "API_KEY": secret}
    page = Client().get("/api/metrics")
    assert secret not in page.content.decode()
    settings.FIRSTTOKEN = {"API_KEY": 42}
    with pytest.raises(SettingsError) as info:
        get_engine()
    assert "42" not in str(info.value)
