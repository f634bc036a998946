"""Every content block kind, end to end: the emulator streams it, the official SDK (strict response
validation) accepts it, the engine types it, every wire format carries it, and what the browser
gets back goes upstream again as the API's blocks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

import firsttoken
from firsttoken import Engine, Settings, SettingsError, parse_chat_request
from firsttoken.testing.emulator import Emulator
from tests.tools import WEATHER

NEW = "claude-sonnet-5-5"
OLD = "claude-haiku-4-5"
ASK = [{"role": "user", "content": "What is the weather in Paris? Use get_weather."}]
HELLO = [{"role": "user", "content": "Explain why streaming makes a chat feel fast."}]


@pytest.fixture(scope="module")
def strict(emulator: Emulator) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=emulator.base_url, api_key="test", max_retries=0, _strict_response_validation=True
    ) as client:
        yield client


def kinds(events: list[Any]) -> list[str]:
    names: list[str] = []
    for event in events:
        name = type(event).__name__
        if not names or names[-1] != name:
            names.append(name)
    return names


# -- the emulator, read by the official SDK ------------------------------------------------------

DOCUMENT = {
    "type": "document",
    "source": {"type": "text", "media_type": "text/plain", "data": "The sky is blue. Grass is green."},
    "title": "Colours",
    "citations": {"enabled": True},
}
STREAMS: dict[str, dict[str, Any]] = {
    "adaptive summarized": {"model": NEW, "thinking": {"type": "adaptive", "display": "summarized"}},
    "adaptive omitted": {"model": NEW, "thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}},
    "budget": {"model": OLD, "max_tokens": 4000, "thinking": {"type": "enabled", "budget_tokens": 2048}},
    "tool": {"model": NEW, "tools": [WEATHER], "messages": ASK},
    "thinking and tool": {
        "model": NEW,
        "tools": [WEATHER],
        "messages": ASK,
        "thinking": {"type": "adaptive", "display": "summarized"},
    },
    "citations": {
        "model": NEW,
        "messages": [
            {"role": "user", "content": [DOCUMENT, {"type": "text", "text": "What colour is the sky?"}]}
        ],
    },
    "web search": {"model": NEW, "tools": [{"type": "web_search_20250305", "name": "web_search"}]},
    "refusal": {"model": NEW, "extra_headers": {"x-emulator-fault": "refusal"}},
}


@pytest.mark.parametrize("case", list(STREAMS))
def test_the_sdk_with_strict_validation_accepts_every_stream(strict: anthropic.Anthropic, case: str) -> None:
    call = {"max_tokens": 1024, "messages": HELLO, **STREAMS[case]}
    with strict.messages.stream(**call) as stream:
        events = list(stream)
        final = stream.get_final_message()
    streamed = strict.messages.create(**call)
    assert [b.type for b in final.content] == [b.type for b in streamed.content]
    assert final.usage.output_tokens == streamed.usage.output_tokens
    types = {e.type for e in events}
    blocks = [b.type for b in final.content]
    if "thinking" in case or case.startswith("adaptive") or case == "budget":
        thinking = final.content[0]
        assert thinking.type == "thinking" and thinking.signature
        shown = "summarized" in case or case in ("budget", "thinking and tool")
        assert bool(thinking.thinking) is shown
        assert ("thinking" in types) is shown
    if "tool" in case:
        call_block = final.content[-1]
        assert call_block.type == "tool_use" and set(call_block.input) == {"location", "unit"}
        fragments = [e for e in events if e.type == "input_json"]
        assert len(fragments) >= 3  # eager input streaming: small fragments, invalid JSON alone
        assert any(_invalid_json(e.partial_json) for e in fragments)
        assert final.stop_reason == "tool_use"
    if case == "citations":
        cited = [b for b in final.content if b.type == "text" and b.citations]
        assert cited and cited[0].citations[0].cited_text == "The sky is blue."  # type: ignore[index]
    if case == "web search":
        assert blocks[:2] == ["server_tool_use", "web_search_tool_result"]
    if case == "refusal":
        assert final.stop_reason == "refusal"
        assert final.stop_details is not None and final.stop_details.type == "refusal"


def _invalid_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return True
    return False


def test_prefill_is_a_400_on_new_models_only(strict: anthropic.Anthropic) -> None:
    prefilled = [*HELLO, {"role": "assistant", "content": "Streaming"}]
    with pytest.raises(anthropic.BadRequestError, match="does not support assistant message prefill"):
        strict.messages.create(model=NEW, max_tokens=20, messages=prefilled)
    assert strict.messages.create(model=OLD, max_tokens=20, messages=prefilled).content


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ({"model": OLD, "thinking": {"type": "adaptive"}}, "adaptive thinking is not supported"),
        ({"model": OLD, "thinking": {"type": "enabled", "budget_tokens": 2048}}, "must be greater than"),
        ({"model": NEW, "thinking": {"type": "adaptive", "display": "full"}}, "thinking.display"),
    ],
)
def test_thinking_configs_the_api_refuses(
    strict: anthropic.Anthropic, call: dict[str, Any], message: str
) -> None:
    with pytest.raises(anthropic.BadRequestError, match=message):
        strict.messages.create(max_tokens=1024, messages=HELLO, **call)


def test_classification_prompt_answers_one_of_its_labels(strict: anthropic.Anthropic) -> None:
    system = "Classify the intent. Reply with exactly one word: search, create, update, delete."
    for text, expected in (("Please delete my account", "delete"), ("Hello there", None)):
        msg = strict.messages.create(
            model="claude-haiku-4-5",
            max_tokens=10,
            system=system,
            messages=[{"role": "user", "content": text}],
        )
        label = msg.content[0].text  # type: ignore[union-attr]
        assert label in ("search", "create", "update", "delete")
        assert expected is None or label == expected


# -- the engine's typed events, and sending a turn back -----------------------------------------


def test_typed_events_cover_thinking_and_tool_calls(engine: Engine) -> None:
    with engine.stream(
        messages=ASK, tools=[WEATHER], thinking="adaptive", thinking_display="summarized"
    ) as stream:
        events = list(stream.typed_events())
        message = stream.message
    assert kinds(events) == [
        "ThinkingStart",
        "ThinkingDelta",
        "ThinkingEnd",
        "TextDelta",
        "ToolInputStart",
        "ToolInputDelta",
        "ToolCall",
        "Finished",
    ]
    end = next(e for e in events if isinstance(e, firsttoken.ThinkingEnd))
    assert end.thinking == "".join(e.text for e in events if isinstance(e, firsttoken.ThinkingDelta))
    assert end.signature == message.content[0].signature  # type: ignore[union-attr]
    call = next(e for e in events if isinstance(e, firsttoken.ToolCall))
    assert call.input == message.content[-1].input and not call.server  # type: ignore[union-attr]
    assert events[-1] == firsttoken.Finished("tool_use", None)

    # The next turn: the thinking block goes back unchanged with the call and its result.
    follow = [
        *ASK,
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in message.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18C, sunny"}],
        },
    ]
    with engine.stream(messages=follow, tools=[WEATHER], thinking="adaptive") as again:
        assert again.text()
    # Edited thinking (or a dropped signature) is the API's 400.
    edited = json.loads(json.dumps(follow))
    edited[1]["content"][0]["thinking"] += " (edited)"
    with pytest.raises(anthropic.BadRequestError, match="Invalid `signature`"):
        engine.create(messages=edited, tools=[WEATHER], thinking="adaptive")
    unanswered = [*follow[:2], {"role": "user", "content": "and tomorrow?"}]
    with pytest.raises(anthropic.BadRequestError, match="without `tool_result`"):
        engine.create(messages=unanswered, tools=[WEATHER])


def test_text_iterator_is_unchanged_by_other_blocks(engine: Engine) -> None:
    with engine.stream(messages=ASK, tools=[WEATHER], thinking="high", thinking_display="summarized") as s:
        text = "".join(s)
        blocks = [b.type for b in s.message.content]
    assert blocks == ["thinking", "text", "tool_use"]
    assert text == s.message.content[1].text  # type: ignore[union-attr]


def test_refusal_details_reach_the_stream_and_the_done_event(engine: Engine) -> None:
    refusal = {"extra_headers": {"x-emulator-fault": "refusal"}}
    with engine.stream(messages=HELLO, **refusal) as s:
        events = list(s.typed_events())
    assert events[-1].stop_reason == "refusal"  # type: ignore[union-attr]
    assert events[-1].stop_details["category"] == "general_harms"  # type: ignore[union-attr, index]
    relay = engine.relay(messages=HELLO, **refusal)
    assert relay.open().status == 200
    done = json.loads(b"".join(relay).decode().split("event: done\ndata: ")[1])
    assert done["stop_reason"] == "refusal" and done["stop_details"]["type"] == "refusal"


# -- profiles --------------------------------------------------------------------------------------


def profile_settings(emulator: Emulator, **chat: Any) -> Settings:
    return Settings.from_mapping(
        {"base_url": emulator.base_url, "max_retries": 0, "profiles": {"chat": chat}}
    )


def test_profile_thinking_becomes_the_api_arguments(emulator: Emulator) -> None:
    with Engine(profile_settings(emulator, thinking="medium", thinking_display="summarized")) as engine:
        _, params = engine.prepare(messages=HELLO)
        assert params["thinking"] == {"type": "adaptive", "display": "summarized"}
        assert params["output_config"] == {"effort": "medium"}
        _, params = engine.prepare(messages=HELLO, thinking="off")
        assert "thinking" not in params
        _, old = engine.prepare(messages=HELLO, model=OLD, thinking=2048, max_tokens=4096)
        assert old["thinking"] == {"type": "enabled", "budget_tokens": 2048, "display": "summarized"}
        with engine.stream(messages=HELLO) as s:
            assert s.text() and s.message.content[0].type == "thinking"


@pytest.mark.parametrize(
    ("chat", "key", "words"),
    [
        ({"thinking": "deep"}, "thinking", "must be 'off'"),
        ({"thinking": 4096}, "thinking", "deprecated on Claude 4.6"),
        ({"model": OLD, "thinking": "adaptive"}, "thinking", "give a token budget"),
        ({"model": OLD, "thinking": 512}, "thinking", "at least 1024"),
        (
            {"thinking": "adaptive", "thinking_display": "full"},
            "thinking_display",
            "'omitted' or 'summarized'",
        ),
        (
            {"fallbacks": ["claude-haiku-5-5"], "continue_on_fallback": True},
            "continue_on_fallback",
            "refuse assistant prefill",
        ),
    ],
)
def test_bad_thinking_settings_fail_at_start_up_naming_the_key(
    emulator: Emulator, chat: dict[str, Any], key: str, words: str
) -> None:
    with pytest.raises(SettingsError) as info:
        profile_settings(emulator, **chat)
    assert key in info.value.key and words in info.value.message


def test_a_bad_per_call_thinking_override_names_the_field(engine: Engine) -> None:
    with pytest.raises(SettingsError, match="thinking"):
        engine.stream(messages=HELLO, thinking="lots")


def test_continuation_without_prefill_is_refused_per_call_too(engine: Engine) -> None:
    with pytest.raises(SettingsError, match="refuse assistant prefill"):
        engine.stream(messages=HELLO, fallbacks=["claude-haiku-5-5"], continue_on_fallback=True)


# -- every wire format ---------------------------------------------------------------------------


def relay_body(engine: Engine, format: str, **call: Any) -> str:
    relay = engine.relay(format=format, messages=ASK, tools=[WEATHER], **call)
    assert relay.open().status == 200
    return b"".join(relay).decode()


THINK = {"thinking": "adaptive", "thinking_display": "summarized"}


def sse_events(body: str) -> list[tuple[str, Any]]:
    out = []
    for block in body.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if "event" in lines:
            out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_sse_carries_thinking_tool_input_and_tool_call(engine: Engine) -> None:
    events = sse_events(relay_body(engine, "sse", **THINK))
    names = [n for n, _ in events]
    first = {n: names.index(n) for n in reversed(names)}
    assert first["thinking"] < first["token"] < first["tool_input"] < first["tool_call"] < first["done"]
    inputs = [d for n, d in events if n == "tool_input"]
    call = next(d for n, d in events if n == "tool_call")
    assert json.loads("".join(d["delta"] for d in inputs)) == call["input"]
    assert {d["id"] for d in inputs} == {call["id"]} and call["name"] == "get_weather"
    assert events[-1][1]["stop_reason"] == "tool_use" and "stop_details" not in events[-1][1]


def test_ndjson_carries_the_same_objects(engine: Engine) -> None:
    lines = [json.loads(line) for line in relay_body(engine, "ndjson", **THINK).splitlines()]
    types = [line["type"] for line in lines]
    assert {"thinking", "token", "tool_input", "tool_call", "done"} <= set(types)
    call = next(line for line in lines if line["type"] == "tool_call")
    assert set(call) == {"type", "id", "name", "input"}


def test_plain_text_leaves_thinking_and_tools_out(engine: Engine) -> None:
    body = relay_body(engine, "text", **THINK)
    with engine.stream(messages=ASK, tools=[WEATHER], **THINK) as s:
        assert body == s.text()


def test_ai_sdk_parts_for_reasoning_tools_and_sources(engine: Engine) -> None:
    body = relay_body(engine, "ai-sdk", **THINK)
    parts = [json.loads(line[6:]) for line in body.split("\n\n") if line.startswith("data: {")]
    types = [p["type"] for p in parts]
    assert types[:3] == ["start", "start-step", "reasoning-start"]
    end = next(p for p in parts if p["type"] == "reasoning-end")
    assert end["providerMetadata"]["anthropic"]["signature"].startswith("Eu")
    assert types.index("reasoning-end") < types.index("text-start") < types.index("text-end")
    assert types.index("text-end") < types.index("tool-input-start") < types.index("tool-input-delta")
    assert types.index("tool-input-available") < types.index("finish-step")
    available = next(p for p in parts if p["type"] == "tool-input-available")
    assert available["toolName"] == "get_weather" and set(available["input"]) == {"location", "unit"}

    cited = engine.relay(
        format="ai-sdk",
        messages=[{"role": "user", "content": [DOCUMENT, {"type": "text", "text": "Sky?"}]}],
    )
    assert cited.open().status == 200
    assert '"type":"source-document"' in b"".join(cited).decode()
    searched = engine.relay(
        format="ai-sdk", messages=HELLO, tools=[{"type": "web_search_20250305", "name": "web_search"}]
    )
    assert searched.open().status == 200
    text = b"".join(searched).decode()
    assert '"providerExecuted":true' in text and '"type":"tool-output-available"' in text
    assert '"type":"source-url"' in text


# -- AI SDK bodies back to the API ---------------------------------------------------------------


def test_ai_sdk_reasoning_and_tool_parts_go_back_as_blocks(engine: Engine) -> None:
    with engine.stream(messages=ASK, tools=[WEATHER], **THINK) as s:
        s.text()
        message = s.message
    thinking, text, call = message.content
    ui = {
        "id": "chat",
        "messages": [
            {"id": "u1", "role": "user", "parts": [{"type": "text", "text": ASK[0]["content"]}]},
            {
                "id": "a1",
                "role": "assistant",
                "parts": [
                    {"type": "step-start"},
                    {
                        "type": "reasoning",
                        "text": thinking.thinking,  # type: ignore[union-attr]
                        "state": "done",
                        "providerMetadata": {"anthropic": {"signature": thinking.signature}},  # type: ignore[union-attr]
                    },
                    {"type": "text", "text": text.text, "state": "done"},  # type: ignore[union-attr]
                    {
                        "type": "tool-get_weather",
                        "toolCallId": call.id,  # type: ignore[union-attr]
                        "state": "output-available",
                        "input": call.input,  # type: ignore[union-attr]
                        "output": {"temperature": 18},
                    },
                ],
            },
            {"id": "u2", "role": "user", "parts": [{"type": "text", "text": "Thanks! And tomorrow?"}]},
        ],
    }
    chat = parse_chat_request(json.dumps(ui), protocol="ai-sdk")
    assistant, results = chat.messages[1], chat.messages[2]
    assert [b["type"] for b in assistant["content"]] == ["thinking", "text", "tool_use"]
    assert assistant["content"][0]["signature"] == thinking.signature  # type: ignore[union-attr]
    assert [b["type"] for b in results["content"]] == ["tool_result", "text"]
    assert json.loads(results["content"][0]["content"]) == {"temperature": 18}
    # The emulator checks signatures, pairing and the thinking-first rule as the API does.
    with engine.stream(tools=[WEATHER], **THINK, **chat.call_kwargs()) as again:
        assert again.text()
