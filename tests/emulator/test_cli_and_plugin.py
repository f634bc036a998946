"""The `firsttoken emulate` command and the pytest fixtures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

import anthropic
import pytest

pytest_plugins = ["pytester"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_serves_and_stops_on_signal(sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "firsttoken.cli",
            "emulate",
            "--port",
            "0",
            "--time-scale",
            "0",
            "--seed",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("firsttoken emulator listening on http://127.0.0.1:")
        base_url = line.rsplit(" ", 1)[1]
        with anthropic.Anthropic(base_url=base_url, api_key="t", max_retries=0) as c:
            msg = c.messages.create(
                model="claude-haiku-5-5", max_tokens=3, messages=[{"role": "user", "content": "hi"}]
            )
        assert msg.usage.output_tokens == 3
        proc.send_signal(sig)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None
        assert proc.stderr is not None
        proc.stdout.close()
        stderr = proc.stderr.read()
        proc.stderr.close()
    assert proc.returncode in (0, -signal.SIGTERM)
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--fault", "bogus"], "--fault"),
        (["--model-profile", "haiku:1,2"], "--model-profile"),
        (["--time-scale", "-1"], "--time-scale"),
        (["--rate-limit", "rpm=x"], "--rate-limit"),
    ],
)
def test_cli_rejects_bad_values_naming_the_option(args: list[str], option: str) -> None:
    from click.testing import CliRunner

    from firsttoken.cli import main

    result = CliRunner().invoke(main, ["emulate", *args])
    assert result.exit_code == 2
    assert option in result.output


def test_fixture_gives_a_reset_emulator(anthropic_emulator: Any) -> None:
    assert anthropic_emulator.stats()["requests_total"] == 0
    client = anthropic_emulator.client()
    msg = client.messages.create(
        model="claude-opus-5", max_tokens=4, messages=[{"role": "user", "content": "hi"}]
    )
    assert msg.usage.output_tokens == 4
    assert anthropic_emulator.requests[-1]["model"] == "claude-opus-5"
    anthropic_emulator.set_faults(["overloaded"])
    with pytest.raises(anthropic.OverloadedError):
        client.messages.create(
            model="claude-opus-5", max_tokens=4, messages=[{"role": "user", "content": "hi"}]
        )


def test_fixture_was_reset_between_tests(anthropic_emulator: Any) -> None:
    assert anthropic_emulator.stats()["requests_total"] == 0
    assert anthropic_emulator.stats()["faults"] == []


async def test_fixture_async_client(anthropic_emulator: Any) -> None:
    async with anthropic_emulator.async_client() as client:
        msg = await client.messages.create(
            model="claude-sonnet-5", max_tokens=2, messages=[{"role": "user", "content": "x"}]
        )
    assert msg.usage.output_tokens == 2


def test_factory_starts_custom_emulators(anthropic_emulator_factory: Any) -> None:
    handle = anthropic_emulator_factory(seed=9, faults=["server_error"])
    with pytest.raises(anthropic.InternalServerError):
        handle.client().messages.create(
            model="claude-sonnet-5", max_tokens=2, messages=[{"role": "user", "content": "x"}]
        )


def test_plugin_import_is_cheap() -> None:
    # The package root belongs to the engine and may import the SDK; the plugin must add no server.
    code = (
        "import sys, firsttoken.testing.plugin; "
        "print('uvicorn' in sys.modules, 'firsttoken.testing.emulator' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_plugin_in_a_users_project(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        """
        def test_uses_fixture(anthropic_emulator):
            client = anthropic_emulator.client()
            msg = client.messages.create(
                model="claude-haiku-5-5", max_tokens=3, messages=[{"role": "user", "content": "hi"}]
            )
            assert msg.usage.output_tokens == 3
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=1)


def test_exported_members() -> None:
    import firsttoken.testing.emulator as emulator

    assert set(emulator.__all__) == {
        "Emulator",
        "EmulatorApp",
        "EmulatorConfig",
        "EmulatorProcess",
        "Fault",
        "ModelTiming",
        "RateLimit",
        "create_app",
        "parse_fault",
        "parse_model_profile",
        "parse_rate_limit",
    }


def test_emulator_process_runs_the_cli_in_a_child_process() -> None:
    from firsttoken.testing.emulator import EmulatorProcess

    emulator = EmulatorProcess(time_scale=0, seed=4)
    with emulator:
        assert emulator.pid != os.getpid()
        with anthropic.Anthropic(base_url=emulator.base_url, api_key="t", max_retries=0) as client:
            message = client.messages.create(
                model="claude-haiku-5-5", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
            )
        assert message.usage.output_tokens <= 5
    emulator.stop()  # idempotent
    with pytest.raises(RuntimeError, match="not running"):
        emulator.base_url  # noqa: B018
    with pytest.raises(RuntimeError, match="did not start"):
        EmulatorProcess(extra=("--time-scale", "-1")).start()
