"""The one latency bench the three CLIs share: measured rows, one report shape, one table."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from firsttoken import Engine, run_latency_bench
from firsttoken.cli import main
from firsttoken.testing.emulator import Emulator


def test_rows_per_profile(engine: Engine) -> None:
    report = run_latency_bench(engine, profiles=["fast", "chat"], requests=3, concurrency=2, max_tokens=8)
    assert [row.profile for row in report.rows] == ["fast", "chat"]
    for row in report.rows:
        assert (row.requests, row.ok, row.errors, row.error_types) == (3, 3, 0, [])
        assert row.ttft_p50_ms is not None and row.ttft_p95_ms is not None
        assert 0 < row.ttft_p50_ms <= row.ttft_p95_ms
    data = report.as_dict()
    assert data["upstream"]["kind"] == "base_url"
    assert [r["profile"] for r in data["results"]] == ["fast", "chat"]
    lines = report.table().splitlines()
    assert lines[1].split()[:4] == ["profile", "model", "n", "errors"]
    assert lines[3].split()[:4] == ["fast", engine.profile("fast").model, "3", "0"]


def test_failures_are_counted_by_type(engine: Engine, emulator: Emulator) -> None:
    emulator.set_faults(["overloaded"])
    try:
        (row,) = run_latency_bench(engine, profiles=["fast"], requests=2, concurrency=1, max_tokens=4).rows
    finally:
        emulator.set_faults([])
    assert (row.ok, row.errors, row.error_types) == (0, 2, ["OverloadedError"])
    assert row.ttft_p50_ms is None


def test_unknown_profile_fails_before_any_request(engine: Engine, emulator: Emulator) -> None:
    before = emulator.stats()["requests_total"]
    with pytest.raises(KeyError, match="unknown profile 'nope'"):
        run_latency_bench(engine, profiles=["nope"])
    assert emulator.stats()["requests_total"] == before


def test_the_cli_prints_the_shared_report(emulator: Emulator) -> None:
    env = {"ANTHROPIC_BASE_URL": emulator.base_url, "FIRSTTOKEN_MAX_RETRIES": "0"}
    args = ["bench", "-n", "2", "-c", "1", "--max-tokens", "8", "--profile", "fast", "--json"]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)["results"]
    assert (row["profile"], row["requests"], row["errors"]) == ("fast", 2, 0)
