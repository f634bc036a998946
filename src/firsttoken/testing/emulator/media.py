"""Image and PDF inputs as the API counts and quotes them: tokens, pages, the text of a page.

Counted by Anthropic's documented rules: an image costs `width * height / 750` tokens after the
API's down-scaling (long edge at most 1568 px, about 1.15 megapixels), its size read from the
header; a PDF `PAGE_TOKENS` a page (the documentation's 1,500-3,000 a page of text and page
image). firsttoken's own estimate (`firsttoken._attachments`) follows the same rules; the emulator
keeps its copy because it imports nothing of the library it stands in front of, and
tests/emulator/test_attachments.py checks the two agree.

A PDF's text is what its content streams show with `Tj`/`TJ` (Flate-compressed streams inflated),
page by page in file order: enough to cite a sentence of a generated or simple PDF; fonts with
custom encodings, and text drawn as images, are not read.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct
import zlib
from typing import Any

__all__ = ["PAGE_TOKENS", "block_tokens", "pdf_page_texts"]

PAGE_TOKENS = 2_300
MAX_EDGE = 1568
MAX_PIXELS = 1_150_000
LARGEST_IMAGE = math.ceil(MAX_PIXELS / 750)
# The API's refusals: an image over 8000 px a side, a PDF over 100 pages.
MAX_IMAGE_SIDE = 8000
MAX_PDF_PAGES = 100
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _size(data: bytes) -> tuple[int, int] | None:
    try:
        if data.startswith(b"\x89PNG") and data[12:16] == b"IHDR":
            w, h = struct.unpack(">II", data[16:24])
            return w, h
        if data.startswith(b"GIF"):
            w, h = struct.unpack("<HH", data[6:10])
            return w, h
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            kind = data[12:16]
            if kind == b"VP8 ":
                w, h = struct.unpack("<HH", data[26:30])
                return w & 0x3FFF, h & 0x3FFF
            if kind == b"VP8L":
                bits = int.from_bytes(data[21:25], "little")
                return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
            if kind == b"VP8X":
                return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
        if data.startswith(b"\xff\xd8"):
            i = 2
            while i + 9 < len(data) and data[i] == 0xFF:
                marker = data[i + 1]
                if marker in _SOF:
                    h, w = struct.unpack(">HH", data[i + 5 : i + 9])
                    return w, h
                i += 2 + struct.unpack(">H", data[i + 2 : i + 4])[0]
    except struct.error:
        return None
    return None


def image_tokens(data: bytes) -> int:
    size = _size(data)
    if size is None or min(size) <= 0:
        return LARGEST_IMAGE
    w, h = size
    scale = min(1.0, MAX_EDGE / max(w, h), math.sqrt(MAX_PIXELS / (w * h)))
    return max(1, math.ceil(int(w * scale) * int(h * scale) / 750))


_PAGE = re.compile(rb"/Type\s*/Page(?![A-Za-z])")
_COUNT = re.compile(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)|/Count\s+(\d+)[^>]*?/Type\s*/Pages\b", re.DOTALL)


def pdf_pages(data: bytes) -> int:
    pages = len(_PAGE.findall(data))
    if pages:
        return pages
    counts = [int(a or b) for a, b in _COUNT.findall(data)]
    return max(counts) if counts else max(1, len(data) // 100_000)


def _decoded(source: dict[str, Any]) -> bytes | None:
    data = source.get("data")
    if source.get("type") != "base64" or not isinstance(data, str):
        return None
    try:
        return base64.b64decode(data)
    except (binascii.Error, ValueError):
        return None


def block_tokens(block: dict[str, Any]) -> int | None:
    """An image's or a base64 PDF's tokens; None for any other block (counted as JSON)."""
    kind, source = block.get("type"), block.get("source")
    if kind not in ("image", "document") or not isinstance(source, dict):
        return None
    raw = _decoded(source)
    if raw is None:
        return None
    if kind == "image":
        return image_tokens(raw)
    if source.get("media_type") == "application/pdf":
        return pdf_pages(raw) * PAGE_TOKENS
    return None


_STREAM = re.compile(rb"<<(.*?)>>\s*stream\r?\n(.*?)\r?\nendstream", re.DOTALL)
_SHOWN = re.compile(rb"\((?:\\.|[^\\)])*\)\s*Tj|\[(?:[^\]])*\]\s*TJ", re.DOTALL)
_STRING = re.compile(rb"\(((?:\\.|[^\\)])*)\)", re.DOTALL)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"(": b"(", b")": b")", b"\\": b"\\"}


def _unescape(raw: bytes) -> bytes:
    return re.sub(rb"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), raw)


def pdf_page_texts(source: dict[str, Any]) -> list[str]:
    """The text each content stream with text shows, in file order (one a page for a simple PDF)."""
    raw = _decoded(source)
    if raw is None:
        return []
    texts = []
    for found in _STREAM.finditer(raw):
        head, body = found.group(1), found.group(2)
        if b"FlateDecode" in head:
            try:
                body = zlib.decompress(body)
            except zlib.error:
                continue
        shown = [
            b"".join(_unescape(s) for s in _STRING.findall(op)).decode("latin-1")
            for op in _SHOWN.findall(body)
        ]
        if shown:
            texts.append(" ".join(t.strip() for t in shown if t.strip()))
    return texts


_MAGIC = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}


def check_source(block: dict[str, Any], where: str) -> str | None:
    """The API's 400 message for a base64 image or PDF whose bytes are not what it says; None if
    they are (or the block is of another kind)."""
    kind, source = block.get("type"), block.get("source")
    if kind not in ("image", "document") or not isinstance(source, dict) or source.get("type") != "base64":
        return None
    media = source.get("media_type")
    raw = _decoded(source)
    if kind == "image":
        if media not in ("image/jpeg", "image/png", "image/gif", "image/webp"):
            return (
                f"{where}.source.base64.media_type: Input should be 'image/jpeg', 'image/png', "
                "'image/gif' or 'image/webp'"
            )
        head = raw[:16] if raw else b""
        ok = (
            head[:4] == b"RIFF" and head[8:12] == b"WEBP"
            if media == "image/webp"
            else head.startswith(_MAGIC[media])
        )
        if not ok:
            return f"{where}.source.base64: Image does not match the provided media type {media}"
        size = _size(raw or b"")
        if size is not None and max(size) > MAX_IMAGE_SIDE:
            return f"{where}.source.base64: image dimensions exceed max allowed size: {MAX_IMAGE_SIDE} pixels"
        return None
    if media == "application/pdf":
        if raw is None or b"%PDF-" not in raw[:1024]:
            return f"{where}.source.base64: The PDF specified was not valid."
        if pdf_pages(raw) > MAX_PDF_PAGES:
            return f"{where}.source.base64.data: A maximum of {MAX_PDF_PAGES} PDF pages may be provided."
    return None
