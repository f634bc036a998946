"""`FirstTokenMiddleware` in-process: lifespan ownership, lazy start, mounting, several apps."""

from __future__ import annotations

import contextlib
import gc
import re
from collections.abc import AsyncIterator

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket

from firsttoken import Engine, Settings, SettingsError
from firsttoken.testing.plugin import EmulatorHandle
from firsttoken_starlette import FirstToken, FirstTokenMiddleware, firsttoken_of, get_engine

from .lifespan import lifespan


async def whoami(request: Request) -> Response:
    handle = request.state.firsttoken
    assert handle.request.url.path.endswith("/whoami") and get_engine() is handle.engine
    return JSONResponse(
        {"engine": id(handle.engine), "max_tokens": handle.settings.profile("chat").max_tokens}
    )


async def answer(request: Request) -> Response:
    firsttoken: FirstToken = request.state.firsttoken
    return await firsttoken.stream_response(
        messages=[{"role": "user", "content": "hello"}], profile="fast", format="text"
    )


async def echo_socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("state" if "firsttoken" in websocket.scope.get("state", {}) else "no state")
    await websocket.close()


def make_app(**options: object) -> Starlette:
    routes = [Route("/whoami", whoami), Route("/answer", answer), WebSocketRoute("/ws", echo_socket)]
    return Starlette(routes=routes, middleware=[Middleware(FirstTokenMiddleware, **options)])


def middleware_of(app: Starlette) -> FirstTokenMiddleware:
    stack = app.middleware_stack or app.build_middleware_stack()
    app.middleware_stack = stack
    while not isinstance(stack, FirstTokenMiddleware):
        stack = stack.app  # type: ignore[attr-defined]
    return stack


@pytest.fixture
def emulator_settings(anthropic_emulator: EmulatorHandle) -> dict[str, object]:
    return {"base_url": anthropic_emulator.base_url, "api_key": "sk-ant-test", "max_retries": 0}


def client_for(app: object) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://test")  # type: ignore[arg-type]


async def test_lifespan_builds_the_engine_at_startup_and_closes_it_at_shutdown(
    emulator_settings: dict[str, object],
) -> None:
    app = make_app(settings={**emulator_settings, "profiles": {"chat": {"max_tokens": 300}}})
    middleware = middleware_of(app)
    async with lifespan(app) as sent:
        assert sent == [{"type": "lifespan.startup.complete"}]
        engine = middleware.engine
        assert engine.state != "closed"
        async with client_for(app) as client:
            body = (await client.get("/whoami")).json()
            assert body == {"engine": id(engine), "max_tokens": 300}
            answer = await client.get("/answer")
            assert answer.status_code == 200
            assert answer.text
    assert engine.closed
    assert sent[-1] == {"type": "lifespan.shutdown.complete"}


async def test_bad_settings_fail_at_startup_naming_the_key(emulator_settings: dict[str, object]) -> None:
    with pytest.raises(SettingsError, match="heartbeat_interval"):
        make_app(settings={**emulator_settings, "heartbeat_interval": -1}).build_middleware_stack()
    with pytest.raises(SettingsError, match="nonsense"):
        make_app(settings={"nonsense": 1}).build_middleware_stack()


async def test_settings_merge_over_the_environment(
    monkeypatch: pytest.MonkeyPatch, emulator_settings: dict[str, object]
) -> None:
    monkeypatch.setenv("FIRSTTOKEN_TIMEOUT", "33")
    middleware = middleware_of(make_app(settings={**emulator_settings, "connect_timeout": 2}))
    assert (middleware.settings.timeout, middleware.settings.connect_timeout) == (33, 2)


async def test_without_lifespan_the_engine_is_built_on_the_first_request(
    emulator_settings: dict[str, object],
) -> None:
    app = make_app(settings=emulator_settings)
    async with client_for(app) as client:
        first = (await client.get("/whoami")).json()["engine"]
        second = (await client.get("/whoami")).json()["engine"]
    assert first == second
    engine = middleware_of(app).engine
    assert id(engine) == first
    await engine.aclose()


async def test_mounted_apps_and_two_apps_each_have_their_own_engine(
    emulator_settings: dict[str, object],
) -> None:
    inner = make_app(settings={**emulator_settings, "profiles": {"chat": {"max_tokens": 111}}})
    outer = Starlette(
        routes=[Route("/whoami", whoami), Mount("/inner", app=inner)],
        middleware=[Middleware(FirstTokenMiddleware, settings=emulator_settings)],
    )
    other = make_app(settings=emulator_settings)
    async with lifespan(outer), client_for(outer) as client, client_for(other) as other_client:
        outer_body = (await client.get("/whoami")).json()
        inner_body = (await client.get("/inner/whoami")).json()
        again = (await client.get("/whoami")).json()
        other_body = (await other_client.get("/whoami")).json()
    assert inner_body["max_tokens"] == 111
    assert outer_body == again
    assert outer_body["max_tokens"] == 1024
    assert len({outer_body["engine"], inner_body["engine"], other_body["engine"]}) == 3
    # The mounted app never saw a lifespan (Starlette does not pass it on): its engine was built
    # lazily and is the app's to close.
    await middleware_of(inner).engine.aclose()
    await middleware_of(other).engine.aclose()


async def test_a_shared_engine_serves_both_apps_and_is_not_closed_by_either(
    emulator_settings: dict[str, object],
) -> None:
    async with Engine(Settings.from_mapping(emulator_settings)) as engine:
        first, second = make_app(engine=engine), make_app(engine=engine)
        async with lifespan(first), lifespan(second), client_for(first) as one, client_for(second) as two:
            assert (await one.get("/whoami")).json()["engine"] == id(engine)
            assert (await two.get("/whoami")).json()["engine"] == id(engine)
        assert not engine.closed


def test_settings_and_engine_are_exclusive(emulator_settings: dict[str, object]) -> None:
    with (
        Engine(Settings.from_mapping(emulator_settings)) as engine,
        pytest.raises(TypeError, match="not both"),
    ):
        FirstTokenMiddleware(PlainTextResponse("x"), settings={}, engine=engine)


async def test_websocket_scopes_pass_straight_through(emulator_settings: dict[str, object]) -> None:
    app = make_app(settings=emulator_settings)
    middleware = middleware_of(app)
    sent: list[dict[str, object]] = []
    inbox = [{"type": "websocket.connect"}, {"type": "websocket.disconnect", "code": 1000}]

    async def receive() -> dict[str, object]:
        return inbox.pop(0)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/ws", "raw_path": b"/ws", "headers": [], "query_string": b"",
             "root_path": "", "scheme": "ws", "server": ("test", 80), "subprotocols": []}  # fmt: skip
    await app(scope, receive, send)  # type: ignore[arg-type]
    assert {"type": "websocket.send", "text": "no state"} in sent
    # Nothing was built for a scope that is not HTTP.
    assert middleware._engine is None


async def test_get_engine_is_the_apps_inside_its_lifespan_and_requests(
    emulator_settings: dict[str, object],
) -> None:
    seen: list[Engine] = []

    @contextlib.asynccontextmanager
    async def app_lifespan(app: Starlette) -> AsyncIterator[None]:
        seen.append(get_engine())  # where an app warms its prompt cache, say
        yield

    app = Starlette(
        routes=[Route("/whoami", whoami)],
        middleware=[Middleware(FirstTokenMiddleware, settings=emulator_settings)],
        lifespan=app_lifespan,
    )
    async with lifespan(app), client_for(app) as client:
        engine = middleware_of(app).engine
        assert (await client.get("/whoami")).json()["engine"] == id(engine)
    assert seen == [engine]
    with pytest.raises(RuntimeError, match="inside a request or the lifespan"):
        get_engine()


async def test_a_request_and_its_handle_are_freed_without_the_garbage_collector(
    emulator_settings: dict[str, object],
) -> None:
    # The per-request handle holds the scope whose state holds it; the middleware breaks that
    # cycle when the request ends, so no request leaves work for a collection pause.
    async def reads_its_request(request: Request) -> Response:
        handle: FirstToken = request.state.firsttoken
        return PlainTextResponse(handle.request.url.path)

    app = Starlette(
        routes=[Route("/", reads_its_request)],
        middleware=[Middleware(FirstTokenMiddleware, settings=emulator_settings)],
    )
    scope = {"type": "http", "method": "GET", "path": "/", "raw_path": b"/", "headers": [],
             "query_string": b"", "root_path": "", "scheme": "http", "server": ("test", 80)}  # fmt: skip
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    await app({**scope, "state": {}}, receive, send)  # type: ignore[arg-type]  # builds the stack
    gc.collect()
    gc.disable()
    try:
        for _ in range(50):
            await app({**scope, "state": {}}, receive, send)  # type: ignore[arg-type]
        assert gc.collect() == 0
    finally:
        gc.enable()
    assert {"type": "http.response.body", "body": b"/"} in sent
    await middleware_of(app).engine.aclose()


async def test_a_request_without_the_middleware_gets_a_clear_error() -> None:
    async def handler(request: Request) -> Response:
        firsttoken_of(request)
        return PlainTextResponse("unreachable")

    app = Starlette(routes=[Route("/", handler)])
    async with client_for(app) as client:
        with pytest.raises(RuntimeError, match="add Middleware\\(FirstTokenMiddleware"):
            await client.get("/")


def test_calls_finished_before_the_response_are_server_timing_entries_in_development(
    client: httpx2.Client,
) -> None:
    # The test server runs under pytest, which is development: the devtools' timing panel shows
    # each model call of the request, its TTFT-less one-shot duration and its cost.
    timing = client.get("/create").headers["server-timing"]
    # Entry names, not the commas inside the quoted descriptions.
    assert re.findall(r"(?:^|, )(firsttoken-[\w-]+);", timing) == ["firsttoken-1", "firsttoken-2"]
    assert "claude-haiku" in timing and "dur=" in timing and "~$" in timing
