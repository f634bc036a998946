"""Message threads through the real SDK: its thread helper over several turns (plain and
streamed), its replay when the emulator has lost the thread, its tool runner turn after turn with
a real Python tool, and the API's 400s for a malformed `thread`."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2
import pytest
from anthropic import beta_async_tool, beta_tool

from firsttoken.testing.emulator import Emulator
from firsttoken.testing.emulator.protocol import ApiError
from firsttoken.testing.emulator.threads import TTL_SECONDS, ThreadStore

MODEL = "claude-sonnet-5"
BETA = {"anthropic-beta": "message-threads-2026-08-12"}


def test_thread_helper_sends_only_new_messages_over_several_turns(
    client: anthropic.Anthropic, emu: Emulator
) -> None:
    thread = client.beta.messages.thread(model=MODEL, max_tokens=64, system="Be brief.")
    replies = []
    for question in ("Hello there.", "Tell me more.", "And then?"):
        replies.append(thread.send({"role": "user", "content": question}))
    assert all(r.content and r.content[0].type == "text" for r in replies)
    assert thread.previous_message_id == replies[-1].id
    assert [r["status"] for r in emu.requests] == [200, 200, 200]
    # The helper's own history holds every turn; the emulator held what the continues left out.
    assert len(thread.params["messages"]) == 6
    assert len(emu.app.threads) == 3 == emu.stats()["threads_held"]
    # Each turn's input counts the whole held conversation, so it grows turn by turn.
    inputs = [r.usage.input_tokens for r in replies]
    assert inputs == sorted(inputs) and inputs[0] < inputs[-1]


def test_continue_carries_only_the_delta_and_no_system(emu: Emulator) -> None:
    url = emu.base_url + "/v1/messages"
    headers = {"x-api-key": "test", **BETA}
    first = httpx2.post(
        url,
        headers=headers,
        json={
            "model": MODEL,
            "max_tokens": 32,
            "system": "Answer in French.",
            "messages": [{"role": "user", "content": "Hello"}],
            "thread": {"type": "create"},
        },
    )
    assert first.status_code == 200, first.text
    follow = {
        "model": MODEL,
        "max_tokens": 32,
        "messages": [{"role": "user", "content": "And again"}],
        "thread": {"type": "continue", "previous_message_id": first.json()["id"]},
    }
    second = httpx2.post(url, headers=headers, json=follow)
    assert second.status_code == 200, second.text
    # The input counts the held conversation, not only the two words sent.
    assert second.json()["usage"]["input_tokens"] > first.json()["usage"]["input_tokens"]
    # Each response is continued once.
    again = httpx2.post(url, headers=headers, json=follow)
    assert again.status_code == 400
    assert again.json()["error"]["details"] == {"error_code": "thread_already_continued"}


def test_streamed_turns_continue_the_thread(client: anthropic.Anthropic, emu: Emulator) -> None:
    thread = client.beta.messages.thread(model=MODEL, max_tokens=64)
    ids = []
    for question in ("Stream one.", "Stream two.", "Stream three."):
        with thread.stream({"role": "user", "content": question}) as stream:
            text = "".join(stream.text_stream)
            message = stream.get_final_message()
        assert text and message.content[0].type == "text"
        ids.append(message.id)
    assert thread.previous_message_id == ids[-1]
    assert [r["status"] for r in emu.requests] == [200, 200, 200]


async def test_async_thread_and_tool_runner(aclient: anthropic.AsyncAnthropic, emu: Emulator) -> None:
    thread = aclient.beta.messages.thread(model=MODEL, max_tokens=64)
    await thread.send({"role": "user", "content": "One."})
    async with thread.stream({"role": "user", "content": "Two."}) as stream:
        text = "".join([t async for t in stream.text_stream])
    assert text
    emu.reset()
    await thread.send({"role": "user", "content": "Three."})
    assert [r["status"] for r in emu.requests] == [404, 200]

    @beta_async_tool
    async def double(n: int) -> str:
        """Double an integer.

        Args:
            n: the integer
        """
        return str(2 * n)

    runner = aclient.beta.messages.tool_runner(
        model=MODEL,
        max_tokens=256,
        tools=[double],
        messages=[{"role": "user", "content": "Use double on 21."}],
    )
    replies = [m async for m in runner]
    assert [m.stop_reason for m in replies] == ["tool_use", "end_turn"]


def test_lost_thread_is_a_404_the_sdk_replays(client: anthropic.Anthropic, emu: Emulator) -> None:
    thread = client.beta.messages.thread(model=MODEL, max_tokens=64)
    first = thread.send({"role": "user", "content": "Remember the number 7."})
    assert emu.app.threads.drop(first.id)
    second = thread.send({"role": "user", "content": "Which number?"})
    statuses = [r["status"] for r in emu.requests]
    # The continue was refused as the API refuses it, then the helper replayed the whole
    # conversation under a new thread, which the next turn continues.
    assert statuses == [200, 404, 200]
    assert thread.previous_message_id == second.id
    third = thread.send({"role": "user", "content": "Thanks."})
    assert [r["status"] for r in emu.requests] == [200, 404, 200, 200]
    assert third.id != second.id


def test_lost_thread_error_body(emu: Emulator, client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.beta.messages.create(
            model=MODEL,
            max_tokens=16,
            messages=[{"role": "user", "content": "hi"}],
            thread={"type": "continue", "previous_message_id": "msg_gone"},
            betas=["message-threads-2026-08-12"],
        )
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["error"]["details"] == {"error_code": "thread_not_found"}


def test_a_reset_loses_every_thread_and_the_sdk_recovers(client: anthropic.Anthropic, emu: Emulator) -> None:
    thread = client.beta.messages.thread(model=MODEL, max_tokens=64)
    thread.send({"role": "user", "content": "One."})
    emu.reset()
    reply = thread.send({"role": "user", "content": "Two."})
    assert [r["status"] for r in emu.requests] == [404, 200]
    assert thread.previous_message_id == reply.id


@beta_tool
def add(a: int, b: int) -> str:
    """Add two integers.

    Args:
        a: the first addend
        b: the second addend
    """
    return str(a + b)


def test_tool_runner_over_a_thread_turn_after_turn(client: anthropic.Anthropic, emu: Emulator) -> None:
    calls: list[tuple[int, int]] = []

    @beta_tool
    def multiply(a: int, b: int) -> str:
        """Multiply two integers.

        Args:
            a: the first factor
            b: the second factor
        """
        calls.append((a, b))
        return str(a * b)

    runner = client.beta.messages.tool_runner(
        model=MODEL,
        max_tokens=256,
        tools=[multiply],
        messages=[{"role": "user", "content": "Use multiply to compute 6 times 7."}],
    )
    messages = list(runner)
    assert calls, "the runner never called the tool"
    assert messages[0].stop_reason == "tool_use"
    assert messages[-1].stop_reason == "end_turn"
    assert len(messages) >= 2
    statuses = [r["status"] for r in emu.requests]
    assert statuses == [200] * len(messages)
    # Every turn went through the thread: the emulator holds one response per turn.
    assert len(emu.app.threads) == len(messages)


def test_streaming_tool_runner_over_a_thread(client: anthropic.Anthropic, emu: Emulator) -> None:
    runner = client.beta.messages.tool_runner(
        model=MODEL,
        max_tokens=256,
        tools=[add],
        messages=[{"role": "user", "content": "Use add to compute 2 plus 3."}],
        stream=True,
    )
    finals = []
    for stream in runner:
        finals.append(stream.get_final_message())
    assert finals[0].stop_reason == "tool_use" and finals[-1].stop_reason == "end_turn"
    assert all(r["status"] == 200 for r in emu.requests)


@pytest.mark.parametrize(
    ("thread", "extra", "headers", "message"),
    [
        ({"type": "create"}, {}, {}, "anthropic-beta: message-threads-2026-08-12"),
        ({"type": "resume"}, {}, BETA, "thread.type: Input should be 'create' or 'continue'"),
        ({"type": "continue"}, {}, BETA, "thread.continue.previous_message_id: Field required"),
        (
            {"type": "continue", "previous_message_id": "msg_x"},
            {"system": "Hi"},
            BETA,
            "system: cannot be set on a `continue`",
        ),
        (
            {"type": "continue", "previous_message_id": "msg_x"},
            {"tools": []},
            BETA,
            "tools: cannot be set on a `continue`",
        ),
    ],
)
def test_malformed_thread_use_is_a_400(
    emu: Emulator, thread: dict[str, Any], extra: dict[str, Any], headers: dict[str, str], message: str
) -> None:
    body = {
        "model": MODEL,
        "max_tokens": 8,
        "messages": [{"role": "user", "content": "hi"}],
        "thread": thread,
    }
    response = httpx2.post(
        emu.base_url + "/v1/messages", headers={"x-api-key": "test", **headers}, json={**body, **extra}
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert message in response.json()["error"]["message"]


def test_thread_lost_fault_makes_the_sdk_replay(client: anthropic.Anthropic, emu: Emulator) -> None:
    thread = client.beta.messages.thread(model=MODEL, max_tokens=64)
    thread.send({"role": "user", "content": "One."})
    lost = {"x-emulator-fault": "thread_lost"}
    # The create that replays the conversation is not a continue, so the fault spares it.
    reply = thread.send({"role": "user", "content": "Two."}, extra_headers=lost)
    assert [(r["status"], r["fault"]) for r in emu.requests] == [
        (200, None),
        (404, "thread_lost"),
        (200, "thread_lost"),
    ]
    assert thread.previous_message_id == reply.id


def test_thread_unsupported_fault(client: anthropic.Anthropic, emu: Emulator) -> None:
    emu.set_faults(["thread_unsupported"])
    # The thread helper's default is to raise the API's error...
    thread = client.beta.messages.thread(model=MODEL, max_tokens=64)
    with pytest.raises(anthropic.BadRequestError) as caught:
        thread.send({"role": "user", "content": "One."})
    body = caught.value.body
    assert isinstance(body, dict) and body["error"]["details"]["error_code"] == "thread_unsupported_request"
    # ...and the tool runner's is to go on without a thread, which the fault does not touch.
    emu.reset()
    runner = client.beta.messages.tool_runner(
        model=MODEL,
        max_tokens=256,
        tools=[add],
        messages=[{"role": "user", "content": "Use add to compute 2 plus 3."}],
    )
    messages = list(runner)
    assert messages[-1].stop_reason == "end_turn"
    assert [r["status"] for r in emu.requests] == [400] + [200] * len(messages)
    assert len(emu.app.threads) == 0


def test_a_held_turn_expires_after_its_ttl() -> None:
    now = [1000.0]
    with (
        Emulator(time_scale=0.0, seed=0, clock=lambda: now[0]) as emu,
        anthropic.Anthropic(
            base_url=emu.base_url, api_key="test", max_retries=0, _strict_response_validation=True
        ) as client,
    ):
        thread = client.beta.messages.thread(model=MODEL, max_tokens=64)
        thread.send({"role": "user", "content": "One."})
        now[0] += TTL_SECONDS - 1
        thread.send({"role": "user", "content": "Two."})
        now[0] += TTL_SECONDS + 1
        thread.send({"role": "user", "content": "Three."})
        assert [r["status"] for r in emu.requests] == [200, 200, 404, 200]


def _turn_data(previous: str | None) -> dict[str, Any]:
    thread = {"type": "continue", "previous_message_id": previous} if previous else {"type": "create"}
    return {
        "model": MODEL,
        "max_tokens": 8,
        "messages": [{"role": "user", "content": "hi"}],
        "thread": thread,
    }


def test_the_store_is_bounded_and_refuses_a_second_continue_in_flight() -> None:
    store = ThreadStore(lambda: 0.0, max_held=2)
    for n in range(3):
        with store.turn(_turn_data(None), BETA) as turn:
            turn.hold(f"msg_{n}", [{"type": "text", "text": "ok"}])
    assert len(store) == 2
    with pytest.raises(ApiError) as caught, store.turn(_turn_data("msg_0"), BETA):
        pass
    assert caught.value.status == 404  # the oldest was evicted
    with store.turn(_turn_data("msg_1"), BETA) as turn:
        assert [m["role"] for m in turn.data["messages"]] == ["user", "assistant", "user"]
        with pytest.raises(ApiError) as caught, store.turn(_turn_data("msg_1"), BETA):
            pass
        assert caught.value.details == {"error_code": "thread_continue_in_flight"}
    # A continue that ended without a reply leaves its response free to continue again.
    with store.turn(_turn_data("msg_1"), BETA):
        pass


def test_a_stream_cut_short_holds_nothing(client: anthropic.Anthropic, emu: Emulator) -> None:
    thread = client.beta.messages.thread(model=MODEL, max_tokens=64)
    thread.send({"role": "user", "content": "One."})
    cut = {"x-emulator-fault": "midstream_overloaded"}
    with (
        pytest.raises(anthropic.APIError),
        thread.stream({"role": "user", "content": "Two."}, extra_headers=cut) as stream,
    ):
        for _ in stream:
            pass
    assert len(emu.app.threads) == 1
    # The helper starts a new thread after a reply that ended early; the emulator takes it.
    third = thread.send({"role": "user", "content": "Three."})
    assert thread.previous_message_id == third.id
    assert [r["status"] for r in emu.requests] == [200, 200, 200]
    assert len(emu.app.threads) == 2


def test_a_thread_runs_its_tool_loop_question_after_question(
    client: anthropic.Anthropic, emu: Emulator
) -> None:
    thread = client.beta.messages.thread(model=MODEL, max_tokens=256, tools=[add])
    stops = []
    for question in ("Use add to compute 2 plus 3.", "Now use add to compute 4 plus 5."):
        thread.append({"role": "user", "content": question})
        stops += [m.stop_reason for m in thread.tool_runner()]
    assert stops == ["tool_use", "end_turn", "tool_use", "end_turn"]
    # One thread all along: every request after the first continued it, none was refused.
    assert [r["status"] for r in emu.requests] == [200] * 4
    assert len(thread.params["messages"]) == 8
