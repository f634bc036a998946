"""Structured outputs in the core (`_structured.py`): what `output=` sends, the object as it fills
(`partial_objects()`, the relay's `object` events), the checked object (`parsed`, `done.object`)
and strict tools, through the real engine against the emulator."""

from __future__ import annotations

import dataclasses
import itertools
import json
import random
from typing import Any, Literal

import anthropic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jiter import from_json
from pydantic import BaseModel

from firsttoken import (
    BadRequest,
    Engine,
    OutputInvalid,
    Relay,
    Settings,
    SettingsError,
    parse_chat_request,
    tool,
)
from firsttoken._call import CallBuilder
from firsttoken._coalesce import Latest, acoalesce, encode
from firsttoken._sse import SSEDecoder
from firsttoken._structured import Output, PartialObject
from firsttoken._wire import SSEFormat
from firsttoken.testing.emulator import Emulator

from .conftest import USER


class Card(BaseModel):
    title: str
    summary: str
    tags: list[str]
    sentiment: Literal["positive", "neutral", "negative"]


@dataclasses.dataclass
class Point:
    x: int
    label: str


CARD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        # A bound strict decoding refuses: `transform_schema` moves it into the description.
        "score": {"type": "integer", "minimum": 1, "maximum": 5},
    },
    "required": ["title", "score"],
}


@pytest.fixture
def structured(emulator: Emulator) -> Any:
    emulator.reset()
    emulator.set_faults([])
    with Engine(Settings(base_url=emulator.base_url, max_retries=0)) as eng:
        yield eng


# -- the object as it fills, against jiter re-parsing the whole text --------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


def _whole(text: str) -> Any:
    try:
        return from_json(text.encode(), partial_mode="trailing-strings")
    except ValueError:
        return None


def _follow(text: str, seed: int, scan_from: int) -> None:
    rng = random.Random(seed)
    partial, at, shown = PartialObject(scan_from=scan_from), 0, None
    while at < len(text):
        step = rng.randint(1, 9)
        changed = partial.feed(text[at : at + step])
        at += step
        expected = _whole(text[:at])
        if expected is None:  # a prefix jiter cannot read yet (`-`, `tr`): what was shown stays
            expected = shown
        # Exactly what the SDK's way (the whole text re-parsed) shows, and a change only when it changed.
        assert partial.value == expected, text[:at]
        assert changed == (expected != shown), text[:at]
        if changed:
            shown = expected


@settings(max_examples=150, deadline=None)
@given(value=JSON, indent=st.sampled_from([None, 1]), seed=st.integers(0, 2**16))
def test_the_object_as_it_fills_is_what_reparsing_the_whole_text_gives(
    value: Any, indent: int | None, seed: int
) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=bool(seed % 2))
    for scan_from in (0, 40):  # the scan from the start, and after a re-parsed beginning
        _follow(text, seed, scan_from)


def test_escapes_and_brackets_inside_strings_do_not_open_anything() -> None:
    text = json.dumps(
        {"a": 'quote " brace { ] , back \\', "b": ["x\\", "\u00e9\u2603"], "c": {"d": [1, [2]]}}
    )
    for seed in range(40):
        _follow(text, seed, 0)


def test_an_object_handed_out_is_never_changed_afterwards() -> None:
    text = json.dumps({"tags": ["a", "b"], "nested": {"k": "value"}})
    partial, seen = PartialObject(scan_from=0), []
    for char in text:
        if partial.feed(char):
            seen.append((partial.value, json.dumps(partial.value)))
    assert all(json.dumps(value) == frozen for value, frozen in seen)


# -- what output= sends -------------------------------------------------------------------------------


def test_output_sends_the_schema_the_sdks_parse_sends() -> None:
    call = CallBuilder(Settings()).build("chat", {"messages": USER, "output": Card})
    sent = call.params["output_config"]["format"]
    assert sent == {"type": "json_schema", "schema": anthropic.transform_schema(Card)}
    # A dataclass and a schema dict likewise; the dict as transform_schema makes it strict.
    point = CallBuilder(Settings()).build("chat", {"messages": USER, "output": Point})
    assert point.params["output_config"]["format"]["schema"]["additionalProperties"] is False
    plain = CallBuilder(Settings()).build("chat", {"messages": USER, "output": CARD_SCHEMA})
    assert plain.params["output_config"]["format"]["schema"] == anthropic.transform_schema(CARD_SCHEMA)
    assert "minimum" not in plain.params["output_config"]["format"]["schema"]["properties"]["score"]


def test_output_joins_the_effort_thinking_puts_in_output_config() -> None:
    call = CallBuilder(Settings()).build("chat", {"messages": USER, "output": Card, "thinking": "low"})
    assert call.params["output_config"]["effort"] == "low"
    assert call.params["output_config"]["format"]["type"] == "json_schema"


def test_a_profile_names_its_output_by_import_path_and_a_bad_one_fails_naming_the_key() -> None:
    settings = Settings.from_env(
        profiles={"card": {"model": "claude-haiku-5-5", "max_tokens": 512, "output": f"{__name__}:Card"}}
    )
    output = settings.profile("card").output
    assert isinstance(output, Output) and output.adapter is not None
    with pytest.raises(SettingsError, match=r"output.*cannot import"):
        Settings.from_env(
            profiles={"card": {"model": "claude-haiku-5-5", "max_tokens": 512, "output": "nowhere:Card"}}
        )
    with pytest.raises(SettingsError, match=r"output.*TypeAdapter"):
        Settings.from_env(profiles={"card": {"model": "claude-haiku-5-5", "max_tokens": 512, "output": 3}})


def test_a_model_without_structured_outputs_fails_at_start_up_naming_it() -> None:
    old = {"model": "claude-sonnet-4-20250514", "max_tokens": 512, "output": Card}
    with pytest.raises(SettingsError, match=r"output.*claude-sonnet-4-20250514 has no structured outputs"):
        Settings.from_env(profiles={"card": old})
    fallback = {
        "model": "claude-haiku-5-5",
        "max_tokens": 512,
        "output": Card,
        "fallbacks": ["claude-3-5-haiku-latest"],
    }
    with pytest.raises(SettingsError, match=r"claude-3-5-haiku-latest has no structured outputs"):
        Settings.from_env(profiles={"card": fallback})


# -- through the engine and the emulator -----------------------------------------------------------


def test_partial_objects_fill_in_and_parsed_is_the_model(structured: Engine) -> None:
    with structured.stream(messages=USER, output=Card) as stream:
        objects = list(stream.partial_objects())
        card = stream.parsed
    assert isinstance(card, Card) and card.title and card.tags
    assert objects[-1] == card.model_dump()
    # It fills field by field: the title is on its own before the summary begins.
    assert any(set(o) == {"title"} and o["title"] for o in objects)
    assert len(objects) > 4 and len({json.dumps(o) for o in objects}) == len(objects)


async def test_async_partial_objects_and_a_schema_dict_parse_to_json(structured: Engine) -> None:
    async with structured.astream(messages=USER, output=CARD_SCHEMA) as stream:
        objects = [o async for o in stream.partial_objects()]
        parsed = stream.parsed
    assert parsed == objects[-1] and set(parsed) == {"title", "score"}


def test_an_answer_cut_at_max_tokens_is_invalid_with_the_reason(structured: Engine) -> None:
    with structured.stream(messages=USER, output=Card, max_tokens=12) as stream:
        stream.text()
        with pytest.raises(OutputInvalid, match="max_tokens"):
            _ = stream.parsed


def test_parsed_before_the_end_and_without_output_are_errors(structured: Engine) -> None:
    with (
        structured.stream(messages=USER, output=Card) as stream,
        pytest.raises(RuntimeError, match="to the end"),
    ):
        _ = stream.parsed
    with structured.stream(messages=USER) as plain, pytest.raises(TypeError, match="output="):
        list(plain.partial_objects())


def calculate(expression: str) -> int:
    """Add two numbers written as "a+b".

    Args:
        expression: The sum, for example "2+3".
    """
    left, right = expression.split("+")
    return int(left) + int(right)


class Sum(BaseModel):
    result: int
    explanation: str


def test_an_agent_turns_object_is_its_last_steps_answer(structured: Engine) -> None:
    with structured.stream(
        messages=[{"role": "user", "content": "What is 2+3?"}], tools=[calculate], output=Sum
    ) as turn:
        objects = list(turn.partial_objects())
        answer = turn.parsed
    assert turn.steps == 2 and isinstance(answer, Sum)
    assert objects[-1] == answer.model_dump()


def test_a_validation_failure_names_the_field() -> None:
    with pytest.raises(OutputInvalid, match=r"does not match Card: sentiment"):
        Output(Card).validate('{"title": "t", "summary": "s", "tags": [], "sentiment": "angry"}')


def test_a_strict_tool_is_sent_strict_and_the_api_accepts_it(structured: Engine) -> None:
    def lookup(city: str, days: int = 1) -> str:
        """The forecast.

        Args:
            city: Where.
            days: How many days.
        """
        return f"sun in {city}"

    strict = tool(lookup, strict=True)
    definition = strict.definition()
    assert definition["strict"] is True and definition["input_schema"]["additionalProperties"] is False
    with structured.stream(messages=USER, tools=[strict], max_steps=2) as turn:
        assert turn.text()
    assert turn.steps >= 1


# -- the relay's wire ---------------------------------------------------------------------------------


def _relay(engine: Engine, fmt: str, **call: Any) -> bytes:
    relay = Relay(engine, format=fmt, messages=USER, output=Card, **call)
    assert relay.open().status == 200
    return b"".join(relay)


def test_sse_objects_at_most_one_per_token_and_done_carries_the_checked_object(structured: Engine) -> None:
    events = list(SSEDecoder().feed(_relay(structured, "sse")))
    names = [name for name, _ in events]
    # Every object event follows a token (never two in a row) and shows something new.
    assert all(names[i - 1] == "token" for i, n in enumerate(names) if n == "object")
    partials = [data["partial"] for name, data in events if name == "object"]
    assert all(a != b for a, b in itertools.pairwise(partials))
    text = "".join(data["text"] for name, data in events if name == "token")
    done = events[-1][1]
    assert events[-1][0] == "done" and done["object"] == json.loads(text) == partials[-1]
    Card.model_validate(done["object"])


def test_ndjson_text_and_ai_sdk_carry_the_object_their_way(structured: Engine) -> None:
    lines = [json.loads(line) for line in _relay(structured, "ndjson").splitlines()]
    objects = [line["partial"] for line in lines if line["type"] == "object"]
    assert objects and lines[-1]["type"] == "done" and lines[-1]["object"] == objects[-1]
    # The text format is the JSON text alone: what the AI SDK's useObject parses.
    Card.model_validate_json(_relay(structured, "text"))
    parts = [data for _, data in SSEDecoder().feed(_relay(structured, "ai-sdk")) if data != "[DONE]"]
    data = [p for p in parts if p["type"] == "data-object"]
    assert data and all(p["id"] == "object" for p in data)
    finish = parts[-1]
    assert finish["type"] == "finish" and finish["messageMetadata"]["object"] == data[-1]["data"]


def test_protocol_text_asks_for_the_text_format_and_others_are_400s() -> None:
    assert parse_chat_request({"messages": USER}, protocol="text").format == "text"
    with pytest.raises(BadRequest, match="use 'ai-sdk', 'text' or leave it out"):
        parse_chat_request({"messages": USER}, protocol="json")


def test_an_invalid_object_is_an_error_event_not_a_done(structured: Engine) -> None:
    events = list(SSEDecoder().feed(_relay(structured, "sse", max_tokens=12)))
    assert events[-1][0] == "error" and events[-1][1]["type"] == "invalid_output"
    assert "max_tokens" in events[-1][1]["message"]
    assert not any(name == "done" for name, _ in events)


def test_a_stale_object_is_left_out_of_a_write_that_holds_a_later_one() -> None:
    token = SSEFormat().token
    first, second = Latest(lambda: b"O1"), Latest(lambda: b"O2")
    # The text around the stale one goes as one event; another event between keeps both.
    assert encode(["a", first, "b", second], token) == token("ab") + b"O2"
    assert encode(["a", first, b"X", "b", second], token) == token("a") + b"O1X" + token("b") + b"O2"
    assert encode(["a", first, "b"], token) == token("a") + b"O1" + token("b")


async def test_a_write_that_gathered_many_deltas_carries_the_last_object_only(structured: Engine) -> None:
    relay = Relay(structured, format="sse", messages=USER, output=Card)
    assert (await relay.aopen()).status == 200
    items = [item async for item in relay._aitems()]
    objects = sum(isinstance(item, Latest) for item in items)

    async def at_once() -> Any:
        for item in items:
            yield item

    # Everything here before the first write: the pump reads it all, one write takes it.
    chunks = [chunk async for chunk in acoalesce(at_once(), relay.format.token, 0.05)]
    events = list(SSEDecoder().feed(b"".join(chunks)))
    assert objects > 5 and sum(name == "object" for name, _ in events) < objects
    last = [data["partial"] for name, data in events if name == "object"][-1]
    assert events[-1][0] == "done" and events[-1][1]["object"] == last
