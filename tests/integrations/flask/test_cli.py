"""`flask firsttoken check` and `flask firsttoken bench`, run as a user would: the `flask` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from firsttoken.testing.emulator import Emulator
from tests.e2e.servers import ROOT

SECRET = "sk-ant-cli-test-secret-never-printed"


def flask_cli(emulator: Emulator, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "FLASK_APP": "example_projects.flask_chat:create_app",
        "ANTHROPIC_BASE_URL": emulator.base_url,
        "ANTHROPIC_API_KEY": SECRET,
        "FIRSTTOKEN_MAX_RETRIES": "0",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "flask", "firsttoken", *args],
        cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_check_reaches_every_profile(emulator: Emulator) -> None:
    result = flask_cli(emulator, "check")
    assert result.returncode == 0, result.stderr
    assert f"the endpoint at {emulator.base_url}" in result.stdout
    for profile in ("fast", "chat", "deep"):
        assert f"ok   {profile} (claude-" in result.stdout
    assert SECRET not in result.stdout + result.stderr


def test_check_fails_clearly_when_the_upstream_refuses(emulator: Emulator) -> None:
    emulator.set_faults(["overloaded"])
    try:
        result = flask_cli(emulator, "check", "--profile", "fast")
    finally:
        emulator.set_faults([])
    assert result.returncode == 1
    assert "FAIL fast (claude-haiku-" in result.stderr
    assert "OverloadedError: HTTP 529" in result.stderr
    assert "could not reach the upstream" in result.stderr
    assert SECRET not in result.stdout + result.stderr


def test_check_reports_what_the_settings_review_finds(emulator: Emulator) -> None:
    result = flask_cli(emulator, "check", FIRSTTOKEN_PROFILES='{"fast": {"model": "gpt-4"}}')
    assert result.returncode == 1
    assert "E003: FIRSTTOKEN_PROFILES['fast'] names the model 'gpt-4'" in result.stderr
    assert "ok   " not in result.stdout  # no call is made with settings that cannot work


def test_check_names_a_bad_setting(emulator: Emulator) -> None:
    result = flask_cli(emulator, "check", FIRSTTOKEN_TIMEOUT="-5")
    assert result.returncode != 0
    assert "FIRSTTOKEN_TIMEOUT" in result.stderr


def test_a_production_app_without_a_key_does_not_start() -> None:
    # Fail closed at start-up: the app factory raises naming the variable (E005 is Django's
    # `manage.py check` saying the same before a server starts).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "PYTEST_", "FIRSTTOKEN_"))}
    result = subprocess.run(
        [sys.executable, "-m", "flask", "firsttoken", "check"],
        cwd=ROOT, env={**env, "FLASK_APP": "example_projects.flask_chat:create_app"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    # One line, as the flask command's own errors (issue 28: a 38-line traceback through Flask's
    # app loading).
    (line,) = result.stderr.splitlines()
    assert line.startswith(
        "Error: firsttoken: ANTHROPIC_API_KEY: not set (nor ANTHROPIC_BASE_URL), and this is not a"
    )
    assert "FIRSTTOKEN_DEVELOPMENT=1" in line


def test_check_in_development_gives_no_advice_on_its_own_probes() -> None:
    # The one-token "ping" per profile is the check's: "prompt not cached" and "Opus for a 1-token
    # answer" would be advice on nothing the app does.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "PYTEST_", "FIRSTTOKEN_"))}
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--debug", "firsttoken", "check", "--profile", "deep"],
        cwd=ROOT, env={**env, "FLASK_APP": "example_projects.flask_chat:create_app"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "ok   deep (claude-" in result.stdout
    assert "prompt not cached" not in result.stderr and "1-token answer" not in result.stderr
    assert result.stderr.count("no ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL set") == 1


def test_bench_json(emulator: Emulator) -> None:
    result = flask_cli(
        emulator, "bench", "-n", "4", "-c", "2", "--profile", "fast", "--max-tokens", "20", "--json"
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["upstream"]["kind"] == "base_url"
    (row,) = report["results"]
    assert row["profile"] == "fast"
    assert row["requests"] == 4
    assert row["errors"] == 0
    assert 0 < row["ttft_p50_ms"] <= row["ttft_p95_ms"]
    assert row["tps_p50"] > 0


def test_bench_table(emulator: Emulator) -> None:
    result = flask_cli(
        emulator, "bench", "-n", "2", "--profile", "fast", "--profile", "chat", "--max-tokens", "10"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].split()[:4] == ["profile", "model", "n", "errors"]
    assert lines[3].split()[:4] == ["fast", "claude-haiku-5-5", "2", "0"]
    assert lines[4].split()[0] == "chat"
