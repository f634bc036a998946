"""Images and PDFs at the emulator, through the anthropic SDK with strict response validation:
their tokens in `count_tokens` (the same figures as firsttoken's own estimate), a PDF's citations
by page, streamed as `citations_delta`, and the API's 400 for bytes that are not what they say."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from firsttoken._attachments import block_tokens as estimated
from firsttoken.testing.emulator.media import block_tokens as counted
from tests.files import SENTENCE, document_block, gif, image_block, jpeg_header, pdf, png

MODEL = "claude-sonnet-5"


def ask(*blocks: Any, text: str = "What does it say?") -> list[Any]:
    return [{"role": "user", "content": [*blocks, {"type": "text", "text": text}]}]


@pytest.mark.parametrize(
    "block",
    [
        image_block(png(1000, 750)),
        image_block(png(3000, 2000)),
        image_block(gif(), "image/gif"),
        document_block(pdf(("a", "b"))),
    ],
    ids=["png", "large-png", "gif", "pdf"],
)
def test_count_tokens_counts_images_and_pdfs_as_firsttoken_estimates_them(
    client: anthropic.Anthropic, block: dict[str, Any]
) -> None:
    assert counted(block) == estimated(block)
    plain = client.messages.count_tokens(model=MODEL, messages=ask(text="x")).input_tokens
    with_file = client.messages.count_tokens(model=MODEL, messages=ask(block, text="x")).input_tokens
    assert with_file - plain == counted(block)


def test_a_pdfs_citation_names_its_page_and_streams_as_a_citations_delta(client: anthropic.Anthropic) -> None:
    earlier = document_block(pdf(("Old notes.",)), title="old.pdf", cite=False)
    messages: list[Any] = [
        {"role": "user", "content": [earlier, {"type": "text", "text": "Keep this."}]},
        {"role": "assistant", "content": "Kept."},
        *ask(
            document_block(pdf((SENTENCE + " Grass is green.", "Page two."))), text="What colour is the sky?"
        ),
    ]
    with client.messages.stream(model=MODEL, max_tokens=200, messages=messages) as stream:
        deltas = [
            e.delta.citation
            for e in stream
            if e.type == "content_block_delta" and e.delta.type == "citations_delta"
        ]
        final = stream.get_final_message()
    assert len(deltas) == 1
    cite = deltas[0]
    assert cite.type == "page_location" and cite.cited_text == SENTENCE
    # The request's second document: `document_index` counts every document sent.
    assert cite.document_index == 1 and cite.document_title == "notes.pdf"
    assert (cite.start_page_number, cite.end_page_number) == (1, 2)
    cited = [c for b in final.content if b.type == "text" for c in b.citations or []]
    assert cited == deltas


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (image_block(png(), "image/jpeg"), "Image does not match the provided media type image/jpeg"),
        (image_block(png(), "image/bmp"), "Input should be 'image/jpeg'"),
        (document_block(png()), "The PDF specified was not valid"),
        (image_block(jpeg_header(8001, 600), "image/jpeg"), "image dimensions exceed max allowed size: 8000"),
        (document_block(pdf(("p",) * 101)), "A maximum of 100 PDF pages may be provided"),
    ],
)
def test_bytes_that_are_not_what_they_say_are_the_apis_400(
    client: anthropic.Anthropic, block: dict[str, Any], message: str
) -> None:
    with pytest.raises(anthropic.BadRequestError, match=message):
        client.messages.create(model=MODEL, max_tokens=5, messages=ask(block))


def test_a_citation_of_an_uploaded_pdf_names_its_file(client: anthropic.Anthropic) -> None:
    uploaded = client.beta.files.upload(file=("sky.pdf", pdf(), "application/pdf"))
    document = {
        "type": "document",
        "source": {"type": "file", "file_id": uploaded.id},
        "citations": {"enabled": True},
    }
    answer = client.messages.create(model=MODEL, max_tokens=200, messages=ask(document))
    cited = [c for b in answer.content if b.type == "text" for c in b.citations or []]
    assert [(c.type, c.cited_text, c.file_id) for c in cited] == [("page_location", SENTENCE, uploaded.id)]
    # Counted as the same PDF sent inline: the file's id is not prompt text.
    inline = client.messages.count_tokens(model=MODEL, messages=ask(document_block(pdf(), title=None)))
    by_id = client.messages.count_tokens(model=MODEL, messages=ask(document))
    assert by_id.input_tokens == inline.input_tokens
