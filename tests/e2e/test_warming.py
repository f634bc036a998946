"""Warming, driven from outside through every example (Starlette, FastAPI, Django, Flask).

* Start-up warm-up: before any chat, the server has opened the upstream connection with a free
  `GET /v1/models` (the emulator's log and `/api/metrics` say so), and the first `POST /api/chat`
  rides that same connection (the emulator logs each request's client port).
* Warming while typing: `POST /api/warm` with the conversation so far answers `{"warmed": true}`,
  a second warm of the same prefix is skipped, and the next turn reads the conversation from the
  prompt cache (the emulator's counters and the done event's usage).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from firsttoken.testing.emulator import Emulator

from .conftest import EXAMPLE_APPS, ExampleApp, RunningExample, _start
from .sse import parse

# About 3,000 tokens: above the chat profile's model's minimum cacheable length (1,024).
LONG = "Tell me everything about prompt caching and the time to first token of a streamed answer. " * 130


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(time_scale=0.0, seed=3) as emu:
        yield emu


@contextlib.contextmanager
def started(app: ExampleApp, emulator: Emulator) -> Iterator[RunningExample]:
    yield from _start(app, emulator)


def _log(emulator: Emulator, path: str) -> list[dict[str, Any]]:
    return [e for e in emulator.stats()["recent_requests"] if e["path"] == path]


def _done(body: bytes) -> dict[str, Any]:
    done = [e.data for e in parse(body) if e.name == "done"]
    assert len(done) == 1, body[:500]
    return done[0]


# Django under ASGI warms up in `firsttoken_django.asgi`'s lifespan, on uvicorn's loop.
DJANGO_ASGI = ExampleApp(
    "django-asgi",
    (
        "-m",
        "uvicorn",
        "--port",
        "{port}",
        "--log-level",
        "warning",
        "example_projects.django_chat.asgi:application",
    ),
    env={"DJANGO_SETTINGS_MODULE": "example_projects.django_chat.settings", "FIRSTTOKEN_DEVELOPMENT": "1"},
    requires="django",
)


@pytest.mark.parametrize("app", [*EXAMPLE_APPS, DJANGO_ASGI], ids=lambda a: a.name)
def test_the_first_chat_rides_the_connection_warm_up_opened(app: ExampleApp, emulator: Emulator) -> None:
    emulator.reset()
    with started(app, emulator) as example:
        warm_up = example.client.get("/api/metrics").json()["warm_up"]
        assert warm_up["enabled"] and warm_up["runs"] >= 1
        assert warm_up["last"]["status"] == "warm", warm_up
        assert warm_up["last"]["connection"] == "GET /v1/models?limit=1"
        # The async servers warm the async client of the loop that serves their requests.
        assert warm_up["last"]["kind"] == ("sync" if app.name in ("django", "flask") else "async")
        opened = _log(emulator, "/v1/models")
        assert opened and not _log(emulator, "/v1/messages"), "warm-up sent a billable request"

        chat = {"messages": [{"role": "user", "content": "Hello there"}], "profile": "fast"}
        response = example.client.post("/api/chat", json=chat)
        assert response.status_code == 200
        _done(response.content)
        first = _log(emulator, "/v1/messages")[0]
        # The same TCP connection (and TLS session, against the real API): no handshake paid.
        assert first["client_port"] in {e["client_port"] for e in opened}


@pytest.mark.parametrize("app", EXAMPLE_APPS, ids=lambda a: a.name)
def test_a_warm_makes_the_next_turn_a_cache_read(app: ExampleApp, emulator: Emulator) -> None:
    emulator.reset()
    so_far = [
        {"role": "user", "content": f"({app.name}) {LONG}"},
        {"role": "assistant", "content": "Caching reads a prefix instead of prefilling it."},
    ]
    with started(app, emulator) as example:
        warmed = example.client.post("/api/warm", json={"messages": so_far, "profile": "chat"})
        assert warmed.status_code == 200 and warmed.json() == {"warmed": True}
        written = emulator.stats()["cache_creation_input_tokens"]
        assert written > 700

        again = example.client.post("/api/warm", json={"messages": so_far, "profile": "chat"})
        assert again.json()["warmed"] is False and "recently" in again.json()["reason"]
        assert len(_log(emulator, "/v1/messages")) == 1, "the second warm went upstream"

        turn = {"messages": [*so_far, {"role": "user", "content": "And the next turn?"}], "profile": "chat"}
        done = _done(example.client.post("/api/chat", json=turn).content)
        assert done["usage"]["cache_read_input_tokens"] >= written
        assert emulator.stats()["cache_read_input_tokens"] >= written
        ahead = example.client.get("/api/metrics").json()["warm_ahead"]
        assert ahead["warms_sent"] == 1 and ahead["warms_skipped"] == {"warmed_recently": 1}
        assert ahead["cache_reads_after_warm"] == 1
        assert ahead["warm_cache_creation_input_tokens"] == written


@pytest.mark.parametrize("app", EXAMPLE_APPS, ids=lambda a: a.name)
def test_warm_checks_its_body_as_chat_does(app: ExampleApp, emulator: Emulator) -> None:
    emulator.reset()
    short = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    with started(app, emulator) as example:
        client = example.client
        plain = client.post(
            "/api/warm", content=json.dumps({"messages": short}), headers={"content-type": "text/plain"}
        )
        assert plain.status_code == 415 and "error" in plain.json()
        system = client.post("/api/warm", json={"messages": [{"role": "system", "content": "x"}, *short]})
        assert system.status_code == 400 and "system" in system.json()["error"]
        deep = client.post("/api/warm", json={"messages": short, "profile": "deep"})
        assert deep.status_code == 400
        too_short = client.post("/api/warm", json={"messages": short})
        assert too_short.status_code == 200
        assert too_short.json()["warmed"] is False and "too short" in too_short.json()["reason"]
        assert not _log(emulator, "/v1/messages")
