"""Intent routing (the Anthropic Performance Tuning guide's step 3, Haiku for speed-critical calls): one-word
classification on the fast profile, then the routed call."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from firsttoken import Engine, Settings
from firsttoken._routing import cache_key, normalise
from firsttoken._state import MemoryClassifyCache
from firsttoken.testing.emulator import Emulator

LABELS = ["search", "create", "update", "delete"]
ROUTES = {"lookup": "fast", "write": "chat"}


def reply(text: str) -> dict[str, dict[str, str]]:
    """The emulator answers exactly `text` (prose is the junk case: its own answer is a label)."""
    return {"extra_headers": {"x-emulator-reply": text}}


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(time_scale=0.0, seed=5) as emulator:
        yield emulator


@pytest.fixture
def engine(emu: Emulator) -> Iterator[Engine]:
    with Engine(Settings(base_url=emu.base_url, max_retries=0)) as eng:
        yield eng


@pytest.mark.parametrize(
    ("answer", "label"),
    [
        ("delete", "delete"),
        ("Delete.", "delete"),
        ("  SEARCH\n", "search"),
        ("**update**", "update"),
        ("create: a new record", "create"),
        ("I think delete", None),
        ("", None),
        ("...", None),
        ("deleted", None),
    ],
)
def test_normalise(answer: str, label: str | None) -> None:
    assert normalise(answer, LABELS) == label


def test_a_label_answer_is_the_classification(engine: Engine, emu: Emulator) -> None:
    assert (
        engine.classify("remove my account", labels=LABELS, default="search", **reply("Delete.")) == "delete"
    )
    fast = engine.metrics.snapshot()["profiles"]["fast"]
    assert fast["count"] == 1 and fast["output_tokens"] <= 5
    assert [r["model"] for r in emu.requests] == [engine.profile("fast").model]


def test_prose_answer_falls_back_to_the_default(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    # The emulator answers a classification prompt with a label (issue 14): prose is asked for.
    prose = reply("Sure, I can help you with your account.")
    assert engine.classify("remove my account", labels=LABELS, default="search", **prose) == "search"
    assert "unrecognised answer" in caplog.text


def test_an_upstream_error_falls_back_to_the_default(engine: Engine, emu: Emulator) -> None:
    emu.set_faults(["overloaded@*haiku*"])
    choice = engine.classification("remove my account", labels=LABELS, default="search")
    assert (choice.label, choice.source) == ("search", "OverloadedError")


def test_identical_inputs_are_answered_from_the_cache(engine: Engine, emu: Emulator) -> None:
    first = engine.classification("remove my account", labels=LABELS, default="search", **reply("delete"))
    again = engine.classification("remove my account", labels=LABELS, default="search", **reply("delete"))
    assert (first.source, again.source) == ("model", "cache")
    assert len(emu.requests) == 1
    # Other labels are another question.
    engine.classify("remove my account", labels=["delete", "keep"], default="keep", **reply("delete"))
    assert len(emu.requests) == 2


async def test_aclassify(engine: Engine) -> None:
    assert (
        await engine.aclassify("add a note", labels=LABELS, default="search", **reply("create")) == "create"
    )


def test_cache_expires_and_evicts() -> None:
    now = [0.0]
    cache = MemoryClassifyCache(size=2, clock=lambda: now[0])
    cache.set("a", "x", ttl=10)
    cache.set("b", "y", ttl=10)
    assert cache.get("a") == "x"
    cache.set("c", "z", ttl=10)
    assert cache.get("b") is None and cache.get("a") == "x"
    now[0] = 10.0
    assert cache.get("a") is None


def test_cache_keys_hold_no_user_text() -> None:
    key = cache_key("my secret plans", LABELS, "claude-haiku-5-5")
    assert "secret" not in key and key.startswith("firsttoken:classify:")


def test_bad_labels_are_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="one word"):
        engine.classify("x", labels=["two words"], default="two words")
    with pytest.raises(ValueError, match="default"):
        engine.classify("x", labels=LABELS, default="other")


def test_route_streams_on_the_chosen_profile(engine: Engine) -> None:
    with engine.route(
        "write me a haiku", routes=ROUTES, default="lookup", classify_options=reply("write")
    ) as stream:
        text = stream.text()
    assert text and stream.profile == "chat" and stream.model == engine.profile("chat").model
    timings = stream.timings
    assert timings.route == "write" and timings.classify_ms is not None
    # TTFT counts from before the classification: that is what the user waited.
    assert timings.ttft is not None and timings.ttft * 1000 >= timings.classify_ms
    snap = engine.metrics.snapshot()
    assert snap["profiles"]["chat"]["routes"] == {"write": 1}


def test_route_without_streaming_and_with_messages(engine: Engine) -> None:
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "find my last order"},
    ]
    prose = reply("Let me look into that for you.")
    message = engine.route(
        messages, routes=ROUTES, default="write", stream=False, max_tokens=10, classify_options=prose
    )
    # The emulator's prose is no label: the default route answered, and routing did not fail.
    assert message.model == engine.profile("chat").model
    assert engine.metrics.snapshot()["profiles"]["chat"]["routes"] == {"write": 1}


async def test_aroute(engine: Engine) -> None:
    stream = await engine.aroute(
        "look it up", routes=ROUTES, default="write", classify_options=reply("lookup")
    )
    async with stream:
        text = await stream.text()
    assert text and stream.profile == "fast" and stream.timings.route == "lookup"
