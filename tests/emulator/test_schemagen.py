"""The structured-answer generator against schemas Hypothesis draws: every schema of the subset
the API accepts passes the emulator's checks, and every document drawn from it validates under a
real JSON Schema validator; the bounds the API refuses are honoured too, for non-strict callers;
the tokens put back together are the document."""

from __future__ import annotations

import json
import random
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firsttoken.testing.emulator.protocol import ApiError
from firsttoken.testing.emulator.schemacheck import check_structured
from firsttoken.testing.emulator.schemagen import json_tokens, value_for

FORMATS = ["date-time", "time", "date", "duration", "email", "hostname", "uri", "ipv4", "ipv6", "uuid"]
NAMES = st.sampled_from(["title", "summary", "tags", "name", "age", "score", "note", "kind", "items", "x"])
PRIMITIVES = st.one_of(st.text(max_size=8), st.integers(-100, 100), st.booleans(), st.none())


def _say(rng: random.Random) -> Any:
    words = ["the", "quick", "cache", "answers", "every", "streamed", "request", "with", "latency", "budgets"]
    return lambda n: " ".join(rng.choice(words) for _ in range(max(n, 1))) + "."


LEAVES = st.one_of(
    st.just({"type": "string"}),
    st.sampled_from(FORMATS).map(lambda f: {"type": "string", "format": f}),
    st.sampled_from(["^[a-z]{2,5}$", "[A-Z]\\d{3}", "^(red|green|blue)-[0-9]+$", "x?y*z+"]).map(
        lambda p: {"type": "string", "pattern": p}
    ),
    st.sampled_from([{"type": "integer"}, {"type": "number"}, {"type": "boolean"}, {"type": "null"}]),
    st.lists(PRIMITIVES, min_size=1, max_size=4, unique_by=lambda v: (type(v), v)).map(lambda e: {"enum": e}),
    PRIMITIVES.map(lambda c: {"const": c}),
    st.just({"type": ["string", "null"]}),
)


def _object(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    props = st.dictionaries(NAMES, children, max_size=4)

    def build(p: dict[str, Any], draw: list[bool]) -> dict[str, Any]:
        required = [k for k, keep in zip(p, draw, strict=False) if keep]
        return {"type": "object", "properties": p, "required": required, "additionalProperties": False}

    return st.builds(build, props, st.lists(st.booleans(), min_size=4, max_size=4))


SCHEMAS = st.recursive(
    LEAVES,
    lambda children: st.one_of(
        _object(children),
        st.builds(
            lambda items, low: {"type": "array", "items": items, "minItems": low},
            children,
            st.sampled_from([0, 1]),
        ),
        st.lists(children, min_size=1, max_size=3).map(lambda branches: {"anyOf": branches}),
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(SCHEMAS, st.integers(0, 2**32))
def test_documents_drawn_from_an_accepted_schema_validate(schema: dict[str, Any], seed: int) -> None:
    root = {
        "type": "object",
        "properties": {"doc": schema},
        "required": ["doc"],
        "additionalProperties": False,
    }
    check_structured(
        {"output_config": {"format": {"type": "json_schema", "schema": root}}}, "claude-sonnet-5"
    )
    rng = random.Random(seed)
    value = value_for(root, rng, _say(rng))
    jsonschema.validate(value, root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    assert "".join(json_tokens(value)) == json.dumps(value, ensure_ascii=False)


BOUNDED = st.one_of(
    st.builds(
        lambda lo, span: {"type": "integer", "minimum": lo, "maximum": lo + span},
        st.integers(-1000, 1000),
        st.integers(0, 50),
    ),
    st.builds(
        lambda lo, span: {"type": "number", "exclusiveMinimum": lo, "exclusiveMaximum": lo + span},
        st.floats(-1e3, 1e3),
        st.floats(1, 100),
    ),
    st.builds(
        lambda lo, span: {"type": "string", "minLength": lo, "maxLength": lo + span},
        st.integers(0, 80),
        st.integers(0, 20),
    ),
    st.builds(
        lambda lo, span: {
            "type": "array",
            "items": {"type": "integer"},
            "minItems": lo,
            "maxItems": lo + span,
        },
        st.integers(0, 8),
        st.integers(0, 4),
    ),
)


@settings(max_examples=100, deadline=None)
@given(BOUNDED, st.integers(0, 2**32))
def test_bounds_the_api_refuses_are_still_honoured(schema: dict[str, Any], seed: int) -> None:
    rng = random.Random(seed)
    jsonschema.validate(value_for(schema, rng, _say(rng)), schema)


def test_defs_refs_and_all_of_resolve() -> None:
    schema = {
        "$defs": {"base": {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}},
        "type": "object",
        "properties": {
            "one": {"$ref": "#/$defs/base"},
            "both": {"allOf": [{"type": "object", "properties": {"b": {"const": 2}}, "required": ["b"]}]},
        },
        "required": ["one", "both"],
    }
    for seed in range(20):
        rng = random.Random(seed)
        value = value_for(schema, rng, _say(rng))
        jsonschema.validate(value, schema)
        assert value["both"] == {"b": 2}


def test_required_properties_come_first() -> None:
    schema = {
        "type": "object",
        "properties": {"note": {"type": "string"}, "title": {"type": "string"}, "extra": {"type": "boolean"}},
        "required": ["title"],
        "additionalProperties": False,
    }
    orders = set()
    for seed in range(30):
        rng = random.Random(seed)
        orders.add(tuple(value_for(schema, rng, _say(rng))))
    assert orders == {("title",), ("title", "note"), ("title", "extra"), ("title", "note", "extra")}


REFUSED_KEYWORDS = st.sampled_from(
    [
        ("integer", "minimum", 0),
        ("number", "maximum", 9),
        ("number", "multipleOf", 2),
        ("string", "minLength", 2),
        ("string", "maxLength", 2),
        ("array", "maxItems", 3),
        ("array", "uniqueItems", True),
        ("object", "minProperties", 1),
        ("object", "patternProperties", {}),
        ("string", "not", {}),
    ]
)


@settings(max_examples=60, deadline=None)
@given(SCHEMAS, REFUSED_KEYWORDS)
def test_a_refused_keyword_anywhere_is_a_400(schema: dict[str, Any], refused: tuple[str, str, Any]) -> None:
    kind, keyword, value = refused
    bad: dict[str, Any] = {"type": kind, keyword: value}
    if kind == "object":
        bad |= {"properties": {}, "additionalProperties": False}
    root = {
        "type": "object",
        "properties": {"doc": schema, "bad": {"type": "array", "items": bad}},
        "required": ["doc"],
        "additionalProperties": False,
    }
    with pytest.raises(ApiError) as caught:
        check_structured(
            {"output_config": {"format": {"type": "json_schema", "schema": root}}}, "claude-sonnet-5"
        )
    assert caught.value.status == 400 and f"'{keyword}'" in caught.value.message


@pytest.mark.parametrize(
    "pattern",
    [
        "^[^a-zA-Z0-9 _\\-.:/]{2}$",
        "^\\w+@\\w+\\.(com|org)$",
        "^[é-ê]+\\s\\S*$",
        "^(?:ab|cd){2,3}[!?]$",
        "\\D\\W\\d",
        "^.{3}$",
        "^[^abc]x+?$",
    ],
)
def test_strings_drawn_for_patterns_match(pattern: str) -> None:
    schema = {"type": "string", "pattern": pattern}
    check_structured(
        {"output_config": {"format": {"type": "json_schema", "schema": schema}}}, "claude-sonnet-5"
    )
    for seed in range(25):
        rng = random.Random(seed)
        jsonschema.validate(value_for(schema, rng, _say(rng)), schema)
