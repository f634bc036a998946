"""The console in Chromium, mounted under a prefix in each framework's production app
(`console_apps.py`, under uvicorn, Flask's server and runserver): refused where the app grants no
access; elsewhere the page streams an answer with no Content-Security-Policy violation, is usable
from the keyboard and on a phone, races two profiles, and the dashboard plots with values on hover."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from firsttoken.console import CONTENT_SECURITY_POLICY, REFUSAL
from firsttoken.testing.emulator import Emulator
from tests.browser import chromium

from .servers import Server, ServerSpec, run_servers

pytestmark = pytest.mark.browser

FRAMEWORKS = ("starlette", "flask", "django")

# Every violation and error the page meets, kept on the window for the test to read.
WATCH = """() => {
  window.__violations = [];
  document.addEventListener('securitypolicyviolation',
    (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
}"""


@pytest.fixture(scope="module")
def apps(contract_emulator: Emulator) -> Iterator[dict[str, Server]]:
    env = {
        "ANTHROPIC_BASE_URL": contract_emulator.base_url,
        "ANTHROPIC_API_KEY": "sk-ant-test-not-a-key",
        "FIRSTTOKEN_MAX_RETRIES": "0",
    }
    specs = [ServerSpec(("-m", "tests.e2e.console_apps", name), env=env) for name in FRAMEWORKS]
    with run_servers(*specs) as servers:
        yield dict(zip(FRAMEWORKS, servers, strict=True))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


def _page(browser: Any, errors: list[str], **options: Any) -> Any:
    page = browser.new_context(**options).new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.add_init_script(f"({WATCH})()")
    return page


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_the_console_in_chromium(apps: dict[str, Server], browser: Any, framework: str) -> None:
    url = apps[framework].url
    errors: list[str] = []
    page = _page(browser, errors, viewport={"width": 1100, "height": 800})

    # Production, no access check: refused, saying why.
    for path in ("/firsttoken/", "/firsttoken/dashboard"):
        refused = page.goto(url + path)
        assert refused.status == 403
        assert REFUSAL["error"] in page.content()
    errors.clear()  # Chromium logs each 403 it loads

    # Let in: the page under its prefix, its CSP sent, the picker filled from the server.
    response = page.goto(url + "/open/")
    assert response.status == 200
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    browser_profiles = httpx2.get(url + "/open/api/metrics").json()["browser_profiles"]
    page.wait_for_function(
        "names => [...document.querySelectorAll('#profile option')].map(o => o.value).join() == names",
        arg=browser_profiles["names"],
    )
    assert page.input_value("#profile") == browser_profiles["default"]
    assert page.get_attribute("#conversation", "aria-live") == "polite"

    # From the keyboard alone: the text box has the focus, Enter sends.
    assert page.evaluate("document.activeElement.id") == "prompt"
    page.keyboard.type("Hi there")
    page.keyboard.press("Enter")
    page.wait_for_selector(".turn .stats", timeout=30_000)
    assert page.locator(".answer").get_attribute("aria-busy") is None
    assert page.locator(".answer .text").inner_text().strip()
    # Tab reaches the race button; Enter opens the race, focused on its question.
    page.focus("#race-toggle")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "race-prompt"

    # The race: both first tokens arrive, each lane timed, one first.
    page.keyboard.type("Why does the first token matter?")
    page.select_option("#race-a", "fast")
    page.select_option("#race-b", "chat")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.race-lane')].every(l => l.dataset.state === 'done')",
        timeout=30_000,
    )
    lanes = page.eval_on_selector_all(
        ".race-lane", "ls => ls.map(l => [Number(l.dataset.firstTokenMs), l.dataset.first === 'true'])"
    )
    assert all(ms > 0 for ms, _ in lanes) and sum(first for _, first in lanes) == 1, lanes

    # The dashboard: plotted with axes, the values under the cursor in the legend.
    page.goto(url + "/open/dashboard")
    page.wait_for_function(
        "() => Number(document.querySelector('[data-chart=ttft_model]').dataset.points) >= 2"
    )
    over = page.locator("[data-chart=ttft_model] .u-over")
    box = over.bounding_box()
    page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)
    values = page.eval_on_selector_all(
        "[data-chart=ttft_model] .u-legend .u-value", "vs => vs.map(v => v.textContent)"
    )
    assert any(value.endswith(" ms") for value in values), values
    assert page.locator("[data-chart=ttft_model] .u-axis").count() >= 2
    assert page.evaluate("window.__violations") == []
    assert errors == []
    page.context.close()


def test_the_page_reads_on_a_phone(apps: dict[str, Server], browser: Any) -> None:
    errors: list[str] = []
    phone = _page(browser, errors, viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True)
    phone.goto(apps["starlette"].url + "/open/")
    phone.fill("#prompt", "Hello from a phone")
    phone.press("#prompt", "Enter")
    phone.wait_for_selector(".turn .stats", timeout=30_000)
    # Nothing wider than the screen; the composer and the send button on it.
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    for selector in ("#prompt", "#send", "#race-toggle"):
        box = phone.locator(selector).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375, (selector, box)
    assert phone.evaluate("window.__violations") == [] and errors == []
    phone.context.close()
