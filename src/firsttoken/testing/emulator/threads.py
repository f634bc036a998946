"""Message threads (beta `message-threads-2026-08-12`): conversations the emulator holds.

A request with `thread: {"type": "create"}` sends the whole conversation; the emulator holds it,
with the reply, under the response's `id`. A request with `thread: {"type": "continue",
"previous_message_id": ...}` sends only the messages after that response, and no `system` or
`tools` (the thread keeps those it was created with); the emulator answers the held conversation
followed by the new messages, so a `tool_result` may answer a `tool_use` of the previous turn.

As the API: a reply is held only once it is complete (a stream cut short holds nothing), each
response can be continued once, a held turn expires `TTL_SECONDS` after the request that stored
it, and a `continue` that finds nothing usable is a 404 whose `error.details.error_code` is
`thread_not_found`, which the SDK's thread helper answers by replaying the whole conversation
under a new thread. The store is bounded to `MAX_HELD` responses (least recently stored evicted
first, which the client sees as a lost thread) and `reset()` drops every thread.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .protocol import ApiError

__all__ = ["MAX_HELD", "THREADS_BETA", "TTL_SECONDS", "ThreadStore", "ThreadTurn", "betas"]

THREADS_BETA = "message-threads-2026-08-12"
TTL_SECONDS = 300.0
MAX_HELD = 1024
# The fields a `continue` takes from the thread, which the request must leave out.
CREATE_ONLY = ("system", "tools")

NOT_FOUND = (
    "No usable Thread state was found for previous_message_id. Replay the full conversation with "
    'thread: {"type": "create"} to start a new Thread.'
)


def betas(headers: dict[str, str]) -> set[str]:
    """The betas the request's `anthropic-beta` header turns on."""
    return {b.strip() for b in headers.get("anthropic-beta", "").split(",") if b.strip()}


@dataclass
class _Held:
    system: Any
    tools: Any
    messages: list[dict[str, Any]]
    expires: float
    continued: bool = False


@dataclass
class ThreadTurn:
    """One request's part in a thread: the request body as the model sees it (the held
    conversation and the new messages) and, once the reply is complete, `hold()` to store it."""

    data: dict[str, Any]
    _store: ThreadStore | None = None
    _previous: str | None = None
    _held: bool = field(default=False, init=False)

    def refuse(self, fault: str) -> None:
        """Answer as the API does when it lost the thread (`thread_lost`, a `continue` only) or
        cannot thread the request (`thread_unsupported`); an unthreaded request goes on."""
        if self._store is None:
            return
        if fault == "thread_unsupported":
            raise ApiError(
                "invalid_request_error",
                "This request cannot be threaded (emulated fault); send it without `thread`.",
                details={"error_code": "thread_unsupported_request", "unsupported": ["emulated_fault"]},
            )
        if fault == "thread_lost" and self._previous is not None:
            self._store.drop(self._previous)
            raise ApiError("not_found_error", NOT_FOUND, details={"error_code": "thread_not_found"})

    def hold(self, message_id: str, content: Any) -> None:
        if self._store is None or self._held:
            return
        self._held = True
        history = [*self.data["messages"], {"role": "assistant", "content": copy.deepcopy(content)}]
        self._store.put(message_id, self.data.get("system"), self.data.get("tools"), history, self._previous)


class ThreadStore:
    """The held threads, in memory, bounded and expiring (see the module docstring)."""

    def __init__(
        self, clock: Callable[[], float], *, ttl: float = TTL_SECONDS, max_held: int = MAX_HELD
    ) -> None:
        self._clock = clock
        self._ttl = ttl
        self._max = max_held
        self._held: OrderedDict[str, _Held] = OrderedDict()
        self._in_flight: set[str] = set()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._held)

    def clear(self) -> None:
        with self._lock:
            self._held.clear()
            self._in_flight.clear()

    def drop(self, message_id: str) -> bool:
        """Forget one held response, as the API may at any time; whether it was held."""
        with self._lock:
            return self._held.pop(message_id, None) is not None

    def put(
        self, message_id: str, system: Any, tools: Any, messages: list[dict[str, Any]], previous: str | None
    ) -> None:
        with self._lock:
            if previous is not None and previous in self._held:
                self._held[previous].continued = True
            self._held[message_id] = _Held(system, tools, messages, self._clock() + self._ttl)
            while len(self._held) > self._max:
                self._held.popitem(last=False)

    @contextmanager
    def turn(self, data: dict[str, Any], headers: dict[str, str]) -> Iterator[ThreadTurn]:
        """The request's thread turn, checked as the API checks it; a `continue` is marked in
        flight until the request ends, so a second one from the same response is refused."""
        spec = data.get("thread")
        if spec is None:
            yield ThreadTurn(data)
            return
        kind, previous = _check(spec, data, headers)
        if kind == "create":
            yield ThreadTurn(data, self)
            return
        assert previous is not None
        expanded = self._begin(previous, data)
        try:
            yield ThreadTurn(expanded, self, previous)
        finally:
            with self._lock:
                self._in_flight.discard(previous)

    def _begin(self, previous: str, data: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            held = self._held.get(previous)
            if held is not None and held.expires <= self._clock():
                del self._held[previous]
                held = None
            if held is None:
                raise ApiError("not_found_error", NOT_FOUND, details={"error_code": "thread_not_found"})
            if held.continued:
                raise ApiError(
                    "invalid_request_error",
                    "The response that previous_message_id names has already been continued, and each "
                    "response can be continued only once. Continue from the Thread's most recent response.",
                    details={"error_code": "thread_already_continued"},
                )
            if previous in self._in_flight:
                raise ApiError(
                    "invalid_request_error",
                    "Another request is still continuing from the same previous_message_id. Wait for it "
                    "to complete and continue from its response id, or replay the full conversation with "
                    'thread: {"type": "create"}.',
                    details={"error_code": "thread_continue_in_flight"},
                )
            self._in_flight.add(previous)
            new = data.get("messages")
            expanded = dict(data, messages=[*held.messages, *(new if isinstance(new, list) else [])])
            for key, value in (("system", held.system), ("tools", held.tools)):
                if value is not None:
                    expanded[key] = value
            return expanded


def _check(spec: Any, data: dict[str, Any], headers: dict[str, str]) -> tuple[str, str | None]:
    """The API's 400s for a malformed `thread`: the kind and the response it continues."""
    if THREADS_BETA not in betas(headers):
        raise ApiError(
            "invalid_request_error",
            f"thread: Message threads are in beta; add `anthropic-beta: {THREADS_BETA}` to use them.",
        )
    if not isinstance(spec, dict) or spec.get("type") not in ("create", "continue"):
        raise ApiError("invalid_request_error", "thread.type: Input should be 'create' or 'continue'")
    if spec["type"] == "create":
        if "previous_message_id" in spec:
            raise ApiError(
                "invalid_request_error", "thread.create.previous_message_id: Extra inputs are not permitted"
            )
        return "create", None
    previous = spec.get("previous_message_id")
    if "previous_message_id" not in spec:
        raise ApiError("invalid_request_error", "thread.continue.previous_message_id: Field required")
    if not isinstance(previous, str) or not previous:
        raise ApiError(
            "invalid_request_error", "thread.continue.previous_message_id: Input should be a valid string"
        )
    for key in CREATE_ONLY:
        if key in data:
            raise ApiError(
                "invalid_request_error",
                f"{key}: cannot be set on a `continue`: the thread keeps the `{key}` it was created with",
            )
    if not isinstance(data.get("messages", []), list):
        raise ApiError("invalid_request_error", "messages: Input should be a valid list")
    return "continue", previous
