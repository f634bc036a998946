"""Upload once (issue 31): with `upload_attachments`, a file a browser attached is uploaded to the
emulator's Files API after its first turn, and a later turn on another engine (another worker,
sharing Redis) sends it by `file_id` instead of its bytes; a file the API lost is sent inline again.

The figure it saves is measured from the emulator's request log: the bytes of each turn's
`POST /v1/messages` body."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anthropic

from firsttoken import Engine, Relay
from firsttoken.testing.emulator import Emulator
from tests.files import SENTENCE, document_block, pdf

from .conftest import API_KEY

# A PDF of about 300 KB (its page, then padding after the end marker, as appended updates leave).
PAPER = pdf() + b"%" + b"x" * 300_000 + b"\n"


def first_turn() -> list[dict[str, Any]]:
    return [
        {
            "role": "user",
            "content": [document_block(PAPER, title="paper.pdf"), {"type": "text", "text": "Sky?"}],
        }
    ]


def later_turn(answer: str) -> list[dict[str, Any]]:
    return [*first_turn(), {"role": "assistant", "content": answer}, {"role": "user", "content": "Say more."}]


def answered(relay: Relay) -> bytes:
    start = relay.open()
    assert start.status == 200, start.body
    return b"".join(relay)


async def aanswered(relay: Relay) -> bytes:
    start = await relay.aopen()
    assert start.status == 200, start.body
    return b"".join([chunk async for chunk in relay])


def messages_bodies(emulator: Emulator) -> list[int]:
    return [
        r["request_bytes"] for r in emulator.requests if r["path"] == "/v1/messages" and "request_bytes" in r
    ]


def wait_for(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not check():
        assert time.monotonic() < deadline, "the background upload did not finish"
        time.sleep(0.02)


async def test_a_file_goes_up_once_and_later_turns_on_any_worker_send_its_id(
    make_engine: Callable[..., Engine], emulator: Emulator
) -> None:
    one, two = make_engine(upload_attachments=True), make_engine(upload_attachments=True)
    first = answered(Relay(one, format="ndjson", messages=first_turn()))
    assert SENTENCE.encode() in first
    wait_for(lambda: one.uploads.uploaded == 1)
    with anthropic.Anthropic(base_url=emulator.base_url, api_key=API_KEY) as client:
        files = list(client.beta.files.list())
    assert [(f.filename, f.mime_type, f.size_bytes) for f in files] == [
        ("paper.pdf", "application/pdf", len(PAPER))
    ]

    # The next turn, on the other worker (async this time): the file goes by id, read from Redis.
    await aanswered(Relay(two, format="ndjson", messages=later_turn("It is blue.")))
    assert (two.uploads.reused, two.uploads.uploaded) == (1, 0)
    inline, by_id = messages_bodies(emulator)[-2:]
    encoded = len(document_block(PAPER)["source"]["data"])  # type: ignore[index]
    # Measured: the later turn is smaller by the file's base64, less the few bytes of its id.
    assert inline - by_id > encoded - 200
    assert by_id < 2_000

    # The API lost the file (deleted, or expired): the turn sends the bytes again and still answers.
    with anthropic.Anthropic(base_url=emulator.base_url, api_key=API_KEY) as client:
        client.beta.files.delete(files[0].id)
    again = answered(Relay(one, format="ndjson", messages=later_turn("It is blue.")))
    assert b'"type":"done"' in again
    assert messages_bodies(emulator)[-1] > encoded
    wait_for(lambda: not one.uploads.store.get(one.uploads._key(document_block(PAPER)["source"]["data"])))  # type: ignore[index]


def test_off_by_default_every_turn_sends_the_bytes(
    make_engine: Callable[..., Engine], emulator: Emulator
) -> None:
    engine = make_engine()
    assert engine.uploads.enabled is False
    answered(Relay(engine, format="ndjson", messages=first_turn()))
    answered(Relay(engine, format="ndjson", messages=later_turn("It is blue.")))
    first, later = messages_bodies(emulator)[-2:]
    assert later > first and engine.uploads.uploaded == 0
