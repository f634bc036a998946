"""The Django quickstart pasted into what `django-admin startproject` makes, default middleware and
CSRF on: `manage.py check` says nothing, `runserver` serves the page, and its POST streams with the
CSRF token and is refused without it; in Chromium the page's own script does both."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from firsttoken.testing.emulator import Emulator
from tests.browser import chromium
from tests.e2e.servers import free_port

from .pages import apply
from .servers import DevServer, command, dev_server, reader_env
from .streams import HELLO, assert_streams, run_curl_commands

pytest.importorskip("django")

CLEAN_CHECK = "System check identified no issues (0 silenced)."


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(time_scale=0.0, seed=0) as emu:
        yield emu


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    # A reader's first run: DEBUG on (startproject's), no key, the embedded emulator answers.
    return reader_env()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("django-quickstart")
    subprocess.run(
        [command("django-admin"), "startproject", "mysite"], cwd=root, env=reader_env(), check=True
    )
    project = root / "mysite"
    written = apply("django.md", project)
    assert set(written) == {"mysite/settings.py", "mysite/views.py", "mysite/urls.py", "templates/chat.html"}
    return project


@pytest.fixture(scope="module")
def server(project: Path, env: dict[str, str]) -> Iterator[DevServer]:
    port = free_port()
    argv = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}"]
    with dev_server(argv, cwd=project, env=env, port=port) as srv:
        yield srv


@pytest.mark.parametrize("upstream", ["embedded emulator", "ANTHROPIC_BASE_URL"])
def test_check_says_nothing(
    project: Path, env: dict[str, str], upstream: str, request: pytest.FixtureRequest
) -> None:
    if upstream == "ANTHROPIC_BASE_URL":
        emulator: Emulator = request.getfixturevalue("emulator")
        env = {**env, "ANTHROPIC_BASE_URL": emulator.base_url, "ANTHROPIC_API_KEY": "sk-ant-test-not-a-key"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == CLEAN_CHECK, result.stdout
    assert "warning" not in result.stderr.lower(), result.stderr


def test_the_page_sets_the_cookie_and_the_post_streams_with_its_token(server: DevServer) -> None:
    with httpx2.Client(base_url=server.url, timeout=30) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert "<script>" in page.text
        token = client.cookies["csrftoken"]
        assert_streams(client.post("/api/chat", json=HELLO, headers={"X-CSRFToken": token}))
    assert CLEAN_CHECK in server.output()
    assert "Traceback" not in server.output()


def test_csrf_is_still_on(server: DevServer) -> None:
    with httpx2.Client(base_url=server.url, timeout=30) as client:
        no_cookie = client.post("/api/chat", json=HELLO)
        assert no_cookie.status_code == 403
        assert "CSRF cookie not set" in no_cookie.text
        client.get("/")
        no_header = client.post("/api/chat", json=HELLO)
        assert no_header.status_code == 403
        assert "CSRF token missing" in no_header.text


def test_the_pages_curl_commands(server: DevServer, tmp_path: Path) -> None:
    run_curl_commands("django.md", server.url, "http://127.0.0.1:8000", tmp_path)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


@pytest.mark.browser
def test_the_pages_script_sends_the_token_and_shows_a_refusal(server: DevServer, browser: Any) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(server.url + "/")
        page.fill("#prompt", "Hello")
        page.click("#send")
        answer = page.locator("#conversation p[data-state='done']")
        answer.wait_for(timeout=30_000)
        assert answer.inner_text().strip()

        # Without the cookie the page has no token to send: Django's HTML 403, read as an error.
        context.clear_cookies()
        page.fill("#prompt", "Hello again")
        page.click("#send")
        refused = page.locator("#conversation p[data-state='error']")
        refused.wait_for(timeout=30_000)
        assert refused.inner_text().startswith("HTTP 403: Forbidden (403) CSRF verification failed.")
    finally:
        context.close()
