"""`manage.py firsttoken_check` and `firsttoken_bench` against the emulator."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

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
