"""The Flask quickstart as a one-file app, `app.py` from the page's snippet, under `flask run
--debug` (the reloader on, as a reader runs it) with the embedded emulator and no key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.servers import free_port

from .pages import apply
from .servers import DevServer, command, dev_server, reader_env
from .streams import assert_post_streams, run_curl_commands

pytest.importorskip("flask")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    project = tmp_path_factory.mktemp("flask-quickstart")
    assert set(apply("flask.md", project)) == {"app.py"}
    port = free_port()
    argv = [command("flask"), "run", "--debug", "--port", str(port)]
    with dev_server(argv, cwd=project, env=reader_env(), port=port) as srv:
        yield srv


def test_the_post_streams(server: DevServer) -> None:
    assert_post_streams(server)


def test_the_pages_curl_commands(server: DevServer, tmp_path: Path) -> None:
    run_curl_commands("flask.md", server.url, "http://127.0.0.1:5000", tmp_path)
