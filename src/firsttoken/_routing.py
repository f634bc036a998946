"""Intent routing (guide step 3): a one-word classification on the fast model, then the real call.

"Use Haiku for speed-critical paths ... classification, routing decisions": the classifier asks
the `fast` profile for one word out of the labels with a tight `max_tokens`, normalises the answer
(case, punctuation, surrounding words) and falls back to the declared default for anything else,
an upstream error included, so routing can slow a request down but never fail it. Identical
inputs within a TTL are answered from a `ClassifyCache` without a call.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from time import perf_counter
from typing import TYPE_CHECKING, Any, Protocol

import anthropic
from anthropic.types import Message

from ._errors import FirstTokenError
from ._upstream.stream import AsyncTextStream, TextStream

if TYPE_CHECKING:
    from ._engine import Engine

__all__ = [
    "CLASSIFY_MAX_TOKENS",
    "Classification",
    "ClassifyCache",
    "MemoryClassifyCache",
    "Router",
    "cache_key",
    "classify_call",
    "normalise",
    "route_text",
]

logger = logging.getLogger("firsttoken.routing")

# The guide uses 10 for four one-word labels; a label is one or two tokens, and every token past
# the first word is latency the caller pays for nothing.
CLASSIFY_MAX_TOKENS = 5
_WORD = re.compile(r"[\w-]+", re.UNICODE)


class ClassifyCache(Protocol):
    """Where classifications are remembered; keys are digests, so no user text is stored as a key."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, label: str, ttl: float) -> None: ...


class MemoryClassifyCache:
    """A small LRU with a time-to-live per entry, for one process."""

    def __init__(self, *, size: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.clock = clock
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[float, str]] = OrderedDict()

    def get(self, key: str) -> str | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            expires, label = item
            if self.clock() >= expires:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return label

    def set(self, key: str, label: str, ttl: float) -> None:
        if self.size <= 0 or ttl <= 0:
            return
        with self._lock:
            self._items[key] = (self.clock() + ttl, label)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True, slots=True)
class Classification:
    label: str
    # Seconds the classification took (near zero from the cache).
    seconds: float
    # "model", "cache", or why the default was used: "unrecognised" or the upstream error's type.
    source: str


def check_labels(labels: Sequence[str], default: str) -> tuple[str, ...]:
    if isinstance(labels, str) or not labels:
        raise ValueError("labels must be a non-empty list of one-word strings")
    out = tuple(labels)
    for label in out:
        if not isinstance(label, str) or _WORD.fullmatch(label) is None:
            raise ValueError(f"label {label!r} must be one word (letters, digits, '-' or '_')")
    if default not in out:
        raise ValueError(f"default {default!r} must be one of the labels {list(out)}")
    return out


def classify_call(text: str, labels: Sequence[str]) -> dict[str, Any]:
    """The Messages API arguments of a classification, as the guide writes it."""
    return {
        "system": f"Classify the intent. Reply with exactly one word: {', '.join(labels)}.",
        "messages": [{"role": "user", "content": text}],
        "max_tokens": CLASSIFY_MAX_TOKENS,
    }


def normalise(answer: str, labels: Sequence[str]) -> str | None:
    """The label a model's answer names, or None: the first word, case and punctuation aside."""
    match = _WORD.search(answer)
    if match is None:
        return None
    word = match.group(0).casefold()
    for label in labels:
        if label.casefold() == word:
            return label
    return None


def cache_key(text: str, labels: Sequence[str], model: str) -> str:
    digest = hashlib.sha256(json.dumps([model, list(labels), text]).encode()).hexdigest()
    return f"firsttoken:classify:{digest}"


def route_text(messages_or_text: str | Sequence[Mapping[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """What to classify (the last user turn's text) and the messages to send on."""
    if isinstance(messages_or_text, str):
        return messages_or_text, [{"role": "user", "content": messages_or_text}]
    messages = [dict(m) for m in messages_or_text]
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content, messages
            if isinstance(content, list):
                texts = [
                    b.get("text", "") for b in content if isinstance(b, Mapping) and b.get("type") == "text"
                ]
                return "\n".join(texts), messages
    raise ValueError("route() needs text or messages with a user turn")


def message_text(message: Any) -> str:
    return "".join(
        getattr(block, "text", "") for block in message.content if getattr(block, "type", "") == "text"
    )


def log_default(reason: str, default: str) -> None:
    logger.warning("firsttoken: classification fell back to the default label %r (%s)", default, reason)


# The label engine.route() chose for the call running in this context; the engine stamps it on
# that call's CallRecord so metrics count calls per route (create() has no timings to carry it).
current_route: ContextVar[str | None] = ContextVar("firsttoken_route", default=None)


class Router:
    """The engine's classifier and router; `engine.classify()` and `engine.route()` delegate here."""

    def __init__(self, engine: Engine, *, cache: ClassifyCache | None = None) -> None:
        s = engine.settings
        self.engine = engine
        self.ttl = s.classify_cache_ttl
        self.cache: ClassifyCache = (
            cache if cache is not None else MemoryClassifyCache(size=s.classify_cache_size)
        )

    def _prepare(
        self, text: str, labels: Sequence[str], default: str, profile: str
    ) -> tuple[tuple[str, ...], str]:
        if not isinstance(text, str):
            raise TypeError(f"classify() takes text, not {type(text).__name__}")
        checked = check_labels(labels, default)
        return checked, cache_key(text, checked, self.engine.profile(profile).model)

    def _call(
        self, text: str, labels: Sequence[str], profile: str, call: Mapping[str, Any]
    ) -> dict[str, Any]:
        # The profile's concise instruction would only add words to contradict "exactly one word".
        return {"profile": profile, "concise": None, **classify_call(text, labels), **call}

    def _settle(
        self, key: str, answer: str, labels: Sequence[str], default: str, started: float
    ) -> Classification:
        label = normalise(answer, labels)
        if label is None:
            log_default("unrecognised answer", default)
            return Classification(default, perf_counter() - started, "unrecognised")
        self.cache.set(key, label, self.ttl)
        return Classification(label, perf_counter() - started, "model")

    def classify(
        self, text: str, *, labels: Sequence[str], default: str, profile: str = "fast", **call: Any
    ) -> Classification:
        started = perf_counter()
        checked, key = self._prepare(text, labels, default, profile)
        hit = self.cache.get(key)
        if hit in checked:
            return Classification(str(hit), perf_counter() - started, "cache")
        try:
            message = self.engine.create(**self._call(text, checked, profile, call))
        except (anthropic.APIError, FirstTokenError) as exc:
            log_default(type(exc).__name__, default)
            return Classification(default, perf_counter() - started, type(exc).__name__)
        return self._settle(key, message_text(message), checked, default, started)

    async def aclassify(
        self, text: str, *, labels: Sequence[str], default: str, profile: str = "fast", **call: Any
    ) -> Classification:
        started = perf_counter()
        checked, key = self._prepare(text, labels, default, profile)
        hit = self.cache.get(key)
        if hit in checked:
            return Classification(str(hit), perf_counter() - started, "cache")
        try:
            message = await self.engine.acreate(**self._call(text, checked, profile, call))
        except (anthropic.APIError, FirstTokenError) as exc:
            log_default(type(exc).__name__, default)
            return Classification(default, perf_counter() - started, type(exc).__name__)
        return self._settle(key, message_text(message), checked, default, started)

    @staticmethod
    def _routes(routes: Mapping[str, str], default: str) -> None:
        if not routes:
            raise ValueError("routes must map labels to profile names")
        if default not in routes:
            raise ValueError(f"default {default!r} must be one of the routes {sorted(routes)}")

    def _stamp(self, stream: TextStream | AsyncTextStream, choice: Classification, started: float) -> None:
        timings = stream.timings
        # The user waits for the classification too: the routed stream's TTFT counts from before it.
        timings.started = started
        timings.route = choice.label
        timings.classify_ms = round(choice.seconds * 1000, 2)

    def route(
        self,
        text_or_messages: str | Sequence[Mapping[str, Any]],
        *,
        routes: Mapping[str, str],
        default: str,
        stream: bool = True,
        classify_profile: str = "fast",
        classify_options: Mapping[str, Any] | None = None,
        **call: Any,
    ) -> TextStream | Message:
        self._routes(routes, default)
        started = perf_counter()
        text, messages = route_text(text_or_messages)
        choice = self.classify(
            text, labels=list(routes), default=default, profile=classify_profile, **(classify_options or {})
        )
        kwargs = {"profile": routes[choice.label], "messages": messages, **call}
        token = current_route.set(choice.label)
        try:
            if not stream:
                return self.engine.create(**kwargs)
            routed = self.engine.stream(**kwargs)
        finally:
            current_route.reset(token)
        self._stamp(routed, choice, started)
        return routed

    async def aroute(
        self,
        text_or_messages: str | Sequence[Mapping[str, Any]],
        *,
        routes: Mapping[str, str],
        default: str,
        stream: bool = True,
        classify_profile: str = "fast",
        classify_options: Mapping[str, Any] | None = None,
        **call: Any,
    ) -> AsyncTextStream | Message:
        self._routes(routes, default)
        started = perf_counter()
        text, messages = route_text(text_or_messages)
        choice = await self.aclassify(
            text, labels=list(routes), default=default, profile=classify_profile, **(classify_options or {})
        )
        kwargs = {"profile": routes[choice.label], "messages": messages, **call}
        token = current_route.set(choice.label)
        try:
            if not stream:
                return await self.engine.acreate(**kwargs)
            routed = self.engine.astream(**kwargs)
        finally:
            current_route.reset(token)
        self._stamp(routed, choice, started)
        return routed
