"""Prompt caching counters across conversations, minimums, TTLs and diagnostics."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from firsttoken.testing.emulator import Emulator

MODEL = "claude-sonnet-5"
BIG = "lorem ipsum dolor sit amet " * 400  # 10,800 chars = 2,700 tokens
CC: Any = {"type": "ephemeral"}


def _system(text: str = BIG, cc: Any = CC) -> Any:
    return [{"type": "text", "text": text, "cache_control": cc}]


def test_second_request_reads_what_the_first_wrote(client: anthropic.Anthropic) -> None:
    msgs: Any = [{"role": "user", "content": "Hello there"}]
    first = client.messages.create(model=MODEL, max_tokens=5, system=_system(), messages=msgs)
    assert first.usage.cache_creation_input_tokens == 2700
    assert first.usage.cache_creation is not None
    assert first.usage.cache_creation.ephemeral_5m_input_tokens == 2700
    assert first.usage.cache_read_input_tokens == 0
    second = client.messages.create(model=MODEL, max_tokens=5, system=_system(), messages=msgs)
    assert second.usage.cache_read_input_tokens == 2700
    assert second.usage.cache_creation_input_tokens == 0
    assert second.usage.input_tokens == first.usage.input_tokens


def test_conversation_moving_breakpoint_hits_earlier_prefix(client: anthropic.Anthropic) -> None:
    turn1: Any = [{"role": "user", "content": [{"type": "text", "text": BIG, "cache_control": CC}]}]
    a = client.messages.create(model=MODEL, max_tokens=20, messages=turn1)
    written = a.usage.cache_creation_input_tokens
    assert written == 2700 + 3
    turn2: Any = [
        {"role": "user", "content": [{"type": "text", "text": BIG}]},
        {"role": "assistant", "content": a.content[0].text},  # type: ignore[union-attr]
        {"role": "user", "content": [{"type": "text", "text": "And then?", "cache_control": CC}]},
    ]
    b = client.messages.create(model=MODEL, max_tokens=20, messages=turn2)
    assert b.usage.cache_read_input_tokens == written
    assert b.usage.cache_creation_input_tokens > 0
    assert b.usage.input_tokens == 0


def test_top_level_cache_control_caches_last_block(client: anthropic.Anthropic) -> None:
    msgs: Any = [{"role": "user", "content": BIG}]
    a = client.messages.create(model=MODEL, max_tokens=5, messages=msgs, cache_control=CC)
    b = client.messages.create(model=MODEL, max_tokens=5, messages=msgs, cache_control=CC)
    assert a.usage.cache_creation_input_tokens == b.usage.cache_read_input_tokens == 2703
    assert b.usage.input_tokens == 0


def test_one_hour_ttl_is_split_out(client: anthropic.Anthropic) -> None:
    msgs: Any = [{"role": "user", "content": "hi"}]
    a = client.messages.create(
        model=MODEL, max_tokens=5, system=_system(cc={"type": "ephemeral", "ttl": "1h"}), messages=msgs
    )
    assert a.usage.cache_creation is not None
    assert a.usage.cache_creation.ephemeral_1h_input_tokens == 2700
    assert a.usage.cache_creation.ephemeral_5m_input_tokens == 0


def test_below_minimum_is_not_cached(client: anthropic.Anthropic) -> None:
    msgs: Any = [{"role": "user", "content": "hi"}]
    small = _system("short system prompt " * 100)  # 500 tokens < sonnet's 1024
    for _ in range(2):
        m = client.messages.create(model=MODEL, max_tokens=5, system=small, messages=msgs)
        assert m.usage.cache_creation_input_tokens == 0
        assert m.usage.cache_read_input_tokens == 0
    # 1,500 tokens: above sonnet's 1,024 minimum, below haiku's 2,048.
    mid = _system("x" * 6000)
    h = client.messages.create(model="claude-haiku-5-5", max_tokens=5, system=mid, messages=msgs)
    assert h.usage.cache_creation_input_tokens == 0
    s = client.messages.create(model=MODEL, max_tokens=5, system=mid, messages=msgs)
    assert s.usage.cache_creation_input_tokens == 1500


def test_cache_is_per_model(client: anthropic.Anthropic) -> None:
    msgs: Any = [{"role": "user", "content": "hi"}]
    client.messages.create(model=MODEL, max_tokens=5, system=_system(), messages=msgs)
    other = client.messages.create(model="claude-opus-5", max_tokens=5, system=_system(), messages=msgs)
    assert other.usage.cache_read_input_tokens == 0


def test_ttl_expiry_with_injected_clock() -> None:
    now = [1000.0]
    msgs: Any = [{"role": "user", "content": "hi"}]
    with (
        Emulator(time_scale=0.0, clock=lambda: now[0]) as emu,
        anthropic.Anthropic(base_url=emu.base_url, api_key="t", max_retries=0) as c,
    ):
        c.messages.create(model=MODEL, max_tokens=5, system=_system(), messages=msgs)
        now[0] += 299
        hit = c.messages.create(model=MODEL, max_tokens=5, system=_system(), messages=msgs)
        assert hit.usage.cache_read_input_tokens == 2700
        now[0] += 299  # the hit refreshed the TTL, so this is still inside 5 minutes
        assert c.messages.create(
            model=MODEL, max_tokens=5, system=_system(), messages=msgs
        ).usage.cache_read_input_tokens
        now[0] += 301
        miss = c.messages.create(model=MODEL, max_tokens=5, system=_system(), messages=msgs)
        assert miss.usage.cache_read_input_tokens == 0
        assert miss.usage.cache_creation_input_tokens == 2700


def test_prewarm_with_max_tokens_zero(client: anthropic.Anthropic) -> None:
    msgs: Any = [{"role": "user", "content": "hi"}]
    warm = client.messages.create(model=MODEL, max_tokens=0, system=_system(), messages=msgs)
    assert warm.content == []
    assert warm.usage.output_tokens == 0
    assert warm.stop_reason == "max_tokens"
    assert warm.usage.cache_creation_input_tokens == 2700
    real = client.messages.create(model=MODEL, max_tokens=50, system=_system(), messages=msgs)
    assert real.usage.cache_read_input_tokens == 2700


def test_stats_count_cache_tokens(client: anthropic.Anthropic, emu: Emulator) -> None:
    msgs: Any = [{"role": "user", "content": "hi"}]
    for _ in range(2):
        client.messages.create(model=MODEL, max_tokens=5, system=_system(), messages=msgs)
    stats = emu.stats()
    assert stats["cache_creation_input_tokens"] == 2700
    assert stats["cache_read_input_tokens"] == 2700


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"model": "claude-opus-5"}, "model_changed"),
        ({"system": "other system"}, "system_changed"),
        ({"tools": [{"name": "t", "input_schema": {"type": "object"}}]}, "tools_changed"),
        ({"messages": [{"role": "user", "content": "different"}]}, "messages_changed"),
        ({}, None),
    ],
)
def test_diagnostics_cache_miss_reason(
    client: anthropic.Anthropic, change: dict[str, Any], reason: str | None
) -> None:
    base: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 5,
        "system": BIG,
        "messages": [{"role": "user", "content": "hi"}],
    }
    first = client.messages.create(**base)
    second = client.messages.create(**{**base, **change}, diagnostics={"previous_message_id": first.id})
    if reason is None:
        assert second.diagnostics is None
    else:
        assert second.diagnostics is not None
        assert second.diagnostics.cache_miss_reason is not None
        assert second.diagnostics.cache_miss_reason.type == reason
    with client.messages.stream(
        **{**base, **change}, diagnostics={"previous_message_id": "msg_unknown"}
    ) as s:
        streamed = s.get_final_message()
    assert streamed.diagnostics is not None
    assert streamed.diagnostics.cache_miss_reason is not None
    assert streamed.diagnostics.cache_miss_reason.type == "previous_message_not_found"


def test_a_reshaped_request_draws_the_same_answer(client: anthropic.Anthropic) -> None:
    """A caching policy turns a string into a marked block; the answer must not change with it."""
    plain = client.messages.create(
        model="claude-sonnet-5-5",
        max_tokens=200,
        system="You answer questions about latency.",
        messages=[{"role": "user", "content": "Why stream?"}],
    )
    marked = client.messages.create(
        model="claude-sonnet-5-5",
        max_tokens=200,
        system=[
            {
                "type": "text",
                "text": "You answer questions about latency.",
                "cache_control": {"type": "ephemeral"},
            }
        ],
        messages=[{"role": "user", "content": [{"type": "text", "text": "Why stream?"}]}],
        cache_control={"type": "ephemeral"},
    )
    assert [b.model_dump() for b in plain.content] == [b.model_dump() for b in marked.content]
    other = client.messages.create(
        model="claude-sonnet-5-5",
        max_tokens=200,
        system="You answer questions about latency.",
        messages=[{"role": "user", "content": "Why cache?"}],
    )
    assert [b.model_dump() for b in other.content] != [b.model_dump() for b in plain.content]
