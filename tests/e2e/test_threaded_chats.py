"""Threaded chats through every example's real server (Django under WSGI and ASGI too): a body
with a `chat_id` sends only its new message and the API's thread carries the rest, `done` names
the chat, `GET /api/chat/{chat_id}/messages` gives the owner the held conversation (404 for anyone
else), and the AI SDK's "send only the last message" body (`message` with the chat's `id`) works."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from firsttoken.testing.emulator import Emulator

from .conftest import EXAMPLE_APPS, ExampleApp, RunningExample, _pick, _start
from .sse import parse

DJANGO_ASGI = ExampleApp(
    "django-asgi",
    ("-m", "uvicorn", "example_projects.django_chat.asgi:application", "--port", "{port}"),
    env={"DJANGO_SETTINGS_MODULE": "example_projects.django_chat.settings", "FIRSTTOKEN_DEVELOPMENT": "1"},
    requires="django",
)


@pytest.fixture(scope="module")
def django_asgi(contract_emulator: Emulator) -> Iterator[RunningExample]:
    yield from _start(DJANGO_ASGI, contract_emulator)


@pytest.fixture(params=[*EXAMPLE_APPS, DJANGO_ASGI], ids=lambda app: app.name)
def server(request: pytest.FixtureRequest, contract_examples: dict[str, RunningExample]) -> RunningExample:
    if request.param is DJANGO_ASGI:
        return request.getfixturevalue("django_asgi")  # type: ignore[no-any-return]
    return _pick(contract_examples, request.param)


def _post(server: RunningExample, body: dict[str, Any], owner: str, protocol: str | None = None) -> list[Any]:
    response = server.client.post(
        "/api/chat" + (f"?protocol={protocol}" if protocol else ""),
        json=body,
        headers={"Cookie": f"firsttoken_owner={owner}"},
    )
    assert response.status_code == 200, response.text
    return parse(response.content)


def _threads(emulator: Emulator, n: int) -> list[tuple[str | None, int | None]]:
    asked = [r for r in emulator.requests if r["path"] == "/v1/messages" and r["status"] == 200]
    return [(r.get("thread"), r.get("sent_messages")) for r in asked[-n:]]


@pytest.mark.parametrize(
    ("profile", "upstream"),
    [
        # The examples' `agent` profile has `threads`: the API's thread carries the conversation.
        ("agent", [("create", 1), ("continue", 1), ("continue", 1)]),
        # `chat` has not (warming while typing needs the whole conversation): firsttoken holds it.
        ("chat", [(None, 1), (None, 3), (None, 5)]),
    ],
)
def test_a_held_chat_sends_only_its_new_message(
    server: RunningExample, contract_emulator: Emulator, profile: str, upstream: list[Any]
) -> None:
    chat_id, owner = f"chat-{uuid.uuid4().hex}", uuid.uuid4().hex
    for text in ("Hello there.", "Tell me more.", "And then?"):
        body = {"chat_id": chat_id, "profile": profile, "messages": [{"role": "user", "content": text}]}
        events = _post(server, body, owner)
        done = next(e.data for e in events if e.name == "done")
        assert done["chat_id"] == chat_id and done["threaded"] is (profile == "agent")
    assert _threads(contract_emulator, 3) == upstream

    held = server.client.get(f"/api/chat/{chat_id}/messages", headers={"Cookie": f"firsttoken_owner={owner}"})
    assert held.status_code == 200 and held.headers["cache-control"] == "no-store"
    messages = held.json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"] * 3
    assert messages[4] == {"role": "user", "content": "And then?"} and messages[5]["content"]
    for other in ({"Cookie": "firsttoken_owner=someone-else"}, {}):
        refused = server.client.get(f"/api/chat/{chat_id}/messages", headers=other)
        assert refused.status_code == 404 and refused.json() == {"error": "no chat under that id"}


def test_the_ai_sdk_sends_only_the_last_message(server: RunningExample, contract_emulator: Emulator) -> None:
    chat_id, owner = f"aisdk-{uuid.uuid4().hex}", uuid.uuid4().hex
    for i, text in enumerate(("Hello there.", "Tell me more.")):
        message = {"id": f"m{i}", "role": "user", "parts": [{"type": "text", "text": text}]}
        body = {"id": chat_id, "message": message, "profile": "agent"}
        events = _post(server, body, owner, protocol="ai-sdk")
        finish = next(e.data for e in events if isinstance(e.data, dict) and e.data.get("type") == "finish")
        assert finish["messageMetadata"]["chat_id"] == chat_id
    assert _threads(contract_emulator, 2) == [("create", 1), ("continue", 1)]
    held = server.client.get(
        f"/api/chat/{chat_id}/messages", headers={"Cookie": f"firsttoken_owner={owner}"}
    ).json()
    assert [m["content"] for m in held["messages"] if m["role"] == "user"] == [
        "Hello there.",
        "Tell me more.",
    ]


def test_a_bad_chat_id_is_a_400(server: RunningExample) -> None:
    response = server.client.post(
        "/api/chat", json={"chat_id": "has spaces", "messages": [{"role": "user", "content": "Hi"}]}
    )
    assert response.status_code == 400 and "chat_id" in response.json()["error"]


@pytest.mark.browser
def test_the_page_sends_only_the_new_message_and_a_reload_shows_the_chat_again(
    contract_examples: dict[str, RunningExample], contract_emulator: Emulator
) -> None:
    from tests.browser import chromium

    app = _pick(contract_examples, EXAMPLE_APPS[0])
    for browser in chromium():
        page = browser.new_context().new_page()
        page.goto(app.url + "/")
        chat_id = page.get_attribute("html", "data-chat-id")
        for n, question in enumerate(("Hello there.", "Tell me more."), start=1):
            page.fill("#prompt", question)
            with page.expect_request(lambda r: r.url.endswith("/api/chat")) as posted:
                page.press("#prompt", "Enter")
            body = json.loads(posted.value.post_data or "{}")
            assert body["chat_id"] == chat_id and body["messages"] == [{"role": "user", "content": question}]
            page.wait_for_function(
                f"() => document.querySelectorAll(\".answer[data-state='done']\").length === {n}",
                timeout=30_000,
            )
        # The page's `chat` profile: firsttoken holds the chat and sends it whole upstream.
        assert _threads(contract_emulator, 2) == [(None, 1), (None, 3)]
        page.reload()
        page.wait_for_selector("html[data-restored='4']", timeout=10_000)
        assert page.get_attribute("html", "data-chat-id") == chat_id
        shown = page.locator(".question").all_text_contents()
        assert shown == ["Hello there.", "Tell me more."]
        assert all(text.strip() for text in page.locator(".answer .text").all_text_contents())
        # The next question goes on the same chat, the thread continued.
        page.fill("#prompt", "And then?")
        page.press("#prompt", "Enter")
        page.wait_for_function("() => document.querySelectorAll(\".answer[data-state='done']\").length === 3")
        assert _threads(contract_emulator, 1) == [(None, 5)]
