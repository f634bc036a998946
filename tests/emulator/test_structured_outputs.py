"""Structured outputs through the real SDK (strict response validation): `messages.parse` and the
streaming helper with a Pydantic model, a dataclass or a raw JSON schema, strict tools, a cut
document at `max_tokens`, and the API's 400s for the JSON Schema features it refuses. Every
document is checked with a real JSON Schema validator."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import uuid
from typing import Any, Literal

import anthropic
import jsonschema
import pydantic
import pytest

from firsttoken.testing.emulator import Emulator

MODEL = "claude-sonnet-5"
ASK = [{"role": "user", "content": "Turn this chat about cache latency into a card."}]


class Card(pydantic.BaseModel):
    title: str
    summary: str
    tags: list[str]
    sentiment: Literal["positive", "neutral", "negative"]
    rating: int | None = None


@dataclasses.dataclass
class Point:
    x: float
    y: float
    label: str


def _obj(props: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": props,
        "required": list(props) if required is None else required,
        "additionalProperties": False,
        **extra,
    }


# Every feature the docs list as supported, at once.
RICH = _obj(
    {
        "id": {"type": "string", "format": "uuid"},
        "when": {"type": "string", "format": "date-time"},
        "contact": {"type": "string", "format": "email"},
        "code": {"type": "string", "pattern": "^[A-Z]{3}-\\d{4}$"},
        "kind": {"enum": ["bug", "feature", 3, None]},
        "fixed": {"const": "yes"},
        "owner": {"$ref": "#/$defs/person"},
        "reviewers": {"type": "array", "items": {"$ref": "#/$defs/person"}, "minItems": 1},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "weight": {"type": ["number", "null"]},
        "count": {"type": "integer"},
        "done": {"type": "boolean"},
        "extra": {"type": "string", "description": "optional"},
    },
    required=["id", "when", "contact", "code", "kind", "fixed", "owner", "reviewers", "note"],
    **{"$defs": {"person": _obj({"name": {"type": "string"}, "age": {"type": "integer"}})}},
)


def _validate(document: str, schema: dict[str, Any]) -> Any:
    value = json.loads(document)
    jsonschema.validate(value, schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    return value


def test_parse_with_a_pydantic_model_gives_parsed_output(client: anthropic.Anthropic) -> None:
    message = client.messages.parse(model=MODEL, max_tokens=1024, messages=ASK, output_format=Card)  # type: ignore[arg-type]
    assert message.stop_reason == "end_turn"
    card = message.parsed_output
    assert isinstance(card, Card) and card.title and len(card.summary.split()) >= 10 and card.tags
    text = message.content[0].text  # type: ignore[union-attr]
    _validate(text, Card.model_json_schema())
    # Usage counts the document's tokens, as for prose.
    assert message.usage.output_tokens >= len(text) // 8


def test_the_streaming_helper_gives_the_parsed_object_at_the_end(client: anthropic.Anthropic) -> None:
    whole = client.messages.parse(model=MODEL, max_tokens=1024, messages=ASK, output_format=Card)  # type: ignore[arg-type]
    with client.messages.stream(model=MODEL, max_tokens=1024, messages=ASK, output_format=Card) as stream:  # type: ignore[arg-type]
        deltas = list(stream.text_stream)
        final = stream.get_final_message()
    assert final.parsed_output == whole.parsed_output
    assert "".join(deltas) == whole.content[0].text  # type: ignore[union-attr]
    # The summary arrives over many deltas: a page can show it filling in.
    summary = json.dumps(whole.parsed_output.summary)  # type: ignore[union-attr]
    start = "".join(deltas).index(summary)
    pos, inside = 0, 0
    for delta in deltas:
        if start <= pos < start + len(summary):
            inside += 1
        pos += len(delta)
    assert inside >= 8


async def test_async_parse_with_a_dataclass(aclient: anthropic.AsyncAnthropic) -> None:
    message = await aclient.messages.parse(model=MODEL, max_tokens=256, messages=ASK, output_format=Point)  # type: ignore[arg-type]
    point = message.parsed_output
    assert isinstance(point, Point) and isinstance(point.x, float) and point.label


def test_a_raw_schema_with_every_supported_feature_validates(client: anthropic.Anthropic) -> None:
    documents = set()
    for seed in range(8):
        message = client.messages.create(
            model=MODEL,
            max_tokens=4096,
            messages=ASK,
            output_config={"format": {"type": "json_schema", "schema": RICH}},
            extra_headers={"x-emulator-seed": str(seed)},
        )
        assert message.stop_reason == "end_turn"
        documents.add(message.content[0].text)  # type: ignore[union-attr]
        _validate(message.content[0].text, RICH)  # type: ignore[union-attr]
    assert len(documents) == 8  # drawn from the seed
    again = client.messages.create(
        model=MODEL,
        max_tokens=4096,
        messages=ASK,
        output_config={"format": {"type": "json_schema", "schema": RICH}},
        extra_headers={"x-emulator-seed": "3"},
    )
    assert again.content[0].text in documents  # type: ignore[union-attr]


def test_max_tokens_cuts_the_document(client: anthropic.Anthropic) -> None:
    fmt = {
        "format": {
            "type": "json_schema",
            "schema": Card.model_json_schema() | {"additionalProperties": False},
        }
    }
    whole = client.messages.create(model=MODEL, max_tokens=1024, messages=ASK, output_config=fmt)  # type: ignore[arg-type]
    cut = client.messages.create(model=MODEL, max_tokens=12, messages=ASK, output_config=fmt)  # type: ignore[arg-type]
    assert cut.stop_reason == "max_tokens" and cut.usage.output_tokens == 12
    text = cut.content[0].text  # type: ignore[union-attr]
    assert whole.content[0].text.startswith(text)  # type: ignore[union-attr]
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    with (
        client.messages.stream(model=MODEL, max_tokens=12, messages=ASK, output_config=fmt) as stream,  # type: ignore[arg-type]
    ):
        assert "".join(stream.text_stream) == text
        assert stream.get_final_message().stop_reason == "max_tokens"


WEATHER = {
    "name": "get_weather",
    "description": "The weather at a place.",
    "strict": True,
    "input_schema": _obj(
        {
            "location": {"type": "string"},
            "unit": {"enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer"},
            "detail": _obj(
                {"hourly": {"type": "boolean"}, "fields": {"type": "array", "items": {"type": "string"}}}
            ),
        }
    ),
}


def test_strict_tool_inputs_validate_against_their_schema(client: anthropic.Anthropic) -> None:
    for seed in range(5):
        message = client.messages.create(
            model=MODEL,
            max_tokens=1024,
            messages=[{"role": "user", "content": "What's the weather in Paris?"}],
            tools=[WEATHER],  # type: ignore[list-item]
            extra_headers={"x-emulator-seed": str(seed)},
        )
        assert message.stop_reason == "tool_use"
        use = next(b for b in message.content if b.type == "tool_use")
        jsonschema.validate(use.input, WEATHER["input_schema"])  # type: ignore[union-attr]
    with client.messages.stream(
        model=MODEL,
        max_tokens=1024,
        messages=[{"role": "user", "content": "What's the weather in Paris?"}],
        tools=[WEATHER],  # type: ignore[list-item]
    ) as stream:
        final = stream.get_final_message()
    use = next(b for b in final.content if b.type == "tool_use")
    jsonschema.validate(use.input, WEATHER["input_schema"])  # type: ignore[union-attr]


def test_a_structured_answer_after_tool_results(client: anthropic.Anthropic) -> None:
    question = [{"role": "user", "content": "What's the weather in Paris? Answer as a card."}]
    fmt = {"format": {"type": "json_schema", "schema": RICH}}
    call = client.messages.create(
        model=MODEL,
        max_tokens=1024,
        messages=question,
        tools=[WEATHER],  # type: ignore[list-item]
        output_config=fmt,  # type: ignore[arg-type]
    )
    assert call.stop_reason == "tool_use" and [b.type for b in call.content] == ["tool_use"]
    result = {"type": "tool_result", "tool_use_id": call.content[0].id, "content": "Sunny, 21C"}  # type: ignore[union-attr]
    answer = client.messages.create(
        model=MODEL,
        max_tokens=4096,
        messages=[
            *question,
            {"role": "assistant", "content": call.content},
            {"role": "user", "content": [result]},
        ],  # type: ignore[list-item]
        tools=[WEATHER],  # type: ignore[list-item]
        output_config=fmt,  # type: ignore[arg-type]
    )
    assert answer.stop_reason == "end_turn"
    _validate(answer.content[0].text, RICH)  # type: ignore[union-attr]


def test_a_canned_reply_is_still_the_answer(client: anthropic.Anthropic) -> None:
    reply = '{"x": 1.5, "y": 2.0, "label": "set by the test"}'
    message = client.messages.parse(
        model=MODEL,
        max_tokens=100,
        messages=ASK,
        output_format=Point,
        extra_headers={"x-emulator-reply": reply},
    )  # type: ignore[arg-type]
    assert message.parsed_output == Point(1.5, 2.0, "set by the test")


def _fmt(schema: Any) -> dict[str, Any]:
    return {"output_config": {"format": {"type": "json_schema", "schema": schema}}}


REFUSED = [
    (
        _fmt(_obj({"n": {"type": "integer", "minimum": 1}})),
        "output_config.format.schema: For 'integer' type, property 'minimum' is not supported",
    ),
    (
        _fmt(_obj({"s": {"type": "string", "maxLength": 9}})),
        "For 'string' type, property 'maxLength' is not supported",
    ),
    (
        _fmt(_obj({"a": {"type": "array", "items": {"type": "string"}, "minItems": 3}})),
        "For 'array' type, 'minItems' values other than 0 or 1 are not supported",
    ),
    (_fmt(_obj({"a": {"type": "array", "maxItems": 3}})), "property 'maxItems' is not supported"),
    (_fmt({"type": "object", "properties": {}}), "'additionalProperties' must be explicitly set to false"),
    (_fmt(_obj({}, additionalProperties=True)), "'additionalProperties' must be explicitly set to false"),
    (
        _fmt(
            _obj(
                {"next": {"$ref": "#/$defs/node"}},
                **{"$defs": {"node": _obj({"next": {"$ref": "#/$defs/node"}})}},
            )
        ),
        "Recursive schemas are not supported",
    ),
    (_fmt(_obj({"p": {"$ref": "https://example.com/p.json"}})), "External $ref is not supported"),
    (_fmt(_obj({"s": {"type": "string", "format": "color"}})), "format 'color' is not supported"),
    (_fmt(_obj({"s": {"type": "string", "pattern": "(a)\\1"}})), "backreferences"),
    (_fmt(_obj({"e": {"enum": [{"a": 1}]}})), "'enum' values must be strings, numbers, booleans or null"),
    (_fmt(_obj({"e": {"type": "date"}})), "Unsupported type 'date'"),
    ({"output_config": {"format": {"type": "json_object", "schema": {}}}}, "output_config.format.type"),
    ({"output_config": {"format": {"type": "json_schema"}}}, "output_config.format.schema: Field required"),
    (
        {"tools": [{"name": "t", "strict": True, "input_schema": {"type": "object", "properties": {}}}]},
        "tools.0.custom.input_schema: For 'object' type, 'additionalProperties' must be explicitly set to",
    ),
    (
        {"tools": [{"name": "t", "strict": True, "input_schema": {"type": "string"}}]},
        "tools.0.custom.input_schema.type: Input should be 'object'",
    ),
    (
        {"tools": [{"name": f"t{i}", "strict": True, "input_schema": _obj({})} for i in range(21)]},
        "Too many strict tools: 21",
    ),
    (
        _fmt(_obj({f"p{i}": {"type": "string"} for i in range(25)}, required=[])),
        "too many optional parameters (25)",
    ),
]


@pytest.mark.parametrize(("extra", "message"), REFUSED, ids=[m for _, m in REFUSED])
def test_the_api_refuses_what_structured_outputs_do_not_support(
    client: anthropic.Anthropic, extra: dict[str, Any], message: str
) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model=MODEL, max_tokens=100, messages=ASK, extra_body=extra)
    assert caught.value.status_code == 400
    assert caught.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert message in caught.value.body["error"]["message"]  # type: ignore[index]


# Some SDK releases (2.10, the floor) warn that this model is deprecated: the emulator's answer is the point.
@pytest.mark.filterwarnings("ignore:The model 'claude-sonnet-4-0' is deprecated:DeprecationWarning")
def test_older_models_and_citations_refuse_a_format(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError, match="does not support structured outputs"):
        client.messages.parse(model="claude-sonnet-4-0", max_tokens=100, messages=ASK, output_format=Card)  # type: ignore[arg-type]
    document = {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": "Caches are fast."},
        "citations": {"enabled": True},
    }
    cited = [{"role": "user", "content": [document, {"type": "text", "text": "Card, please."}]}]
    with pytest.raises(anthropic.BadRequestError, match="Citations are not supported"):
        client.messages.parse(model=MODEL, max_tokens=100, messages=cited, output_format=Card)  # type: ignore[arg-type]


def test_a_time_scaled_stream_spreads_the_document_over_time() -> None:
    with (
        Emulator(time_scale=0.05, seed=1) as emu,
        anthropic.Anthropic(
            base_url=emu.base_url, api_key="t", max_retries=0, _strict_response_validation=True
        ) as c,
        c.messages.stream(model=MODEL, max_tokens=1024, messages=ASK, output_format=Card) as stream,  # type: ignore[arg-type]
    ):
        events = [e.type for e in stream]
        assert events.count("content_block_delta") >= 20
        assert isinstance(stream.get_final_message().parsed_output, Card)


def test_the_beta_helper_and_thinking_first(client: anthropic.Anthropic) -> None:
    beta = client.beta.messages.parse(model=MODEL, max_tokens=1024, messages=ASK, output_format=Card)  # type: ignore[arg-type]
    assert isinstance(beta.parsed_output, Card)
    thought = client.messages.parse(
        model=MODEL,
        max_tokens=2048,
        messages=ASK,
        output_format=Card,
        thinking={"type": "adaptive", "display": "summarized"},
    )  # type: ignore[arg-type]
    assert [b.type for b in thought.content] == ["thinking", "text"]
    assert isinstance(thought.parsed_output, Card)


class Mood(enum.Enum):
    CALM = "calm"
    TENSE = "tense"


class Person(pydantic.BaseModel):
    name: str
    email: str | None = None


class Report(pydantic.BaseModel):
    id: uuid.UUID
    written: datetime.datetime
    on: datetime.date
    mood: Mood
    author: Person
    reviewers: list[Person]
    counts: dict[str, int]
    confidence: float = pydantic.Field(ge=0, le=1)
    parent: Person | None = None


async def test_a_nested_model_through_the_async_streaming_helper(aclient: anthropic.AsyncAnthropic) -> None:
    for seed in range(4):
        async with aclient.messages.stream(
            model=MODEL,
            max_tokens=4096,
            messages=ASK,
            output_format=Report,
            extra_headers={"x-emulator-seed": str(seed)},
        ) as stream:  # type: ignore[arg-type]
            async for _ in stream.text_stream:
                pass
            report = (await stream.get_final_message()).parsed_output
        assert isinstance(report, Report) and isinstance(report.mood, Mood) and report.reviewers


class Bounded(pydantic.BaseModel):
    ratio: float = pydantic.Field(ge=0, le=1)
    tags: list[str] = pydantic.Field(min_length=3, max_length=5)
    code: str = pydantic.Field(min_length=5, max_length=8, description="A short code.")
    level: int = pydantic.Field(gt=10, lt=13)


def test_bounds_the_sdk_moved_into_descriptions_are_followed(client: anthropic.Anthropic) -> None:
    # The SDK sends `{maximum: 1, minimum: 0}` in the description (the API refuses the keywords);
    # the model follows it, so the SDK's own validation of the parsed model passes.
    for seed in range(6):
        message = client.messages.parse(
            model=MODEL,
            max_tokens=1024,
            messages=ASK,
            output_format=Bounded,
            extra_headers={"x-emulator-seed": str(seed)},
        )  # type: ignore[arg-type]
        assert isinstance(message.parsed_output, Bounded)
