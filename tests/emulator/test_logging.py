"""The embedded emulator leaves the process's logging alone and runs on either of uvicorn's parsers.

Regression (issue 28): its `uvicorn.Config(log_level="warning", access_log=False)` set the
process-wide "uvicorn.error" logger to WARNING and emptied "uvicorn.access", so under uvicorn an
app using the embedded emulator lost "Application startup complete" and every access line.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import anthropic
import httpx2
import pytest

from firsttoken.testing.emulator import Emulator
from firsttoken.testing.emulator.server import http_parser

UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def _state() -> dict[str, object]:
    return {
        name: (logger.level, list(logger.handlers), logger.propagate, logger.disabled, list(logger.filters))
        for name in UVICORN_LOGGERS
        for logger in [logging.getLogger(name)]
    }


def _stream(emulator: Emulator) -> str:
    with (
        anthropic.Anthropic(base_url=emulator.base_url, api_key="k", max_retries=0) as client,
        client.messages.stream(
            model="claude-haiku-4-5", max_tokens=20, messages=[{"role": "user", "content": "Hi"}]
        ) as stream,
    ):
        return "".join(stream.text_stream)


def test_httptools_is_the_parser_when_installed() -> None:
    pytest.importorskip("httptools")
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    assert http_parser() == "httptools"
    with Emulator(time_scale=0.0) as emulator:
        assert _stream(emulator)
        assert emulator._server is not None
        assert issubclass(emulator._server.config.http_protocol_class, HttpToolsProtocol)


def test_starting_the_emulator_changes_no_uvicorn_logger(caplog: pytest.LogCaptureFixture) -> None:
    access = logging.getLogger("uvicorn.access")
    handler = logging.StreamHandler()
    access.addHandler(handler)
    try:
        before = _state()
        filters = len(logging.getLogger("uvicorn.error").filters)
        with caplog.at_level(logging.INFO), Emulator(time_scale=0.0) as emulator:
            assert _stream(emulator)
        after = _state()
        # The one addition: the filter that keeps the emulator thread's own INFO records out.
        error_filters = after["uvicorn.error"][4]  # type: ignore[index]
        assert len(error_filters) in (filters, filters + 1)
        after["uvicorn.error"] = (*after["uvicorn.error"][:4], before["uvicorn.error"][4])  # type: ignore[index]
        assert after == before
    finally:
        access.removeHandler(handler)
    # Nothing of the emulator's under uvicorn's names: its server's lifecycle is its own business.
    assert not [r for r in caplog.records if r.name.startswith("uvicorn")], caplog.text


def test_access_lines_on_request_go_to_the_emulators_own_logger(caplog: pytest.LogCaptureFixture) -> None:
    # The level on the emulator's logger itself: an app's LOGGING may hold "firsttoken" at WARNING
    # (the Django example does, and another test may have configured it in this process).
    with (
        caplog.at_level(logging.INFO),
        caplog.at_level(logging.INFO, logger="firsttoken.emulator.access"),
        Emulator(time_scale=0.0, access_log=True) as emulator,
    ):
        assert _stream(emulator)
    lines = [r.getMessage() for r in caplog.records if r.name == "firsttoken.emulator.access"]
    assert any('"POST /v1/messages HTTP/1.1" 200' in line for line in lines), lines
    assert not [r for r in caplog.records if r.name == "uvicorn.access"]


APP = """
import firsttoken

engine = firsttoken.Engine.from_env(emulator_time_scale=0.0)


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await engine.awarm_up()  # starts the embedded emulator, as the adapters do
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await engine.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return
    async with engine.astream(messages=[{"role": "user", "content": "Hi"}], max_tokens=20) as stream:
        text = "".join([piece async for piece in stream])
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": text.encode()})
"""


def test_an_app_under_uvicorn_keeps_its_own_log_lines(tmp_path: Path) -> None:
    (tmp_path / "chatapp.py").write_text(textwrap.dedent(APP))
    env = {"FIRSTTOKEN_DEVELOPMENT": "1", "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "chatapp:app", "--app-dir", str(tmp_path), "--port", "0"],
        # uvicorn writes access lines to stdout and the rest to stderr: one stream, in order.
        stderr=subprocess.STDOUT,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        lines.extend(proc.stdout)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    with proc:
        try:
            deadline = time.monotonic() + 60
            while not any("Uvicorn running on" in line for line in lines) and time.monotonic() < deadline:
                assert proc.poll() is None, "".join(lines)
                time.sleep(0.05)
            running = next(line for line in lines if "Uvicorn running on" in line)
            url = re.search(r"http://127\.0\.0\.1:\d+", running)
            assert url is not None, running
            for _ in range(2):
                response = httpx2.get(url.group(0) + "/", timeout=30)
                assert response.status_code == 200 and response.text
            time.sleep(0.3)
        finally:
            proc.terminate()
            reader.join(timeout=30)
    log = "".join(lines)
    assert "Application startup complete." in log, log
    assert len(re.findall(r'"GET / HTTP/1.1" 200', log)) == 2, log
    # The app's server starts once in this log; the emulator's requests and start are not in it.
    assert log.count("Started server process") == 1, log
    assert "/v1/messages" not in log and "/v1/models" not in log, log
    assert "Shutting down" in log and log.count("Shutting down") == 1, log
