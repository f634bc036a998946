"""Files a browser attaches to a chat turn: images and PDFs, judged by their bytes. No I/O.

A user message's content may hold `image` and `document` blocks with a base64 source (the
contract's body) or, from the AI SDK, `file` parts with a `data:` URL. `checked_block` turns
either into the block the API takes, with the media type read from the content's magic bytes
(a PNG named `.pdf` is a PNG: the API would refuse the mismatch, and a browser's label is only a
label); anything else is a 415. The size and count limits are `_limits.Limits.check_attachments`.

The token estimate (`block_tokens`) follows Anthropic's documented rules: an image costs
`width * height / 750` tokens after the API's own down-scaling (long edge at most 1568 px, about
1.15 megapixels, so at most about 1,600 tokens), its dimensions read from the header bytes; a PDF
costs `PDF_PAGE_TOKENS` per page (its text plus an image of each page: the documentation's range is
1,500 to 3,000 a page of text), its pages counted from the page objects.
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

__all__ = [
    "IMAGE_TYPES",
    "KINDS",
    "PDF",
    "PDF_PAGE_TOKENS",
    "Attachment",
    "block_tokens",
    "checked_block",
    "from_file_part",
    "image_size",
    "image_tokens",
    "pdf_pages",
    "sniff",
]

PDF = "application/pdf"
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
KINDS = "a PNG, JPEG, GIF or WebP image or a PDF"
# The middle of the documented 1,500-3,000 tokens a page: a page's text and its page image.
PDF_PAGE_TOKENS = 2_300
# The API scales an image down past either bound before counting it (Anthropic's vision guide).
MAX_EDGE = 1568
MAX_PIXELS = 1_150_000
PIXELS_PER_TOKEN = 750
# A file source (uploaded once, `_files`) has no bytes here: counted as the largest image.
UNREAD_IMAGE_TOKENS = math.ceil(MAX_PIXELS / PIXELS_PER_TOKEN)
# The API refuses an image over 8000 px a side and a PDF over 100 pages: refused here first, so
# the browser hears why (413) instead of a bad gateway.
MAX_IMAGE_SIDE = 8000
MAX_PDF_PAGES = 100
# A title the API shows in citations; longer is a client's mistake, not a document's name.
MAX_TITLE = 500


@dataclass(frozen=True, slots=True)
class Attachment:
    """One attached file as checked: where it was, what it is by its bytes, and its sizes."""

    where: str
    media_type: str
    size: int  # decoded bytes
    encoded: int  # characters of base64 in the body


def sniff(head: bytes) -> str | None:
    """The media type the first bytes announce, among the ones the API takes; None otherwise."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    # The PDF header may follow a little junk (the spec's readers look within the first 1 KiB).
    if b"%PDF-" in head[:1024]:
        return PDF
    return None


def image_size(data: bytes) -> tuple[int, int] | None:
    """An image's width and height from its header, or None when the header does not say."""
    try:
        if data.startswith(b"\x89PNG") and data[12:16] == b"IHDR":
            return struct.unpack(">II", data[16:24])
        if data.startswith(b"GIF"):
            return struct.unpack("<HH", data[6:10])
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp_size(data)
        if data.startswith(b"\xff\xd8"):
            return _jpeg_size(data)
    except struct.error:
        return None
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 ":  # lossy: 14-bit sizes after the frame's start code
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L":  # lossless: 14-bit sizes minus one, packed after the signature byte
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":  # extended: 24-bit sizes minus one
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


# Start-of-frame markers carry the size; C4 (Huffman tables), C8 and CC (arithmetic coding) do not.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _SOF:
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return w, h
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers with no length
            i += 2
            continue
        i += 2 + struct.unpack(">H", data[i + 2 : i + 4])[0]
    return None


def image_tokens(width: int, height: int) -> int:
    """`width * height / 750` after the API's down-scaling (long edge 1568 px, ~1.15 megapixels)."""
    if width <= 0 or height <= 0:
        return UNREAD_IMAGE_TOKENS
    scale = min(1.0, MAX_EDGE / max(width, height), math.sqrt(MAX_PIXELS / (width * height)))
    return max(1, math.ceil(int(width * scale) * int(height * scale) / PIXELS_PER_TOKEN))


_PAGE = re.compile(rb"/Type\s*/Page(?![A-Za-z])")
_COUNT = re.compile(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)|/Count\s+(\d+)[^>]*?/Type\s*/Pages\b", re.DOTALL)


def pdf_pages(data: bytes) -> int:
    """Pages of a PDF: its page objects, else the page tree's `/Count` (page objects packed in
    compressed object streams cannot be seen without inflating them), else one page per 100 KB."""
    pages = len(_PAGE.findall(data))
    if pages:
        return pages
    counts = [int(a or b) for a, b in _COUNT.findall(data)]
    return max(counts) if counts else max(1, len(data) // 100_000)


# The head of a base64 payload that holds any image's size (a JPEG's EXIF can run to 64 KiB).
_HEAD_CHARS = 96 * 1024


@functools.lru_cache(maxsize=32)
def _tokens_of(kind: str, data: str) -> int:
    """Estimated tokens of one base64 payload; cached because every call of a conversation
    estimates every earlier turn again, and a str's hash is computed once per object."""
    try:
        if kind == "image":
            size = image_size(base64.b64decode(data[:_HEAD_CHARS]))
            return image_tokens(*size) if size else UNREAD_IMAGE_TOKENS
        return pdf_pages(base64.b64decode(data)) * PDF_PAGE_TOKENS
    except (binascii.Error, ValueError):
        return UNREAD_IMAGE_TOKENS


def block_tokens(block: Mapping[str, Any]) -> int | None:
    """Estimated tokens of an image or PDF document block; None for any other block (and for a
    document of text, which counts as its text does)."""
    kind = block.get("type")
    if kind not in ("image", "document"):
        return None
    source = block.get("source")
    if not isinstance(source, Mapping):
        return None
    if source.get("type") == "base64" and isinstance(source.get("data"), str):
        if kind == "document" and source.get("media_type") != PDF:
            return None
        return _tokens_of(kind, source["data"])
    if source.get("type") == "file":
        return UNREAD_IMAGE_TOKENS if kind == "image" else PDF_PAGE_TOKENS
    return None


def checked_block(block: Mapping[str, Any], where: str) -> tuple[dict[str, Any], Attachment]:
    """An `image` or `document` block from a browser as the block sent upstream: the media type
    and the block's kind come from the bytes; a PDF keeps its `title` and `citations` switch.
    400 for a malformed block, 415 for content of another type."""
    source = block.get("source")
    if not isinstance(source, Mapping) or source.get("type") != "base64":
        raise BadRequest(
            f"{where}.source must be {{'type': 'base64', 'media_type', 'data'}}: "
            "files are sent as their bytes, never as a URL the server would fetch"
        )
    data = source.get("data")
    if not isinstance(data, str) or not data:
        raise BadRequest(f"{where}.source.data must be the file's bytes in base64")
    declared = source.get("media_type")
    return _built(block, data, declared if isinstance(declared, str) else None, where)


def from_file_part(part: Mapping[str, Any], where: str) -> tuple[dict[str, Any], Attachment]:
    """An AI SDK `file` part (`mediaType`, `url: "data:...;base64,..."`, optional `filename`) as an
    image or document block; a PDF gets citations on, titled by its file name."""
    url = part.get("url")
    if not isinstance(url, str) or not url.startswith("data:"):
        raise BadRequest(
            f"{where}.url must be a data: URL holding the file; the server fetches no URL it is given"
        )
    header, comma, data = url[5:].partition(",")
    if not comma or not header.endswith(";base64") or not data:
        raise BadRequest(f"{where}.url must be a base64 data: URL ('data:<type>;base64,<bytes>')")
    name = part.get("filename")
    block: dict[str, Any] = {"type": "document", "citations": {"enabled": True}}
    if isinstance(name, str) and name:
        block["title"] = name[:MAX_TITLE]
    declared = part.get("mediaType")
    return _built(block, data, declared if isinstance(declared, str) else None, where)


def _built(
    block: Mapping[str, Any], data: str, declared: str | None, where: str
) -> tuple[dict[str, Any], Attachment]:
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"{where}: the file's data is not valid base64") from None
    media = sniff(raw[:1024])
    if media is None:
        said = f" (sent as {ascii(declared)[:60]})" if declared else ""
        raise UnsupportedMediaType(f"{where}: the file is not {KINDS}, judged by its content{said}")
    source = {"type": "base64", "media_type": media, "data": data}
    if media != PDF:
        size = image_size(raw)
        if size is not None and max(size) > MAX_IMAGE_SIDE:
            raise PayloadTooLarge(
                f"{where}: the image is {size[0]}x{size[1]} pixels; the API takes at most "
                f"{MAX_IMAGE_SIDE} a side"
            )
        out: dict[str, Any] = {"type": "image", "source": source}
    else:
        pages = pdf_pages(raw)
        if pages > MAX_PDF_PAGES:
            raise PayloadTooLarge(
                f"{where}: the PDF has {pages} pages; the API takes at most {MAX_PDF_PAGES}"
            )
        out = {"type": "document", "source": source}
        title, citations = block.get("title"), block.get("citations")
        if title is not None:
            if not isinstance(title, str) or len(title) > MAX_TITLE:
                raise BadRequest(f"{where}.title must be text of at most {MAX_TITLE} characters")
            out["title"] = title
        if citations is not None:
            if not isinstance(citations, Mapping) or not isinstance(citations.get("enabled"), bool):
                raise BadRequest(f"{where}.citations must be {{'enabled': true}} or {{'enabled': false}}")
            out["citations"] = {"enabled": citations["enabled"]}
    return out, Attachment(where, media, len(raw), len(data))
