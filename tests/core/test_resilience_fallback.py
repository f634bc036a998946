"""Fallback chains against the emulator's fault injection, through the real SDK over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import pytest

from firsttoken import Engine, Reset, Settings, TextDelta, UpstreamFailure
from firsttoken.testing.emulator import Emulator
from firsttoken.testing.emulator import app as emulator_app

PRIMARY = "claude-sonnet-5-5"
FALLBACK = "claude-haiku-5-5"
PREFILLABLE = "claude-haiku-4-5"
USER = [{"role": "user", "content": "Explain why streaming makes a chat feel fast."}]


def fault(spec: str) -> dict[str, dict[str, str]]:
    return {"extra_headers": {"x-emulator-fault": spec}}


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(time_scale=0.0, seed=11) as emulator:
        yield emulator


def make_engine(emu: Emulator, *, retries: int = 1, **chat: object) -> Engine:
    profiles = {"chat": {"fallbacks": [FALLBACK], **chat}}
    return Engine(
        Settings.from_mapping({"base_url": emu.base_url, "max_retries": retries, "profiles": profiles})
    )


def calls(emu: Emulator) -> list[tuple[str, int]]:
    return [(r["model"], r["status"]) for r in emu.requests]


def reference_text(emu: Emulator, model: str) -> str:
    """What `model` answers USER with no fault: the seamless fallback must read exactly like it."""
    with (
        Engine(Settings(base_url=emu.base_url, max_retries=0)) as plain,
        plain.stream(messages=USER, model=model) as s,
    ):
        return s.text()


def test_overloaded_primary_is_served_by_the_fallback_with_the_sdk_retries_counted(emu: Emulator) -> None:
    with make_engine(emu, retries=1) as engine:
        with engine.stream(messages=USER, **fault(f"overloaded@{PRIMARY}")) as s:
            text = s.text()
        assert text == reference_text(emu, FALLBACK)
        assert s.timings.served_by == FALLBACK == s.model
        assert s.timings.fallbacks == 1
        # The SDK retried the primary once (its own policy) before the engine moved on.
        assert s.timings.retries == 1
        assert calls(emu)[:3] == [(PRIMARY, 529), (PRIMARY, 529), (FALLBACK, 200)]
        total = engine.metrics.snapshot()["total"]
        assert (total["fallbacks"], total["retries"], total["errors"]) == (1, 1, 0)


def test_create_falls_back_and_records_which_model_served(emu: Emulator) -> None:
    with make_engine(emu, retries=0) as engine:
        message = engine.create(messages=USER, max_tokens=20, **fault(f"overloaded@{PRIMARY}"))
        assert message.model == FALLBACK
        snap = engine.metrics.snapshot()
        assert snap["models"][FALLBACK]["fallbacks"] == 1
        assert PRIMARY not in snap["models"]


async def test_async_create_and_stream_fall_back(emu: Emulator) -> None:
    async with make_engine(emu, retries=0) as engine:
        message = await engine.acreate(messages=USER, max_tokens=20, **fault(f"overloaded@{PRIMARY}"))
        assert message.model == FALLBACK
        async with engine.astream(messages=USER, **fault(f"overloaded@{PRIMARY}")) as s:
            text = await s.text()
        assert text and s.timings.served_by == FALLBACK and s.timings.fallbacks == 1


def test_per_call_fallbacks_override_the_profile(emu: Emulator) -> None:
    with make_engine(emu, retries=0) as engine:
        message = engine.create(
            messages=USER, max_tokens=10, fallbacks=["claude-opus-5"], **fault(f"overloaded@{PRIMARY}")
        )
        assert message.model == "claude-opus-5"


def test_without_a_fallback_the_overload_reaches_the_caller(emu: Emulator) -> None:
    with make_engine(emu, retries=0) as engine:
        with pytest.raises(anthropic.InternalServerError) as info:
            engine.create(messages=USER, max_tokens=10, fallbacks=[], **fault(f"overloaded@{PRIMARY}"))
        assert info.value.status_code == 529


def test_an_error_other_than_overload_does_not_switch_models(emu: Emulator) -> None:
    with make_engine(emu, retries=0) as engine:
        with pytest.raises(anthropic.InternalServerError):
            engine.create(messages=USER, max_tokens=10, **fault(f"server_error@{PRIMARY}"))
        assert [m for m, _ in calls(emu)] == [PRIMARY]


@pytest.fixture
def overload_before_text(monkeypatch: pytest.MonkeyPatch) -> None:
    # The emulator's mid-stream fault strikes after MIDSTREAM_AFTER_TOKENS tokens; at 0 it strikes
    # after message_start and content_block_start, before the first text delta.
    monkeypatch.setattr(emulator_app, "MIDSTREAM_AFTER_TOKENS", 0)


@pytest.mark.usefixtures("overload_before_text")
def test_midstream_overload_before_any_text_is_seamless(emu: Emulator) -> None:
    with make_engine(emu) as engine:
        with engine.stream(messages=USER, **fault(f"midstream_overloaded@{PRIMARY}")) as s:
            events = list(s.events())
        names = [name for name, _ in events]
        # One message_start: the failed attempt's events never reached the caller.
        assert names.count("message_start") == 1 and "error" not in names
        text = "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta")
        assert text == reference_text(emu, FALLBACK)
        assert s.timings.served_by == FALLBACK and s.timings.fallbacks == 1 and s.timings.retries == 0
        assert calls(emu)[:2] == [(PRIMARY, 200), (FALLBACK, 200)]


@pytest.mark.usefixtures("overload_before_text")
async def test_async_midstream_overload_before_any_text_is_seamless(emu: Emulator) -> None:
    async with make_engine(emu) as engine:
        async with engine.astream(messages=USER, **fault(f"midstream_overloaded@{PRIMARY}")) as s:
            text = await s.text()
        assert text == reference_text(emu, FALLBACK)
        assert s.timings.served_by == FALLBACK


@pytest.mark.usefixtures("overload_before_text")
def test_relay_done_event_names_the_model_that_served(emu: Emulator) -> None:
    with make_engine(emu) as engine:
        relay = engine.relay(messages=USER, **fault(f"midstream_overloaded@{PRIMARY}"))
        assert relay.open().status == 200
        body = b"".join(relay).decode()
    done = json.loads(body.split("event: done\ndata: ")[1].split("\n")[0])
    assert (done["served_by"], done["fallbacks"], done["retries"]) == (FALLBACK, 1, 0)
    assert "event: error" not in body


def test_overload_after_text_reaches_the_caller_as_an_error_when_the_fallback_takes_prefill(
    emu: Emulator,
) -> None:
    # An older fallback could continue the answer, which the profile did not ask for: the error
    # stands, as it did before restarts.
    with make_engine(emu, fallbacks=[PREFILLABLE]) as engine:
        received: list[str] = []

        def read_all() -> None:
            received.extend(s)

        with (
            engine.stream(messages=USER, **fault(f"midstream_overloaded@{PRIMARY}")) as s,
            pytest.raises(UpstreamFailure) as info,
        ):
            read_all()
        assert info.value.type == "overloaded_error"
        assert received and s.timings.served_by == PRIMARY
        # No second model was asked: the caller already showed the primary's words.
        assert [m for m, _ in calls(emu)] == [PRIMARY]

        relay = engine.relay(messages=USER, **fault(f"midstream_overloaded@{PRIMARY}"))
        assert relay.open().status == 200
        body = b"".join(relay).decode()
        assert "event: error" in body and "overloaded_error" in body


def test_overload_after_text_restarts_the_answer_on_a_newer_fallback(emu: Emulator) -> None:
    # A 4.6+ fallback refuses a continuation's prefill: the answer starts again on it, and the
    # caller is told to drop what it showed (a `Reset` between the two answers' events).
    with make_engine(emu) as engine:
        with engine.stream(messages=USER, **fault(f"midstream_overloaded@{PRIMARY}")) as s:
            events = list(s.typed_events())
        resets = [i for i, e in enumerate(events) if isinstance(e, Reset)]
        assert len(resets) == 1 and events[resets[0]] == Reset(FALLBACK, "fallback")
        before = "".join(e.text for e in events[: resets[0]] if isinstance(e, TextDelta))
        after = "".join(e.text for e in events[resets[0] :] if isinstance(e, TextDelta))
        assert before and after == reference_text(emu, FALLBACK)
        assert s.timings.served_by == FALLBACK == s.model and s.timings.fallbacks == 1
        assert s.message.content[0].text == after and s.stop_reason == "end_turn"
        assert [m for m, _ in calls(emu)][:2] == [PRIMARY, FALLBACK]
        with engine.stream(messages=USER, **fault(f"midstream_overloaded@{PRIMARY}")) as again:
            assert again.text() == after

        relay = engine.relay(messages=USER, **fault(f"midstream_overloaded@{PRIMARY}"))
        assert relay.open().status == 200
        body = b"".join(relay).decode()
    assert "event: error" not in body
    reset = body.index("event: reset\n")
    assert json.loads(body[reset:].split("\n")[1].removeprefix("data: ")) == {
        "reason": "fallback",
        "model": FALLBACK,
    }
    assert "event: token" in body[:reset] and "event: token" in body[reset:]
    done = json.loads(body.split("event: done\ndata: ")[1].split("\n")[0])
    assert (done["served_by"], done["fallbacks"]) == (FALLBACK, 1)

    # Plain text cannot take back what it sent: there the restart ends the answer, as before.
    with make_engine(emu) as engine:
        relay = engine.relay(format="text", messages=USER, **fault(f"midstream_overloaded@{PRIMARY}"))
        assert relay.open().status == 200
        text = b"".join(relay).decode()
    assert text.endswith(
        f"[error] overloaded_error: the answer broke off and restarted on {FALLBACK}, "
        "which plain text cannot show\n"
    )


def test_overload_after_text_continues_on_the_fallback_when_opted_in(emu: Emulator) -> None:
    # A continuation is a prefill, which only models before Claude 4.6 take (test_stream_events.py
    # holds the start-up refusal for newer ones).
    with make_engine(emu, continue_on_fallback=True, fallbacks=[PREFILLABLE]) as engine:
        with engine.stream(messages=USER, **fault(f"midstream_overloaded@{PRIMARY}")) as s:
            pieces = list(s)
        first = "".join(pieces[: emulator_app.MIDSTREAM_AFTER_TOKENS])
        text = "".join(pieces)
        assert len(pieces) > emulator_app.MIDSTREAM_AFTER_TOKENS + 1
        assert s.timings.served_by == PREFILLABLE and s.timings.fallbacks == 1 and s.stop_reason == "end_turn"
        # The whole answer, the primary's words first, is the final message's text as well.
        assert s.message.content[0].text == text and text.startswith(first)
        assert [m for m, _ in calls(emu)] == [PRIMARY, PREFILLABLE]
        # The fallback was asked to continue the partial answer (an assistant prefill), and its
        # words follow the primary's exactly as a direct prefilled call to it reads.
        prefilled = [*USER, {"role": "assistant", "content": first.rstrip()}]
        with (
            Engine(Settings(base_url=emu.base_url, max_retries=0)) as plain,
            plain.stream(messages=prefilled, model=PREFILLABLE) as direct,
        ):
            continuation = direct.text()
        assert text == first + continuation
