"""The chat page in headless Chromium: an answer streams in, and its stats are the model's."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from example_projects.extract import Card
from firsttoken.testing.emulator.config import DEFAULT_TIMINGS
from tests.browser import chromium

from .conftest import RunningExample

pytestmark = pytest.mark.browser

# With the emulator's seed 0 this question gets a 257-token answer on the chat profile: about
# 2.9 s at the sonnet family's 90 tokens/s, long enough to tell streaming from buffering.
LONG_QUESTION = "What makes a web endpoint feel fast?"

# Records, in page time, each change of the first answer's text and state.
WATCH = """() => {
  window.__seen = [];
  const start = performance.now();
  new MutationObserver(() => {
    const answer = document.querySelector('.answer');
    if (!answer) return;
    const text = answer.querySelector('.text');
    window.__seen.push({t: performance.now() - start, n: text ? text.textContent.length : 0,
                        state: answer.dataset.state});
  }).observe(document.getElementById('conversation'), {subtree: true, childList: true,
                                                       characterData: true, attributes: true});
}"""


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


def test_answer_streams_in_with_the_models_stats(
    realtime_example: RunningExample, page: Any, tmp_path: Path
) -> None:
    page.goto(realtime_example.url + "/")
    # Pointed at an outside endpoint, the page shows no emulator banner.
    page.wait_for_function("() => document.readyState === 'complete'")
    assert page.locator("#banner").is_hidden()
    page.evaluate(WATCH)
    page.fill("#prompt", LONG_QUESTION)
    page.click("#send")
    page.wait_for_selector(".answer[data-state='done']", timeout=30_000)

    seen = page.evaluate("window.__seen")
    first = next(s["t"] for s in seen if s["n"] > 0)
    done = next(s["t"] for s in seen if s["state"] == "done")
    lengths = sorted({s["n"] for s in seen})
    # Buffered, the whole text would appear in one or two steps just before `done`.
    assert len(lengths) > 20
    assert done - first > 1.0, (first, done)
    assert first < 0.5 * done, (first, done)

    stats = page.locator(".stats")
    timing = DEFAULT_TIMINGS["sonnet"]
    ttft_ms = float(stats.get_attribute("data-ttft-ms") or "nan")
    # The emulator draws TTFT from a lognormal with this p50 and p95; its 5th percentile is p50²/p95.
    assert timing.ttft_p50_ms**2 / timing.ttft_p95_ms <= ttft_ms <= timing.ttft_p95_ms + 200
    assert (stats.get_attribute("data-model") or "").startswith("claude-sonnet")
    assert stats.get_attribute("data-cache") in ("hit", "miss")
    assert float(stats.get_attribute("data-tps") or "0") > 0
    assert "first token" in stats.inner_text()
    assert page.locator(".answer .text").inner_text().strip()

    shots = Path(os.environ.get("FIRSTTOKEN_SCREENSHOT_DIR") or tmp_path)
    shot = shots / f"chat-{realtime_example.app.name}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0


def test_embedded_emulator_banner(embedded_example: RunningExample, page: Any) -> None:
    page.goto(embedded_example.url + "/")
    banner = page.locator("#banner")
    banner.wait_for(state="visible", timeout=10_000)
    assert "embedded emulator" in banner.inner_text()


def test_an_upstream_refusal_shows_in_the_answer(realtime_example: RunningExample, page: Any) -> None:
    emulator = realtime_example.emulator
    assert emulator is not None
    emulator.set_faults(["overloaded"])
    try:
        page.goto(realtime_example.url + "/")
        page.fill("#prompt", "Hello?")
        page.press("#prompt", "Enter")
        answer = page.locator(".answer[data-state='error']")
        answer.wait_for(timeout=15_000)
        assert "HTTP 503" in answer.inner_text()
    finally:
        emulator.set_faults([])


# Records, for the first answer, which card fields have text each time the page changes.
WATCH_CARD = """() => {
  window.__cards = [];
  new MutationObserver(() => {
    const card = document.querySelector('.answer .card');
    if (!card) return;
    const fields = {};
    for (const el of card.querySelectorAll('[data-field]')) fields[el.dataset.field] = el.textContent;
    window.__cards.push({fields, state: card.dataset.state});
  }).observe(document.getElementById('conversation'), {subtree: true, childList: true,
                                                       characterData: true, attributes: true});
}"""


def test_the_extract_card_fills_field_by_field(realtime_example: RunningExample, page: Any) -> None:
    """The `extract` profile's structured answer (structured.js): a card whose fields appear and
    grow as the JSON streams, not the raw JSON."""
    page.goto(realtime_example.url + "/")
    page.wait_for_function("() => document.readyState === 'complete'")
    page.evaluate(WATCH_CARD)
    page.select_option("#profile", "extract")
    page.fill("#prompt", "The new bike lanes downtown are wonderful, and my commute is twice as fast.")
    page.click("#send")
    page.wait_for_selector(".card[data-state='done']", timeout=30_000)
    card = page.locator(".answer .card")
    final = {
        "title": card.locator("[data-field=title]").text_content(),
        "summary": card.locator("[data-field=summary]").text_content(),
        "tags": card.locator("[data-field=tags] li").all_text_contents(),
        "sentiment": card.locator("[data-field=sentiment]").text_content(),
    }
    Card.model_validate(final)
    assert card.get_attribute("data-sentiment") == final["sentiment"]
    assert page.locator(".answer .text").first.is_hidden()  # the raw JSON is not what the reader sees
    seen = page.evaluate("window.__cards")
    # Filled in steps, not at once: the card showed several partial objects before the last. (How
    # many depends on the server's writes: a WSGI writer that falls behind sends what its queue
    # holds as one write, with one object event, so the title may be whole in the first one.)
    filled = [s["fields"] for s in seen if s["fields"]]
    assert len({json.dumps(fields, sort_keys=True) for fields in filled}) > 2
    assert list(seen[-1]["fields"])[:2] == ["title", "summary"]
