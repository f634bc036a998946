"""The Message Batches API, driven through the SDK's `client.messages.batches` with strict response
validation, so every batch, page and JSONL line is checked by the SDK's own models."""

from __future__ import annotations

import asyncio
import datetime
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from anthropic.types.messages import MessageBatch

from firsttoken.testing.emulator import Emulator

MODEL = "claude-sonnet-5"
PARAMS: dict[str, Any] = {
    "model": MODEL,
    "max_tokens": 40,
    "messages": [{"role": "user", "content": "Explain batch processing"}],
}


def _ended(client: anthropic.Anthropic, batch_id: str, timeout: float = 10.0) -> MessageBatch:
    deadline = time.monotonic() + timeout
    while True:
        batch = client.messages.batches.retrieve(batch_id)
        if batch.processing_status == "ended" or time.monotonic() > deadline:
            return batch
        time.sleep(0.02)


def test_results_are_what_plain_calls_return(client: anthropic.Anthropic) -> None:
    created = client.messages.batches.create(
        requests=[
            {"custom_id": "ok", "params": PARAMS},  # type: ignore[typeddict-item]
            {"custom_id": "no-max-tokens", "params": {"model": MODEL, "messages": PARAMS["messages"]}},  # type: ignore[typeddict-item]
            {"custom_id": "unknown_model", "params": {**PARAMS, "model": "gpt-4"}},  # type: ignore[typeddict-item]
        ]
    )
    assert created.id.startswith("msgbatch_")
    assert created.processing_status == "in_progress"
    assert created.request_counts.processing == 3 and created.request_counts.succeeded == 0
    assert created.results_url is None and created.ended_at is None
    assert created.expires_at - created.created_at == datetime.timedelta(hours=24)

    batch = _ended(client, created.id)
    assert batch.processing_status == "ended"
    counts = batch.request_counts
    assert (counts.processing, counts.succeeded, counts.errored, counts.canceled) == (0, 1, 2, 0)
    assert batch.ended_at is not None and batch.ended_at >= batch.created_at
    assert batch.results_url is not None and batch.results_url.endswith(
        f"/v1/messages/batches/{batch.id}/results"
    )

    results = {r.custom_id: r.result for r in client.messages.batches.results(batch.id)}
    assert set(results) == {"ok", "no-max-tokens", "unknown_model"}
    ok = results["ok"]
    assert ok.type == "succeeded"
    plain = client.messages.create(**PARAMS)
    assert ok.message.content == plain.content
    assert ok.message.usage.input_tokens == plain.usage.input_tokens
    missing = results["no-max-tokens"]
    assert missing.type == "errored"
    assert missing.error.error.type == "invalid_request_error"
    assert "max_tokens" in missing.error.error.message
    unknown = results["unknown_model"]
    assert unknown.type == "errored" and unknown.error.error.type == "not_found_error"


def test_a_fault_errors_the_request_it_hits(emu: Emulator, client: anthropic.Anthropic) -> None:
    emu.set_faults(["overloaded"])
    batch = client.messages.batches.create(requests=[{"custom_id": "a", "params": PARAMS}])  # type: ignore[typeddict-item]
    batch = _ended(client, batch.id)
    assert batch.request_counts.errored == 1
    (line,) = client.messages.batches.results(batch.id)
    assert line.result.type == "errored"
    assert line.result.error.error.type == "overloaded_error"


def test_the_create_requests_emulator_headers_go_with_each_request(client: anthropic.Anthropic) -> None:
    batch = client.messages.batches.create(
        requests=[{"custom_id": "a", "params": PARAMS}, {"custom_id": "b", "params": PARAMS}],  # type: ignore[typeddict-item]
        extra_headers={"x-emulator-reply": "Batched."},
    )
    texts = [
        block.text
        for line in client.messages.batches.results(_ended(client, batch.id).id)
        if line.result.type == "succeeded"
        for block in line.result.message.content
        if block.type == "text"
    ]
    assert texts == ["Batched.", "Batched."]


def test_streaming_inside_a_batch_is_an_errored_result(client: anthropic.Anthropic) -> None:
    batch = client.messages.batches.create(
        requests=[{"custom_id": "s", "params": {**PARAMS, "stream": True}}]  # type: ignore[typeddict-item]
    )
    (line,) = client.messages.batches.results(_ended(client, batch.id).id)
    assert line.result.type == "errored"
    assert "stream" in line.result.error.error.message


@pytest.mark.parametrize(
    ("requests", "said"),
    [
        ([], "at least 1 item"),
        ([{"custom_id": "a", "params": PARAMS}, {"custom_id": "a", "params": PARAMS}], "Duplicate custom_id"),
        ([{"custom_id": "has space", "params": PARAMS}], "custom_id"),
        ([{"custom_id": "x" * 65, "params": PARAMS}], "custom_id"),
        ([{"custom_id": "a"}], "params: Field required"),
    ],
    ids=["empty", "duplicate", "bad-characters", "too-long", "no-params"],
)
def test_malformed_batches_are_refused(
    client: anthropic.Anthropic, requests: list[dict[str, Any]], said: str
) -> None:
    with pytest.raises(anthropic.BadRequestError, match=said) as caught:
        client.messages.batches.create(requests=requests)  # type: ignore[arg-type]
    assert caught.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]


def test_an_unknown_batch_id_is_not_found(client: anthropic.Anthropic) -> None:
    batches = client.messages.batches
    for call in (batches.retrieve, batches.cancel, batches.delete, batches.results):
        with pytest.raises(anthropic.NotFoundError):
            call("msgbatch_nope")


def test_list_pages_newest_first(client: anthropic.Anthropic) -> None:
    ids = [
        client.messages.batches.create(requests=[{"custom_id": "a", "params": PARAMS}]).id  # type: ignore[typeddict-item]
        for _ in range(3)
    ]
    first = client.messages.batches.list(limit=2)
    assert len(first.data) == 2 and first.has_more
    assert [b.id for b in client.messages.batches.list(limit=2)] == ids[::-1]


@pytest.fixture
def slow_client() -> Iterator[anthropic.Anthropic]:
    # At time scale 1 a batch waits a second before it starts: long enough to cancel it first.
    with (
        Emulator(time_scale=1.0, seed=0) as emulator,
        anthropic.Anthropic(
            base_url=emulator.base_url, api_key="test", max_retries=0, _strict_response_validation=True
        ) as client,
    ):
        yield client


def test_cancel_then_delete(slow_client: anthropic.Anthropic) -> None:
    batches = slow_client.messages.batches
    batch = batches.create(requests=[{"custom_id": f"r{i}", "params": PARAMS} for i in range(3)])  # type: ignore[typeddict-item]
    with pytest.raises(anthropic.BadRequestError, match="cannot be deleted while it is in_progress"):
        batches.delete(batch.id)
    with pytest.raises(anthropic.AnthropicError, match="Has it finished processing"):
        batches.results(batch.id)
    canceling = batches.cancel(batch.id)
    assert canceling.processing_status == "canceling"
    assert canceling.cancel_initiated_at is not None
    assert canceling.request_counts.processing == 3
    ended = _ended(slow_client, batch.id)
    assert ended.processing_status == "ended"
    assert ended.request_counts.canceled == 3 and ended.request_counts.processing == 0
    assert {r.result.type for r in batches.results(batch.id)} == {"canceled"}
    assert batches.delete(batch.id).type == "message_batch_deleted"
    with pytest.raises(anthropic.NotFoundError):
        batches.retrieve(batch.id)


async def test_async_client_round_trip(aclient: anthropic.AsyncAnthropic) -> None:
    batch = await aclient.messages.batches.create(
        requests=[{"custom_id": f"r{i}", "params": PARAMS} for i in range(2)]  # type: ignore[typeddict-item]
    )
    for _ in range(500):
        batch = await aclient.messages.batches.retrieve(batch.id)
        if batch.processing_status == "ended":
            break
        await asyncio.sleep(0.02)
    assert batch.request_counts.succeeded == 2
    lines = [line async for line in await aclient.messages.batches.results(batch.id)]
    assert sorted(line.custom_id for line in lines) == ["r0", "r1"]
    listed = [b.id async for b in aclient.messages.batches.list()]
    assert batch.id in listed
    assert (await aclient.messages.batches.delete(batch.id)).id == batch.id
