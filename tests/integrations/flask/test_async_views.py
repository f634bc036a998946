"""An async Flask view answers with the same call as a Starlette or Django async view."""

from __future__ import annotations

import pytest

from firsttoken.testing.emulator import Emulator

from . import streaming_app

pytest.importorskip("asgiref")


def test_async_view_streams_with_achat_response(emulator: Emulator) -> None:
    app = streaming_app.create_app({"ANTHROPIC_BASE_URL": emulator.base_url, "FIRSTTOKEN_MAX_RETRIES": 0})
    try:
        body = {"messages": [{"role": "user", "content": "Hi"}], "profile": "fast"}
        response = app.test_client().post("/async-chat", json=body)
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        blocks = [block for block in response.data.split(b"\n\n") if block]
        assert any(block.startswith(b"event: token") for block in blocks)
        assert blocks[-1].startswith(b"event: done")
        assert b'"output_tokens":8' in blocks[-1]
    finally:
        app.extensions["firsttoken"].close()


def test_async_view_refusal_is_an_http_status(faults: Emulator) -> None:
    faults.set_faults(["overloaded"])
    app = streaming_app.create_app({"ANTHROPIC_BASE_URL": faults.base_url, "FIRSTTOKEN_MAX_RETRIES": 0})
    try:
        body = {"messages": [{"role": "user", "content": "Hi"}]}
        response = app.test_client().post("/async-chat", json=body)
        assert response.status_code == 503
        assert response.json is not None and response.json["error"]
    finally:
        app.extensions["firsttoken"].close()
