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

    def _prepare(
        self, text: str, labels: Sequence[str], default: str, profile: str
    ) -> tuple[tuple[str, ...], str]:
        if not isinstance(text, str):
            raise TypeError(f"classify() takes text, not {type(text).__name__}")
        checked = check_labels(labels, default)
        return checked, cache_key(text, checked, self._model_of(profile))

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

    def _cached(self, key: str, labels: Sequence[str], started: float) -> Classification | None:
        hit = self.cache.get(key)
        return Classification(str(hit), perf_counter() - started, "cache") if hit in labels else None

    def classify(
        self, text: str, *, labels: Sequence[str], default: str, profile: str = "fast", **call: Any
    ) -> Classification:
        started = perf_counter()
        checked, key = self._prepare(text, labels, default, profile)
        if (hit := self._cached(key, checked, started)) is not None:
            return hit
        try:
            message = self._create(**self._call(text, checked, profile, call))
        except (anthropic.APIError, FirstTokenError) as exc:
            return _defaulted(exc, default, started)
        return self._settle(key, message_text(message), checked, default, started)

    async def aclassify(
        self, text: str, *, labels: Sequence[str], default: str, profile: str = "fast", **call: Any
    ) -> Classification:
        started = perf_counter()
        checked, key = self._prepare(text, labels, default, profile)
        if (hit := self._cached(key, checked, started)) is not None:
            return hit
        try:
            message = await self._acreate(**self._call(text, checked, profile, call))
        except (anthropic.APIError, FirstTokenError) as exc:
            return _defaulted(exc, default, started)
        return self._settle(key, message_text(message), checked, default, started)

    @staticmethod
    def begin(
        text_or_messages: str | Sequence[Mapping[str, Any]],
        routes: Mapping[str, str],
        default: str,
        call: Mapping[str, Any],
    ) -> tuple[float, str, dict[str, Any]]:
        """When routing started, the text to classify, and the routed call's arguments."""
        if not routes:
            raise ValueError("routes must map labels to profile names")
        if default not in routes:
            raise ValueError(f"default {default!r} must be one of the routes {sorted(routes)}")
        started = perf_counter()
        text, messages = route_text(text_or_messages)
        return started, text, {"messages": messages, **call}

    @staticmethod
    def stamp(stream: _Stream, choice: Classification, started: float) -> _Stream:
        timings = stream.timings
        # The user waits for the classification too: the routed stream's TTFT counts from before it.
        timings.started = started
        timings.route = choice.label
        timings.classify_ms = round(choice.seconds * 1000, 2)
        return stream


def _defaulted(exc: BaseException, default: str, started: float) -> Classification:
    log_default(type(exc).__name__, default)
    return Classification(default, perf_counter() - started, type(exc).__name__)
