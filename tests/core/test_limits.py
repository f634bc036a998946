"""`_limits.py`: the body's size, messages, input tokens, the profiles a browser may name, and the
per-client budgets, each refused before anything goes upstream (issue 19)."""

from __future__ import annotations

import pytest

from firsttoken import DEFAULT_PROFILES, BadRequest, Limits, Refused, Settings, SettingsError, refusal
from firsttoken._state.client_budgets import MemoryClientBudgets

from .bodies import accept, body, chat, limits


def test_a_body_over_the_size_limit_is_413() -> None:
    with pytest.raises(Refused, match="over the limit of 1000 bytes") as caught:
        accept(chat("x" * 2000), max_body_bytes=1000)
    assert caught.value.status == 413
    with pytest.raises(Refused) as declared:
        limits(max_body_bytes=1000, max_attachments=0).check_length("1001")
    assert declared.value.status == 413
    # With attachments on, the read goes as far as their base64 may need; the text is held to 1000.
    files = limits(max_body_bytes=1000, max_request_attachment_bytes=3000)
    assert files.max_body_bytes == 5000
    files.check_length("5000")
    with pytest.raises(Refused, match="over the limit of 5000 bytes"):
        files.check_length("5001")
    with pytest.raises(Refused, match="over the limit of 1000 bytes") as garbage:
        accept(b"x" * 2000, max_body_bytes=1000)
    assert garbage.value.status == 413
    with pytest.raises(BadRequest, match="Content-Length"):
        limits().check_length("lots")


def test_too_many_messages_is_413_naming_the_limit() -> None:
    turns = [{"role": ("user", "assistant")[i % 2], "content": "x"} for i in range(5)]
    with pytest.raises(Refused, match="too many messages: 5, the limit is 4") as caught:
        accept(body({"messages": turns}), max_messages=4)
    assert caught.value.status == 413


def test_input_tokens_are_limited_per_profile() -> None:
    text = "word " * 2000  # about 2,500 tokens by the 4-characters rule
    with pytest.raises(Refused, match="the limit for this profile is 1000") as caught:
        accept(chat(text), max_input_tokens=1000)
    assert caught.value.status == 413
    generous = DEFAULT_PROFILES["chat"].replace(max_input_tokens=10_000)
    profiles = {**DEFAULT_PROFILES, "chat": generous}
    parsed, tokens = accept(chat(text, profile="chat"), max_input_tokens=1000, profiles=profiles)
    assert parsed.profile == "chat" and 2000 < tokens < 3000


def test_the_apps_own_system_prompt_counts_toward_the_token_limit() -> None:
    few = limits(max_input_tokens=100)
    assert few.check_chat([{"role": "user", "content": "hi"}], None) < 100
    with pytest.raises(Refused, match="too many input tokens"):
        few.check_chat([{"role": "user", "content": "hi"}], None, system="s" * 800)


def test_a_browser_may_name_only_the_browser_profiles() -> None:
    assert accept(chat(profile="fast"))[0].profile == "fast"
    with pytest.raises(BadRequest, match="unknown profile 'deep'; profiles are chat, fast"):
        accept(chat(profile="deep"))
    with pytest.raises(SettingsError, match="browser_profiles: names no profile: 'agnet'"):
        Settings(browser_profiles=("chat", "agnet"))
    from_env = Settings.from_env({"FIRSTTOKEN_BROWSER_PROFILES": "fast, deep"})
    assert from_env.browser_profiles == ("fast", "deep")


def test_the_client_budget_refuses_with_retry_after_and_refills() -> None:
    now = [1000.0]
    budgets = MemoryClientBudgets(clock=lambda: now[0])
    gate = Limits(Settings(client_requests_per_minute=2, client_tokens_per_minute=0), budgets)
    gate.admit("10.0.0.1", 10)
    gate.admit("10.0.0.1", 10)
    with pytest.raises(Refused, match="too many requests") as caught:
        gate.admit("10.0.0.1", 10)
    assert caught.value.status == 429
    assert caught.value.headers == [("Retry-After", "30")]
    start = refusal(caught.value)
    assert start.status == 429 and ("Retry-After", "30") in start.headers
    gate.admit("10.0.0.2", 10)  # another client has its own budget
    now[0] += 30
    gate.admit("10.0.0.1", 10)


def test_the_token_budget_counts_each_requests_estimate() -> None:
    now = [0.0]
    gate = Limits(
        Settings(client_requests_per_minute=0, client_tokens_per_minute=1000),
        MemoryClientBudgets(clock=lambda: now[0]),
    )
    gate.admit("u1", 600)
    with pytest.raises(Refused) as caught:
        gate.admit("u1", 600)
    # 200 tokens short at 1000 a minute: 12 seconds.
    assert caught.value.headers == [("Retry-After", "12")]


def test_budgets_are_off_in_development_and_on_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().client_budget() == (0, 0)  # a test run is development
    monkeypatch.delenv("PYTEST_VERSION", raising=False)
    assert Settings().client_budget() == (30, 300_000)
    assert Settings(development=True).client_budget() == (0, 0)
    assert Settings(client_requests_per_minute=5).client_budget() == (5, 300_000)


async def test_async_admission_uses_the_same_budget() -> None:
    gate = limits(client_requests_per_minute=1, client_tokens_per_minute=0)
    await gate.aadmit("c", 1)
    with pytest.raises(Refused):
        await gate.aadmit("c", 1)
