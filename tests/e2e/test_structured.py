"""Structured answers on every example app (EXAMPLE_CONTRACT.md, milestone 3, the `extract`
profile): `object` events and `done.object` over SSE, the raw JSON under `?protocol=text` read as
the AI SDK's `useObject` reads it, and `data-object` parts rebuilt by the AI SDK's own client. The
card the page fills in is `test_browser.py`'s (it needs the answer paced)."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from example_projects.extract import Card

from .conftest import RunningExample
from .sse import named, parse

AISDK = Path(__file__).parent / "aisdk"
QUESTION = "The new bike lanes downtown are wonderful, and my commute is twice as fast."
EXTRACT = {"messages": [{"role": "user", "content": QUESTION}], "profile": "extract"}


def test_extract_streams_the_object_as_it_fills_and_done_carries_it(example: RunningExample) -> None:
    response = example.client.post("/api/chat", json=EXTRACT)
    assert response.status_code == 200, response.text
    events = named(parse(response.content))
    names = [e.name for e in events]
    # Each object event follows a token (at most one a delta; deltas written together share the
    # last, so at time-scale 0 there may be one) and shows something new.
    assert "object" in names
    assert all(names[i - 1] == "token" for i, name in enumerate(names) if name == "object")
    partials = [e.data["partial"] for e in events if e.name == "object"]
    assert all(a != b for a, b in itertools.pairwise(partials))
    # `token` still carries the raw JSON text; `done` the checked object.
    text = "".join(e.data["text"] for e in events if e.name == "token")
    done = events[-1]
    assert done.name == "done" and done.data["object"] == json.loads(text) == partials[-1]
    Card.model_validate(done.data["object"])


def _node(script: str, example: RunningExample, query: str, body: dict[str, Any]) -> dict[str, Any]:
    if shutil.which("node") is None or not (AISDK / "node_modules" / "ai").is_dir():
        pytest.skip("needs node and the AI SDK: run `npm ci` in tests/e2e/aisdk")
    done = subprocess.run(
        ["node", str(AISDK / script), f"{example.url}/api/chat?{query}", json.dumps(body)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_protocol_text_is_the_json_that_use_object_reads(example: RunningExample) -> None:
    read = _node("object.mjs", example, "protocol=text", EXTRACT)
    assert read["status"] == 200 and read["contentType"].startswith("text/plain")
    # The AI SDK parsed the whole text as JSON, not a repaired prefix, and it is a valid card.
    assert read["state"] == "successful-parse"
    Card.model_validate(read["final"])
    # How many partial objects it saw depends on how the chunks arrived (all at once at time-scale 0).
    assert read["objects"] and read["objects"][-1] == read["final"]


def test_the_ai_sdk_client_rebuilds_the_object_as_a_data_part(example: RunningExample) -> None:
    body = {
        "id": "extract-1",
        "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": QUESTION}]}],
        "trigger": "submit-message",
    }
    rebuilt = _node("rebuild.mjs", example, "protocol=ai-sdk", {**body, "profile": "extract"})
    assert rebuilt["status"] == 200
    parts = rebuilt["message"]["parts"]
    # The partial objects replaced one another (one data part, by its id): the message holds the
    # checked object, beside the JSON text.
    objects = [p for p in parts if p["type"] == "data-object"]
    assert len(objects) == 1 and objects[0]["id"] == "object"
    text = next(p["text"] for p in parts if p["type"] == "text")
    assert objects[0]["data"] == json.loads(text)
    Card.model_validate(objects[0]["data"])
    assert rebuilt["message"]["metadata"]["object"] == objects[0]["data"]
