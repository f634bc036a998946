"""Screenshots of the console (the chat page, the race, the dashboard, a phone) for the docs site.

Starts the Starlette example on its embedded emulator, drives it in headless Chromium (Playwright,
`/usr/bin/chromium`) and writes `docs/images/console-*.png`; fails on any message Chromium logs as
an error, a Content-Security-Policy violation among them. Run it after changing the page:

    .venv/bin/python scripts/screenshots.py [--out docs/images]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
QUESTION = "What time is it in Paris, and what is 2*(3+4)?"


@contextmanager
def example() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "FIRSTTOKEN_"))}
    # The embedded emulator at a third of the real models' latency: streaming shows, runs stay short.
    env.update(PORT=str(port), FIRSTTOKEN_EMULATOR_TIME_SCALE="0.3", PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "example_projects.starlette_chat"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx2.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit("the example did not start")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def traffic(url: str) -> None:
    """A few answers on each profile, so the dashboard has something to plot."""
    with httpx2.Client(base_url=url, timeout=60) as client:
        for profile in ("fast", "chat", "fast", "agent"):
            question = QUESTION if profile == "agent" else "Why does the first token matter?"
            client.post(
                "/api/chat", json={"messages": [{"role": "user", "content": question}], "profile": profile}
            )


def shoot(url: str, out: Path, browser: Any) -> list[str]:
    errors: list[str] = []

    def page_of(width: int, height: int, **options: Any) -> Any:
        page = browser.new_context(viewport={"width": width, "height": height}, **options).new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        return page

    page = page_of(1100, 820)
    page.goto(url + "/")
    page.select_option("#profile", "agent")
    page.fill("#prompt", QUESTION)
    page.press("#prompt", "Enter")
    page.wait_for_selector(".answer[data-state=done] + .stats, .turn .stats", timeout=60_000)
    page.screenshot(path=out / "console-chat.png")

    page.click("#race-toggle")
    page.fill("#race-prompt", "Why does the first token matter?")
    page.select_option("#race-a", "fast")
    page.select_option("#race-b", "chat")
    page.click("#race-go")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.race-lane')].every(l => l.dataset.state === 'done')",
        timeout=60_000,
    )
    page.screenshot(path=out / "console-race.png")

    phone = page_of(390, 844, is_mobile=True, has_touch=True, device_scale_factor=2)
    phone.goto(url + "/")
    phone.fill("#prompt", "Hello from a phone")
    phone.press("#prompt", "Enter")
    phone.wait_for_selector(".turn .stats", timeout=60_000)
    phone.screenshot(path=out / "console-phone.png")

    dashboard = page_of(1280, 1000)
    dashboard.goto(url + "/dashboard")
    for _ in range(3):
        traffic(url)
        dashboard.wait_for_timeout(1500)
    dashboard.wait_for_selector("[data-chart=ttft_model] .u-over")
    box = dashboard.locator("[data-chart=ttft_model] .u-over").bounding_box()
    dashboard.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] / 2)
    dashboard.screenshot(path=out / "console-dashboard.png", full_page=True)
    return errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with example() as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            traffic(url)
            errors = shoot(url, out, browser)
        finally:
            browser.close()
    if errors:
        raise SystemExit("Chromium logged errors:\n" + "\n".join(errors))
    for path in sorted(out.glob("console-*.png")):
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
