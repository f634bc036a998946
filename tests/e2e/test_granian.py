"""The example contract under Granian, one case per interface: the Starlette example as ASGI and the
Flask example as WSGI, each in one Granian worker, as docs/deployment.md runs them."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from firsttoken.testing.emulator import Emulator

from .servers import Server, ServerSpec, run_servers
from .sse import named, parse

pytest.importorskip("granian")

HELLO = {"messages": [{"role": "user", "content": "How do I make my endpoint fast?"}], "profile": "fast"}
GRANIAN = ("-m", "granian", "--host", "127.0.0.1", "--port", "{port}", "--workers", "1", "--no-ws")
MODES = {
    "asgi": (*GRANIAN, "--interface", "asgi", "example_projects.starlette_chat.app:app"),
    # A thread per open stream, as gunicorn gthread gives one.
    "wsgi": (
        *GRANIAN,
        "--interface",
        "wsgi",
        "--blocking-threads",
        "16",
        "example_projects.flask_chat.wsgi:app",
    ),
}


@pytest.fixture(scope="module")
def granian_servers(contract_emulator: Emulator) -> Iterator[dict[str, Server]]:
    env = {
        "ANTHROPIC_BASE_URL": contract_emulator.base_url,
        "ANTHROPIC_API_KEY": "sk-ant-test-not-a-key",
        "FIRSTTOKEN_MAX_RETRIES": "0",
    }
    with run_servers(*(ServerSpec(argv, env=env) for argv in MODES.values())) as servers:
        yield dict(zip(MODES, servers, strict=True))


@pytest.mark.parametrize("mode", list(MODES))
def test_the_contract_under_granian(
    granian_servers: dict[str, Server], contract_emulator: Emulator, mode: str
) -> None:
    server = granian_servers[mode]
    with httpx2.Client(base_url=server.url, timeout=30.0) as client:
        assert client.get("/healthz").json() == {"ok": True}

        response = client.post("/api/chat", json=HELLO)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        events = named(parse(response.content))
        assert events[0].name == "start"
        tokens = [e for e in events if e.name == "token"]
        assert tokens and "".join(e.data["text"] for e in tokens).strip()
        assert events[-1].name == "done" and events[-1].data["stop_reason"] == "end_turn"

        refused = client.post("/api/chat", content=b"{not json", headers={"content-type": "application/json"})
        assert refused.status_code == 400 and refused.json()["error"]

        contract_emulator.set_faults(["midstream_overloaded"])
        try:
            broken = client.post("/api/chat", json=HELLO)
        finally:
            contract_emulator.set_faults([])
        assert broken.status_code == 200
        after = named(parse(broken.content))[1:]
        assert len(after) > 1 and {e.name for e in after[:-1]} == {"token"}
        assert after[-1].name == "error" and after[-1].data["type"] == "overloaded_error"
    assert "Traceback" not in server.output()
