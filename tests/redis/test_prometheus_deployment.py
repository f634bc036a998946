"""One `/metrics` scrape of any worker shows the whole deployment: histograms and counters add up."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families

from firsttoken import Engine

pytestmark = pytest.mark.redis

USER = [{"role": "user", "content": "Why does streaming make a chat feel fast?"}]


def _counts(engine: Engine) -> dict[str, float]:
    families = {f.name: f for f in text_string_to_metric_families(engine.prometheus()[0].decode())}
    duration = families["gen_ai_client_operation_duration_seconds"]
    counts: dict[str, float] = {}
    for sample in duration.samples:
        if sample.name.endswith("_count"):
            profile = sample.labels["firsttoken_profile"]
            counts[profile] = counts.get(profile, 0) + sample.value
    counts["workers"] = families["firsttoken_workers"].samples[0].value
    counts["advice"] = sum(s.value for s in families["firsttoken_advisor_warnings"].samples)
    inf = [
        s.value
        for s in families["gen_ai_client_operation_time_to_first_chunk_seconds"].samples
        if s.name.endswith("_bucket") and s.labels["le"] == "+Inf"
    ]
    counts["first_chunks"] = sum(inf)
    return counts


def test_two_workers_scrape_as_one_deployment(make_engine: Callable[..., Engine]) -> None:
    a, b = make_engine(), make_engine()
    for _ in range(2):
        a.create(messages=USER, profile="fast", max_tokens=64)
    for _ in range(3):
        with b.stream(messages=USER, profile="chat") as s:
            s.text()
    a.advisor.not_cached("fast", "too short")
    b.advisor.not_cached("chat", "too short")
    b.metrics_snapshot()  # B publishes now rather than within the second
    # Every one of the 5 prompts is too short to cache, so the advisor counted each, plus the 2 above.
    expected = {"fast": 2, "chat": 3, "workers": 2, "advice": 7, "first_chunks": 3}
    assert _counts(a) == expected
    # Either worker answers the same scrape.
    assert _counts(b) == expected


def _tool_count(engine: Engine) -> float:
    families = {f.name: f for f in text_string_to_metric_families(engine.prometheus()[0].decode())}
    tools = families["gen_ai_execute_tool_duration_seconds"]
    return sum(s.value for s in tools.samples if s.name.endswith("_count"))


def add(expression: str) -> int:
    """Add two numbers written "a+b".

    Args:
        expression: The sum.
    """
    left, right = expression.split("+")
    return int(left) + int(right)


def test_agent_turns_and_tool_time_add_up_across_workers(make_engine: Callable[..., Engine]) -> None:
    a, b = make_engine(), make_engine()
    for engine in (a, b):
        with engine.stream(messages=[{"role": "user", "content": "What is 2+3?"}], tools=[add]) as turn:
            turn.text()
        assert turn.steps == 2
    a.metrics_snapshot()
    turns = b.metrics_snapshot()["turns"]["chat"]
    assert turns["turns"] == 2 and turns["steps"] == 4 and turns["tool_calls"] == 2
    assert _tool_count(a) == _tool_count(b) == 2
