"""What a process loads before its first call, and the freeze after it.

A fresh process's first call pays for the SDK's lazy imports and model classes and for this
package's parsing paths. `exercise_code_paths` (and its async form) runs one streamed answer,
canned in memory (`httpx2.MockTransport`), through the SDK's
`messages.with_streaming_response.create` and this package's decoder, accumulator and event
reader; no byte leaves the process. The warm-up (`warmup.py`) calls them before the first user
does.

Once the code paths have run, the objects the process holds (the framework, the SDK and its model
classes, the app: some 215,000 in the benchmarks' Django process) are moved out of the garbage
collector's reach (`gc.freeze()`, setting `gc_freeze`). A full collection walks every object it
tracks and holds the GIL while it does, so in a relay serving streams it stopped every stream at
once for 90 to 130 ms on this project's 2-core rig (`benchmarks/gc_pauses.py`); after the freeze
it walks only what was allocated since, in a few milliseconds at most. Reference counting still
frees frozen objects; only a reference cycle among them is never collected.
"""

from __future__ import annotations

import gc
import os

import anthropic
import httpx2
from anthropic.types import MessageParam

from .._accumulator import MessageAccumulator
from .._events import EventReader
from .._sse import SSEDecoder

__all__ = ["aexercise_code_paths", "exercise_code_paths", "freeze_loaded_objects"]

_WARM_MESSAGE: MessageParam = {"role": "user", "content": "."}
# One short answer in every event type a text answer has; never sent anywhere.
_CANNED = b"".join(
    b"event: " + name + b"\ndata: " + data + b"\n\n"
    for name, data in (
        (
            b"message_start",
            b'{"type":"message_start","message":{"id":"msg_warm_up","type":"message","role":"assistant",'
            b'"model":"warm-up","content":[],"stop_reason":null,"stop_sequence":null,"usage":'
            b'{"input_tokens":1,"output_tokens":0,"cache_read_input_tokens":0,'
            b'"cache_creation_input_tokens":0}}}',
        ),
        (
            b"content_block_start",
            b'{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
        ),
        (b"ping", b'{"type":"ping"}'),
        (
            b"content_block_delta",
            b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"."}}',
        ),
        (b"content_block_stop", b'{"type":"content_block_stop","index":0}'),
        (
            b"message_delta",
            b'{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},'
            b'"usage":{"output_tokens":1}}',
        ),
        (b"message_stop", b'{"type":"message_stop"}'),
    )
)


def _canned_response(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=_CANNED)


def _fold(chunks: list[bytes]) -> None:
    decoder, acc, reader = SSEDecoder(), MessageAccumulator(), EventReader()
    for chunk in chunks:
        for name, data in decoder.feed(chunk):
            acc.feed(name, data)
            reader.feed(name, data)
    acc.build()


# The process that froze: once per process (a forked worker freezes what it allocated since), so
# that a process that warms engine after engine (a test run) freezes what it loaded, not what each
# later engine's callers left behind.
_frozen_in: int | None = None


def freeze_loaded_objects() -> bool:
    """Leave what the process has loaded out of later full collections (see the module docstring);
    False if this process did already.

    No `gc.collect()` first: on a loop already serving, that one pass would be the very stall this
    avoids, and the start-up garbage it would free is a few thousand objects.
    """
    global _frozen_in
    if _frozen_in == os.getpid():
        return False
    _frozen_in = os.getpid()
    gc.freeze()
    return True


def exercise_code_paths(model: str) -> None:
    """One canned streamed answer through the SDK's request and response paths and ours (sync)."""
    http = httpx2.Client(transport=httpx2.MockTransport(_canned_response))
    with anthropic.Anthropic(
        api_key="warm-up", base_url="http://warm-up.invalid", http_client=http
    ) as client:
        create = client.messages.with_streaming_response.create
        with create(stream=True, model=model, max_tokens=1, messages=[_WARM_MESSAGE]) as response:
            _fold(list(response.http_response.iter_bytes()))


async def aexercise_code_paths(model: str) -> None:
    """`exercise_code_paths` through the async client (its own request path and response wrapper)."""
    http = httpx2.AsyncClient(transport=httpx2.MockTransport(_canned_response))
    async with anthropic.AsyncAnthropic(
        api_key="warm-up", base_url="http://warm-up.invalid", http_client=http
    ) as client:
        create = client.messages.with_streaming_response.create
        async with create(stream=True, model=model, max_tokens=1, messages=[_WARM_MESSAGE]) as response:
            _fold([chunk async for chunk in response.http_response.aiter_bytes()])
