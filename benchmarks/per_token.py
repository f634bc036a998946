"""What the relay's per-token steps cost, each beside the way it was done before, in one run.

    .venv/bin/python benchmarks/per_token.py [--json]

At the API's pace every token is its own trip through the relay, so a microsecond per token is a
share of a core (BENCHMARKS.md, Capacity). Each row times one step over real data, best of five
runs of many repetitions, in this process:

1. a token event's bytes: the general JSON encoder over `{"text": ...}` vs the bytes written
   around one JSON string (`_wire/formats.py`; tests/core/test_wire.py holds them equal);
2. one stream event's SSE block: the spec's field-by-field reading vs the fast reading of the
   API's `event:`/`data:` shape (`_sse.py`; tests/core/test_sse.py holds them equal), over the
   blocks of a real answer from the emulator;
3. what Starlette's response did around each token's write: an uncontended `anyio.Lock`
   (`fast_acquire`) and a beat timer read through `anyio.current_time`, vs the flags and the
   monotonic clock it uses now.

And one step per call, on its way to the first token:

4. the governor telling which call an HTTP attempt belongs to, for a one-message call and a
   40-turn conversation of 2,000 characters a turn: first a header added to the call's arguments
   and taken off each attempt's request with the SDK's `APIRequest.copy()`, which deep-copies the
   body; then (`header_after_us`, the last way) the same header with a shallow copy of the
   options; now a context variable held around the call (`governor.tracking`), nothing added.
   The two header ways are kept here, as they were, to be timed beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import itertools
import json
import time
import timeit
from collections.abc import Callable
from typing import Any

import anyio
import httpx2
from anthropic import APIRequest
from anthropic._models import FinalRequestOptions

from _support import emulator_process
from firsttoken._sse import _parse_block, _parse_fields
from firsttoken._upstream.governor import Attempts, Governor, _current
from firsttoken._wire import SSEFormat

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def best_us(step: Callable[[], Any], number: int) -> float:
    return min(timeit.repeat(step, number=number, repeat=5)) / number * 1e6


def encoding(texts: list[str]) -> dict[str, float]:
    fmt = SSEFormat()

    def before() -> None:
        for text in texts:
            b"event: token\ndata: " + _dumps({"text": text}).encode() + b"\n\n"

    def after() -> None:
        for text in texts:
            fmt.token(text)

    n = len(texts)
    return {"before_us": best_us(before, 200) / n, "after_us": best_us(after, 200) / n}


def decoding(blocks: list[bytes]) -> dict[str, float]:
    def before() -> None:
        for block in blocks:
            _parse_fields(block)

    def after() -> None:
        for block in blocks:
            _parse_block(block)

    n = len(blocks)
    return {"before_us": best_us(before, 200) / n, "after_us": best_us(after, 200) / n}


def write_guard(tokens: int = 100_000) -> dict[str, float]:
    async def run() -> dict[str, float]:
        lock = anyio.Lock(fast_acquire=True)
        finished, beating = False, None

        async def write() -> None:
            return None

        best: dict[str, float] = {}
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(tokens):
                async with lock:
                    await write()
                    anyio.current_time()
            before = (time.perf_counter() - started) / tokens * 1e6
            started = time.perf_counter()
            for _ in range(tokens):
                if not finished and beating is None:
                    await write()
                    time.monotonic()
            after = (time.perf_counter() - started) / tokens * 1e6
            best["before_us"] = min(best.get("before_us", before), before)
            best["after_us"] = min(best.get("after_us", after), after)
        return best

    return asyncio.run(run())


CALL_HEADER = "x-firsttoken-call"
_ids = itertools.count(1)


def _tag(params: dict[str, Any], call_id: str) -> dict[str, Any]:
    extra = params.get("extra_headers") or {}
    return {**params, "extra_headers": {**extra, CALL_HEADER: call_id}}


def _shallow(request: APIRequest, headers: dict[str, Any]) -> APIRequest:
    options = copy.copy(request.options)
    options.headers = dict(headers)
    return APIRequest(
        options=options,
        cast_to=request.cast_to,
        stream=request.stream,
        stream_cls=request.stream_cls,
        retries_taken=request.retries_taken,
    )


def call_attribution(turns: int) -> dict[str, float]:
    """Per call, the governor's own steps from the call's arguments to the middleware knowing its
    `Attempts` (one attempt; the SDK's request, built the same either way, is built once here)."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Hello"}] if turns == 0 else []
    for i in range(turns):
        role = "user" if i % 2 == 0 else "assistant"
        messages.append({"role": role, "content": [{"type": "text", "text": "x" * 2000}]})
    params = {
        "model": "claude-sonnet-5-5",
        "max_tokens": 1024,
        "messages": messages,
        "extra_headers": {"x-a": "b"},
    }
    options = FinalRequestOptions.construct(
        method="post",
        url="/v1/messages",
        json_data=params,
        headers={**params["extra_headers"], CALL_HEADER: "1"},
    )
    tagged_request = APIRequest(options=options, cast_to=object, stream=True)
    calls: dict[str, Attempts] = {}

    def by_header(strip: Callable[[APIRequest, dict[str, Any]], APIRequest]) -> None:
        attempts, call_id = Attempts(), str(next(_ids))
        calls[call_id] = attempts
        _tag(params, call_id)
        headers = {k: v for k, v in tagged_request.options.headers.items() if k != CALL_HEADER}
        strip(tagged_request, headers)
        calls.get(call_id)
        calls.pop(call_id)

    governor = Governor()

    def by_context() -> None:
        with governor.tracking(1, Attempts()):
            _current.get()

    number = 200 if turns else 5000
    return {
        "before_us": best_us(lambda: by_header(lambda r, h: r.copy(headers=h)), number),
        "header_after_us": best_us(lambda: by_header(_shallow), number),
        "after_us": best_us(by_context, number),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with emulator_process(time_scale=0.0) as base_url:
        body = {
            "model": "claude-sonnet-5-5",
            "max_tokens": 2000,
            "stream": True,
            "messages": [{"role": "user", "content": "Write a long explanation of streaming."}],
        }
        headers = {
            "x-api-key": "bench",
            "anthropic-version": "2023-06-01",
            "x-emulator-output-tokens": "2000",
        }
        raw = httpx2.post(base_url + "/v1/messages", json=body, headers=headers, timeout=60).content
    blocks = [block for block in raw.split(b"\n\n") if block]
    texts = []
    for block in blocks:
        event = _parse_fields(block)
        if event and event[0] == "content_block_delta" and event[1]["delta"]["type"] == "text_delta":
            texts.append(event[1]["delta"]["text"])
    results = {
        "token_event_bytes": encoding(texts),
        "sse_block_reading": decoding(blocks),
        "write_guard_and_clock": write_guard(),
        "call_attribution_one_message": call_attribution(0),
        "call_attribution_40_turns": call_attribution(40),
        "tokens": len(texts),
        "blocks": len(blocks),
    }
    rows = (
        "token_event_bytes",
        "sse_block_reading",
        "write_guard_and_clock",
        "call_attribution_one_message",
        "call_attribution_40_turns",
    )
    for row in rows:
        r = results[row]
        r["saved_us"] = round(r["before_us"] - r["after_us"], 3)
        r["after_over_before"] = round(r["after_us"] / r["before_us"], 3)
        for key in ("before_us", "header_after_us", "after_us"):
            if key in r:
                r[key] = round(r[key], 3)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print("| step, per token | before | now | now ÷ before | saved |")
    print("|---|---|---|---|---|")
    for row, label in (
        ("token_event_bytes", "a token event's bytes"),
        ("sse_block_reading", "reading one SSE block"),
        ("write_guard_and_clock", "Starlette's guard and clock around a write"),
        ("call_attribution_one_message", "per call: which call an attempt is, a one-message request"),
        ("call_attribution_40_turns", "per call: the same, a 40-turn conversation"),
    ):
        r = results[row]
        ratio, saved = r["after_over_before"], r["saved_us"]
        print(f"| {label} | {r['before_us']} µs | {r['after_us']} µs | {ratio} | {saved} µs |")
    for row in ("call_attribution_one_message", "call_attribution_40_turns"):
        print(f"{row}: the header with a shallow copy (the last way) {results[row]['header_after_us']} µs")


if __name__ == "__main__":
    main()
