"""Structured answers (#30): what following the object costs per delta, and when the page shows it.

    .venv/bin/python benchmarks/structured.py [--rounds N] [--skip-browser]

1. Parsing cost per text delta, side by side in one run (rounds interleaved, median of rounds):
   firsttoken's `PartialObject` (jiter re-parses the text while it is under `SCAN_FROM`
   characters, then only the open member), its scan from the first character
   (`scan_from=0`), and the SDK's way (`jiter.from_json(whole text, partial_mode=
   "trailing-strings")` on every delta, kept only when it changed, as `partial_objects()` yields).
   Texts: the `extract` card as the emulator streams it (real deltas, time-scale 0), and a
   ~9 KB object (100 items) cut into 4-character deltas.
2. In Chromium, the Starlette example (uvicorn) against the emulator at time-scale 1 with a fixed
   Haiku profile (200 ms TTFT, 150 tokens/s): for the `extract` profile, from the click to the
   first token of the answer in the page, to the first card field with text, and to the whole
   card (`done`). Without partial objects the card would wait for the last of these.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jiter import from_json

from example_projects.extract import EXTRACT, Card
from firsttoken import Engine, Settings
from firsttoken._structured import SCAN_FROM, PartialObject
from firsttoken.testing.emulator.process import EmulatorProcess

QUESTIONS = [
    "The new bike lanes downtown are wonderful, and my commute is twice as fast.",
    "The update broke my exports again and support has not answered in a week.",
    "We moved the team meeting to Thursday; the agenda is the same as last time.",
]


# -- 1. parsing cost per delta -----------------------------------------------------------------------


def card_deltas(base_url: str, answers: int) -> list[list[str]]:
    engine = Engine(Settings.from_env(base_url=base_url, profiles={"extract": EXTRACT}))
    out = []
    with engine:
        for i in range(answers):
            messages = [{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)] + f" ({i})"}]
            with engine.stream(messages=messages, profile="extract") as stream:
                out.append(list(stream))
    return out


def big_deltas() -> list[list[str]]:
    doc = {"items": [{"name": f"item {i}", "notes": "some words about it " * 3, "n": i} for i in range(100)]}
    text = json.dumps(doc)
    return [[text[i : i + 4] for i in range(0, len(text), 4)]]


def ours(scan_from: int) -> Callable[[list[str]], int]:
    def follow(deltas: list[str]) -> int:
        partial, shown = PartialObject(scan_from=scan_from), 0
        for delta in deltas:
            if partial.feed(delta):
                shown += 1
        return shown

    return follow


def reparse(deltas: list[str]) -> int:
    text, last, shown = "", None, 0
    for delta in deltas:
        text += delta
        try:
            value = from_json(text.encode(), partial_mode="trailing-strings")
        except ValueError:
            continue
        if value != last:
            last, shown = value, shown + 1
    return shown


def per_delta(texts: list[list[str]], rounds: int) -> dict[str, float]:
    cases = {"firsttoken": ours(SCAN_FROM), "scan from the start": ours(0), "whole text re-parsed": reparse}
    count = sum(len(d) for d in texts)
    # The same objects shown, or the comparison means nothing.
    shown = {name: sum(case(d) for d in texts) for name, case in cases.items()}
    assert len(set(shown.values())) == 1, shown
    samples: dict[str, list[float]] = {name: [] for name in cases}
    repeat = max(1, 20_000 // count)
    for _ in range(rounds):
        for name, case in cases.items():
            started = time.perf_counter()
            for _ in range(repeat):
                for deltas in texts:
                    case(deltas)
            samples[name].append((time.perf_counter() - started) / (repeat * count) * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


# -- 2. the card on screen -----------------------------------------------------------------------------

# Times, from the send button's click, of the first token in the answer, the first card field with
# text and the whole card.
WATCH = """() => {
  window.__marks = {};
  let clicked = null;
  document.getElementById('send').addEventListener('click', () => { clicked = performance.now(); }, true);
  new MutationObserver(() => {
    const answer = document.querySelector('.answer');
    if (!answer || clicked === null) return;
    const now = performance.now() - clicked, m = window.__marks;
    const text = answer.querySelector('.text');
    if (m.token === undefined && text && text.textContent.length) m.token = now;
    const filled = [...answer.querySelectorAll('.card [data-field]')].some((el) => el.textContent.length);
    if (m.field === undefined && filled) m.field = now;
    const card = answer.querySelector('.card');
    if (m.done === undefined && card && card.dataset.state === 'done') m.done = now;
  }).observe(document.getElementById('conversation'), {subtree: true, childList: true,
                                                       characterData: true, attributes: true});
}"""


def on_screen(base_url: str, rounds: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS
    from tests.e2e.servers import run_server

    env = {"ANTHROPIC_BASE_URL": base_url, "ANTHROPIC_API_KEY": "sk-ant-bench-not-a-key"}
    marks: dict[str, list[float]] = {"token": [], "field": [], "done": []}
    with (
        run_server(("-m", "example_projects.starlette_chat"), env=env) as server,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            for i in range(rounds + 1):
                page = browser.new_page()
                page.goto(server.url + "/")
                page.wait_for_function("() => document.readyState === 'complete'")
                page.evaluate(WATCH)
                page.select_option("#profile", "extract")
                page.fill("#prompt", QUESTIONS[i % len(QUESTIONS)] + f" ({i})")
                page.click("#send")
                page.wait_for_selector(".card[data-state='done']", timeout=30_000)
                seen = page.evaluate("window.__marks")
                Card.model_validate_json(page.locator(".answer .text").first.text_content() or "")
                page.close()
                if i == 0:
                    continue  # the server's first request pays its own warm-up
                for key in marks:
                    marks[key].append(seen[key])
        finally:
            browser.close()
    return marks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--skip-browser", action="store_true")
    args = parser.parse_args()
    with EmulatorProcess(time_scale=0.0) as fast:
        cards = card_deltas(fast.base_url, 20)
    sizes = statistics.median(len("".join(d)) for d in cards)
    print(f"1. parsing cost per delta (µs, median of {args.rounds} interleaved rounds)")
    for label, texts in (
        (f"extract card ({sizes:.0f} chars, {statistics.median(len(d) for d in cards):.0f} deltas)", cards),
        (f"100-item object ({len(''.join(big_deltas()[0])):,} chars, 4-char deltas)", big_deltas()),
    ):
        figures = per_delta(texts, args.rounds)
        base = figures["whole text re-parsed"]
        print(f"   {label}")
        for name, value in figures.items():
            print(f"     {name:<22} {value:6.2f} µs   {value / base:5.2f}x")
    if args.skip_browser:
        return
    fixed = ("--model-profile", "haiku:200,200,150")
    with EmulatorProcess(time_scale=1.0, extra=fixed) as real:
        marks = on_screen(real.base_url, args.rounds)
    print(f"2. extract in Chromium, ms from the click (median of {args.rounds}; p95 of the same)")
    for key, label in (
        ("token", "first token"),
        ("field", "first card field"),
        ("done", "whole card (done)"),
    ):
        values = sorted(marks[key])
        p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
        print(f"   {label:<18} {statistics.median(values):7.1f}   {p95:7.1f}")
    gaps = [f - t for f, t in zip(marks["field"], marks["token"], strict=True)]
    print(f"   first field - first token: median {statistics.median(gaps):.1f} ms")


if __name__ == "__main__":
    main()
