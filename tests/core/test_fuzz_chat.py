"""Generated bodies thrown at the chat parser: only ever a `Refused` (a 4xx with a reason) or a
request that is safe to send: never another exception, which a server would answer with a 500."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firsttoken import ChatRequest, Limits, Refused, Settings, accept_chat, refusal
from firsttoken._state.client_budgets import MemoryClientBudgets

LIMITS = Limits(Settings(max_body_bytes=64 * 1024), MemoryClientBudgets())

# Any JSON value, surrogates and deep nesting included (`st.text()` draws lone surrogates).
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)
roles = st.sampled_from(["user", "assistant", "system", "tool", "", "USER"]) | st.text(max_size=5)
messages = st.lists(
    st.fixed_dictionaries(
        {"role": roles, "content": st.text(max_size=40) | json_values},
        optional={"parts": st.lists(st.fixed_dictionaries({"type": st.just("text"), "text": st.text()}))},
    ),
    max_size=6,
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {"messages": messages | json_values},
        optional={"profile": st.sampled_from(["chat", "fast", "deep", "agent"]) | json_values},
    ).map(lambda v: json.dumps(v).encode()),
    st.integers(1, 3000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.integers(1, 3000).map(lambda depth: b'{"a":' * depth + b"0" + b"}" * depth),
)


def check(raw: bytes, protocols: list[str], content_type: str | None) -> None:
    try:
        chat, tokens = accept_chat(LIMITS, raw, content_type=content_type, protocols=protocols)
    except Refused as exc:
        start = refusal(exc)
        assert 400 <= start.status < 500
        assert json.loads(start.body or b"")["error"]
        return
    assert isinstance(chat, ChatRequest) and tokens > 0
    # What goes upstream is text a UTF-8 encoder can send, from the browser's two roles only.
    json.dumps(chat.messages, ensure_ascii=False).encode("utf-8")
    assert {m["role"] for m in chat.messages} <= {"user", "assistant"}
    assert chat.system is None
    assert chat.profile is None or chat.profile in LIMITS.settings.browser_profile_names()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=bodies,
    protocols=st.lists(st.sampled_from(["ai-sdk", "sse", "", "x"]), max_size=2),
    content_type=st.sampled_from(["application/json", "text/plain", None, "application/json; charset=utf-8"]),
)
def test_any_body_is_refused_or_safe(raw: bytes, protocols: list[str], content_type: str | None) -> None:
    check(raw, protocols, content_type)


@settings(max_examples=200, deadline=None)
@given(ui=st.lists(st.fixed_dictionaries({"role": roles, "parts": json_values}), max_size=5))
def test_any_ai_sdk_body_is_refused_or_safe(ui: Any) -> None:
    check(json.dumps({"messages": ui}).encode(), ["ai-sdk"], "application/json")
