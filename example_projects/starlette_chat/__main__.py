"""`python -m example_projects.starlette_chat`: the example under uvicorn on 127.0.0.1:$PORT.

`APP=fastapi` serves the FastAPI variant instead (`fastapi_app.py`), same contract. In production:

    uvicorn example_projects.starlette_chat.app:app --http httptools          # or fastapi_app:app
"""

from __future__ import annotations

import os

import uvicorn
from starlette.applications import Starlette

from example_projects.agent_tools import AGENT, CHAT
from example_projects.extract import EXTRACT
from firsttoken import Engine, Settings


def main() -> None:
    port = int(os.environ.get("PORT", "8000"))
    # The engine is built here, not at the app's startup, so the upstream can be printed before
    # serving; the app's middleware is handed it and leaves closing it to us.
    # `make demo` is development: with no key, the embedded emulator answers (and the page says so).
    os.environ.setdefault("FIRSTTOKEN_DEVELOPMENT", "1")
    engine = Engine(Settings.from_env(profiles={"agent": AGENT, "chat": CHAT, "extract": EXTRACT}))
    app: Starlette
    if os.environ.get("APP") == "fastapi":
        from .fastapi_app import create_app as create_fastapi_app

        app = create_fastapi_app(engine=engine)
    else:
        from .app import create_app

        app = create_app(engine=engine)
    print(f"firsttoken chat on http://127.0.0.1:{port}/", flush=True)
    print(f"answers come from {engine.upstream.describe()['description']}", flush=True)
    try:
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", http="httptools")
    finally:
        engine.close()


if __name__ == "__main__":
    main()
