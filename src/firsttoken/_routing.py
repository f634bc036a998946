"""Intent routing (the Anthropic Performance Tuning guide's step 3, Haiku for speed-critical calls):
a one-word classification on the fast model, then the real call.

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
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import Any, TypeVar

import anthropic
from anthropic.types import Message

from ._errors import FirstTokenError
from ._state import ClassifyCache
from ._upstream.stream import StreamCore

__all__ = [
    "CLASSIFY_MAX_TOKENS",
    "Classification",
    "Router",
    "Routing",
    "cache_key",
    "classify_call",
    "normalise",
    "route_text",
]

logger = logging.getLogger("firsttoken.routing")

# The Anthropic Performance Tuning guide uses 10 for four one-word labels; a label is one or two tokens, and
# every token past the first word is latency the caller pays for nothing.
CLASSIFY_MAX_TOKENS = 5
_WORD = re.compile(r"[\w-]+", re.UNICODE)
_Stream = TypeVar("_Stream", bound=StreamCore)


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
    """The Messages API arguments of a classification, as the Anthropic Performance Tuning guide's
    step 3 writes it."""
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


class Router:
    """The engine's classifier; `engine.classify()` asks it, and `engine.route()` uses its answer.

    It is handed the two calls it makes (`create`, `acreate`) and how to name a profile's model,
    not the engine, so it can be read and tested alone.
    """

    def __init__(
        self,
        *,
        create: Callable[..., Message],
        acreate: Callable[..., Awaitable[Message]],
        model_of: Callable[[str], str],
        cache: ClassifyCache,
        ttl: float,
    ) -> None:
        self._create, self._acreate, self._model_of = create, acreate, model_of
        self.cache = cache
        self.ttl = ttl

    def _ask(
        self, text: str, labels: Sequence[str], default: str, profile: str, call: Mapping[str, Any]
    ) -> _Question:
        if not isinstance(text, str):
            raise TypeError(f"classify() takes text, not {type(text).__name__}")
        checked = check_labels(labels, default)
        question = _Question(self, cache_key(text, checked, self._model_of(profile)), checked, default)
        hit = self.cache.get(question.key)
        if hit in checked:
            question.answer = Classification(str(hit), perf_counter() - question.started, "cache")
        # The profile's concise instruction would only add words to contradict "exactly one word".
        question.call = {"profile": profile, "concise": None, **classify_call(text, checked), **call}
        return question

    def classify(
        self, text: str, *, labels: Sequence[str], default: str, profile: str = "fast", **call: Any
    ) -> Classification:
        question = self._ask(text, labels, default, profile, call)
        try:
            return question.answer or question.settle(self._create(**question.call))
        except (anthropic.APIError, FirstTokenError) as exc:
            return question.failed(exc)

    async def aclassify(
        self, text: str, *, labels: Sequence[str], default: str, profile: str = "fast", **call: Any
    ) -> Classification:
        question = self._ask(text, labels, default, profile, call)
        try:
            return question.answer or question.settle(await self._acreate(**question.call))
        except (anthropic.APIError, FirstTokenError) as exc:
            return question.failed(exc)


class Routing:
    """One `engine.route()` call: its validated routes, the text to classify, the routed call."""

    def __init__(
        self,
        text_or_messages: str | Sequence[Mapping[str, Any]],
        routes: Mapping[str, str],
        default: str,
        options: dict[str, Any],
    ) -> None:
        if not routes:
            raise ValueError("routes must map labels to profile names")
        if default not in routes:
            raise ValueError(f"default {default!r} must be one of the routes {sorted(routes)}")
        self.started = perf_counter()
        self.routes = routes
        self.stream: bool = options.pop("stream", True)
        self.text, messages = route_text(text_or_messages)
        self.question: dict[str, Any] = {
            "labels": list(routes),
            "default": default,
            "profile": options.pop("classify_profile", "fast"),
            **(options.pop("classify_options", None) or {}),
        }
        # The routed call's arguments; its profile is `routes[label]` once the label is known.
        options.pop("profile", None)
        self.call = {"messages": messages, **options}

    def stamp(self, stream: _Stream, choice: Classification) -> _Stream:
        timings = stream.timings
        # The user waits for the classification too: the routed stream's TTFT counts from before it.
        timings.started = self.started
        timings.route = choice.label
        timings.classify_ms = round(choice.seconds * 1000, 2)
        return stream


class _Question:
    """One classification under way: answered from the cache, or by the model's one word."""

    __slots__ = ("answer", "call", "default", "key", "labels", "router", "started")

    def __init__(self, router: Router, key: str, labels: tuple[str, ...], default: str) -> None:
        self.router, self.key, self.labels, self.default = router, key, labels, default
        self.started = perf_counter()
        self.answer: Classification | None = None
        self.call: dict[str, Any] = {}

    def settle(self, message: Message) -> Classification:
        label = normalise(message_text(message), self.labels)
        if label is None:
            log_default("unrecognised answer", self.default)
            return Classification(self.default, perf_counter() - self.started, "unrecognised")
        self.router.cache.set(self.key, label, self.router.ttl)
        return Classification(label, perf_counter() - self.started, "model")

    def failed(self, exc: BaseException) -> Classification:
        # Routing can slow a request down but never fail it: an upstream error means the default.
        log_default(type(exc).__name__, self.default)
        return Classification(self.default, perf_counter() - self.started, type(exc).__name__)
