"""Cache placement's one walk of the conversation gives what its separate questions gave.

`place()` asks of every call's conversation its token estimate, the breakpoints the user set on
it and its last large attachment, in one walk (`_caching/policy.py`, `_scan`); these properties
hold it to the plain answers, written here the way they read most simply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from firsttoken._caching.estimate import block_tokens, messages_tokens
from firsttoken._caching.policy import ATTACHMENT_TOKENS, place
from tests.files import document_block, image_block, pdf, png

SMALL_IMAGE = image_block(png(32, 32))  # 2 tokens by its pixels
LARGE_IMAGE = image_block(png(1200, 1000))  # 1,600
PDF = document_block(pdf(), title=None, cite=False)  # a page, 1,500
MARK = {"type": "ephemeral"}


def _marked(block: Any) -> bool:
    return isinstance(block, Mapping) and block.get("cache_control") is not None


def _user_marks(messages: Sequence[Mapping[str, Any]]) -> int:
    return sum(1 for m in messages if isinstance(m["content"], list) for b in m["content"] if _marked(b))


def _last_large_attachment(messages: Sequence[Mapping[str, Any]], least: int) -> tuple[int, int] | None:
    """From the end back, skipping the conversation's last block: the first image or document
    that is marked (then none is wanted) or of at least `least` tokens."""
    for m in range(len(messages) - 1, -1, -1):
        content = messages[m]["content"]
        if not isinstance(content, list):
            continue
        for b in range(len(content) - 1, -1, -1):
            block = content[b]
            if (m, b) == (len(messages) - 1, len(content) - 1) or block.get("type") not in (
                "image",
                "document",
            ):
                continue
            if _marked(block):
                return None
            if (block_tokens(block) or 0) >= least:
                return m, b
    return None


def _block(kind: str, marked: bool) -> dict[str, Any]:
    block: dict[str, Any] = {
        "text": {"type": "text", "text": "Some words of a turn. " * 7},
        "small": SMALL_IMAGE,
        "large": LARGE_IMAGE,
        "pdf": PDF,
        "tool": {"type": "tool_result", "tool_use_id": "toolu_1", "content": "42"},
    }[kind]
    return {**block, "cache_control": MARK} if marked else dict(block)


blocks = st.builds(_block, st.sampled_from(["text", "small", "large", "pdf", "tool"]), st.booleans())
contents = st.one_of(st.text(max_size=40), st.lists(blocks, min_size=1, max_size=4))
conversations = st.lists(
    st.builds(
        lambda role, content: {"role": role, "content": content},
        st.sampled_from(["user", "assistant"]),
        contents,
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(conversations)
def test_the_one_walk_gives_the_estimate_and_the_attachment_of_the_separate_questions(
    messages: list[dict[str, Any]],
) -> None:
    params = {"model": "claude-sonnet-5", "max_tokens": 10, "messages": messages}
    placed = place(params, mode="auto", ttl="5m", min_tokens=1, model="claude-sonnet-5")
    assert placed.total_tokens == messages_tokens(messages)
    free = 4 - _user_marks(messages)
    # The conversation's breakpoint goes first, unless the user marks messages themselves.
    wants_conversation = (
        not _marked(messages[-1]["content"][-1]) if isinstance(messages[-1]["content"], list) else True
    )
    spot = _last_large_attachment(messages, ATTACHMENT_TOKENS)
    expected = spot is not None and free - int(wants_conversation and free > 0) > 0
    assert ("attachment" in placed.added) == expected, (spot, placed.added)
    if expected:
        assert spot is not None
        m, b = spot
        assert placed.params["messages"][m]["content"][b]["cache_control"] == MARK
    assert ("conversation" in placed.added) == (wants_conversation and free > 0)
