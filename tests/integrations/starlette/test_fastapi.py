"""FastAPI's dependencies: `Depends(get_engine)` and `Depends(get_firsttoken)`."""

from __future__ import annotations

from typing import Annotated, Any

import httpx2
import pytest

pytest.importorskip("fastapi")

from fastapi import Depends, FastAPI
from starlette.middleware import Middleware
from starlette.responses import Response

from firsttoken import Engine
from firsttoken.testing.plugin import EmulatorHandle
from firsttoken_starlette import FirstToken, FirstTokenMiddleware
from firsttoken_starlette.fastapi import get_engine, get_firsttoken

from .lifespan import lifespan


def sync_dependency() -> int:
    return 1


def make_app(**options: object) -> FastAPI:
    app = FastAPI(middleware=[Middleware(FirstTokenMiddleware, **options)] if options else [])

    @app.get("/engine")
    async def engine_info(engine: Annotated[Engine, Depends(get_engine)]) -> dict[str, object]:
        return {"engine": id(engine), "upstream": engine.upstream.kind}

    @app.get("/answer")
    async def answer(firsttoken: Annotated[FirstToken, Depends(get_firsttoken)]) -> Response:
        return await firsttoken.stream_response(
            messages=[{"role": "user", "content": "hi"}], profile="fast", format="ndjson"
        )

    @app.get("/sync")
    async def sync(one: Annotated[int, Depends(sync_dependency)]) -> dict[str, int]:
        return {"one": one}

    return app


async def test_dependencies_hand_out_the_apps_engine_and_handle(anthropic_emulator: EmulatorHandle) -> None:
    app = make_app(settings={"base_url": anthropic_emulator.base_url})
    transport = httpx2.ASGITransport(app=app)
    async with lifespan(app), httpx2.AsyncClient(transport=transport, base_url="http://test") as client:
        first = (await client.get("/engine")).json()
        second = (await client.get("/engine")).json()
        answer = await client.get("/answer")
    assert first == second
    assert first["upstream"] == "base_url"
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/x-ndjson"
    assert answer.text.splitlines()[-1].startswith('{"type":"done"')


async def test_dependencies_take_no_thread_pool_hop(
    anthropic_emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fastapi.dependencies.utils as solving

    hops: list[object] = []
    run_in_threadpool = solving.run_in_threadpool

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(func)
        return await run_in_threadpool(func, *args, **kwargs)

    monkeypatch.setattr(solving, "run_in_threadpool", counted)
    app = make_app(settings={"base_url": anthropic_emulator.base_url})
    transport = httpx2.ASGITransport(app=app)
    async with lifespan(app), httpx2.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/engine")).status_code == 200
        assert (await client.get("/answer")).status_code == 200
        assert (await client.get("/sync")).status_code == 200
    # The check can see a hop: the app's own sync dependency took one.
    assert hops == [sync_dependency]


async def test_dependency_without_the_middleware_says_what_to_add() -> None:
    transport = httpx2.ASGITransport(app=make_app())
    async with httpx2.AsyncClient(transport=transport, base_url="http://test") as client:
        with pytest.raises(RuntimeError, match="FirstTokenMiddleware"):
            await client.get("/engine")
