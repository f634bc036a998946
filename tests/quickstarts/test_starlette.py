"""The Starlette and FastAPI quickstart as a one-file `main.py` from each tab's snippet, under
`uvicorn main:app` with the embedded emulator, no key and `FIRSTTOKEN_DEVELOPMENT=1` as the page
says."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.servers import free_port

from .pages import apply
from .servers import DevServer, command, dev_server, reader_env
from .streams import assert_post_streams, run_curl_commands

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")


@pytest.fixture(scope="module", params=["FastAPI", "Starlette"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    tab = request.param
    if tab == "FastAPI":
        pytest.importorskip("fastapi")
    project = tmp_path_factory.mktemp(f"{tab.lower()}-quickstart")
    assert set(apply("starlette.md", project, tab=tab)) == {"main.py"}
    port = free_port()
    argv = [command("uvicorn"), "main:app", "--port", str(port)]
    with dev_server(argv, cwd=project, env=reader_env(FIRSTTOKEN_DEVELOPMENT="1"), port=port) as srv:
        yield srv


def test_the_post_streams(server: DevServer) -> None:
    assert_post_streams(server)


def test_the_pages_curl_commands(server: DevServer, tmp_path: Path) -> None:
    run_curl_commands("starlette.md", server.url, "http://127.0.0.1:8000", tmp_path)
