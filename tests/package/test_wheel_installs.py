"""The built wheel, installed as a user installs it: each extra alone, in a clean virtualenv, run
from a folder outside the checkout with nothing of the checkout on `sys.path`.

The development `.venv` has every extra and the checkout on its path, so an import of an optional
dependency at module level, or a file the wheel leaves out, passes every other test. Here each of
`firsttoken`, `[django]`, `[flask]`, `[starlette]`, `[fastapi]` and `[redis]` imports, runs
`firsttoken --help`, and streams an answer from the embedded emulator through that framework's
quickstart app under the framework's own server (the core's `Engine` for the bare and `[redis]`
installs, the latter also on a real redis-server).

The wheel is built once by `scripts/dist.py`, as `make package` builds it. The six virtualenvs are
made together by uv from its cache, with the dependency versions of `uv.lock` as constraints, so a
run installs what the suite tested and needs no download once `make install` has filled the cache.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
import redis

from tests.package import dist

# The first test's set-up builds the wheel and the six venvs: about 30 s of CPU over both cores,
# but 108 s of wall time was seen at a load average of 18, close to the suite's 120 s default.
pytestmark = [pytest.mark.package, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]

# The extra -> the adapter modules it makes importable.
EXTRAS: dict[str, tuple[str, ...]] = {
    "": (),
    "django": ("firsttoken_django",),
    "flask": ("firsttoken_flask",),
    "starlette": ("firsttoken_starlette",),
    "fastapi": ("firsttoken_starlette", "firsttoken_starlette.fastapi"),
    "redis": (),
}
ADAPTER_EXTRAS = {
    "firsttoken_django": "django",
    "firsttoken_flask": "flask",
    "firsttoken_starlette": "starlette",
}
HI = {"messages": [{"role": "user", "content": "Hi"}]}
# Two shared cores, six installs and a server's first imports (SDK, pydantic, a framework).
START_TIMEOUT = 60.0


@dataclass
class Install:
    """One clean virtualenv with the wheel and one extra, and a working folder beside it."""

    extra: str
    venv: Path
    home: Path
    # WHERE's exit status and output, run as soon as the install is done (see `_install`).
    imported: tuple[int, str] = (-1, "")

    def env(self, **extra: str) -> dict[str, str]:
        """A user's environment: the venv's bin first, no PYTHONPATH, no ANTHROPIC_* or FIRSTTOKEN_*
        of ours, and no PYTEST_VERSION (which would count as development by itself)."""
        kept = {name: os.environ[name] for name in ("HOME", "LANG", "LC_ALL", "TMPDIR") if name in os.environ}
        return {
            **kept,
            "PATH": f"{self.venv / 'bin'}{os.pathsep}{os.defpath}",
            "VIRTUAL_ENV": str(self.venv),
            "PYTHONUNBUFFERED": "1",
            # The emulator answers at once: this test is about installing, not timing.
            "FIRSTTOKEN_EMULATOR_TIME_SCALE": "0",
            **extra,
        }

    def call(self, *argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run a command of the venv in the working folder."""
        return subprocess.run(
            [str(self.venv / "bin" / argv[0]), *argv[1:]],
            cwd=self.home,
            env=env or self.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )

    def run(self, *argv: str, env: dict[str, str] | None = None) -> str:
        """Run a command of the venv in the working folder; its output, or a failure showing it."""
        done = self.call(*argv, env=env)
        if done.returncode:
            pytest.fail(
                f"[{self.extra or 'no extra'}] {' '.join(argv)} exited {done.returncode}:\n"
                f"{done.stdout}{done.stderr}",
                pytrace=False,
            )
        return done.stdout + done.stderr

    def write(self, name: str, text: str) -> None:
        path = self.home / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


# Run in each venv: nothing of the checkout on sys.path, firsttoken and each named module imported
# from the venv; a module that cannot be imported is reported with its error (the bare install's
# adapters must name their extra), the rest must import.
WHERE = """
    import importlib
    import json
    import sys

    import firsttoken

    checkout = sys.argv[1]
    on_path = [entry for entry in sys.path if entry.startswith(checkout)]
    assert not on_path, f"the checkout is on sys.path: {on_path}"
    assert firsttoken.__file__.startswith(sys.prefix), firsttoken.__file__
    errors = {}
    for name in sys.argv[2:]:
        try:
            module = importlib.import_module(name)
        except ImportError as error:
            errors[name] = str(error)
        else:
            assert module.__file__.startswith(sys.prefix), module.__file__
    print(json.dumps({"version": firsttoken.__version__, "errors": errors}))
"""


def _install(uv: Path, wheel: Path, constraints: Path, base: Path, extra: str) -> Install:
    name = extra or "bare"
    install = Install(extra, base / name / "venv", base / name / "home")
    install.home.mkdir(parents=True)
    env = {**os.environ, "UV_NO_PROGRESS": "1"}
    env.pop("VIRTUAL_ENV", None)
    env.pop("UV_PROJECT_ENVIRONMENT", None)
    # The interpreter the suite runs on (not its venv), so the installs match the lock's Python.
    python = Path(sys.executable).resolve()
    subprocess.run([uv, "venv", "--quiet", "--python", python, install.venv], check=True, env=env)
    requirement = f"firsttoken[{extra}] @ {wheel.as_uri()}" if extra else f"firsttoken @ {wheel.as_uri()}"
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", install.venv / "bin" / "python",
         "--constraints", constraints, requirement],
        check=True, env=env, cwd=install.home,
    )  # fmt: skip
    # The first run of a fresh venv compiles the bytecode of everything `firsttoken` imports
    # (seconds of CPU): done here, the six compile side by side instead of one test after another.
    install.write("where.py", WHERE)
    imports = [*EXTRAS[extra], *(ADAPTER_EXTRAS if not extra else ())]
    done = install.call("python", "where.py", str(ROOT), *imports)
    install.imported = (done.returncode, done.stdout + done.stderr)
    return install


@pytest.fixture(scope="module")
def installs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Install]:
    base = tmp_path_factory.mktemp("wheel-installs")
    assert ROOT not in base.parents, f"{base} is inside the checkout"
    uv = dist.uv_path()
    _, wheel = dist.build(base / "dist")
    constraints = base / "constraints.txt"
    subprocess.run(
        [uv, "export", "--frozen", "--no-hashes", "--all-extras", "--no-dev", "--no-emit-project",
         "--quiet", "--output-file", constraints],
        check=True, cwd=ROOT,
    )  # fmt: skip
    with ThreadPoolExecutor(len(EXTRAS)) as pool:
        made = pool.map(lambda extra: _install(uv, wheel, constraints, base, extra), EXTRAS)
        return {install.extra: install for install in made}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _serving(install: Install, argv: Sequence[str], port: int, env: dict[str, str]) -> Iterator[str]:
    """Run a server command of the venv until `port` accepts connections; yields its URL."""
    log = install.home / f"server-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(install.venv / "bin" / argv[0]), *argv[1:]],
            cwd=install.home, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"{' '.join(argv)} exited {process.returncode}:\n{log.read_text()}", pytrace=False
                )
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"{' '.join(argv)} did not listen in time:\n{log.read_text()}", pytrace=False)
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _streams_an_answer(url: str, log: Path) -> None:
    with httpx2.Client(timeout=30) as client:
        answer = client.post(f"{url}/api/chat", json=HI)
    detail = f"{answer.status_code} {answer.text[:2000]}\n--- server log:\n{log.read_text()}"
    assert answer.status_code == 200, detail
    assert answer.headers["content-type"].startswith("text/event-stream"), detail
    assert "event: token" in answer.text and "event: done" in answer.text, detail


def _console_served(url: str, log: Path) -> None:
    """The one-line mount at `/firsttoken/`: the page, the dashboard and their files, from the wheel."""
    with httpx2.Client(base_url=url, timeout=30) as client:
        for path in ("/firsttoken/", "/firsttoken/dashboard", "/firsttoken/static/vendor/uPlot.iife.min.js"):
            answer = client.get(path)
            detail = f"{path}: {answer.status_code} {answer.text[:500]}\n--- server log:\n{log.read_text()}"
            assert answer.status_code == 200, detail
            assert "default-src 'self'" in answer.headers["content-security-policy"], detail
        assert 'src="static/chat.js"' in client.get("/firsttoken/").text


# Run in the venv: the same app in production (no debug) refuses the console, 403 on every path.
REFUSED = """
    import json

    paths = ("/firsttoken/", "/firsttoken/dashboard", "/firsttoken/api/metrics")
    statuses = {path: get(path) for path in paths}
    print(json.dumps(statuses))
    assert set(statuses.values()) == {403}, statuses
"""
# How each framework's `get(path) -> status` is made, for REFUSED.
ASGI_GET = """
    import asyncio

    from main import app

    app.debug = False


    def get(path):
        sent = []

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            sent.append(message)

        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
            "root_path": "", "headers": [(b"host", b"127.0.0.1")], "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
        }
        asyncio.run(app(scope, receive, send))
        return sent[0]["status"]
"""


def _refused_in_production(install: Install, get: str) -> None:
    install.write("refused.py", textwrap.dedent(get) + textwrap.dedent(REFUSED))
    install.run("python", "refused.py", env=install.env(ANTHROPIC_API_KEY="sk-ant-not-a-key"))


def _core_script(install: Install, env: dict[str, str]) -> str:
    """The README's core in ten lines, streamed from the embedded emulator."""
    install.write(
        "core.py",
        """
        from firsttoken import Engine

        with Engine.from_env() as engine:
            with engine.stream(messages=[{"role": "user", "content": "Hi"}], profile="chat") as s:
                text = "".join(s)
            print(repr(text[:40]), s.stop_reason, s.model)
            assert text and s.stop_reason == "end_turn", (text, s.stop_reason)
        """,
    )
    return install.run("python", "core.py", env=env)


# --- one check per install ---------------------------------------------------------------------


def _imported(install: Install) -> dict[str, str]:
    status, output = install.imported
    if status:
        pytest.fail(f"[{install.extra or 'no extra'}] where.py exited {status}:\n{output}", pytrace=False)
    found: dict[str, str] = json.loads(output.strip().splitlines()[-1])["errors"]
    return found


@pytest.mark.parametrize("extra", list(EXTRAS), ids=[extra or "bare" for extra in EXTRAS])
def test_imports_from_the_venv_only(installs: dict[str, Install], extra: str) -> None:
    errors = _imported(installs[extra])
    if extra:  # the bare install's adapters fail, as the next test wants
        assert errors == {}, errors


def test_bare_install_names_the_extra_of_each_adapter(installs: dict[str, Install]) -> None:
    errors = _imported(installs[""])
    assert errors.keys() == ADAPTER_EXTRAS.keys(), errors
    for module, extra in ADAPTER_EXTRAS.items():
        assert f"pip install 'firsttoken[{extra}]'" in errors[module], errors


@pytest.mark.parametrize("extra", list(EXTRAS), ids=[extra or "bare" for extra in EXTRAS])
def test_cli_help(installs: dict[str, Install], extra: str) -> None:
    output = installs[extra].run("firsttoken", "--help")
    assert "emulate" in output and "demo" in output, output


def test_bare_install_emulator_as_a_server(installs: dict[str, Install]) -> None:
    """`firsttoken emulate` on a bare install answers a Messages API call."""
    install = installs[""]
    port = _free_port()
    argv = ["firsttoken", "emulate", "--port", str(port), "--time-scale", "0"]
    with _serving(install, argv, port, install.env()) as url, httpx2.Client(timeout=30) as client:
        answer = client.post(
            f"{url}/v1/messages",
            headers={"x-api-key": "test", "anthropic-version": "2023-06-01"},
            json={"model": "claude-haiku-4-5", "max_tokens": 32, **HI},
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["content"][0]["text"], answer.text


def test_core_streams_from_the_embedded_emulator(installs: dict[str, Install]) -> None:
    install = installs[""]
    assert "end_turn" in _core_script(install, install.env(FIRSTTOKEN_DEVELOPMENT="1"))


def test_redis_install_streams_from_the_embedded_emulator(installs: dict[str, Install]) -> None:
    install = installs["redis"]
    assert "end_turn" in _core_script(install, install.env(FIRSTTOKEN_DEVELOPMENT="1"))


@pytest.mark.redis
def test_redis_install_shares_state_on_a_real_redis(installs: dict[str, Install]) -> None:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server); .ci/run installs it")
    install = installs["redis"]
    port = _free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(install.home)]  # fmt: skip
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"redis://127.0.0.1:{port}/0"
        with redis.Redis.from_url(url, socket_timeout=1) as client:
            deadline = time.monotonic() + 10
            while True:
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    assert time.monotonic() < deadline, "redis-server did not answer"
                    time.sleep(0.02)
            _core_script(install, install.env(FIRSTTOKEN_DEVELOPMENT="1", FIRSTTOKEN_REDIS_URL=url))
            keys = [key.decode() for key in client.keys("*")]
        # The call's rate-limit budget, kept in Redis for every worker.
        assert any(key.startswith("firsttoken:") for key in keys), keys
    finally:
        server.kill()
        server.wait()


# --- each framework's quickstart app under the framework's own server -----------------------------


def test_django_quickstart_under_runserver(installs: dict[str, Install]) -> None:
    install = installs["django"]
    install.write(
        "manage.py",
        """
        import os
        import sys

        from django.core.management import execute_from_command_line

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_settings")
        execute_from_command_line(sys.argv)
        """,
    )
    # The quickstart's settings, over the least a project needs.
    install.write(
        "site_settings.py",
        """
        DEBUG = True
        SECRET_KEY = "not-secret-only-for-this-test"
        ROOT_URLCONF = "site_urls"
        STATIC_URL = "static/"
        USE_TZ = True

        INSTALLED_APPS = [
            "django.contrib.staticfiles",
            "firsttoken_django",
        ]

        MIDDLEWARE = [
            "django.middleware.gzip.GZipMiddleware",
            "django.middleware.security.SecurityMiddleware",
            "firsttoken_django.middleware.FirstTokenMiddleware",
        ]

        FIRSTTOKEN = {"PROFILES": {"chat": {"max_tokens": 300}}}
        """,
    )
    install.write(
        "views.py",
        """
        from django.http import HttpRequest, HttpResponseBase, HttpResponseNotAllowed


        async def chat(request: HttpRequest) -> HttpResponseBase:
            if request.method != "POST":
                return HttpResponseNotAllowed(["POST"])
            return await request.firsttoken.achat()
        """,
    )
    install.write(
        "site_urls.py",
        """
        from django.urls import include, path

        from views import chat

        urlpatterns = [
            path("api/chat", chat),
            path("firsttoken/", include("firsttoken_django.urls")),
        ]
        """,
    )
    port = _free_port()
    argv = ["python", "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
    with _serving(install, argv, port, install.env()) as url:
        _streams_an_answer(url, install.home / f"server-{port}.log")
        _console_served(url, install.home / f"server-{port}.log")
    # Without DEBUG, and with no staff user (no auth here), the same URLconf refuses it.
    django_get = """
        import os

        os.environ["DJANGO_SETTINGS_MODULE"] = "site_settings"
        import django
        from django.conf import settings
        from django.test import Client
        from django.test.utils import setup_test_environment

        django.setup()
        settings.DEBUG = False
        setup_test_environment()


        def get(path):
            return Client().get(path).status_code
    """
    _refused_in_production(install, django_get)


def test_flask_quickstart_under_flask_run(installs: dict[str, Install]) -> None:
    install = installs["flask"]
    install.write(
        "app.py",
        """
        from flask import Flask

        from firsttoken_flask import FirstToken, console

        firsttoken = FirstToken()


        def create_app() -> Flask:
            app = Flask(__name__)
            app.config["FIRSTTOKEN_PROFILES"] = {"chat": {"max_tokens": 300}}
            firsttoken.init_app(app)
            app.register_blueprint(console(), url_prefix="/firsttoken")

            @app.post("/api/chat")
            def chat():
                return firsttoken.chat()

            return app
        """,
    )
    port = _free_port()
    # Debug mode is how the quickstart runs without a key; the reloader would fork a second process.
    argv = ["flask", "--app", "app", "run", "--debug", "--no-reload", "--port", str(port)]
    with _serving(install, argv, port, install.env()) as url:
        _streams_an_answer(url, install.home / f"server-{port}.log")
        _console_served(url, install.home / f"server-{port}.log")
    flask_get = """
        from app import create_app

        client = create_app().test_client()


        def get(path):
            return client.get(path).status_code
    """
    _refused_in_production(install, flask_get)


STARLETTE_APP = """
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Mount, Route

    from firsttoken_starlette import FirstTokenMiddleware, console


    async def chat(request: Request) -> Response:
        return await request.state.firsttoken.chat()


    app = Starlette(
        debug=True,
        routes=[Route("/api/chat", chat, methods=["POST"]), Mount("/firsttoken", app=console())],
        middleware=[Middleware(FirstTokenMiddleware, settings={"timeout": 60})],
    )
"""

FASTAPI_APP = """
    from typing import Annotated

    from fastapi import Depends, FastAPI
    from fastapi.responses import Response
    from starlette.middleware import Middleware

    from firsttoken import ChatRequest
    from firsttoken_starlette import FirstToken, FirstTokenMiddleware, console
    from firsttoken_starlette.fastapi import chat_body, exception_handlers, get_firsttoken

    SETTINGS = {"profiles": {"chat": {"max_tokens": 300}}}

    app = FastAPI(
        debug=True,
        middleware=[Middleware(FirstTokenMiddleware, settings=SETTINGS)],
        exception_handlers=exception_handlers(),
    )
    app.mount("/firsttoken", console())


    @app.post("/api/chat")
    async def chat(
        body: Annotated[ChatRequest, Depends(chat_body)],
        firsttoken: Annotated[FirstToken, Depends(get_firsttoken)],
    ) -> Response:
        return await firsttoken.chat_response(body)
"""


@pytest.mark.parametrize(("extra", "source"), [("starlette", STARLETTE_APP), ("fastapi", FASTAPI_APP)])
def test_asgi_quickstart_under_uvicorn(installs: dict[str, Install], extra: str, source: str) -> None:
    install = installs[extra]
    install.write("main.py", source)
    port = _free_port()
    argv = ["uvicorn", "main:app", "--port", str(port)]
    with _serving(install, argv, port, install.env(FIRSTTOKEN_DEVELOPMENT="1")) as url:
        _streams_an_answer(url, install.home / f"server-{port}.log")
        _console_served(url, install.home / f"server-{port}.log")
    _refused_in_production(install, ASGI_GET)
