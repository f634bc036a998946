"""`GET /metrics` and `GET /dashboard` on every example app, over real HTTP and in Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.browser import chromium

from .conftest import RunningExample

CHAT = {"messages": [{"role": "user", "content": "Why does streaming feel fast?"}], "profile": "fast"}


def _calls(example: RunningExample) -> dict[str, float]:
    response = example.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    counts: dict[str, float] = {}
    duration = families.get("gen_ai_client_operation_duration_seconds")
    for sample in duration.samples if duration else ():
        if sample.name.endswith("_count"):
            profile = sample.labels["firsttoken_profile"]
            counts[profile] = counts.get(profile, 0) + sample.value
    return counts


def _chat(example: RunningExample) -> None:
    response = example.client.post("/api/chat", json=CHAT)
    assert response.status_code == 200
    assert "event: done" in response.text


def test_metrics_scrape_counts_the_calls_made(example: RunningExample) -> None:
    before = _calls(example).get("fast", 0)
    for _ in range(3):
        _chat(example)
    assert _calls(example).get("fast", 0) == before + 3


def test_metrics_scrape_answers_in_the_format_the_scraper_accepts(example: RunningExample) -> None:
    # The handle reads the request's own Accept header: the views call `metrics_response()` bare.
    accept = "application/openmetrics-text; version=1.0.0; charset=utf-8"
    response = example.client.get("/metrics", headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


@pytest.mark.browser
def test_dashboard_plots_points_after_traffic(example: RunningExample, browser: Any) -> None:
    _chat(example)
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        page = context.new_page()
        page.goto(example.url + "/dashboard")
        # Traffic while the page polls, so each plot gains points over time.
        for _ in range(3):
            _chat(example)
            page.wait_for_timeout(600)
        page.wait_for_function(
            """() => ['ttft_model', 'tps', 'cache', 'streams', 'failures'].every(name => {
                 const chart = document.querySelector(`[data-chart=${name}]`);
                 return Number(chart.dataset.points) >= 2 && chart.querySelector('canvas');
               })""",
            timeout=15_000,
        )
        series = page.eval_on_selector_all(
            "[data-chart=ttft_model] .u-legend .u-label", "labels => labels.map(l => l.textContent)"
        )
        assert any(s.endswith(" p50") for s in series) and any(s.endswith(" p95") for s in series)
        assert page.locator("#banner").is_hidden()
    finally:
        context.close()
