"""Attachments (issue 31) from outside, through every example's real server (Starlette, FastAPI,
Flask, Django under WSGI and under ASGI) against the emulator: a PDF's citation as the contract's
`citation` event, the 413 and 415 refusals with nothing sent upstream, an AI SDK `file` part sent
and its `source-document` rebuilt by the AI SDK's own client, and Chromium attaching a file to the
page and showing the citation under the answer."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import chromium
from tests.files import SENTENCE, document_block, image_block, pdf, png

from .conftest import EXAMPLE_APPS, ExampleApp, RunningExample, _pick, _start_all
from .sse import named, parse
from .test_blocks import AISDK
from .test_hardening import JSON, refused, upstream_requests

DJANGO_ASGI = ExampleApp(
    "django-asgi",
    ("-m", "uvicorn", "example_projects.django_chat.asgi:application", "--port", "{port}"),
    env={"DJANGO_SETTINGS_MODULE": "example_projects.django_chat.settings", "FIRSTTOKEN_DEVELOPMENT": "1"},
    requires="django",
)


@pytest.fixture(scope="module")
def asgi_examples(contract_emulator: Any) -> Iterator[dict[str, RunningExample]]:
    yield from _start_all([DJANGO_ASGI], contract_emulator)


@pytest.fixture(scope="module", params=[*EXAMPLE_APPS, DJANGO_ASGI], ids=lambda app: app.name)
def served(request: pytest.FixtureRequest, contract_examples: dict[str, RunningExample]) -> RunningExample:
    """The session's examples, and Django under uvicorn started for this module alone."""
    if request.param is DJANGO_ASGI:
        return _pick(request.getfixturevalue("asgi_examples"), DJANGO_ASGI)
    return _pick(contract_examples, request.param)


def ask(*blocks: Any, text: str = "What colour is the sky?") -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": [*blocks, {"type": "text", "text": text}]}]}


def test_a_cited_pdf_streams_a_citation_event(served: RunningExample) -> None:
    assert served.client.get("/static/attachments.js").status_code == 200
    response = served.client.post("/api/chat", json=ask(document_block(pdf(), title="sky.pdf")))
    assert response.status_code == 200, response.text
    events = named(parse(response.content))
    citations = [e.data for e in events if e.name == "citation"]
    assert citations == [
        {
            "location": "page_location",
            "cited_text": SENTENCE,
            "document_index": 0,
            "title": "sky.pdf",
            "start_page_number": 1,
            "end_page_number": 2,
            "file_id": None,
        }
    ]
    assert events[-1].name == "done"
    assert SENTENCE in "".join(e.data["text"] for e in events if e.name == "token")


def test_refusals_name_the_limit_and_send_nothing_upstream(served: RunningExample) -> None:
    eleven = ask(*[image_block(png(8, 8)) for _ in range(11)])
    assert "max_attachments" in refused(served, 413, content=json.dumps(eleven).encode())
    # A text file labelled a PNG, and a PNG sent as a PDF document is fine (it is a PNG).
    labelled = ask(image_block(b"not an image at all", "image/png"))
    assert "judged by its content" in refused(served, 415, content=json.dumps(labelled).encode())
    # A PNG padded past the 5 MiB a file of the default limit.
    big = ask(image_block(png() + b"\0" * 5_300_000))
    assert "max_attachment_bytes" in refused(served, 413, content=json.dumps(big).encode())
    before = upstream_requests(served)
    as_pdf = document_block(png())
    as_pdf["source"]["media_type"] = "application/pdf"  # type: ignore[index]
    response = served.client.post("/api/chat", content=json.dumps(ask(as_pdf)).encode(), headers=JSON)
    assert response.status_code == 200, response.text
    assert upstream_requests(served) == before + 1


def send_file(example: RunningExample, path: Path, media_type: str) -> dict[str, Any]:
    """`files.mjs`: the AI SDK's own chat transport sends a file part, its reader rebuilds the answer."""
    if shutil.which("node") is None or not (AISDK / "node_modules" / "ai").is_dir():
        pytest.skip("needs node and the AI SDK: run `npm ci` in tests/e2e/aisdk")
    url = f"{example.url}/api/chat?protocol=ai-sdk"
    done = subprocess.run(
        ["node", str(AISDK / "files.mjs"), url, str(path), media_type, "What colour is the sky?"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_the_ai_sdk_client_sends_a_file_part_and_rebuilds_the_source(
    served: RunningExample, tmp_path: Path
) -> None:
    sky = tmp_path / "sky.pdf"
    sky.write_bytes(pdf())
    sent = send_file(served, sky, "application/pdf")
    assert sent["status"] == 200, sent
    sources = [p for p in sent["message"]["parts"] if p["type"] == "source-document"]
    assert len(sources) == 1
    source = sources[0]
    assert source["title"] == "sky.pdf" and source["mediaType"] == "application/pdf"
    assert source["providerMetadata"]["anthropic"]["citedText"] == SENTENCE
    if served.app.name != "starlette":
        return  # the refusal below is the same core code in every server (the SSE test covers each)
    # A text file sent as a PDF is refused by its content, before anything goes upstream.
    fake = tmp_path / "fake.pdf"
    fake.write_bytes(b"not a pdf at all")
    refused_file = send_file(served, fake, "application/pdf")
    assert refused_file["status"] == "refused" and "judged by its content" in refused_file["error"]


DROP = """(bytes) => {
  const dropped = new DataTransfer();
  dropped.items.add(new File([new Uint8Array(bytes)], 'drop.png', {type: 'image/png'}));
  document.getElementById('composer').dispatchEvent(
    new DragEvent('drop', {dataTransfer: dropped, bubbles: true, cancelable: true}));
}"""


@pytest.mark.browser
def test_the_page_attaches_a_pdf_and_shows_the_citation(example: RunningExample, tmp_path: Path) -> None:
    if example.app.name != "starlette":
        pytest.skip("the page is the same package file in every example; one browser run covers it")
    sky = tmp_path / "sky.pdf"
    sky.write_bytes(pdf())
    picture = tmp_path / "dot.png"
    picture.write_bytes(png(20, 10))
    for browser in chromium():
        context = browser.new_context(viewport={"width": 1000, "height": 760})
        try:
            page = context.new_page()
            page.goto(example.url + "/")
            page.wait_for_function("() => document.readyState === 'complete'")
            # A file that is not what it says is refused with the server's reason, and goes back
            # to the tray.
            fake = tmp_path / "fake.png"
            fake.write_bytes(b"not an image")
            page.set_input_files("#attach-input", [str(fake)])
            page.fill("#prompt", "What is this?")
            page.click("#send")
            page.wait_for_selector(".answer[data-state='error']", timeout=30_000)
            assert "judged by its content" in page.locator(".answer").first.inner_text()
            page.wait_for_selector("#attachments .attachment-chip >> text=fake.png")
            page.click("#attachments .attachment-chip button")
            assert page.locator("#attachments .attachment-chip").count() == 0
            page.set_input_files("#attach-input", [str(sky), str(picture)])
            page.wait_for_selector(".attachment-chip >> text=sky.pdf")
            page.wait_for_selector(".attachment-thumb")
            page.fill("#prompt", "What colour is the sky?")
            page.click("#send")
            page.wait_for_selector(".answer[data-state='done']", timeout=30_000)
            # The user's turn shows what went with it; the answer lists what it cited.
            shown = page.locator(".user-attachments").nth(1)  # the refused turn's are first
            assert shown.locator(".attachment-chip").first.inner_text().strip().startswith("sky.pdf")
            assert shown.locator("img.attachment-thumb").count() == 1
            cited = page.locator(".answer .citations li")
            assert cited.count() == 1
            assert SENTENCE in cited.inner_text() and "sky.pdf" in cited.inner_text()
            assert "p. 1" in cited.inner_text()
            # The composer is empty again, and a next turn sends the history's blocks back.
            assert page.locator("#attachments .attachment-chip").count() == 0
            # A file dropped on the composer goes with the next turn, beside the earlier ones.
            page.evaluate(DROP, list(png(4, 4)))
            page.wait_for_selector("#attachments .attachment-chip >> text=drop.png")
            page.fill("#prompt", "Thanks")
            page.click("#send")
            page.wait_for_function(
                "() => document.querySelectorAll(\".answer[data-state='done']\").length === 2"
            )
            assert page.locator(".user-attachments").nth(2).inner_text().strip().startswith("drop.png")
        finally:
            context.close()
