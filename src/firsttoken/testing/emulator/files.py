"""The Files API: `POST /v1/files` (multipart), `GET /v1/files`, `GET|DELETE /v1/files/{id}`,
`GET /v1/files/{id}/content`, and the `{"type": "file", "file_id": ...}` sources of Messages.

The API made the Files API generally available, so no `anthropic-beta` header is required; a
request that sends `files-api-2025-04-14` still gets the beta list shape (`has_more`, `first_id`,
`last_id`, paged by `after_id`/`before_id`) beside the GA one (`next_page`, paged by `page`).

Files a user uploads have `downloadable: false` (only files a tool makes can be downloaded), so
`/content` answers 400 `file_not_downloadable` as the API does, or 404 `file_expired` once a
file's `expires_in_seconds` have passed on the emulator's clock (its metadata stays listed, and a
Messages source naming it is a 400). The store is in memory and bounded (`MAX_FILES`,
`MAX_STORE_BYTES`); an upload past either bound is refused with the API's 413.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import mimetypes
import posixpath
import threading
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .media import check_source
from .protocol import ApiError, new_id
from .tokens import FILE_MARK

__all__ = ["FILES_BETA", "MAX_FILES", "MAX_STORE_BYTES", "FileStore", "Reply", "rfc3339"]

FILES_BETA = "files-api-2025-04-14"
# Enough for any test suite's uploads, small enough that a leaking loop cannot take the machine.
MAX_FILES = 1000
MAX_STORE_BYTES = 256 * 1024 * 1024
# The API's `expires_in_seconds` range: one hour to ninety days.
MIN_EXPIRY_SECONDS = 3600
MAX_EXPIRY_SECONDS = 7_776_000
MAX_LIST_IDS = 100
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
DOCUMENT_TYPES = ("application/pdf", "text/plain")


@dataclass(frozen=True)
class Reply:
    """An endpoint's answer: status, body and its content type."""

    status: int
    body: Any  # JSON-able, or bytes sent as they are
    content_type: str = "application/json"


@dataclass(frozen=True)
class StoredFile:
    id: str
    filename: str
    mime_type: str
    data: bytes
    created: float  # epoch seconds
    expires: float | None  # epoch seconds, as shown
    deadline: float | None  # the same instant on the store's clock, which tests can move

    def metadata(self) -> dict[str, Any]:
        return {
            "type": "file",
            "id": self.id,
            "filename": self.filename,
            "mime_type": self.mime_type,
            "size_bytes": len(self.data),
            "created_at": rfc3339(self.created),
            "expires_at": rfc3339(self.expires) if self.expires is not None else None,
            "downloadable": False,
        }


def rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def _bad(message: str) -> ApiError:
    return ApiError("invalid_request_error", message)


def _not_found(file_id: str) -> ApiError:
    return ApiError("not_found_error", f"File not found: {file_id}")


class FileStore:
    """The uploaded files, newest last, bounded in count and bytes; safe across threads."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_files: int = MAX_FILES,
        max_bytes: int = MAX_STORE_BYTES,
    ) -> None:
        self.clock = clock
        self.max_files = max_files
        self.max_bytes = max_bytes
        self._files: OrderedDict[str, StoredFile] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._files.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._files)

    def get(self, file_id: str) -> StoredFile:
        with self._lock:
            stored = self._files.get(file_id)
        if stored is None:
            raise _not_found(file_id)
        return stored

    def expired(self, stored: StoredFile) -> bool:
        return stored.deadline is not None and stored.deadline <= self.clock()

    # -- HTTP --------------------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> Reply:
        """Answer one request under `/v1/files`."""
        rest = path.removeprefix("/v1/files").strip("/")
        if not rest:
            if method == "POST":
                return self._upload(headers, body)
            if method == "GET":
                return self._list(query, FILES_BETA in headers.get("anthropic-beta", ""))
        else:
            file_id, _, tail = rest.partition("/")
            file_id = urllib.parse.unquote(file_id)
            if not tail and method == "GET":
                return Reply(200, self.get(file_id).metadata())
            if not tail and method == "DELETE":
                with self._lock:
                    stored = self._files.pop(file_id, None)
                    if stored is not None:
                        self._bytes -= len(stored.data)
                if stored is None:
                    raise _not_found(file_id)
                return Reply(200, {"id": file_id, "type": "file_deleted"})
            if tail == "content" and method == "GET":
                if self.expired(self.get(file_id)):
                    raise ApiError(
                        "not_found_error",
                        f"File {file_id} expired: its content is no longer available.",
                        details={"error_code": "file_expired"},
                    )
                raise ApiError(
                    "invalid_request_error",
                    f"File {file_id} is not downloadable: only files created by a tool can be.",
                    details={"error_code": "file_not_downloadable"},
                )
        raise ApiError("not_found_error", f"Not found: {method} {path}")

    def _upload(self, headers: dict[str, str], body: bytes) -> Reply:
        fields = _multipart(headers.get("content-type", ""), body)
        if "file" not in fields:
            raise _bad("file: Field required")
        filename, content_type, data = fields["file"]
        name = posixpath.basename((filename or "").replace("\\", "/"))
        mime = content_type or (mimetypes.guess_type(name)[0] if name else None) or "application/octet-stream"
        if not name:
            name = "unnamed" + (mimetypes.guess_extension(mime) or "")
        expires: float | None = None
        deadline: float | None = None
        now = time.time()
        if "expires_in_seconds" in fields:
            raw = fields["expires_in_seconds"][2].decode("latin-1").strip()
            if not raw.isdigit() or not MIN_EXPIRY_SECONDS <= int(raw) <= MAX_EXPIRY_SECONDS:
                raise _bad(
                    f"expires_in_seconds: Input should be an integer between {MIN_EXPIRY_SECONDS} "
                    f"and {MAX_EXPIRY_SECONDS}"
                )
            expires = now + int(raw)
            deadline = self.clock() + int(raw)
        stored = StoredFile(new_id("file_"), name[:500], mime, data, now, expires, deadline)
        with self._lock:
            if len(self._files) >= self.max_files or self._bytes + len(data) > self.max_bytes:
                raise ApiError(
                    "request_too_large",
                    f"The emulator's file store is full ({self.max_files} files, "
                    f"{self.max_bytes} bytes): delete files or reset the emulator.",
                )
            self._files[stored.id] = stored
            self._bytes += len(data)
        return Reply(200, stored.metadata())

    def _list(self, query: str, beta: bool) -> Reply:
        params = urllib.parse.parse_qs(query)
        one = {k: v[-1] for k, v in params.items()}
        if not beta and ("after_id" in one or "before_id" in one):
            raise _bad("after_id and before_id need the files-api-2025-04-14 beta; page with `page`")
        with self._lock:
            newest_first = list(reversed(self._files.values()))
        ids = params.get("ids") or params.get("ids[]")
        if ids is not None:
            if "page" in one or "limit" in one:
                raise _bad("ids: cannot be combined with page or limit")
            wanted = set(ids)
            if len(wanted) > MAX_LIST_IDS:
                raise _bad(f"ids: at most {MAX_LIST_IDS} ids")
            data = [f.metadata() for f in newest_first if f.id in wanted]
            return Reply(200, _page(data, None, has_more=False, beta=beta))
        try:
            limit = int(one.get("limit", "20"))
        except ValueError:
            raise _bad("limit: Input should be a valid integer") from None
        if not 1 <= limit <= 1000:
            raise _bad("limit: Input should be between 1 and 1000")
        order = [f.id for f in newest_first]
        start, end = 0, len(order)
        cursor = one.get("page") or one.get("after_id")
        if cursor is not None:
            key = cursor.removeprefix("page_")
            if key not in order:
                raise _bad(f"page: unknown cursor {cursor!r}")
            start = order.index(key) + 1
        if "before_id" in one:
            end = order.index(one["before_id"]) if one["before_id"] in order else 0
            start = max(start, end - limit)
        chosen = newest_first[start:end][:limit]
        more = start + len(chosen) < end if "before_id" not in one else start > 0
        data = [f.metadata() for f in chosen]
        cursor = "page_" + chosen[-1].id if more and chosen else None
        return Reply(200, _page(data, cursor, has_more=more, beta=beta))

    # -- Messages ------------------------------------------------------------------------------------
    def resolve(self, raw: dict[str, Any]) -> None:
        """Check each `file` source of a Messages request and inline the file, so a referenced file
        is counted (tokens, cache) and quoted (citations) as the same file sent inline would be."""
        for i, message in enumerate(raw.get("messages") or []):
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, list):
                self._resolve_blocks(content, f"messages.{i}.content")

    def _resolve_blocks(self, blocks: list[Any], where: str) -> None:
        for j, block in enumerate(blocks):
            if not isinstance(block, dict):
                continue
            if block.get("type") == "tool_result" and isinstance(block.get("content"), list):
                # A tool's result may carry documents and images too.
                self._resolve_blocks(block["content"], f"{where}.{j}.content")
            source = block.get("source")
            if isinstance(source, dict) and source.get("type") == "file":
                block["source"] = _inline(self._referenced(block, source.get("file_id"), f"{where}.{j}"))
                # Which file it was, for the citations that quote it (not prompt text: not counted).
                block[FILE_MARK] = source.get("file_id")
            refused = check_source(block, f"{where}.{j}")
            if refused is not None:
                raise _bad(refused)

    def _referenced(self, block: dict[str, Any], file_id: Any, where: str) -> StoredFile:
        if not isinstance(file_id, str) or not file_id:
            raise _bad(f"{where}.source.file_id: Field required")
        try:
            stored = self.get(file_id)
        except ApiError:
            raise _bad(f"{where}.source.file_id: File not found: {file_id}") from None
        if self.expired(stored):
            raise _bad(f"{where}.source.file_id: File {file_id} expired: its content is no longer available")
        kind = block.get("type")
        allowed = IMAGE_TYPES if kind == "image" else DOCUMENT_TYPES if kind == "document" else ()
        if stored.mime_type not in allowed:
            raise _bad(
                f"{where}: a {kind} block cannot reference file {file_id} of type "
                f"{stored.mime_type} (expected one of {', '.join(allowed) or 'image or document'})"
            )
        return stored


def _inline(stored: StoredFile) -> dict[str, Any]:
    # The source the API takes for the same file sent in the request: plain text as a `text` source
    # (so citations can quote it), anything else as base64.
    if stored.mime_type == "text/plain":
        text = stored.data.decode("utf-8", errors="replace")
        return {"type": "text", "media_type": "text/plain", "data": text}
    data = base64.b64encode(stored.data).decode("ascii")
    return {"type": "base64", "media_type": stored.mime_type, "data": data}


def _page(data: list[dict[str, Any]], next_page: str | None, *, has_more: bool, beta: bool) -> dict[str, Any]:
    page: dict[str, Any] = {"data": data, "next_page": next_page}
    if beta:
        # The beta's shape, kept for requests that still send the beta header.
        page.update(
            has_more=has_more,
            first_id=data[0]["id"] if data else None,
            last_id=data[-1]["id"] if data else None,
        )
    return page


def _multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, str | None, bytes]]:
    """The parts of a `multipart/form-data` body: name -> (filename, content type, bytes)."""
    if not content_type.lower().startswith("multipart/form-data") or "boundary=" not in content_type:
        raise _bad("The request must be multipart/form-data with a boundary.")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise _bad("The request body is not valid multipart/form-data.")
    fields: dict[str, tuple[str | None, str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        explicit = part.get("content-type")
        fields[name] = (
            part.get_filename(),
            part.get_content_type() if explicit else None,
            payload if isinstance(payload, bytes) else b"",
        )
    return fields
