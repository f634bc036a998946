"""What the docs' snippets run with: the environment of a developer with no API key, and a few helpers
that the pages' invisible check blocks use to drive a framework's app for real.

A page's visible snippets are what a user pastes. Where a page shows an app, an invisible block
(`<!-- invisible-code-block: python ... -->`, not rendered) serves it and checks one answer, with
the `docs` object the root conftest.py puts in every page's namespace.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
import types
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from email.message import Message
from typing import Any

# A developer with no key: firsttoken's embedded emulator answers (development asked for), at once.
ENVIRONMENT = {"FIRSTTOKEN_DEVELOPMENT": "1", "FIRSTTOKEN_EMULATOR_TIME_SCALE": "0"}
UNSET = ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")


class Environment:
    """Sets a page's environment up and puts the previous one back, whatever the page changed."""

    def __init__(self) -> None:
        self._saved: dict[str, str] | None = None

    def enter(self) -> None:
        self._saved = dict(os.environ)
        for name in UNSET:
            os.environ.pop(name, None)
        os.environ.update(ENVIRONMENT)

    def exit(self) -> None:
        if self._saved is not None:
            os.environ.clear()
            os.environ.update(self._saved)
            self._saved = None


def close_engines(namespace: Mapping[str, Any]) -> None:
    """Close every engine a page left open (a Flask app's too), so its embedded emulator stops with
    the page rather than at the end of the session."""
    from firsttoken import Engine

    flask = sys.modules.get("flask")
    for value in list(namespace.values()):
        if flask is not None and isinstance(value, flask.Flask):
            value = value.extensions.get("firsttoken")
        if isinstance(value, Engine):
            value.close()


class Response:
    def __init__(self, status: int, headers: Message, body: bytes) -> None:
        # An email Message: header names are looked up whatever their case.
        self.status, self.headers, self.body = status, headers, body

    def events(self) -> list[tuple[str, Any]]:
        """The `event:`/`data:` pairs of an SSE body (heartbeat comments skipped)."""
        found = []
        for block in self.body.decode().split("\n\n"):
            name, data = "message", None
            for line in block.splitlines():
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    raw = line[6:]
                    data = raw if raw == "[DONE]" else json.loads(raw)
            if data is not None:
                found.append((name, data))
        return found


class Docs:
    """The helpers of the invisible check blocks."""

    def __init__(self) -> None:
        self._modules: list[str] = []

    def package(self, namespace: dict[str, Any], name: str, **modules: Mapping[str, Any]) -> None:
        """Make the page's namespace a module of package `name` whose submodules hold what earlier
        blocks defined, so a snippet's `from . import views` works as it does in the reader's project."""
        package = types.ModuleType(name)
        package.__path__ = []
        for sub, contents in modules.items():
            module = types.ModuleType(f"{name}.{sub}")
            vars(module).update({k: v for k, v in contents.items() if not k.startswith("__")})
            setattr(package, sub, module)
            sys.modules[module.__name__] = module
            self._modules.append(module.__name__)
        sys.modules[name] = package
        self._modules.append(name)
        namespace["__package__"] = name

    def close(self) -> None:
        """Forget the packages `package` made, so no later page or test imports them."""
        for name in reversed(self._modules):
            sys.modules.pop(name, None)
        self._modules.clear()

    @staticmethod
    def reset_opentelemetry() -> None:
        """No OpenTelemetry provider configured, as in a fresh process: the page sets its own, and
        the suite's tests (which set theirs the same way) may have run before it in this process."""
        from opentelemetry import trace
        from opentelemetry.metrics import _internal as metrics

        for module, provider, once in (
            (trace, "_TRACER_PROVIDER", "_TRACER_PROVIDER_SET_ONCE"),
            (metrics, "_METER_PROVIDER", "_METER_PROVIDER_SET_ONCE"),
        ):
            setattr(module, provider, None)
            getattr(module, once)._done = False

    @staticmethod
    def post(url: str, body: Any, *, content_type: str = "application/json") -> Response:
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return Response(answer.status, answer.headers, answer.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, error.headers, error.read())

    @staticmethod
    @contextmanager
    def serve(app: Any) -> Iterator[str]:
        """Serve an ASGI app with uvicorn on a free loopback port (lifespan included); its base URL."""
        import uvicorn

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        # The docs' apps serve no WebSocket, and before uvicorn 0.50 loading one is a DeprecationWarning.
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the docs' uvicorn server did not start")
            time.sleep(0.01)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(20)

    @staticmethod
    @contextmanager
    def django(namespace: Mapping[str, Any]) -> Iterator[None]:
        """The page's settings (`INSTALLED_APPS`, `MIDDLEWARE`, `FIRSTTOKEN`) and `urlpatterns` as the
        running Django project, configured here unless the test session already configured one."""
        import django
        from django.conf import settings
        from django.test import override_settings

        urls = types.ModuleType("firsttoken_docs_urls")
        urls.urlpatterns = namespace["urlpatterns"]  # type: ignore[attr-defined]
        sys.modules[urls.__name__] = urls
        page = {
            "MIDDLEWARE": namespace["MIDDLEWARE"],
            "FIRSTTOKEN": namespace["FIRSTTOKEN"],
            "ROOT_URLCONF": urls.__name__,
            "ALLOWED_HOSTS": ["testserver", "127.0.0.1"],
        }
        if not settings.configured:
            settings.configure(
                SECRET_KEY="firsttoken-docs-not-secret",
                INSTALLED_APPS=namespace["INSTALLED_APPS"],
                DATABASES={},
                **page,
            )
            django.setup()
        missing = set(namespace["INSTALLED_APPS"]) - set(settings.INSTALLED_APPS)
        if missing:
            raise RuntimeError(f"the session's Django project lacks the page's apps {sorted(missing)}")
        try:
            with override_settings(**page):
                yield
        finally:
            del sys.modules[urls.__name__]
