"""The test project under real servers: gunicorn (WSGI, 2 workers), uvicorn (ASGI), runserver."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from tests.e2e.servers import Server, free_port, run_server

SETTINGS = "tests.integrations.django.project.settings"

SERVERS = ("gunicorn", "uvicorn", "runserver")


def argv(kind: str, port: int) -> tuple[str, ...]:
    if kind == "gunicorn":
        return (
            "-m",
            "gunicorn",
            "tests.integrations.django.project.wsgi:application",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        )
    if kind == "uvicorn":
        return (
            "-m",
            "uvicorn",
            "tests.integrations.django.project.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--http",
            "httptools",
        )
    return (
        "-m",
        "example_projects.django_chat",
    )


@contextmanager
def django_server(
    kind: str, base_url: str, extra: Mapping[str, str] | None = None, argv_extra: tuple[str, ...] = ()
) -> Iterator[Server]:
    port = free_port()
    env = {
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": "sk-ant-test-not-a-key",
        "FIRSTTOKEN_MAX_RETRIES": "0",
        **(extra or {}),
    }
    with run_server((*argv(kind, port), *argv_extra), env=env, port=port) as server:
        yield server
