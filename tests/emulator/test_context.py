"""Context management through the real SDK (strict response validation): compaction past its
trigger, plain and streamed, sent back verbatim on the next turn (and over a thread), paused
after compaction; tool-result clearing; and the API's 400s for malformed edits."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from firsttoken.testing.emulator import Emulator
from firsttoken.testing.emulator.blocks import sign

MODEL = "claude-sonnet-5"
COMPACT = ["compact-2026-01-12"]
TRIGGER = 50_000
EDITS: Any = {"edits": [{"type": "compact_20260112", "trigger": {"type": "input_tokens", "value": TRIGGER}}]}
# About 15,000 tokens a turn at the emulator's four characters a token: four turns pass the trigger.
PARAGRAPH = "The quarterly report covers revenue, churn and hiring in detail. " * 920


def _history(turns: int) -> list[Any]:
    messages: list[Any] = []
    for n in range(turns):
        messages.append({"role": "user", "content": f"Part {n}: {PARAGRAPH}"})
        messages.append({"role": "assistant", "content": f"Noted part {n}."})
    messages.append({"role": "user", "content": "Now list the risks."})
    return messages


def test_compaction_past_the_trigger_and_sent_back(client: anthropic.Anthropic) -> None:
    messages = _history(4)
    reply = client.beta.messages.create(
        model=MODEL, max_tokens=1024, messages=messages, betas=COMPACT, context_management=EDITS
    )
    compaction, answer = reply.content[0], reply.content[1]
    assert compaction.type == "compaction" and compaction.content
    assert "Now list the risks." in compaction.content
    assert answer.type == "text" and reply.stop_reason == "end_turn"
    # The answer was made from the summary: the top-level usage counts the compacted context, and
    # the compaction step (which read the whole conversation) is its own iteration.
    assert reply.usage.input_tokens < 500
    iterations = reply.usage.iterations or []
    assert [i.type for i in iterations] == ["compaction", "message"]
    assert iterations[0].input_tokens > TRIGGER
    assert iterations[1].input_tokens == reply.usage.input_tokens
    assert reply.context_management is not None and reply.context_management.applied_edits == []

    # Sent back verbatim, the block replaces everything before it: the next turn counts only
    # the summary and what follows, and is far below the trigger.
    follow = [
        *messages,
        {"role": "assistant", "content": reply.content},
        {"role": "user", "content": "Thanks."},
    ]
    second = client.beta.messages.create(
        model=MODEL, max_tokens=1024, messages=follow, betas=COMPACT, context_management=EDITS
    )
    assert [b.type for b in second.content] == ["text"]
    assert second.usage.input_tokens < 500 and second.usage.iterations is None
    counted = client.beta.messages.count_tokens(
        model=MODEL, messages=follow, betas=COMPACT, context_management=EDITS
    )
    assert counted.input_tokens < 500

    # An altered block is refused.
    altered = [
        {"type": "compaction", "content": compaction.content + " (edited)", "encrypted_content": "Ecx"}
    ]
    with pytest.raises(anthropic.BadRequestError, match="encrypted_content"):
        client.beta.messages.create(
            model=MODEL,
            max_tokens=16,
            messages=[
                *messages,
                {"role": "assistant", "content": altered},
                {"role": "user", "content": "Hi"},
            ],
            betas=COMPACT,
            context_management=EDITS,
        )


def test_compaction_streams_as_a_block_with_one_delta(client: anthropic.Anthropic) -> None:
    with client.beta.messages.stream(
        model=MODEL, max_tokens=1024, messages=_history(4), betas=COMPACT, context_management=EDITS
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds.count("compaction") == 1
    assert final.content[0].type == "compaction" and final.content[0].content
    assert final.content[0].encrypted_content
    assert final.content[1].type == "text"
    # The streamed block goes back as well as the plain one.
    follow = [
        *_history(4),
        {"role": "assistant", "content": final.content},
        {"role": "user", "content": "Ok."},
    ]
    again = client.beta.messages.create(
        model=MODEL, max_tokens=32, messages=follow, betas=COMPACT, context_management=EDITS
    )
    assert again.usage.input_tokens < 500


def test_below_the_trigger_nothing_is_compacted(client: anthropic.Anthropic) -> None:
    reply = client.beta.messages.create(
        model=MODEL, max_tokens=64, messages=_history(1), betas=COMPACT, context_management=EDITS
    )
    assert [b.type for b in reply.content] == ["text"]
    assert reply.usage.input_tokens > 10_000


def test_pause_after_compaction(client: anthropic.Anthropic) -> None:
    edits: Any = {"edits": [{**EDITS["edits"][0], "pause_after_compaction": True}]}
    reply = client.beta.messages.create(
        model=MODEL, max_tokens=64, messages=_history(4), betas=COMPACT, context_management=edits
    )
    assert reply.stop_reason == "compaction"
    assert [b.type for b in reply.content] == ["compaction"]
    assert reply.usage.output_tokens == 0


def test_compaction_over_a_thread(client: anthropic.Anthropic, emu: Emulator) -> None:
    thread = client.beta.messages.thread(
        model=MODEL,
        max_tokens=64,
        messages=_history(4)[:-1],
        betas=COMPACT,
        context_management=EDITS,
    )
    first = thread.send({"role": "user", "content": "Summarise please."})
    assert first.content[0].type == "compaction"
    # The held conversation holds the block, so the continue is counted from it on.
    second = thread.send({"role": "user", "content": "And the risks?"})
    assert [b.type for b in second.content] == ["text"]
    assert second.usage.input_tokens < 500
    assert [r["status"] for r in emu.requests] == [200, 200]


RESULT = "row " * 2000  # about 2,000 tokens each


def _tool_history(uses: int) -> list[Any]:
    messages: list[Any] = [{"role": "user", "content": "Look up the rows."}]
    for n in range(uses):
        call = {"type": "tool_use", "id": f"toolu_{n:02d}", "name": "lookup", "input": {"page": n}}
        messages.append({"role": "assistant", "content": [call]})
        result = {"type": "tool_result", "tool_use_id": f"toolu_{n:02d}", "content": RESULT}
        messages.append({"role": "user", "content": [result]})
    return messages


LOOKUP: Any = {
    "name": "lookup",
    "input_schema": {"type": "object", "properties": {"page": {"type": "integer"}}},
}


@pytest.mark.parametrize("stream", [False, True])
def test_clear_tool_uses_clears_the_oldest_results(client: anthropic.Anthropic, stream: bool) -> None:
    edits: Any = {
        "edits": [
            {
                "type": "clear_tool_uses_20250919",
                "trigger": {"type": "tool_uses", "value": 3},
                "keep": {"type": "tool_uses", "value": 2},
                "clear_tool_inputs": True,
            }
        ]
    }
    kwargs: Any = {
        "model": MODEL,
        "max_tokens": 64,
        "messages": _tool_history(5),
        "tools": [LOOKUP],
        "betas": ["context-management-2025-06-27"],
        "context_management": edits,
    }
    if stream:
        with client.beta.messages.stream(**kwargs) as s:
            reply = s.get_final_message()
    else:
        reply = client.beta.messages.create(**kwargs)
    whole = client.beta.messages.count_tokens(
        model=MODEL, messages=_tool_history(5), tools=[LOOKUP], betas=["context-management-2025-06-27"]
    )
    assert reply.context_management is not None
    (applied,) = reply.context_management.applied_edits
    assert applied.type == "clear_tool_uses_20250919" and applied.cleared_tool_uses == 3
    assert applied.cleared_input_tokens > 5_000
    assert reply.usage.input_tokens == whole.input_tokens - applied.cleared_input_tokens
    # Counting with the same edits counts what the model would see, and what it was before.
    counted = client.beta.messages.count_tokens(
        model=MODEL,
        messages=_tool_history(5),
        tools=[LOOKUP],
        betas=["context-management-2025-06-27"],
        context_management=edits,
    )
    assert counted.input_tokens == reply.usage.input_tokens
    assert counted.context_management is not None
    assert counted.context_management.original_input_tokens == whole.input_tokens


def test_clear_tool_uses_below_its_trigger_applies_nothing(client: anthropic.Anthropic) -> None:
    reply = client.beta.messages.create(
        model=MODEL,
        max_tokens=64,
        messages=_tool_history(2),
        tools=[LOOKUP],
        betas=["context-management-2025-06-27"],
        context_management={"edits": [{"type": "clear_tool_uses_20250919"}]},
    )
    assert reply.context_management is not None and reply.context_management.applied_edits == []


@pytest.mark.parametrize(
    ("betas", "edit", "message"),
    [
        ([], {"type": "compact_20260112"}, "anthropic-beta: compact-2026-01-12"),
        ([], {"type": "clear_tool_uses_20250919"}, "anthropic-beta: context-management-2025-06-27"),
        ([], {"type": "clear_thinking_20251015"}, "anthropic-beta: context-management-2025-06-27"),
        (
            COMPACT,
            {"type": "compact_20260112", "trigger": {"type": "input_tokens", "value": 1000}},
            "greater than or equal to 50000",
        ),
        (
            COMPACT,
            {"type": "compact_20260112", "trigger": {"type": "tool_uses", "value": 3}},
            "'input_tokens'",
        ),
        (COMPACT, {"type": "summarise"}, "context_management.edits.0.type"),
    ],
)
def test_malformed_edits_are_a_400(
    client: anthropic.Anthropic, betas: list[str], edit: dict[str, Any], message: str
) -> None:
    with pytest.raises(anthropic.BadRequestError, match=message):
        client.beta.messages.create(
            model=MODEL,
            max_tokens=16,
            messages=[{"role": "user", "content": "hi"}],
            betas=betas,
            context_management={"edits": [edit]},  # type: ignore[list-item]
        )


def _thinking_history(turns: int) -> list[Any]:
    messages: list[Any] = []
    for n in range(turns):
        thought = f"Considering part {n} carefully. " * 40
        messages.append({"role": "user", "content": f"Question {n}?"})
        messages.append(
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": thought, "signature": sign(thought)},
                    {"type": "text", "text": f"Answer {n}."},
                ],
            }
        )
    messages.append({"role": "user", "content": "Last question?"})
    return messages


@pytest.mark.parametrize(
    ("keep", "cleared"), [(None, 2), ({"type": "thinking_turns", "value": 2}, 1), ("all", 0)]
)
def test_clear_thinking_keeps_the_recent_turns(client: anthropic.Anthropic, keep: Any, cleared: int) -> None:
    edit: Any = {"type": "clear_thinking_20251015", **({"keep": keep} if keep is not None else {})}
    reply = client.beta.messages.create(
        model=MODEL,
        max_tokens=2048,
        messages=_thinking_history(3),
        thinking={"type": "enabled", "budget_tokens": 1024},
        betas=["context-management-2025-06-27"],
        context_management={"edits": [edit]},
    )
    assert reply.context_management is not None
    applied = reply.context_management.applied_edits
    if not cleared:
        assert applied == []
        return
    (edit_applied,) = applied
    assert edit_applied.type == "clear_thinking_20251015"
    assert edit_applied.cleared_thinking_turns == cleared
    assert edit_applied.cleared_input_tokens > 100 * cleared
