"""The Message Batches API under `/v1/messages/batches`: create, retrieve, list, cancel, delete and
the results as JSONL.

Each request of a batch is answered by the emulator's own non-streaming `POST /v1/messages`,
called in process through the ASGI app, so a result is exactly what a plain call returns: a
`succeeded` message, or an `errored` result holding the error body a plain call would get (an
invalid request, an injected fault); the create request's `x-emulator-*` headers go with each of
its requests. Processing starts `START_SECONDS` after creation and runs
`CONCURRENCY` requests at a time, every delay scaled by the emulator's time scale.

As the API does, `request_counts` show every request as `processing` until the whole batch ends;
a cancel moves the batch to `canceling`, lets requests already sent finish, and ends it with
`canceled` results for the rest. Only an ended batch can be deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from .files import Reply, rfc3339
from .protocol import ApiError, error_body, new_id, parse_json

__all__ = ["MAX_BATCHES", "BatchStore", "asgi_post"]

Asgi = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]
# How one request's body (and headers) are answered: the HTTP status and the response body.
Dispatch = Callable[[bytes, dict[str, str]], Awaitable[tuple[int, bytes]]]

START_SECONDS = 1.0
CONCURRENCY = 8
EXPIRY_SECONDS = 24 * 3600
# The API's limit on requests per batch.
MAX_REQUESTS = 100_000
# Kept batches; past it the oldest ended batch is dropped, so a long run stays bounded.
MAX_BATCHES = 1000
CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def _bad(message: str) -> ApiError:
    return ApiError("invalid_request_error", message)


@dataclass
class _Batch:
    id: str
    requests: list[tuple[str, dict[str, Any]]]
    created: float
    # The create request's `x-emulator-*` headers, sent with each of its requests (seed, faults, reply).
    headers: dict[str, str]
    status: str = "in_progress"
    cancel_initiated: float | None = None
    ended: float | None = None
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    canceled: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def body(self, origin: str) -> dict[str, Any]:
        counts = dict.fromkeys(("processing", "succeeded", "errored", "canceled", "expired"), 0)
        if self.status == "ended":
            for result in self.results.values():
                counts[result["type"]] += 1
        else:
            counts["processing"] = len(self.requests)
        ended = self.status == "ended"
        return {
            "id": self.id,
            "type": "message_batch",
            "processing_status": self.status,
            "request_counts": counts,
            "created_at": rfc3339(self.created),
            "expires_at": rfc3339(self.created + EXPIRY_SECONDS),
            "ended_at": rfc3339(self.ended) if self.ended is not None else None,
            "cancel_initiated_at": (
                rfc3339(self.cancel_initiated) if self.cancel_initiated is not None else None
            ),
            "archived_at": None,
            "results_url": f"{origin}/v1/messages/batches/{self.id}/results" if ended else None,
        }


class BatchStore:
    """The batches, newest last. Used from the server's event loop only."""

    def __init__(self, dispatch: Dispatch, time_scale: float) -> None:
        self._dispatch = dispatch
        self._scale = time_scale
        self._batches: OrderedDict[str, _Batch] = OrderedDict()

    def clear(self) -> None:
        # A batch still processing keeps running on its own object and is no longer listed.
        self._batches = OrderedDict()

    def __len__(self) -> int:
        return len(self._batches)

    def _get(self, batch_id: str) -> _Batch:
        batch = self._batches.get(batch_id)
        if batch is None:
            raise ApiError("not_found_error", f"Message batch not found: {batch_id}")
        return batch

    def handle(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes, origin: str
    ) -> Reply:
        """Answer one request under `/v1/messages/batches`; call it on the server's loop."""
        rest = path.removeprefix("/v1/messages/batches").strip("/")
        if not rest:
            if method == "POST":
                return Reply(200, self._create(body, headers).body(origin))
            if method == "GET":
                return self._list(query, origin)
        else:
            batch_id, _, tail = rest.partition("/")
            batch_id = urllib.parse.unquote(batch_id)
            if not tail and method == "GET":
                return Reply(200, self._get(batch_id).body(origin))
            if not tail and method == "DELETE":
                batch = self._get(batch_id)
                if batch.status != "ended":
                    raise _bad(
                        f"Message batch {batch_id} cannot be deleted while it is {batch.status}; "
                        "cancel it and wait for it to end."
                    )
                del self._batches[batch_id]
                return Reply(200, {"id": batch_id, "type": "message_batch_deleted"})
            if tail == "cancel" and method == "POST":
                return Reply(200, self._cancel(batch_id).body(origin))
            if tail == "results" and method == "GET":
                return self._results(batch_id)
        raise ApiError("not_found_error", f"Not found: {method} {path}")

    def _create(self, body: bytes, headers: dict[str, str]) -> _Batch:
        data = parse_json(body)
        if "requests" not in data:
            raise _bad("requests: Field required")
        requests = data["requests"]
        if not isinstance(requests, list):
            raise _bad("requests: Input should be a valid list")
        if not requests:
            raise _bad("requests: List should have at least 1 item after validation, not 0")
        if len(requests) > MAX_REQUESTS:
            raise _bad(f"requests: List should have at most {MAX_REQUESTS} items, not {len(requests)}")
        seen: set[str] = set()
        parsed: list[tuple[str, dict[str, Any]]] = []
        for i, item in enumerate(requests):
            if not isinstance(item, dict):
                raise _bad(f"requests.{i}: Input should be an object")
            custom_id = item.get("custom_id")
            if not isinstance(custom_id, str) or not CUSTOM_ID.match(custom_id):
                raise _bad(f"requests.{i}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'")
            if custom_id in seen:
                raise _bad(f"requests.{i}.custom_id: Duplicate custom_id {custom_id!r}")
            seen.add(custom_id)
            params = item.get("params")
            if not isinstance(params, dict):
                raise _bad(f"requests.{i}.params: Field required")
            parsed.append((custom_id, params))
        if len(self._batches) >= MAX_BATCHES:
            ended = next((b for b in self._batches.values() if b.status == "ended"), None)
            if ended is None:
                raise ApiError("rate_limit_error", f"The emulator holds {MAX_BATCHES} batches, none ended.")
            del self._batches[ended.id]
        emulator = {k: v for k, v in headers.items() if k.startswith("x-emulator-")}
        batch = _Batch(new_id("msgbatch_"), parsed, time.time(), emulator)
        self._batches[batch.id] = batch
        batch.task = asyncio.get_running_loop().create_task(self._process(batch))
        return batch

    def _cancel(self, batch_id: str) -> _Batch:
        batch = self._get(batch_id)
        if batch.status == "in_progress":
            batch.status = "canceling"
            batch.cancel_initiated = time.time()
            batch.canceled.set()
        return batch

    def _list(self, query: str, origin: str) -> Reply:
        params = dict(urllib.parse.parse_qsl(query))
        try:
            limit = int(params.get("limit", "20"))
        except ValueError:
            raise _bad("limit: Input should be a valid integer") from None
        if not 1 <= limit <= 1000:
            raise _bad("limit: Input should be between 1 and 1000")
        newest_first = list(reversed(self._batches.values()))
        order = [b.id for b in newest_first]
        start, end = 0, len(order)
        if "after_id" in params:
            start = order.index(params["after_id"]) + 1 if params["after_id"] in order else len(order)
        if "before_id" in params:
            end = order.index(params["before_id"]) if params["before_id"] in order else 0
            start = max(start, end - limit)
        page = [b.body(origin) for b in newest_first[start:end][:limit]]
        more = start + len(page) < end if "before_id" not in params else start > 0
        return Reply(
            200,
            {
                "data": page,
                "has_more": more,
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
            },
        )

    def _results(self, batch_id: str) -> Reply:
        batch = self._get(batch_id)
        if batch.status != "ended":
            raise _bad(f"Message batch {batch_id} has not ended yet; results are available once it has.")
        lines = (
            json.dumps({"custom_id": cid, "result": batch.results[cid]}, separators=(",", ":")) + "\n"
            for cid, _ in batch.requests
        )
        return Reply(200, "".join(lines).encode(), "application/x-jsonl")

    async def _process(self, batch: _Batch) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(batch.canceled.wait(), START_SECONDS * self._scale)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def run(custom_id: str, params: dict[str, Any]) -> None:
            async with gate:
                if batch.status == "in_progress":
                    batch.results[custom_id] = await self._answer(params, batch.headers)

        await asyncio.gather(*(run(cid, params) for cid, params in batch.requests))
        for custom_id, _ in batch.requests:
            batch.results.setdefault(custom_id, {"type": "canceled"})
        batch.status = "ended"
        batch.ended = time.time()

    async def _answer(self, params: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        if params.get("stream"):
            error = error_body(
                "invalid_request_error",
                "stream: Streaming is not supported in Message Batches",
                new_id("req_"),
            )
            return {"type": "errored", "error": error}
        status, body = await self._dispatch(json.dumps(params).encode(), headers)
        try:
            payload = json.loads(body)
        except ValueError:
            payload = error_body("api_error", "Internal server error", new_id("req_"))
            status = 500
        if status == 200:
            return {"type": "succeeded", "message": payload}
        return {"type": "errored", "error": payload}


async def asgi_post(app: Asgi, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST `body` to `path` of an ASGI app in process; its status and whole response body."""
    done = asyncio.Event()
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                done.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-api-key", b"message-batch"),
            *((k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()),
        ],
        "client": None,
        "server": None,
    }
    try:
        await app(scope, receive, send)
    finally:
        done.set()
    return status, b"".join(chunks)
