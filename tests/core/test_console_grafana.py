"""The Grafana dashboard shipped in the package (`firsttoken.console.GRAFANA_DASHBOARD`): every
query names series that `GET /metrics` exports, and every label it groups by is on them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from firsttoken import Engine, Settings
from firsttoken.console import GRAFANA_DASHBOARD
from firsttoken.testing.emulator import Emulator

# In these queries a series' name is what a `{` or a `[` follows.
SERIES = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[\[{]")
BY = re.compile(r"\bby \(([^)]*)\)")


def lookup(city: str) -> str:
    """The weather in a city.

    Args:
        city: Which city.
    """
    return f"sunny in {city}"


@pytest.fixture(scope="module")
def scrape(emulator: Emulator) -> Iterator[str]:
    with Engine(Settings(base_url=emulator.base_url, max_retries=0)) as engine:
        for profile in ("fast", "chat"):
            with engine.stream(messages=[{"role": "user", "content": "Hi"}], profile=profile) as s:
                s.text()
        # An agent turn with a tool, and a warm (skipped: too short): their series exist too.
        with engine.stream(
            messages=[{"role": "user", "content": 'Run lookup({"city": "Paris"})'}], tools=[lookup]
        ) as turn:
            "".join(turn)
        engine.warm_for([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}])
        yield engine.prometheus()[0].decode()


def _queries() -> list[str]:
    dashboard = json.loads(GRAFANA_DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def test_every_query_names_an_exported_series(scrape: str) -> None:
    samples = [line for line in scrape.splitlines() if line and not line.startswith("#")]
    exported = {re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group() for line in samples}  # type: ignore[union-attr]
    labels = set(re.findall(r"[{,]([a-zA-Z_][a-zA-Z0-9_]*)=", scrape))
    queries = _queries()
    assert len(queries) >= 10
    for query in queries:
        named = SERIES.findall(query)
        assert named, query
        assert set(named) <= exported, (query, set(named) - exported)
        for group in BY.findall(query):
            wanted = {label.strip() for label in group.split(",")} - {"le"}
            assert wanted <= labels, (query, wanted - labels)


def test_a_query_naming_no_export_would_fail(scrape: str) -> None:
    # The check reads names, not shapes: a misspelt series is caught.
    assert "firsttoken_warming_totals" not in scrape
    assert SERIES.findall("sum(rate(firsttoken_warming_totals[5m]))") == ["firsttoken_warming_totals"]
