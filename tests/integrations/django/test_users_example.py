"""The test users copy: Django's test client against the emulator fixture, settings overridden.

Both of pytest-django's ways are shown: the `settings` fixture and `@override_settings`.
"""

from __future__ import annotations

import json

from django.test import AsyncClient, Client, override_settings

from tests.upstream import billable

from .sse import events, text_of

BODY = json.dumps({"messages": [{"role": "user", "content": "Hello"}], "profile": "fast"})


def test_chat_streams_from_the_emulator(settings, anthropic_emulator):
    settings.FIRSTTOKEN = {"BASE_URL": anthropic_emulator.base_url}
    response = Client().post("/api/chat", BODY, content_type="application/json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    body = b"".join(response.streaming_content)
    assert text_of(body)
    assert events(body)[-1][0] == "done"
    assert billable(anthropic_emulator.stats()) == 1


async def test_overload_is_a_503(anthropic_emulator):
    with override_settings(FIRSTTOKEN={"BASE_URL": anthropic_emulator.base_url, "MAX_RETRIES": 0}):
        anthropic_emulator.set_faults(["overloaded"])
        response = await AsyncClient().post("/api/chat", BODY, content_type="application/json")
    assert response.status_code == 503
    assert "error" in json.loads(response.content)
