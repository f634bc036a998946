"""`manage.py firsttoken_check` and `firsttoken_bench` against the emulator."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.e2e.servers import ROOT
from tests.upstream import billable


def test_check_reaches_the_upstream(settings, anthropic_emulator):
    settings.FIRSTTOKEN = {"BASE_URL": anthropic_emulator.base_url, "API_KEY": "sk-ant-hidden-key"}
    out = io.StringIO()
    call_command("firsttoken_check", stdout=out)
    assert out.getvalue().startswith("OK:")
    assert "sk-ant-hidden-key" not in out.getvalue()
    assert billable(anthropic_emulator.stats()) == 1


def test_check_fails_with_a_clear_message(settings, anthropic_emulator):
    settings.FIRSTTOKEN = {"BASE_URL": "http://127.0.0.1:9", "API_KEY": "sk-ant-hidden-key", "MAX_RETRIES": 0}
    with pytest.raises(CommandError, match=r"could not reach the endpoint at http://127\.0\.0\.1:9") as info:
        call_command("firsttoken_check", stdout=io.StringIO())
    assert "sk-ant-hidden-key" not in str(info.value)
    settings.FIRSTTOKEN = {"BASE_URL": anthropic_emulator.base_url, "MAX_RETRIES": 0}
    anthropic_emulator.set_faults(["overloaded"])
    with pytest.raises(CommandError, match="HTTP 529"):
        call_command("firsttoken_check", stdout=io.StringIO())


def test_bench_reports_each_profile_as_json(settings, anthropic_emulator):
    settings.FIRSTTOKEN = {"BASE_URL": anthropic_emulator.base_url}
    out = io.StringIO()
    call_command("firsttoken_bench", "--json", "--requests", "3", "--max-tokens", "16", stdout=out)
    report = json.loads(out.getvalue())
    assert report["upstream"]["kind"] == "base_url"
    by_profile = {r["profile"]: r for r in report["profiles"]}
    assert set(by_profile) == {"fast", "chat", "deep"}
    for result in by_profile.values():
        assert result["ok"] == 3
        assert result["ttft_p50_ms"] <= result["ttft_p95_ms"]
        assert result["model"].startswith("claude-")


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "FIRSTTOKEN_", "PYTEST_"))}
    return subprocess.run(
        [sys.executable, "-m", "django", *args, "--settings", "example_projects.django_chat.settings"],
        cwd=ROOT, env={**kept, "PYTHONPATH": str(ROOT), **env},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_check_in_a_terminal_says_each_thing_once() -> None:
    # Regression (issue 28): the "no key" notice twice (the command rebuilds its engine), and the
    # advisor's note on the command's own probe prompt.
    done = _manage("firsttoken_check", FIRSTTOKEN_DEVELOPMENT="1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("OK: the embedded firsttoken emulator")
    assert done.stderr.count("no ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL set") == 1, done.stderr
    assert "prompt not cached" not in done.stderr


def test_check_in_a_terminal_fails_in_one_line() -> None:
    done = _manage(
        "firsttoken_check",
        ANTHROPIC_BASE_URL="http://127.0.0.1:9",
        ANTHROPIC_API_KEY="sk-ant-hidden-key",
        FIRSTTOKEN_MAX_RETRIES="0",
    )
    assert done.returncode == 1
    # Before it, the system checks' own report (W003: MAX_RETRIES 0), in Django's format.
    assert "Traceback" not in done.stderr
    last = done.stderr.splitlines()[-1]
    assert last == "CommandError: could not reach the endpoint at http://127.0.0.1:9: APIConnectionError"
    assert "sk-ant-hidden-key" not in done.stdout + done.stderr
