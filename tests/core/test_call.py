"""A call is parsed once (`_call.py`): one typed, immutable `Call` that everything after reads."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

import firsttoken
from firsttoken import Engine, Settings, tool
from firsttoken._call import CallBuilder
from firsttoken._observers import CallOutcome

from .conftest import USER


def clock() -> str:
    """The time."""
    return "noon"


def test_a_built_call_cannot_be_changed() -> None:
    call = CallBuilder(Settings()).build("chat", {"messages": USER, "max_tokens": 40})
    with pytest.raises(AttributeError):
        call.profile = "fast"  # type: ignore[misc]
    with pytest.raises(TypeError):
        call.params["max_tokens"] = 1  # type: ignore[index]


def test_overrides_api_arguments_and_the_tenant_are_told_apart_once() -> None:
    given: dict[str, Any] = {
        "messages": USER,
        "max_tokens": 40,
        "fallbacks": ["claude-haiku-5-5"],
        "queue_timeout": 0.5,
        "metadata": {"user_id": "u1"},
        "tenant": "acme",
    }
    call = CallBuilder(Settings()).build("chat", given, route="support")
    assert given["fallbacks"] == ["claude-haiku-5-5"]  # the caller's arguments are left as they were
    assert call.options.max_tokens == 40
    assert call.options.fallbacks == ("claude-haiku-5-5",)
    assert call.options.queue_timeout == 0.5
    assert call.params["max_tokens"] == 40
    assert call.params["metadata"] == {"user_id": "u1"}
    # Only the Messages API's own arguments are sent; the tenant keys the response cache.
    assert not {"fallbacks", "queue_timeout", "tenant"} & set(call.params)
    assert (call.tenant, call.route, call.tools) == ("acme", "support", {})


def test_tools_the_server_runs_become_definitions_and_an_agent_turn() -> None:
    call = CallBuilder(Settings()).build(None, {"messages": USER, "tools": [clock], "max_steps": 2})
    assert list(call.tools) == ["clock"]
    assert [t["name"] for t in call.params["tools"]] == ["clock"]
    assert call.options.max_steps == 2
    step = call.step([*USER, {"role": "assistant", "content": "..."}])
    assert step.tools == {} and step.params["tools"] == call.params["tools"]
    assert len(step.messages) == 2 and len(call.messages) == 1


def test_a_one_shot_call_refuses_tools_the_server_runs() -> None:
    with pytest.raises(TypeError, match="need an agent turn"):
        CallBuilder(Settings()).build(None, {"messages": USER, "tools": [tool(clock)]}, runs_tools=False)


def test_a_call_without_messages_or_with_a_bad_override_fails_where_it_is_built() -> None:
    builder = CallBuilder(Settings())
    with pytest.raises(TypeError, match="needs messages"):
        builder.build(None, {"max_tokens": 10})
    with pytest.raises(Exception, match="on_rate_limit"):
        builder.build(None, {"messages": USER, "on_rate_limit": "sometimes"})


def test_no_public_signature_has_a_private_parameter() -> None:
    for name in firsttoken.__all__:
        exported = getattr(firsttoken, name)
        members = inspect.getmembers(exported, callable) if inspect.isclass(exported) else [(name, exported)]
        for member_name, member in members:
            if member_name.startswith("_") and member_name != "__init__":
                continue
            try:
                parameters = inspect.signature(member).parameters
            except (TypeError, ValueError):
                continue
            private = [p for p in parameters if p.startswith("_")]
            assert not private, f"{name}.{member_name} takes {private}"


def test_observers_see_the_call_with_its_overrides(engine: Engine) -> None:
    seen: list[CallOutcome] = []
    engine.on_finished.append(seen.append)
    engine.create(messages=USER, profile="fast", max_tokens=8, fallbacks=["claude-sonnet-5-5"])
    with engine.stream(messages=USER, profile="chat", max_tokens=8) as stream:
        stream.text()
    one_shot, streamed = seen
    assert (one_shot.profile, one_shot.call.options.fallbacks) == ("fast", ("claude-sonnet-5-5",))
    assert one_shot.params["max_tokens"] == 8 and one_shot.record.streamed is False
    assert streamed.profile == "chat" and streamed.record.streamed is True
    assert streamed.message is not None and streamed.message().content


def test_route_labels_the_routed_call_without_a_private_argument(engine: Engine) -> None:
    seen: list[CallOutcome] = []
    engine.on_finished.append(seen.append)
    engine.route(
        "refund please",
        routes={"billing": "fast", "other": "chat"},
        default="other",
        stream=False,
        max_tokens=8,
    )
    routed = seen[-1]
    assert routed.call.route in ("billing", "other")
    assert routed.record.route == routed.call.route
