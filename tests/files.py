"""Small real files for the attachment tests: a PNG and a GIF any decoder opens, a JPEG and WebP
header, and a PDF whose page shows a sentence (in a Flate-compressed content stream, as most PDFs
have them), all made here from the formats' specifications."""

from __future__ import annotations

import base64
import os
import struct
import zlib

SENTENCE = "The sky is blue."


def png(width: int = 64, height: int = 48, *, noise: bool = False) -> bytes:
    """`noise`: random pixels, which deflate cannot shrink: a photo's size for its dimensions."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    pixels = (lambda: os.urandom(3 * width)) if noise else (lambda: b"\x80\x40\x20" * width)
    rows = b"".join(b"\x00" + pixels() for _ in range(height))
    head = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", head)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def gif(width: int = 3, height: int = 2) -> bytes:
    # One colour table of two entries and an image of all-zero LZW codes.
    return (
        b"GIF89a"
        + struct.pack("<HHBBB", width, height, 0x80, 0, 0)
        + b"\x00\x00\x00\xff\xff\xff"
        + b","
        + struct.pack("<HHHHB", 0, 0, width, height, 0)
        + b"\x02\x02\x44\x01\x00;"
    )


def jpeg_header(width: int, height: int) -> bytes:
    """A JPEG's start: SOI, an APP0 (JFIF) segment, then the baseline frame header with the size."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = (
        b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    )
    return b"\xff\xd8" + app0 + sof


def webp_header(width: int, height: int) -> bytes:
    """A lossless WebP's start: RIFF, the VP8L chunk, its signature byte and the packed size."""
    bits = (width - 1) | ((height - 1) << 14)
    return (
        b"RIFF"
        + struct.pack("<I", 30)
        + b"WEBPVP8L"
        + struct.pack("<I", 10)
        + b"\x2f"
        + struct.pack("<I", bits)
    )


def pdf(pages: tuple[str, ...] = (SENTENCE + " Grass is green.",)) -> bytes:
    """A PDF with one page per text, each drawn in Helvetica from a compressed content stream."""
    count = len(pages)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids ["
        + b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(count))
        + b"] /Count %d >>" % count,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, text in enumerate(pages):
        content = zlib.compress(b"BT /F1 12 Tf 72 720 Td (" + text.encode("latin-1") + b") Tj ET")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >>"
            b" /Contents %d 0 R >>" % (5 + 2 * i)
        )
        objects.append(
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content + b"\nendstream"
        )
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def image_block(data: bytes, media_type: str = "image/png") -> dict[str, object]:
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": b64(data)}}


def document_block(data: bytes, *, title: str | None = "notes.pdf", cite: bool = True) -> dict[str, object]:
    block: dict[str, object] = {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": b64(data)},
    }
    if title is not None:
        block["title"] = title
    if cite:
        block["citations"] = {"enabled": True}
    return block


def data_url(data: bytes, media_type: str) -> str:
    return f"data:{media_type};base64,{b64(data)}"
