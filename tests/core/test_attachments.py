"""Attachments in a browser's body (issue 31): images and PDFs judged by their bytes (415 for
anything else), the size and count limits (413 naming the setting), both protocols, the
input-token estimate, and the cache breakpoint after a large attachment."""

from __future__ import annotations

import json
from typing import Any

import pytest

from firsttoken import Engine, Refused, Settings, SettingsError, parse_chat_request
from firsttoken._attachments import block_tokens, image_size, image_tokens, pdf_pages, sniff
from firsttoken._caching.policy import place
from firsttoken._events import Citation
from firsttoken._wire import AISDKFormat, NDJSONFormat, SSEFormat
from tests.files import data_url, document_block, gif, image_block, jpeg_header, pdf, png, webp_header

from .bodies import accept, body


def turn(*blocks: Any, text: str = "What is this?") -> bytes:
    return body({"messages": [{"role": "user", "content": [*blocks, {"type": "text", "text": text}]}]})


def test_each_kind_is_known_by_its_bytes_and_its_size_read_from_the_header() -> None:
    assert sniff(png()) == "image/png" and image_size(png(64, 48)) == (64, 48)
    assert sniff(gif()) == "image/gif" and image_size(gif(3, 2)) == (3, 2)
    assert sniff(jpeg_header(640, 480)) == "image/jpeg" and image_size(jpeg_header(640, 480)) == (640, 480)
    assert sniff(webp_header(300, 200)) == "image/webp" and image_size(webp_header(300, 200)) == (300, 200)
    assert sniff(pdf()) == "application/pdf" and pdf_pages(pdf(("a", "b", "c"))) == 3
    assert sniff(b"PK\x03\x04 a zip") is None and sniff(b"hello") is None


def test_image_tokens_follow_anthropics_formula_after_its_downscaling() -> None:
    assert image_tokens(750, 1) == 1
    assert image_tokens(1000, 1000) == 1334  # 1,000,000 / 750
    # Past 1568 px on the long edge or ~1.15 MP, the API scales the image down first.
    assert image_tokens(4000, 3000) == image_tokens(1238, 928) <= 1534
    assert image_tokens(3000, 100) == image_tokens(1568, 52)


def test_a_png_labelled_a_pdf_is_sent_as_the_png_it_is() -> None:
    labelled = document_block(png())
    labelled["source"]["media_type"] = "application/pdf"  # type: ignore[index]
    chat, _ = accept(turn(labelled))
    sent = chat.messages[0]["content"][0]
    assert sent["type"] == "image" and sent["source"]["media_type"] == "image/png"
    assert "citations" not in sent and "title" not in sent
    assert [a.media_type for a in chat.attachments] == ["image/png"]


def test_a_pdf_keeps_its_title_and_citations_switch() -> None:
    chat, _ = accept(turn(document_block(pdf(), title="notes.pdf")))
    sent = chat.messages[0]["content"][0]
    assert sent["title"] == "notes.pdf" and sent["citations"] == {"enabled": True}
    assert sent["source"]["media_type"] == "application/pdf"


@pytest.mark.parametrize(
    "content",
    [b"just some text", b"PK\x03\x04zipfile", b"<svg xmlns='http://www.w3.org/2000/svg'/>"],
    ids=["text", "zip", "svg"],
)
def test_content_of_another_type_is_415_whatever_its_label(content: bytes) -> None:
    with pytest.raises(Refused, match="judged by its content") as caught:
        accept(turn(image_block(content, "image/png")))
    assert caught.value.status == 415
    assert "messages[0].content[0]" in caught.value.message and "image/png" in caught.value.message


@pytest.mark.parametrize(
    ("block", "reason"),
    [
        ({"type": "image", "source": {"type": "url", "url": "http://169.254.169.254/"}}, "never as a URL"),
        ({"type": "image", "source": {"type": "base64", "data": "%%%"}}, "not valid base64"),
        ({"type": "image", "source": {"type": "base64", "data": ""}}, "the file's bytes in base64"),
        ({"type": "audio"}, "'text', 'image' or 'document' block"),
        ({"type": "text", "text": " "}, "non-empty text"),
    ],
)
def test_malformed_blocks_are_400_naming_the_problem(block: dict[str, Any], reason: str) -> None:
    with pytest.raises(Refused, match=reason) as caught:
        accept(turn(block))
    assert caught.value.status == 400


def test_only_a_users_message_may_hold_blocks() -> None:
    raw = body({"messages": [{"role": "assistant", "content": [image_block(png())]}]})
    with pytest.raises(Refused, match=r"messages\[0\].content must be non-empty text"):
        accept(raw)


def test_the_limits_are_413_naming_the_setting_that_raises_them() -> None:
    two = turn(image_block(png()), image_block(png(10, 10)))
    with pytest.raises(Refused, match=r"too many attachments: 2, the limit is 1 \(max_attachments") as many:
        accept(two, max_attachments=1)
    assert many.value.status == 413
    with pytest.raises(Refused, match=r"over the limit of 100 bytes a file \(max_attachment_bytes\)"):
        accept(two, max_attachment_bytes=100)
    size = len(png()) + len(png(10, 10))
    with pytest.raises(Refused, match=rf"are {size} bytes together.*\(max_request_attachment_bytes\)"):
        accept(two, max_request_attachment_bytes=size - 1)
    with pytest.raises(Refused, match=r"takes no attachments \(max_attachments is 0\)"):
        accept(two, max_attachments=0)
    # The files' base64 does not count against max_body_bytes; the rest of the body does.
    accept(two, max_body_bytes=300)
    with pytest.raises(Refused, match="over the limit of 300 bytes"):
        accept(turn(image_block(png()), text="x" * 300), max_body_bytes=300)


def test_attachments_count_in_the_input_token_estimate() -> None:
    _, small = accept(turn(image_block(png(1000, 750))))  # 1000 tokens of image, a little text
    assert 1000 < small < 1020
    _, pages = accept(turn(document_block(pdf(("one", "two")))))
    assert 4600 < pages < 4620  # 2,300 a page
    with pytest.raises(Refused, match="too many input tokens") as caught:
        accept(turn(document_block(pdf(("a",) * 20))), max_input_tokens=32_000)
    assert caught.value.status == 413


def test_ai_sdk_file_parts_become_blocks_checked_the_same_way() -> None:
    parts = [
        {
            "type": "file",
            "mediaType": "application/pdf",
            "filename": "notes.pdf",
            "url": data_url(pdf(), "application/pdf"),
        },
        {
            "type": "file",
            "mediaType": "application/pdf",
            "filename": "a.pdf",
            "url": data_url(png(), "application/pdf"),
        },
        {"type": "text", "text": "Summarise these."},
    ]
    chat = parse_chat_request(body({"messages": [{"role": "user", "parts": parts}]}), protocol="ai-sdk")
    first, second, text = chat.messages[0]["content"]
    assert first["type"] == "document" and first["title"] == "notes.pdf"
    assert first["citations"] == {"enabled": True}
    assert second["type"] == "image" and second["source"]["media_type"] == "image/png"
    assert text == {"type": "text", "text": "Summarise these."}
    assert len(chat.attachments) == 2
    bad = [{"type": "file", "mediaType": "image/png", "url": data_url(b"GIF? no", "image/png")}]
    with pytest.raises(Refused, match="judged by its content") as caught:
        parse_chat_request(body({"messages": [{"role": "user", "parts": bad}]}), protocol="ai-sdk")
    assert caught.value.status == 415


def test_a_large_attachment_gets_its_own_cache_breakpoint() -> None:
    scan = image_block(png(1200, 900))  # 1,440 tokens
    messages = [
        {"role": "user", "content": [scan, {"type": "text", "text": "What is this?"}]},
        {"role": "assistant", "content": "A scan."},
        {"role": "user", "content": "And the date on it?"},
    ]
    placed = place({"messages": messages}, mode="auto", ttl="5m", min_tokens=1024, model="m")
    assert placed.added == ("conversation", "attachment")
    assert placed.params["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in messages[0]["content"][0]  # the caller's dicts are left alone
    small = [{"role": "user", "content": [image_block(png()), {"type": "text", "text": "x" * 5000}]}]
    assert place({"messages": small}, mode="auto", ttl="5m", min_tokens=1024, model="m").added == (
        "conversation",
    )
    assert block_tokens(scan) == 1440


def test_attachment_settings_fail_at_start_naming_the_key() -> None:
    with pytest.raises(SettingsError, match="max_attachment_bytes"):
        Settings(max_attachment_bytes=0)
    with pytest.raises(SettingsError, match="FIRSTTOKEN_MAX_ATTACHMENTS"):
        Settings.from_env({"FIRSTTOKEN_MAX_ATTACHMENTS": "-1"})
    with pytest.raises(SettingsError, match="FIRSTTOKEN_MAX_REQUEST_ATTACHMENT_BYTES"):
        Settings.from_env({"FIRSTTOKEN_MAX_REQUEST_ATTACHMENT_BYTES": "lots"})


def test_a_citation_is_one_flat_object_in_each_format() -> None:
    cite = Citation(
        0,
        {
            "type": "page_location",
            "cited_text": "The sky is blue.",
            "document_index": 1,
            "document_title": "sky.pdf",
            "start_page_number": 2,
            "end_page_number": 3,
            "file_id": None,
        },
    )
    flat = {
        "location": "page_location",
        "cited_text": "The sky is blue.",
        "document_index": 1,
        "title": "sky.pdf",
        "start_page_number": 2,
        "end_page_number": 3,
        "file_id": None,
    }
    sse = SSEFormat().event(cite)
    assert sse.startswith(b"event: citation\ndata: ") and json.loads(sse.split(b"data: ", 1)[1]) == flat
    assert json.loads(NDJSONFormat().event(cite)) == {"type": "citation", **flat}
    part = json.loads(AISDKFormat().event(cite).split(b"data: ", 1)[1])
    assert part["type"] == "source-document" and part["mediaType"] == "application/pdf"
    assert part["title"] == "sky.pdf" and part["providerMetadata"]["anthropic"]["startPageNumber"] == 2


def test_what_the_api_would_refuse_is_413_here_first() -> None:
    with pytest.raises(Refused, match="the image is 9000x10 pixels; the API takes at most 8000") as wide:
        accept(turn(image_block(jpeg_header(9000, 10), "image/jpeg")))
    assert wide.value.status == 413
    with pytest.raises(Refused, match="the PDF has 101 pages; the API takes at most 100"):
        accept(turn(document_block(pdf(("p",) * 101))), max_input_tokens=1_000_000)


def test_a_question_edited_about_the_same_file_reads_the_file_from_cache(engine: Engine) -> None:
    """Through the engine and the emulator's prompt cache: the attachment's own breakpoint is
    written on the first turn and read when only the question after it changes."""
    scan = image_block(png(1568, 1000))  # scaled to ~1.15 MP: 1,534 tokens, over the minimum

    def ask(question: str) -> Any:
        messages = [{"role": "user", "content": [scan, {"type": "text", "text": question}]}]
        return engine.create(messages=messages, max_tokens=20).usage

    first = ask("What is in this picture?")
    assert first.cache_creation_input_tokens >= 1534
    edited = ask("What colour is this picture, mostly?")
    assert edited.cache_read_input_tokens >= 1534
