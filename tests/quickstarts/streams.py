"""What the tests assert of every quickstart's server: the page's body streams to `done`, and the
page's own curl commands work against it as written (only the port differs)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx2

from tests.e2e.sse import named, parse

from .pages import curl_commands
from .servers import DevServer

HELLO = {"messages": [{"role": "user", "content": "Hello"}]}


def assert_streams(response: httpx2.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = named(parse(response.content))
    names = [e.name for e in events]
    assert "token" in names, names
    assert names[-1] == "done", names


def assert_post_streams(server: DevServer) -> None:
    """The quickstart's chat endpoint streams an answer, refuses an empty body with the contract's
    400, and its server printed no traceback."""
    with httpx2.Client(base_url=server.url, timeout=30) as client:
        assert_streams(client.post("/api/chat", json=HELLO))
        refused = client.post("/api/chat", json={"messages": []})
        assert refused.status_code == 400 and refused.json()["error"]
    assert "Traceback" not in server.output()


def run_curl_commands(page: str, url: str, default: str, cwd: Path) -> None:
    """Each of the page's curl blocks in one shell, in order (a later block may use the cookie jar an
    earlier one wrote), against `url` where the page says `default`."""
    commands = curl_commands(page)
    assert any("protocol=ai-sdk" in c for c in commands), f"{page} shows no AI SDK body"
    assert any("protocol=ai-sdk" not in c for c in commands), f"{page} shows no plain body"
    for command in commands:
        assert default in command, command
        result = subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + command.replace(default, url)],
            cwd=cwd,
            capture_output=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr.decode()
        events = named(parse(result.stdout))
        if "protocol=ai-sdk" in command:
            kinds = [e.data if isinstance(e.data, str) else e.data["type"] for e in events]
            assert "text-delta" in kinds and kinds[-2:] == ["finish", "[DONE]"], kinds
        else:
            assert events and events[-1].name == "done", result.stdout.decode()
