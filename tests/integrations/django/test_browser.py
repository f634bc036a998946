"""The chat page in headless Chromium under uvicorn (ASGI) and gunicorn (WSGI): the answer streams in.

runserver is driven by the shared browser test in tests/e2e; this adds Django's production servers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from firsttoken.testing.emulator import Emulator
from tests.browser import chromium
from tests.e2e.test_browser import LONG_QUESTION, WATCH

from .servers import django_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(time_scale=1.0, seed=0) as emu:
        yield emu


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


@pytest.mark.parametrize("kind", ["uvicorn", "gunicorn"])
def test_answer_streams_in(kind, emulator, browser):
    with django_server(kind, emulator.base_url) as server:
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(server.url + "/")
            page.wait_for_function("() => document.readyState === 'complete'")
            page.evaluate(WATCH)
            page.fill("#prompt", LONG_QUESTION)
            page.click("#send")
            page.wait_for_selector(".answer[data-state='done']", timeout=30_000)
            seen = page.evaluate("window.__seen")
            stats = page.locator(".stats")
            model = stats.get_attribute("data-model") or ""
        finally:
            context.close()
    first = next(s["t"] for s in seen if s["n"] > 0)
    done = next(s["t"] for s in seen if s["state"] == "done")
    # Buffered (the wrong iterator kind, or gzip holding tokens), the text would land in one step.
    assert len({s["n"] for s in seen}) > 20
    assert first < 0.5 * done, (first, done)
    assert any(s["state"] == "streaming" and s["n"] > 0 for s in seen)
    assert model.startswith("claude-sonnet")


def test_the_page_sends_the_csrf_token_and_shows_a_refusal(emulator, browser):
    """With CsrfViewMiddleware on, chat.js sends the `csrftoken` cookie's token in X-CSRFToken;
    without the cookie, Django's HTML 403 shows as a readable error, not a JSON parse failure."""
    csrf = {"DJANGO_SETTINGS_MODULE": "tests.integrations.django.project.csrf_settings"}
    with django_server("runserver", emulator.base_url, csrf) as server:
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(server.url + "/")
            assert any(c["name"] == "csrftoken" for c in context.cookies())
            page.fill("#prompt", "Hello")
            page.click("#send")
            page.wait_for_selector(".answer[data-state='done']", timeout=30_000)

            context.clear_cookies()
            page.fill("#prompt", "Hello again")
            page.click("#send")
            refused = page.locator(".answer[data-state='error'] .error")
            refused.wait_for(timeout=30_000)
            text = refused.inner_text()
        finally:
            context.close()
    assert text.startswith("Forbidden (403) CSRF verification failed."), text
    assert text.endswith("(HTTP 403)"), text
