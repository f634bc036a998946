"""The chat page in headless Chromium warms the prompt cache while the user types a follow-up."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import chromium

from .conftest import RunningExample

pytestmark = pytest.mark.browser

# About 1,500 tokens: the conversation is above the chat model's minimum cacheable length.
LONG_QUESTION = "How does a prompt cache shorten the time to the first token of a streamed answer? " * 70


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1000, "height": 760})
    try:
        yield context.new_page()
    finally:
        context.close()


def _ahead(example: RunningExample) -> dict[str, Any]:
    ahead: dict[str, Any] = example.client.get("/api/metrics").json()["warm_ahead"]
    return ahead


def test_typing_a_follow_up_warms_the_conversation(example: RunningExample, page: Any) -> None:
    before = _ahead(example)
    page.goto(example.url + "/")
    page.fill("#prompt", f"({example.app.name}) {LONG_QUESTION}")
    page.click("#send")
    page.wait_for_selector(".answer[data-state='done']", timeout=30_000)
    # The turn is over once the stream has closed and the answer joined the conversation.
    page.wait_for_function("() => !document.getElementById('send').disabled", timeout=30_000)

    # Typing (not pasting, not sending) is what triggers it: one warm, with the conversation so far.
    with page.expect_response(lambda r: r.url.endswith("/api/warm"), timeout=10_000) as caught:
        page.type("#prompt", "And then", delay=20)
    warm = caught.value
    sent = json.loads(warm.request.post_data or "{}")
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant"]
    assert warm.status == 200
    # The page read the answer: {"warmed": true}.
    page.wait_for_selector("#prompt[data-warmed]", timeout=10_000)
    assert page.get_attribute("#prompt", "data-warmed") == "true"

    page.press("#prompt", "Enter")
    page.locator(".answer[data-state='done']").nth(1).wait_for(timeout=30_000)
    after = _ahead(example)
    assert after["warms_sent"] == before["warms_sent"] + 1
    assert after["cache_reads_after_warm"] == before["cache_reads_after_warm"] + 1
    # The rest of the typing sent no second warm of the same conversation (none was even skipped).
    assert after["warms_skipped"] == before["warms_skipped"]
