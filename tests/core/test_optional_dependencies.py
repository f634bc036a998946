"""With only the core installed, everything that does not use an optional dependency works.

Each test runs a fresh interpreter in which the optional packages cannot be imported (a meta path
finder raises `ModuleNotFoundError` for them, as a missing package does), so what an import, the
CLI or a stream needs shows up as it would for a user who installed no extra.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import anthropic
import pytest

# The checkout: `example_projects` is imported from it.
ROOT = Path(__file__).resolve().parents[2]
# Everything `[project] dependencies` does not bring: the extras' packages (the frameworks are
# hidden by test_no_framework.py; here they stay, so the adapters can be imported), the
# development group's, and what uvicorn[standard] adds over plain uvicorn.
OPTIONAL = (
    "redis", "httptools", "uvloop", "gunicorn", "debug_toolbar", "trustme", "psutil", "hypothesis",
    "aiohttp", "granian",
)  # fmt: skip

HIDE = textwrap.dedent(
    f"""
    import os, sys

    class Missing:
        names = {OPTIONAL!r}

        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in self.names or name.startswith("opentelemetry.sdk"):
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    sys.meta_path.insert(0, Missing())
    for key in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "FIRSTTOKEN_REDIS_URL"):
        os.environ.pop(key, None)
    os.environ["FIRSTTOKEN_DEVELOPMENT"] = "1"
    """
)


def _run(body: str, *args: str, hidden: str = HIDE) -> subprocess.CompletedProcess[str]:
    script = hidden + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT, capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip


def test_every_module_of_the_core_imports_without_the_optional_packages() -> None:
    done = _run(
        """
        import importlib, pkgutil
        import firsttoken

        for info in pkgutil.walk_packages(firsttoken.__path__, "firsttoken."):
            # The pytest plugin is loaded by pytest, which is there when it is.
            if not info.name.endswith(("__main__", "testing.plugin")):
                importlib.import_module(info.name)
        hidden = sorted(m for m in sys.modules if m.split(".")[0] in Missing.names)
        assert not hidden, hidden
        print("ok")
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "ok\n"


@pytest.mark.parametrize(
    ("framework", "package"),
    [
        ("django", "firsttoken_django"),
        ("flask", "firsttoken_flask"),
        # firsttoken_starlette.fastapi needs FastAPI; the others Starlette alone.
        ("fastapi", "firsttoken_starlette"),
    ],
)
def test_every_adapter_module_imports_without_the_optional_packages(framework: str, package: str) -> None:
    pytest.importorskip(framework)
    done = _run(
        """
        import importlib, pkgutil

        if sys.argv[1] == "firsttoken_django":
            import django
            from django.conf import settings

            settings.configure(INSTALLED_APPS=["firsttoken_django"])
            django.setup()
        package = importlib.import_module(sys.argv[1])
        # The toolbar panel needs the toolbar: test_the_toolbar_panel_... below.
        names = [m.name for m in pkgutil.walk_packages(package.__path__, sys.argv[1] + ".")]
        for name in names:
            if name != "firsttoken_django.panels":
                importlib.import_module(name)
        print(len(names))
        """,
        package,
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) >= 4


def test_the_toolbar_panel_without_the_toolbar_names_what_to_install() -> None:
    pytest.importorskip("django")
    done = _run(
        """
        import django
        from django.conf import settings

        settings.configure(INSTALLED_APPS=["firsttoken_django"])
        django.setup()
        try:
            import firsttoken_django.panels
        except ImportError as exc:
            print(type(exc).__name__, exc)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "FrameworkNotInstalled firsttoken_django.panels needs django-debug-toolbar: "
        "pip install 'django-debug-toolbar'\n"
    )


def test_the_cli_helps_without_the_optional_packages() -> None:
    done = _run("from firsttoken.cli import main\nmain(prog_name='firsttoken')\n", "--help")
    assert done.returncode == 0, done.stderr
    assert "Usage: firsttoken" in done.stdout and "emulate" in done.stdout


def test_an_engine_streams_from_the_embedded_emulator_over_h11_without_httptools() -> None:
    # uvicorn's httptools parser is what [starlette], [fastapi] and [all] install; [django],
    # [flask] and the bare core have h11 only (issue 28: the emulator forced httptools).
    done = _run(
        """
        import logging
        import firsttoken

        with firsttoken.Engine.from_env(emulator_time_scale=0.0) as engine:
            report = engine.warm_up()
            with engine.stream(messages=[{"role": "user", "content": "Hi"}], max_tokens=20) as stream:
                text = "".join(stream)
            protocol = engine.upstream.emulator._server.config.http_protocol_class
        assert report is not None and report.status == "warm", report
        assert text, "the answer was empty"
        from uvicorn.protocols.http.h11_impl import H11Protocol

        print("h11" if issubclass(protocol, H11Protocol) else protocol.__mro__)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "h11\n"


def test_firsttoken_emulate_serves_over_h11_without_httptools() -> None:
    script = HIDE + "from firsttoken.cli import main\nmain(prog_name='firsttoken')\n"
    with subprocess.Popen(
        [sys.executable, "-c", script, "emulate", "--port", "0", "--time-scale", "0", "--access-log"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as proc:  # fmt: skip
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            assert line.startswith("firsttoken emulator listening on http://127.0.0.1:"), line
            with (
                anthropic.Anthropic(base_url=line.rsplit(" ", 1)[1], api_key="t", max_retries=0) as client,
                client.messages.stream(
                    model="claude-haiku-5-5", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
                ) as stream,
            ):
                assert "".join(stream.text_stream)
        finally:
            proc.send_signal(signal.SIGINT)
            stdout, stderr = proc.communicate(timeout=30)
    assert "Traceback" not in stderr
    # Its own process: uvicorn's access log (on stdout, as uvicorn's own command line writes it).
    assert '"POST /v1/messages HTTP/1.1" 200' in stdout


def test_a_redis_url_without_redis_fails_at_construction_naming_the_extra() -> None:
    done = _run(
        """
        import firsttoken

        try:
            firsttoken.Engine(firsttoken.Settings(redis_url="redis://:hunter2pass@127.0.0.1:6379/0"))
        except firsttoken.SettingsError as exc:
            print(exc)
        else:
            print("built")
        """
    )
    assert done.returncode == 0, done.stderr
    assert "redis_url" in done.stdout and "pip install 'firsttoken[redis]'" in done.stdout
    assert "hunter2pass" not in done.stdout + done.stderr


def test_the_aiohttp_transport_without_aiohttp_fails_at_start_naming_the_extra() -> None:
    done = _run(
        """
        import firsttoken

        try:
            firsttoken.Settings.from_env({"FIRSTTOKEN_ASYNC_HTTP_CLIENT": "aiohttp"})
        except firsttoken.SettingsError as exc:
            print(exc)
        else:
            print("built")
        """
    )
    assert done.returncode == 0, done.stderr
    assert "FIRSTTOKEN_ASYNC_HTTP_CLIENT" in done.stdout
    assert "pip install 'firsttoken[aiohttp]'" in done.stdout


def test_the_settings_review_names_the_extra_a_redis_url_needs() -> None:
    done = _run(
        """
        import firsttoken

        settings = firsttoken.Settings(redis_url="redis://127.0.0.1:6379/0", development=True)
        for finding in firsttoken.review_settings(settings):
            print(finding.id, finding.message, finding.hint)
        """
    )
    assert done.returncode == 0, done.stderr
    assert (
        "E006 REDIS_URL is set, and the redis package is not installed. pip install 'firsttoken[redis]'"
        in done.stdout
    )


def test_manage_py_check_names_the_extra_a_redis_url_needs() -> None:
    # Django's app loading keeps an engine failure quiet for `check`; the system checks say it.
    pytest.importorskip("django")
    done = _run(
        """
        from django.core.management import execute_from_command_line

        os.environ["FIRSTTOKEN_REDIS_URL"] = "redis://127.0.0.1:6379/0"
        execute_from_command_line(
            ["manage.py", "check", "--settings", "example_projects.django_chat.settings"]
        )
        """
    )
    assert done.returncode == 1
    assert "(firsttoken.E006) " in done.stderr
    assert 'REDIS_URL"] is set, and the redis package is not installed' in done.stderr
    assert "HINT: pip install 'firsttoken[redis]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_warm_up_that_cannot_start_the_emulator_logs_why() -> None:
    # Regression (issue 28): "warm-up failed (RuntimeError)" said nothing of the cause. With h11
    # hidden as well as httptools, the embedded emulator has no HTTP parser to start with.
    done = _run(
        """
        import logging
        import firsttoken

        logging.basicConfig(level=logging.WARNING, format="%(name)s %(message)s", stream=sys.stdout)
        with firsttoken.Engine.from_env() as engine:
            report = engine.warm_up()
        print("status", report.status)
        """,
        hidden=HIDE.replace("names = (", "names = ('h11', "),
    )
    assert done.returncode == 0, done.stderr
    assert "status failed" in done.stdout
    warm_up = [line for line in done.stdout.splitlines() if "warm-up failed" in line]
    assert len(warm_up) == 1, done.stdout
    assert "(ModuleNotFoundError: No module named 'h11')" in warm_up[0]
