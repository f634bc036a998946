"""Generated bodies thrown at each example's `POST /api/chat` on its real server: never a 500, and
never a request upstream for a body the server refused (the emulator's count says so)."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import RunningExample
from .test_hardening import upstream_requests

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)
roles = st.sampled_from(["user", "assistant", "system", "tool"])
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {
            "messages": st.lists(
                st.fixed_dictionaries({"role": roles, "content": st.text(max_size=20) | json_values}),
                max_size=4,
            )
        },
        optional={"profile": st.sampled_from(["chat", "fast", "deep", "nope"])},
    ).map(lambda v: json.dumps(v).encode()),
    st.integers(10, 5000).map(lambda depth: b"[" * depth + b"]" * depth),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    raw=bodies,
    query=st.sampled_from(["", "?protocol=ai-sdk", "?protocol=x", "?protocol=sse&protocol=ai-sdk"]),
    content_type=st.sampled_from(["application/json", "text/plain", ""]),
)
def test_generated_bodies_never_500_and_never_go_upstream_when_refused(
    example: RunningExample, raw: bytes, query: str, content_type: str
) -> None:
    before = upstream_requests(example)
    headers = {"Content-Type": content_type} if content_type else {}
    response = example.client.post(f"/api/chat{query}", content=raw, headers=headers)
    assert response.status_code < 500, response.text
    if response.status_code != 200:
        assert "error" in response.json()
        assert upstream_requests(example) == before
