"""Without Redis, the resume and stop routes exist and find nothing; every answer still names itself."""

from __future__ import annotations

from .conftest import RunningExample

HELLO = {"messages": [{"role": "user", "content": "Hello"}]}


def test_without_redis_there_is_nothing_to_resume_or_stop(example: RunningExample) -> None:
    response = example.client.post("/api/chat", json=HELLO)
    rid = response.headers["x-response-id"]
    assert b"\nid:" not in response.content and not response.content.startswith(b"id:")
    resumed = example.client.get(f"/api/chat/{rid}/stream", headers={"Last-Event-ID": "3"})
    assert resumed.status_code == 204 and resumed.content == b""
    stopped = example.client.post(f"/api/chat/{rid}/stop")
    assert stopped.status_code == 404
    assert stopped.json() == {"error": "no answer to stop under that id"}
    bad = example.client.get(f"/api/chat/{rid}/stream", headers={"Last-Event-ID": "nope"})
    assert bad.status_code == 400 and "Last-Event-ID" in bad.json()["error"]
