"""A framework-free WSGI app for the multi-worker tests: `gunicorn tests.redis.worker_app:app`.

Each worker builds its engine on its first request (after the fork) from the environment, with a
lock directory of its own, as if every worker were a separate machine: only Redis connects them.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

import anthropic

from example_projects.agent_tools import set_reminder
from firsttoken import Engine, RateLimited, Refused, ToolOutput

_engine: Engine | None = None
_lock = threading.Lock()

Start = Callable[[str, list[tuple[str, str]]], Any]


def engine() -> Engine:
    global _engine
    with _lock:
        if _engine is None:
            machine = os.path.join(tempfile.gettempdir(), f"firsttoken-test-machine-{os.getpid()}")
            _engine = Engine.from_env(warm_lock_dir=machine)
        return _engine


def _call(body: dict[str, Any]) -> dict[str, Any]:
    headers = {"x-emulator-fault": body["fault"]} if body.get("fault") else {}
    kwargs: dict[str, Any] = {
        "profile": "fast",
        "messages": [{"role": "user", "content": body.get("prompt", "Hello there.")}],
        "extra_headers": headers,
    }
    for key in ("model", "fallbacks", "on_rate_limit", "tenant"):
        if key in body:
            kwargs[key] = body[key]
    if body.get("exact"):
        kwargs["extra_body"] = {"temperature": 0}
    message = engine().create(**kwargs)
    return {"model": message.model, "id": message.id}


def _turn(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """An agent turn with the examples' `set_reminder` (it needs approval): paused, or resumed
    from `approvals`, on whichever worker this is."""
    kwargs: dict[str, Any] = {
        "profile": "fast",
        "messages": [{"role": "user", "content": body["prompt"]}],
        "tools": [set_reminder],
    }
    if body.get("approvals"):
        kwargs["approvals"] = body["approvals"]
    try:
        with engine().stream(**kwargs) as turn:
            outputs = [e.output for e in turn.typed_events() if isinstance(e, ToolOutput)]
    except Refused as exc:
        return exc.status, {"error": exc.message}
    return 200, {"awaiting": list(turn.awaiting_approval), "outputs": outputs}


def _route(method: str, path: str, query: dict[str, list[str]], body: dict[str, Any]) -> tuple[int, Any]:
    if path == "/healthz":
        return 200, {"ok": True}
    if path == "/call" and method == "POST":
        try:
            return 200, _call(body)
        except RateLimited:
            return 429, {"error": "rate_limited_locally"}
        except anthropic.APIStatusError as exc:
            return exc.status_code, {"error": type(exc).__name__}
    if path == "/turn" and method == "POST":
        return _turn(body)
    if path == "/classify":
        text = query["text"][0]
        found = engine().classification(
            text,
            labels=["billing", "other"],
            default="other",
            extra_headers={"x-emulator-reply": "billing"},
        )
        return 200, {"label": found.label, "source": found.source}
    if path == "/warm" and method == "POST":
        return 200, {"statuses": [r.status for r in engine().warm()]}
    if path == "/metrics":
        return 200, engine().metrics_snapshot()
    return 404, {"error": "not found"}


def app(environ: dict[str, Any], start_response: Start) -> Iterable[bytes]:
    size = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(size) if size else b""
    body = json.loads(raw) if raw else {}
    query = parse_qs(environ.get("QUERY_STRING", ""))
    status, payload = _route(environ["REQUEST_METHOD"], environ["PATH_INFO"], query, body)
    data = json.dumps({**payload, "pid": os.getpid()} if isinstance(payload, dict) else payload).encode()
    start_response(f"{status} X", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
