"""Threaded chats through the real relay against the emulator: a chat that names a `chat_id` sends
only its new messages, the API's thread continues turn after turn, a lost thread is replayed whole
once, an unthreadable one goes on unthreaded, and the held conversation is its owner's alone."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from firsttoken import Engine, EngineHandle, Relay, Settings
from firsttoken.testing.emulator import Emulator

THREADED = {"chat": {"threads": True}}


def settings(emulator: Emulator, profiles: dict[str, Any] | None = None) -> Settings:
    data: dict[str, Any] = {"base_url": emulator.base_url, "max_retries": 0, "warm_up": False}
    if profiles:
        data["profiles"] = profiles
    return Settings.from_mapping(data)


def turn(
    engine: Engine, text: str, chat_id: str = "chat-1", owner: str = "alice", **call: Any
) -> dict[str, Any]:
    """One browser turn of chat `chat_id` through a sync relay: its events by name, `done` parsed."""
    relay = Relay(
        engine,
        chat_id=chat_id,
        hold=True,
        owner=owner,
        messages=[{"role": "user", "content": text}],
        profile=call.pop("profile", "chat"),
        **call,
    )
    start = relay.open()
    assert start.status == 200, start.body
    events: dict[str, Any] = {}
    for block in b"".join(relay).decode().split("\n\n"):
        name = data = None
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
        if name is not None:
            events.setdefault(name, []).append(data)
    return events


class Handle(EngineHandle[Any]):
    """The framework-free half every adapter's handle shares, over one engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def engine(self) -> Engine:
        return self._engine


def held(engine: Engine, chat_id: str = "chat-1", owner: str | None = "alice") -> tuple[int, Any]:
    start = Handle(engine).held_messages(chat_id, owner=owner)
    return start.status, json.loads(start.body or b"null")


def sent(emulator: Emulator) -> list[tuple[int, str | None, int | None]]:
    """Each messages request the emulator saw: its status, `thread` kind and how many messages it sent."""
    return [
        (r["status"], r.get("thread"), r.get("sent_messages"))
        for r in emulator.requests
        if r["path"] == "/v1/messages"
    ]


@pytest.fixture
def threaded(emulator: Emulator) -> Iterator[Engine]:
    emulator.reset()
    emulator.set_faults([])
    with Engine(settings(emulator, THREADED)) as eng:
        yield eng


def test_each_turn_continues_the_thread_with_only_its_new_message(
    threaded: Engine, emulator: Emulator
) -> None:
    dones = [turn(threaded, q)["done"][0] for q in ("Hello there.", "Tell me more.", "And then?")]
    assert sent(emulator) == [(200, "create", 1), (200, "continue", 1), (200, "continue", 1)]
    assert all(d["chat_id"] == "chat-1" and d["threaded"] is True for d in dones)
    # The API held the whole conversation: each turn's input grew though one message was sent.
    inputs = [d["usage"]["input_tokens"] for d in dones]
    assert inputs[0] < inputs[1] < inputs[2]
    status, body = held(threaded)
    assert status == 200 and body["chat_id"] == "chat-1"
    assert [m["role"] for m in body["messages"]] == ["user", "assistant"] * 3
    assert body["messages"][2] == {"role": "user", "content": "Tell me more."}
    assert all(m["content"] for m in body["messages"])


def test_a_lost_thread_is_replayed_whole_once_and_threads_again(threaded: Engine, emulator: Emulator) -> None:
    turn(threaded, "Hello there.")
    emulator.set_faults(["thread_lost"])
    events = turn(threaded, "Tell me more.")
    emulator.set_faults([])
    turn(threaded, "And then?")
    assert "error" not in events and events["done"][0]["threaded"] is True
    assert sent(emulator) == [
        (200, "create", 1),
        (404, "continue", 1),
        (200, "create", 3),  # the whole conversation, under a new thread
        (200, "continue", 1),
    ]


def test_a_thread_lost_again_right_after_its_replay_goes_on_unthreaded(
    threaded: Engine, emulator: Emulator
) -> None:
    turn(threaded, "Hello there.")
    emulator.set_faults(["thread_lost"])
    turn(threaded, "Tell me more.")
    events = turn(threaded, "And then?")
    assert "error" not in events and events["done"][0]["threaded"] is False
    assert sent(emulator)[-2:] == [(404, "continue", 1), (200, None, 5)]
    emulator.set_faults([])
    turn(threaded, "Last one.")
    assert sent(emulator)[-1] == (200, None, 7)


def test_an_unthreadable_chat_goes_on_unthreaded(threaded: Engine, emulator: Emulator) -> None:
    emulator.set_faults(["thread_unsupported"])
    first = turn(threaded, "Hello there.")
    emulator.set_faults([])
    second = turn(threaded, "Tell me more.")
    assert sent(emulator) == [(400, "create", 1), (200, None, 1), (200, None, 3)]
    assert first["done"][0]["threaded"] is False and "error" not in second


def test_a_refused_answer_is_not_held_and_the_next_turn_starts_a_thread(
    threaded: Engine, emulator: Emulator
) -> None:
    turn(threaded, "Hello there.")
    emulator.set_faults(["refusal"])
    assert turn(threaded, "Something refused.")["done"][0]["stop_reason"] == "refusal"
    emulator.set_faults([])
    turn(threaded, "Something else.")
    assert sent(emulator)[-1] == (200, "create", 3)
    assert "Something refused." not in json.dumps(held(threaded)[1])


def test_without_threads_the_server_holds_the_chat_and_sends_it_whole(emulator: Emulator) -> None:
    emulator.reset()
    emulator.set_faults([])
    with Engine(settings(emulator)) as engine:
        dones = [turn(engine, q)["done"][0] for q in ("Hello there.", "Tell me more.")]
        assert sent(emulator) == [(200, None, 1), (200, None, 3)]
        assert dones[1]["threaded"] is False and dones[1]["chat_id"] == "chat-1"
        # A whole history sent again with the chat id (the AI SDK's default body) adds only what is new.
        history = [{"role": m["role"], "content": m["content"]} for m in held(engine)[1]["messages"]]
        relay = Relay(
            engine,
            chat_id="chat-1",
            hold=True,
            owner="alice",
            messages=[*history, {"role": "user", "content": "Third."}],
        )
        assert relay.open().status == 200
        b"".join(relay)
        assert sent(emulator)[-1] == (200, None, 5) and len(held(engine)[1]["messages"]) == 6


def test_a_held_chat_lives_chat_ttl_after_its_last_turn_whatever_resume_ttl_says(emulator: Emulator) -> None:
    emulator.reset()
    emulator.set_faults([])
    data = {"base_url": emulator.base_url, "max_retries": 0, "warm_up": False, "chat_ttl": 1.0}
    with Engine(Settings.from_mapping({**data, "resume_ttl": 0.2})) as engine:
        turn(engine, "Hello there.")
        time.sleep(0.4)
        # Past the resumable answers' TTL, the conversation is still there.
        assert held(engine)[0] == 200
        time.sleep(1.0)
        assert held(engine)[0] == 404
        turn(engine, "Anyone?")
        assert sent(emulator)[-1] == (200, None, 1)
    assert Settings().chat_ttl == 86_400.0


def test_the_held_chat_is_its_owners_alone(threaded: Engine, emulator: Emulator) -> None:
    turn(threaded, "Hello there.")
    assert held(threaded, owner="mallory")[0] == 404
    assert held(threaded, owner=None)[0] == 404
    assert held(threaded, chat_id="no-such-chat")[0] == 404
    assert held(threaded, chat_id="bad id with spaces")[0] == 404
    # Another owner naming the same chat id starts a conversation of their own.
    turn(threaded, "Mine.", owner="mallory")
    assert sent(emulator)[-1] == (200, "create", 1)
    assert held(threaded, owner="mallory")[1]["messages"][0]["content"] == "Mine."


async def test_the_async_relay_threads_too(threaded: Engine, emulator: Emulator) -> None:
    for text in ("Hello there.", "Tell me more."):
        relay = Relay(
            threaded, chat_id="chat-a", hold=True, owner="alice", messages=[{"role": "user", "content": text}]
        )
        assert (await relay.aopen()).status == 200
        body = b"".join([chunk async for chunk in relay])
        assert b'"chat_id":"chat-a"' in body
    assert sent(emulator) == [(200, "create", 1), (200, "continue", 1)]
    start = await Handle(threaded).aheld_messages("chat-a", owner="alice")
    assert start.status == 200 and len(json.loads(start.body or b"")["messages"]) == 4


def test_an_agent_turn_continues_its_thread_step_by_step(emulator: Emulator) -> None:
    emulator.reset()
    emulator.set_faults([])

    def clock() -> str:
        """The current time."""
        return "2026-12-06T12:00:00+00:00"

    profiles = {"agent": {"model": "claude-sonnet-5-5", "max_tokens": 512, "tools": [clock], "threads": True}}
    with Engine(settings(emulator, profiles)) as engine:
        first = turn(engine, "What time is it? Run clock({}).", profile="agent")
        assert first["done"][0]["steps"] == 2 and "tool_result" in first
        turn(engine, "Thanks, and now?", profile="agent")
        kinds = sent(emulator)
        # Step two sends only the tool results; the next turn continues from the turn's last step.
        assert kinds[:2] == [(200, "create", 1), (200, "continue", 1)]
        assert kinds[2] == (200, "continue", 1)
        shown = held(engine)[1]["messages"]
        assert [m["role"] for m in shown][:2] == ["user", "assistant"]


# Past the API's smallest compaction trigger (50,000 input tokens, about 4 characters each).
LONG = "Tell me about the history of streaming protocols on the web, in detail. " * 3000


@pytest.mark.parametrize("threads", [False, True], ids=["held-here", "threaded"])
def test_compaction_streams_as_its_own_event_and_goes_back_verbatim(
    emulator: Emulator, threads: bool
) -> None:
    emulator.reset()
    emulator.set_faults([])
    profiles = {"chat": {"threads": threads, "compact": 50_000, "max_input_tokens": 80_000}}
    with Engine(settings(emulator, profiles)) as engine:
        first = turn(engine, LONG)
        assert first["compaction"][0]["summary"].startswith("Summary of the 1 earlier messages")
        second = turn(engine, "Go on.")
        third = turn(engine, "And then?")
        assert "error" not in second and "compaction" not in second and "error" not in third
        # The block went back unchanged (an altered one is the API's 400) and stands for what it
        # summarised: the next turns' input counts from it on.
        assert second["done"][0]["usage"]["input_tokens"] < 1000
        expected = [(200, "create", 1), (200, "continue", 1)] if threads else [(200, None, 1), (200, None, 3)]
        assert sent(emulator)[:2] == expected
        shown = held(engine)[1]["messages"]
        assert shown[1]["summarised"] is True and "summarised" not in shown[3]


def test_a_bad_threads_or_compact_setting_fails_at_start_up_naming_the_key() -> None:
    from firsttoken import SettingsError

    for fields, key in (
        ({"threads": "yes"}, "threads"),
        ({"compact": 1000}, "compact"),
        ({"compact": True}, "compact"),
    ):
        with pytest.raises(SettingsError) as caught:
            Settings.from_mapping({"profiles": {"chat": fields}})
        assert key in str(caught.value)


def test_an_agent_profile_clears_old_tool_results_before_it_compacts() -> None:
    def clock() -> str:
        """The current time."""
        return "now"

    profiles = Settings.from_mapping(
        {
            "profiles": {
                "chat": {"compact": 60_000},
                "agent": {
                    "model": "claude-sonnet-5-5",
                    "max_tokens": 64,
                    "tools": [clock],
                    "compact": 60_000,
                },
            }
        }
    ).profiles
    chat, agent = profiles["chat"].context_params(), profiles["agent"].context_params()
    assert [e["type"] for e in chat["context_management"]["edits"]] == ["compact_20260112"]
    assert chat["betas"] == ["compact-2026-01-12"]
    assert [e["type"] for e in agent["context_management"]["edits"]] == [
        "clear_tool_uses_20250919",
        "compact_20260112",
    ]
    assert agent["betas"] == ["compact-2026-01-12", "context-management-2025-06-27"]
