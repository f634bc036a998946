"""A span per model call under the GenAI conventions, and the calls of one web request as rows.

Spans: when the app has configured a TracerProvider, each finished call becomes a CLIENT span
`chat {model}` with the conventions' attributes (tokens, cache tokens, time to first chunk),
started when the call began and parented to whatever span was current then (the web request's,
when the app traces its requests). With no provider nothing is built. Prompt and answer text go
on the span only when the user opts in, with `capture_content=True` or the variable OpenTelemetry's
own GenAI instrumentations read, `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`.

Rows: `collect_calls()` gathers one row per call finished inside it (model, profile, TTFT,
tokens/s, cache tokens, fallbacks, retries, cost estimate), for the Django Debug Toolbar panel and
the `Server-Timing` header of Flask and Starlette. It is a ContextVar because a web request is the
one scope every framework already carries in one (OpenTelemetry's context works the same way).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from anthropic.types import Message
from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry.trace import NoOpTracerProvider, ProxyTracerProvider, SpanKind, Status, StatusCode

from ._metrics import CallRecord, ProviderCheck
from ._version import __version__

__all__ = ["CAPTURE_CONTENT_ENV", "Telemetry", "collect_calls", "server_timing"]

_PLACEHOLDERS = frozenset({ProxyTracerProvider.__name__, NoOpTracerProvider.__name__})

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

_calls: ContextVar[list[dict[str, Any]] | None] = ContextVar("firsttoken_request_calls", default=None)


@contextmanager
def collect_calls() -> Iterator[list[dict[str, Any]]]:
    """The rows of the model calls that finish inside this block (one web request, usually)."""
    rows: list[dict[str, Any]] = []
    token = _calls.set(rows)
    try:
        yield rows
    finally:
        try:
            _calls.reset(token)
        except ValueError:  # left from another context (a streamed body's last chunk): let it go
            _calls.set(None)


def server_timing(rows: list[dict[str, Any]]) -> str:
    """A `Server-Timing` header value, two entries per call: its TTFT and its whole duration."""
    entries = []
    for n, row in enumerate(rows, 1):
        what = f"{row['model']} ({row['profile']})"
        if row["ttft_ms"] is not None:
            entries.append(f'firsttoken-{n}-ttft;dur={row["ttft_ms"]};desc="{what} TTFT"')
        detail = (
            f"{what} {row['tps'] or 0} tok/s, cache read {row['cache_read_input_tokens']} write "
            f"{row['cache_creation_input_tokens']}, fallbacks {row['fallbacks']}, retries {row['retries']}, "
            f"~${row['cost_usd']:.6f}"
        )
        entries.append(f'firsttoken-{n};dur={row["total_ms"]};desc="{detail}"')
    return ", ".join(entries)


class Telemetry:
    def __init__(
        self,
        *,
        cost: Callable[[CallRecord], float],
        capture_content: bool | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if capture_content is None:
            flag = (os.environ if environ is None else environ).get(CAPTURE_CONTENT_ENV, "")
            capture_content = flag.strip().lower() in ("1", "true", "yes")
        self.capture_content = capture_content
        # The call's dollars as `done` prices them: the caching manager's `cost`, one pricing for all.
        self._cost = cost
        # A proxy until the app sets a provider; it follows the provider from then on.
        self._tracer = trace.get_tracer("firsttoken", __version__)
        self._tracing = ProviderCheck(trace.get_tracer_provider, _PLACEHOLDERS)

    def sdk_spans(self) -> bool:
        """Whether the SDK's own span of a call made now could record or carry anything: the app
        traces, or the caller's context holds a span or baggage that the SDK would propagate in the
        request's headers. When not, the SDK would build the span's attributes and drop them."""
        if self._tracing():
            return True
        if trace.get_current_span().get_span_context().is_valid:
            return True
        return bool(baggage.get_all())

    def begin(self) -> otel_context.Context | None:
        """The context a call starts in, when the app traces; None (and no other work) otherwise."""
        if not self._tracing():
            return None
        return otel_context.get_current()

    def finished(
        self,
        parent: otel_context.Context | None,
        params: Mapping[str, Any],
        record: CallRecord,
        message: Callable[[], Message] | None,
    ) -> None:
        rows = _calls.get()
        if rows is not None:
            rows.append(self.row(record))
        if parent is not None:
            self._span(parent, params, record, message if record.error is None else None)

    def turn(self, turn: Any) -> None:
        """An agent turn (`_agent.TurnRecord`) finished inside `collect_calls()`: its steps' rows,
        the last `turn.steps` of its profile's not yet claimed, say which turn and step each was,
        and the last one lists the tools the turn ran (name, milliseconds, whether it failed)."""
        rows = _calls.get()
        if rows is None or turn.steps <= 0:
            return
        free = [r for r in rows if r["profile"] == turn.profile and "step" not in r]
        steps = free[-turn.steps :]
        number = 1 + max((r.get("turn", 0) for r in rows), default=0)
        for n, row in enumerate(steps, 1):
            row.update(turn=number, step=n, steps=turn.steps)
        if steps:
            steps[-1]["tools"] = [
                {"name": name, "ms": round(seconds * 1000, 1), "failed": failed}
                for name, seconds, failed in turn.tools
            ]

    def row(self, record: CallRecord) -> dict[str, Any]:
        return {
            "model": record.model,
            "profile": record.profile,
            "streamed": record.streamed,
            "ttft_ms": None if record.ttft is None else round(record.ttft * 1000, 1),
            "tps": None if record.tps is None else round(record.tps, 1),
            "total_ms": round(record.total * 1000, 1),
            "input_tokens": record.input_tokens,
            "output_tokens": record.output_tokens,
            "cache_read_input_tokens": record.cache_read_input_tokens,
            "cache_creation_input_tokens": record.cache_creation_input_tokens,
            "fallbacks": record.fallbacks,
            "retries": record.retries,
            "cost_usd": round(self._cost(record), 6),
            "error": record.error,
        }

    def _span(
        self,
        parent: otel_context.Context,
        params: Mapping[str, Any],
        record: CallRecord,
        message: Callable[[], Message] | None,
    ) -> None:
        end = time.time_ns()
        requested = str(params.get("model", record.model))
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "anthropic",
            "gen_ai.request.model": requested,
            "gen_ai.request.stream": record.streamed,
            "gen_ai.usage.input_tokens": record.prompt_tokens,
            "gen_ai.usage.output_tokens": record.output_tokens,
            "gen_ai.usage.cache_read.input_tokens": record.cache_read_input_tokens,
            "gen_ai.usage.cache_creation.input_tokens": record.cache_creation_input_tokens,
            "firsttoken.profile": record.profile,
            "firsttoken.retries": record.retries,
            "firsttoken.fallbacks": record.fallbacks,
        }
        if "max_tokens" in params:
            attributes["gen_ai.request.max_tokens"] = int(params["max_tokens"])
        temperature = (params.get("extra_body") or {}).get("temperature", params.get("temperature"))
        if temperature is not None:
            attributes["gen_ai.request.temperature"] = float(temperature)
        if record.ttft is not None:
            attributes["gen_ai.response.time_to_first_chunk"] = record.ttft
        if record.route is not None:
            attributes["firsttoken.route"] = record.route
        if record.error is None:
            attributes["gen_ai.response.model"] = record.model
        else:
            attributes["error.type"] = record.error
        answer = message() if message is not None else None
        if answer is not None:
            attributes["gen_ai.response.id"] = answer.id
            if answer.stop_reason is not None:
                attributes["gen_ai.response.finish_reasons"] = [answer.stop_reason]
        if self.capture_content:
            attributes.update(_content(params, answer))
        span = self._tracer.start_span(
            f"chat {requested}",
            context=parent,
            kind=SpanKind.CLIENT,
            attributes=attributes,
            start_time=end - int(record.total * 1e9),
        )
        if record.error is not None and record.error != "cancelled":
            span.set_status(Status(StatusCode.ERROR, record.error))
        span.end(end_time=end)


def _parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts: list[dict[str, Any]] = []
    for block in content or ():
        block = block if isinstance(block, Mapping) else block.model_dump()
        if block.get("type") == "text":
            parts.append({"type": "text", "content": block.get("text", "")})
        else:
            parts.append({"type": str(block.get("type"))})
    return parts


def _content(params: Mapping[str, Any], answer: Message | None) -> dict[str, str]:
    """The conventions' opt-in content attributes, as JSON strings (span attributes are flat)."""
    out = {
        "gen_ai.input.messages": json.dumps(
            [{"role": m.get("role"), "parts": _parts(m.get("content"))} for m in params.get("messages", ())]
        )
    }
    if params.get("system"):
        out["gen_ai.system_instructions"] = json.dumps(_parts(params["system"]))
    if answer is not None:
        out["gen_ai.output.messages"] = json.dumps(
            [{"role": "assistant", "parts": _parts(answer.content), "finish_reason": answer.stop_reason}]
        )
    return out
