"""Contract and browser tests that drive every example app from outside, over real HTTP.

Each example in `EXAMPLE_APPS` is started as its own server process (exactly what
`python -m example_projects.<name>` runs) and pointed at an emulator started by the tests through
`ANTHROPIC_BASE_URL`. Every test that takes the `example` fixture runs once per app.

Adding an example (Flask, Django): append one entry to `EXAMPLE_APPS`, for instance

    ExampleApp("flask", ("-m", "example_projects.flask_chat"), requires="flask"),

`argv` is what follows `python` (run from the repo root with `PORT` set); `env` adds variables;
`requires` is a module the app needs, skipped with a reason when it is not installed. The app must
answer `GET /healthz` with 200 once it is ready. Nothing else changes: the contract tests
(`test_contract.py`) and the browser test (`test_browser.py`) pick the new entry up.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import httpx2
import pytest

from firsttoken.testing.emulator import Emulator

from .servers import Server, ServerSpec, run_server, run_servers


@dataclass(frozen=True)
class ExampleApp:
    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    requires: str | None = None


EXAMPLE_APPS: list[ExampleApp] = [
    ExampleApp("starlette", ("-m", "example_projects.starlette_chat"), requires="starlette"),
    ExampleApp(
        "fastapi", ("-m", "example_projects.starlette_chat"), env={"APP": "fastapi"}, requires="fastapi"
    ),
    ExampleApp("django", ("-m", "example_projects.django_chat"), requires="django"),
    ExampleApp("flask", ("-m", "example_projects.flask_chat"), requires="flask"),
]


@dataclass
class RunningExample:
    app: ExampleApp
    server: Server
    emulator: Emulator | None
    client: httpx2.Client

    @property
    def url(self) -> str:
        return self.server.url


def _env(app: ExampleApp, emulator: Emulator | None) -> dict[str, str | None]:
    if emulator is not None:
        # The emulator answers any key; retries off so a refused call answers at once, as asserted.
        return {
            **app.env,
            "ANTHROPIC_BASE_URL": emulator.base_url,
            "ANTHROPIC_API_KEY": "sk-ant-test-not-a-key",
            "FIRSTTOKEN_MAX_RETRIES": "0",
        }
    # Neither variable: the example starts its embedded emulator (fast, for page checks).
    return {
        **app.env,
        "ANTHROPIC_BASE_URL": None,
        "ANTHROPIC_API_KEY": None,
        "FIRSTTOKEN_EMULATOR_TIME_SCALE": "0",
    }


def _installed(app: ExampleApp) -> bool:
    return app.requires is None or importlib.util.find_spec(app.requires) is not None


def _start(app: ExampleApp, emulator: Emulator | None) -> Iterator[RunningExample]:
    if not _installed(app):
        pytest.skip(f"the {app.name} example needs {app.requires}, which is not installed")
    with (
        run_server(app.argv, env=_env(app, emulator)) as server,
        httpx2.Client(base_url=server.url, timeout=30.0) as client,
    ):
        yield RunningExample(app, server, emulator, client)


def _start_all(apps: Sequence[ExampleApp], emulator: Emulator | None) -> Iterator[dict[str, RunningExample]]:
    """`_start` for every installed app of `apps` at once, by name, for a module's parametrized
    fixture to `_pick` from: the starts (mostly imports) overlap instead of following each other,
    and are all done before the module's first test runs, so none competes with a test."""
    ready = [app for app in apps if _installed(app)]
    specs = [ServerSpec(app.argv, env=_env(app, emulator)) for app in ready]
    with run_servers(*specs) as servers, contextlib.ExitStack() as clients:
        yield {
            app.name: RunningExample(
                app, server, emulator, clients.enter_context(httpx2.Client(base_url=server.url, timeout=30.0))
            )
            for app, server in zip(ready, servers, strict=True)
        }


def _pick(examples: Mapping[str, RunningExample], app: ExampleApp) -> RunningExample:
    if app.name not in examples:
        pytest.skip(f"the {app.name} example needs {app.requires}, which is not installed")
    return examples[app.name]


@pytest.fixture(scope="session")
def contract_emulator() -> Iterator[Emulator]:
    with Emulator(time_scale=0.0, seed=0) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def contract_examples(contract_emulator: Emulator) -> Iterator[dict[str, RunningExample]]:
    """Every example at time-scale 0, started together once and kept for the whole session.

    Started one at a time, an app would be stopped whenever the next app's tests began and started
    again for the next module that uses it (under pytest-xdist, a worker runs module after module,
    each with all four apps); kept, each app starts once per worker.
    """
    yield from _start_all(EXAMPLE_APPS, contract_emulator)


@pytest.fixture(scope="session", params=EXAMPLE_APPS, ids=lambda app: app.name)
def example(request: pytest.FixtureRequest, contract_examples: dict[str, RunningExample]) -> RunningExample:
    """One example app per parameter, at time-scale 0; faults are cleared around every use."""
    return _pick(contract_examples, request.param)


@pytest.fixture(autouse=True)
def _clear_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "example" in request.fixturenames:
        request.getfixturevalue("contract_emulator").set_faults([])


@pytest.fixture(scope="module")
def realtime_emulator() -> Iterator[Emulator]:
    """The Anthropic Performance Tuning guide's latencies (time-scale 1), for tests that watch an answer
    stream in."""
    with Emulator(time_scale=1.0, seed=0) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def realtime_examples(realtime_emulator: Emulator) -> Iterator[dict[str, RunningExample]]:
    yield from _start_all(EXAMPLE_APPS, realtime_emulator)


@pytest.fixture(scope="module", params=EXAMPLE_APPS, ids=lambda app: app.name)
def realtime_example(
    request: pytest.FixtureRequest, realtime_examples: dict[str, RunningExample]
) -> RunningExample:
    return _pick(realtime_examples, request.param)


@pytest.fixture(scope="module")
def embedded_examples() -> Iterator[dict[str, RunningExample]]:
    yield from _start_all(EXAMPLE_APPS, None)


@pytest.fixture(scope="module", params=EXAMPLE_APPS, ids=lambda app: app.name)
def embedded_example(
    request: pytest.FixtureRequest, embedded_examples: dict[str, RunningExample]
) -> RunningExample:
    """An example with no upstream configured, so it runs its own embedded emulator."""
    return _pick(embedded_examples, request.param)
