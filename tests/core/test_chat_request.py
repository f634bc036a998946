"""Browser bodies: the contract's shape and the AI SDK's, with a reason for every refusal."""

from __future__ import annotations

import json

import pytest

from firsttoken import BadRequest, parse_chat_request

PROFILES = ("fast", "chat", "deep")


def body(data: object) -> bytes:
    return json.dumps(data).encode()


def test_a_good_body() -> None:
    chat = parse_chat_request(
        body({"messages": [{"role": "user", "content": "hi"}], "profile": "fast"}), profiles=PROFILES
    )
    assert chat.messages == [{"role": "user", "content": "hi"}]
    assert chat.profile == "fast" and chat.format == "sse"
    assert chat.call_kwargs() == {"messages": chat.messages, "profile": "fast"}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (body([1, 2]), "JSON object"),
        (body({}), "'messages' must be a non-empty list"),
        (body({"messages": []}), "'messages' must be a non-empty list"),
        (body({"messages": ["hi"]}), r"messages\[0\] must be an object"),
        (
            body({"messages": [{"role": "system", "content": "x"}]}),
            r"messages\[0\].role must be 'user' or 'assistant'",
        ),
        (
            body({"messages": [{"role": "user", "content": "  "}]}),
            r"messages\[0\].content must be non-empty text",
        ),
        (body({"messages": [{"role": "assistant", "content": "x"}]}), "starts with the user"),
        (body({"messages": [{"role": "user", "content": "x"}], "profile": "huge"}), "unknown profile 'huge'"),
        (body({"messages": [{"role": "user", "content": "x"}], "profile": 3}), "'profile' must be a string"),
    ],
)
def test_bad_bodies_name_the_problem(raw: bytes, reason: str) -> None:
    with pytest.raises(BadRequest, match=reason):
        parse_chat_request(raw, profiles=PROFILES)


def test_ai_sdk_ui_messages() -> None:
    raw = body(
        {
            "id": "chat-1",
            "trigger": "submit-message",
            "messages": [
                {
                    "id": "1",
                    "role": "user",
                    "parts": [{"type": "text", "text": "Hello"}, {"type": "data-note", "data": {}}],
                },
                {
                    "id": "2",
                    "role": "assistant",
                    "parts": [{"type": "step-start"}, {"type": "text", "text": "Hi!"}],
                },
                {
                    "id": "3",
                    "role": "user",
                    "parts": [{"type": "text", "text": "More"}, {"type": "text", "text": "!"}],
                },
            ],
        }
    )
    chat = parse_chat_request(raw, protocol="ai-sdk", profiles=PROFILES)
    assert chat.format == "ai-sdk"
    # A browser's system message is refused (issue 19, test_hardening.py); the app sets its own.
    assert chat.system is None
    assert chat.messages == [
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi!"},
        {"role": "user", "content": "More!"},
    ]
    assert "system" not in chat.call_kwargs()


@pytest.mark.parametrize(
    ("messages", "reason"),
    [
        ([{"role": "user", "parts": "x"}], "parts must be a list"),
        ([{"role": "user", "parts": [{"type": "data-note"}]}], "has no text"),
        ([{"role": "user", "parts": [{"type": "file", "url": "https://x/a.png"}]}], "must be a data: URL"),
        ([{"role": "tool", "parts": []}], "role must be"),
        ([{"role": "user", "parts": [{"type": "text", "text": 5}]}], "needs a 'text' string"),
    ],
)
def test_bad_ai_sdk_bodies(messages: list[object], reason: str) -> None:
    with pytest.raises(BadRequest, match=reason):
        parse_chat_request(body({"messages": messages}), protocol="ai-sdk")


def test_unknown_protocol() -> None:
    with pytest.raises(BadRequest, match="unknown protocol"):
        parse_chat_request(body({"messages": []}), protocol="grpc")
