"""The Files API, driven through the SDK's `client.files` (GA) and `client.beta.files` with strict
response validation, and file sources in Messages."""

from __future__ import annotations

import base64
import datetime
from typing import Any

import anthropic
import pytest

from firsttoken.testing.emulator import Emulator

MODEL = "claude-sonnet-5"
BETA = "files-api-2025-04-14"
TEXT = b"The emulator keeps uploaded files in memory. " * 40


def _ask(source: dict[str, Any], kind: str = "document") -> list[Any]:
    return [
        {"role": "user", "content": [{"type": kind, "source": source}, {"type": "text", "text": "Sum up."}]}
    ]


def test_upload_retrieve_list_delete(client: anthropic.Anthropic) -> None:
    uploaded = client.beta.files.upload(file=("docs/notes.txt", TEXT, "text/plain"))
    assert uploaded.id.startswith("file_")
    assert (uploaded.filename, uploaded.mime_type, uploaded.size_bytes) == (
        "notes.txt",
        "text/plain",
        len(TEXT),
    )
    assert uploaded.downloadable is False and uploaded.expires_at is None
    assert abs(uploaded.created_at - datetime.datetime.now(datetime.UTC)) < datetime.timedelta(minutes=1)
    # The Files API is GA: the same file through the non-beta resource, which sends no beta header.
    assert client.files.retrieve_metadata(uploaded.id).size_bytes == len(TEXT)
    assert [f.id for f in client.files.list()] == [uploaded.id]
    assert client.beta.files.delete(uploaded.id).type == "file_deleted"
    with pytest.raises(anthropic.NotFoundError):
        client.beta.files.retrieve_metadata(uploaded.id)


def test_an_unnamed_file_gets_the_extension_of_its_type(client: anthropic.Anthropic) -> None:
    uploaded = client.files.upload(file=("", b"%PDF-1.4 stub", "application/pdf"))
    assert uploaded.filename == "unnamed.pdf"


def test_list_pages_by_cursor_and_by_beta_ids(client: anthropic.Anthropic) -> None:
    ids = [client.files.upload(file=(f"f{i}.txt", TEXT, "text/plain")).id for i in range(3)]
    first = client.files.list(limit=2)
    assert [f.id for f in first.data] == ids[:0:-1]  # newest first
    assert first.next_page is not None
    assert [f.id for f in client.files.list(limit=2)] == ids[::-1]  # the SDK follows `next_page`
    assert first.to_dict().keys() == {"data", "next_page"}  # the GA page shape
    beta = client.beta.files.list(limit=2, betas=[BETA])
    assert beta.to_dict()["has_more"] is True and beta.to_dict()["last_id"] == ids[1]  # the beta's
    assert [f.id for f in beta] == ids[::-1]
    assert [f.id for f in client.files.list(ids=[ids[0], "file_gone"])] == [ids[0]]
    # The beta's `after_id` cursor needs the beta header, as on the API.
    with pytest.raises(anthropic.BadRequestError, match="after_id"):
        client.files.list(extra_query={"after_id": ids[2]})
    assert [f.id for f in client.beta.files.list(betas=[BETA], extra_query={"after_id": ids[2]})] == ids[
        1::-1
    ]


def test_expiry_is_set_within_the_api_range(client: anthropic.Anthropic) -> None:
    uploaded = client.files.upload(file=("a.txt", TEXT, "text/plain"), expires_in_seconds=3600)
    assert uploaded.expires_at is not None
    assert uploaded.expires_at - uploaded.created_at == datetime.timedelta(hours=1)
    with pytest.raises(anthropic.BadRequestError, match="expires_in_seconds"):
        client.files.upload(file=("a.txt", TEXT, "text/plain"), expires_in_seconds=60)


def test_an_expired_file_is_listed_but_its_content_is_gone() -> None:
    now = [1000.0]
    with (
        Emulator(time_scale=0, clock=lambda: now[0]) as emulator,
        anthropic.Anthropic(
            base_url=emulator.base_url, api_key="test", max_retries=0, _strict_response_validation=True
        ) as client,
    ):
        uploaded = client.files.upload(file=("a.txt", TEXT, "text/plain"), expires_in_seconds=3600)
        ask = _ask({"type": "file", "file_id": uploaded.id})
        assert client.messages.count_tokens(model=MODEL, messages=ask).input_tokens > 0
        now[0] += 3600
        assert [f.id for f in client.files.list()] == [uploaded.id]
        with pytest.raises(anthropic.NotFoundError) as caught:
            client.files.download(uploaded.id)
        assert caught.value.error_code == "file_expired"
        with pytest.raises(anthropic.BadRequestError, match="expired"):
            client.messages.count_tokens(model=MODEL, messages=ask)


def test_an_uploaded_file_cannot_be_downloaded(client: anthropic.Anthropic) -> None:
    uploaded = client.beta.files.upload(file=("a.txt", TEXT, "text/plain"))
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.beta.files.download(uploaded.id)
    assert caught.value.error_code == "file_not_downloadable"
    with pytest.raises(anthropic.NotFoundError):
        client.files.download("file_unknown")


def test_an_upload_that_is_not_multipart_is_refused(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError, match="multipart/form-data"):
        client.post("/v1/files", body={"file": "notes.txt"}, cast_to=object)


def test_unknown_ids_are_not_found(client: anthropic.Anthropic) -> None:
    for call in (client.files.retrieve_metadata, client.files.delete, client.beta.files.delete):
        with pytest.raises(anthropic.NotFoundError):
            call("file_unknown")


def test_a_full_store_refuses_uploads(emu: Emulator, client: anthropic.Anthropic) -> None:
    store = emu.app.files
    bound = store.max_files
    store.max_files = 1
    try:
        client.files.upload(file=("a.txt", TEXT, "text/plain"))
        with pytest.raises(anthropic.APIStatusError, match="file store is full") as caught:
            client.files.upload(file=("b.txt", TEXT, "text/plain"))
        assert caught.value.status_code == 413
    finally:
        store.max_files = bound


def test_a_file_source_costs_what_the_same_file_inline_costs(client: anthropic.Anthropic) -> None:
    uploaded = client.files.upload(file=("notes.txt", TEXT, "text/plain"))
    by_id = _ask({"type": "file", "file_id": uploaded.id})
    inline = _ask({"type": "text", "media_type": "text/plain", "data": TEXT.decode()})
    counted = client.messages.count_tokens(model=MODEL, messages=by_id)
    assert counted.input_tokens == client.messages.count_tokens(model=MODEL, messages=inline).input_tokens
    assert counted.input_tokens > len(TEXT) // 4
    answer = client.messages.create(model=MODEL, max_tokens=20, messages=by_id)
    assert answer.usage.input_tokens == counted.input_tokens


def test_a_pdf_source_costs_what_the_same_pdf_in_base64_costs(client: anthropic.Anthropic) -> None:
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 8
    uploaded = client.files.upload(file=("report.pdf", pdf, "application/pdf"))
    by_id = client.messages.count_tokens(model=MODEL, messages=_ask({"type": "file", "file_id": uploaded.id}))
    inline = _ask({"type": "base64", "media_type": "application/pdf", "data": base64.b64encode(pdf).decode()})
    assert by_id.input_tokens == client.messages.count_tokens(model=MODEL, messages=inline).input_tokens


def test_a_cited_answer_quotes_an_uploaded_text_file(client: anthropic.Anthropic) -> None:
    uploaded = client.files.upload(file=("plan.txt", b"We ship on Friday. Then we rest.", "text/plain"))
    document: dict[str, Any] = {
        "type": "document",
        "source": {"type": "file", "file_id": uploaded.id},
        "citations": {"enabled": True},
    }
    ask: list[Any] = [{"role": "user", "content": [document, {"type": "text", "text": "When do we ship?"}]}]
    answer = client.messages.create(model=MODEL, max_tokens=200, messages=ask)
    cited = [c for block in answer.content if block.type == "text" for c in block.citations or []]
    assert [c.cited_text for c in cited] == ["We ship on Friday."]


def test_an_unknown_or_mismatched_file_source_is_refused(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError, match=r"messages\.0\.content\.0\.source\.file_id"):
        client.messages.create(
            model=MODEL, max_tokens=5, messages=_ask({"type": "file", "file_id": "file_gone"})
        )
    text = client.files.upload(file=("a.txt", TEXT, "text/plain"))
    with pytest.raises(anthropic.BadRequestError, match="image block cannot reference"):
        client.messages.create(
            model=MODEL, max_tokens=5, messages=_ask({"type": "file", "file_id": text.id}, kind="image")
        )


def test_a_file_in_a_tool_result_is_resolved_too(client: anthropic.Anthropic) -> None:
    tool = {"name": "read", "description": "Read a file.", "input_schema": {"type": "object"}}
    call = {"type": "tool_use", "id": "toolu_1", "name": "read", "input": {}}

    def turn(file_id: str) -> list[Any]:
        result = {"type": "document", "source": {"type": "file", "file_id": file_id}}
        done = {"type": "tool_result", "tool_use_id": "toolu_1", "content": [result]}
        return [
            {"role": "user", "content": "Read the plan."},
            {"role": "assistant", "content": [call]},
            {"role": "user", "content": [done]},
        ]

    uploaded = client.files.upload(file=("plan.txt", TEXT, "text/plain"))
    counted = client.messages.count_tokens(model=MODEL, messages=turn(uploaded.id), tools=[tool])  # type: ignore[list-item]
    assert counted.input_tokens > len(TEXT) // 4
    with pytest.raises(anthropic.BadRequestError, match=r"messages\.2\.content\.0\.content\.0\.source"):
        client.messages.count_tokens(model=MODEL, messages=turn("file_gone"), tools=[tool])  # type: ignore[list-item]


async def test_async_client_round_trip(aclient: anthropic.AsyncAnthropic) -> None:
    uploaded = await aclient.beta.files.upload(file=("a.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64, "image/png"))
    assert uploaded.mime_type == "image/png"
    answer = await aclient.messages.create(
        model=MODEL, max_tokens=5, messages=_ask({"type": "file", "file_id": uploaded.id}, kind="image")
    )
    assert answer.usage.input_tokens > 0
    assert [f.id async for f in aclient.beta.files.list()] == [uploaded.id]
    assert (await aclient.beta.files.delete(uploaded.id)).id == uploaded.id
