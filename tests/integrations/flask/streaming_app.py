"""A small Flask app for the tests: every wire format, injected faults, async views, fork probes.

Served by real servers in subprocesses (`python -m tests.integrations.flask.streaming_app` for
Werkzeug, `gunicorn tests.integrations.flask.streaming_app:create_app()`) and in-process.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, Response, jsonify, request

from firsttoken import parse_chat_request
from firsttoken_flask import FirstToken

firsttoken = FirstToken()


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(config or {})
    firsttoken.init_app(app)
    if os.environ.get("WARM_BEFORE_FORK"):
        # Under `gunicorn --preload` this runs in the master: the pool it opens must not be the
        # one the forked workers use.
        with app.app_context():
            firsttoken.engine.create(
                profile="fast", max_tokens=1, messages=[{"role": "user", "content": "hi"}]
            )

    @app.post("/stream/<fmt>")
    def stream(fmt: str) -> Response:
        body = request.get_json()
        headers = {}
        if body.get("tokens"):
            headers["x-emulator-output-tokens"] = str(body["tokens"])
        if body.get("fault"):
            headers["x-emulator-fault"] = body["fault"]
        overrides = {"max_tokens": body["tokens"]} if body.get("tokens") else {}
        return firsttoken.stream_response(
            format=fmt,
            **overrides,
            profile=body.get("profile", "fast"),
            messages=[{"role": "user", "content": body.get("prompt", "Say something.")}],
            extra_headers=headers,
        )

    @app.post("/async-chat")
    async def async_chat() -> Response:
        # The same call as a Starlette or Django async view makes.
        chat = parse_chat_request(request.get_data(), profiles=firsttoken.settings.profiles)
        return await firsttoken.achat_response(chat, max_tokens=8)

    @app.get("/async-create")
    async def async_create() -> Response:
        engine = firsttoken.engine
        texts = []
        for _ in range(2):
            message = await engine.acreate(
                profile="fast", max_tokens=5, messages=[{"role": "user", "content": "Two calls, one view."}]
            )
            texts.append(message.content[0].text)  # type: ignore[union-attr]
        return jsonify(texts=texts)

    @app.get("/whoami")
    def whoami() -> Response:
        engine = firsttoken.engine
        message = engine.create(profile="fast", max_tokens=1, messages=[{"role": "user", "content": "hi"}])
        return jsonify(
            pid=os.getpid(),
            client=id(engine.client),
            pool_pid=engine._pool._pid,
            model=message.model,
        )

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(ok=True)

    return app


if __name__ == "__main__":
    create_app().run(host="127.0.0.1", port=int(os.environ["PORT"]), threaded=True)
