"""Deployment that holds: the checks that tell when the server cannot stream safely, or when its
timeouts and firsttoken's disagree; and the warning a real gunicorn sync worker gets at run time."""

from __future__ import annotations

import io
from pathlib import Path

import httpx2
import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from firsttoken.testing.emulator import Emulator
from firsttoken_django.server import gunicorn_config

from .servers import django_server

OK = {"BASE_URL": "http://127.0.0.1:9"}
MIDDLEWARE = ["firsttoken_django.middleware.FirstTokenMiddleware"]
WARNING = "gunicorn's sync worker, which cannot stream safely"


def _check(config: dict[str, object] = OK, silenced: tuple[str, ...] = ()) -> str:
    out, err = io.StringIO(), io.StringIO()
    with override_settings(FIRSTTOKEN=config, MIDDLEWARE=MIDDLEWARE, SILENCED_SYSTEM_CHECKS=list(silenced)):
        try:
            call_command("check", tags=["firsttoken"], stdout=out, stderr=err)
        except SystemCheckError as exc:
            return str(exc)
    return out.getvalue() + err.getvalue()


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "GUNICORN_CMD_ARGS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no gunicorn.conf.py but the test's own


@pytest.mark.parametrize("args", ["-w 2", "--workers 4 --timeout 60", "-k sync"])
def test_the_sync_worker_in_gunicorn_cmd_args_is_a_warning(
    monkeypatch: pytest.MonkeyPatch, args: str
) -> None:
    monkeypatch.setenv("GUNICORN_CMD_ARGS", args)
    report = _check()
    assert "firsttoken.W018" in report and "GUNICORN_CMD_ARGS" in report and "HINT:" in report
    assert "firsttoken.W018" not in _check(silenced=("firsttoken.W018",))


@pytest.mark.parametrize(
    "args", ["-k gthread --threads 32", "--threads 8", "-k uvicorn.workers.UvicornWorker", "-k gevent"]
)
def test_workers_that_stream_pass(monkeypatch: pytest.MonkeyPatch, args: str) -> None:
    monkeypatch.setenv("GUNICORN_CMD_ARGS", args + " --graceful-timeout 120")
    assert "firsttoken." not in _check()


def test_no_gunicorn_in_sight_says_nothing() -> None:
    assert gunicorn_config() is None
    assert "firsttoken." not in _check()


def test_gunicorn_conf_py_is_read_not_run(tmp_path: Path) -> None:
    (tmp_path / "gunicorn.conf.py").write_text(
        'import sys\nsys.exit("never run")\nworker_class = "sync"\nworkers = 4\n'
    )
    report = _check()
    assert "firsttoken.W018" in report and "gunicorn.conf.py" in report


def test_a_graceful_timeout_shorter_than_firsttoken_timeout_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "gunicorn.conf.py").write_text(
        'worker_class = "gthread"\nthreads = 32\ngraceful_timeout = 10\n'
    )
    report = _check({**OK, "TIMEOUT": 120})
    assert "firsttoken.W020" in report and "--graceful-timeout 120" in report
    assert "firsttoken.W020" not in _check({**OK, "TIMEOUT": 10})


def test_the_command_line_of_a_gunicorn_process_is_read() -> None:
    assert gunicorn_config(environ={}, argv=["/srv/.venv/bin/gunicorn", "app:wsgi"]).streams_safely is False  # type: ignore[union-attr]
    threaded = gunicorn_config(environ={}, argv=["gunicorn", "-k", "gthread", "app:wsgi"])
    assert threaded is not None and threaded.streams_safely
    assert gunicorn_config(environ={}, argv=["uvicorn", "app:asgi"]) is None


def test_a_heartbeat_slower_than_proxies_wait_is_a_warning() -> None:
    report = _check({**OK, "HEARTBEAT_INTERVAL": 90})
    assert "firsttoken.W019" in report and "proxy_read_timeout" in report
    assert "firsttoken.W019" not in _check({**OK, "HEARTBEAT_INTERVAL": 15})


# -- at run time, under a real gunicorn -----------------------------------------------------------


@pytest.fixture(scope="module")
def emulator() -> Emulator:
    with Emulator(time_scale=0.0, seed=1) as emu:
        yield emu  # type: ignore[misc]


@pytest.mark.parametrize(("extra", "warned"), [((), True), (("-k", "gthread", "--threads", "4"), False)])
def test_a_stream_served_by_the_sync_worker_logs_the_warning_once(
    emulator: Emulator, extra: tuple[str, ...], warned: bool
) -> None:
    body = {"messages": [{"role": "user", "content": "Hello"}]}
    with django_server("gunicorn", emulator.base_url, argv_extra=extra) as server:
        for _ in range(3):
            response = httpx2.post(server.url + "/test/sync-chat", json=body, timeout=30)
            assert response.status_code == 200 and "event: done" in response.text
        log = server.output()
    assert (log.count(WARNING) >= 1) is warned, log
    # Once a process: two workers may each say it once, never once a request.
    assert log.count(WARNING) <= 2
