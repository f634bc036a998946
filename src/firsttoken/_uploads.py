"""Upload once: an attached file goes up to the Files API after the turn that attached it, and
later turns send `{"type": "file", "file_id"}` instead of its bytes (`upload_attachments`).

A browser resends the whole conversation each turn, its files with it; without this, every later
turn carries every earlier file upstream again as base64 (a 5 MiB PDF is 6.7 MiB of JSON a turn).
With it, the turn that attaches a file sends it inline as before (no upload waits before its first
token), the file is uploaded in the background once the answer is under way, and the file's
content digest maps to its `file_id` in the state backend (this process's memory, or Redis, so
every worker of a deployment reuses one upload). The mapping is keyed like the response cache:
by the API key (hashed), the upstream, the tenant and the content's SHA-256, so no two
organisations or tenants share a file. Files are uploaded with `expires_in_seconds`
(`UPLOAD_TTL`), and the mapping expires before the file does. A file the API no longer has (a 4xx
naming a file) is sent inline again by the relay, and its mapping forgotten.

Off by default: it keeps users' files in the operator's Anthropic organisation for a day, which
is a data-retention decision (and the Files API is unavailable to zero-data-retention
organisations).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anthropic

from ._settings import Settings
from ._state import ResponseStore, request_digest
from ._upstream.clients import ClientPool
from ._upstream.resolve import Upstream

__all__ = ["FILES_BETA", "UPLOAD_TTL", "Pending", "Uploads"]

logger = logging.getLogger("firsttoken.uploads")

FILES_BETA = "files-api-2025-04-14"
# A day: a conversation's later turns come within it; the Files API keeps the bytes no longer.
UPLOAD_TTL = 86_400
# The mapping is dropped this long before the file expires, so no turn names an expiring file.
_MARGIN = 600
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}


@dataclass(frozen=True, slots=True)
class Pending:
    """A file sent inline that has no `file_id` yet: what to upload, and the key to keep it under."""

    key: str
    name: str
    media_type: str
    data: str  # base64


class Uploads:
    """The digest-to-`file_id` mapping over a state store, and the background uploads."""

    def __init__(
        self,
        store: ResponseStore,
        pool: ClientPool,
        *,
        enabled: bool,
        api_key: str,
        base_url: str,
        tenant: str | None,
    ) -> None:
        self.store = store
        self.enabled = enabled
        self._pool = pool
        self._api_key, self._base_url, self._tenant = api_key, base_url, tenant
        self._lock = threading.Lock()
        # Uploads under way in this process, so two turns at once do not upload one file twice.
        self._uploading: set[str] = set()
        self.uploaded = self.reused = 0

    @classmethod
    def for_settings(cls, store: ResponseStore, pool: ClientPool, upstream: Upstream, s: Settings) -> Uploads:
        return cls(
            store,
            pool,
            enabled=s.upload_attachments,
            api_key=upstream.api_key,
            base_url=upstream.identity,
            tenant=s.tenant,
        )

    def _key(self, data: str) -> str:
        sha = hashlib.sha256(data.encode("ascii", "replace")).hexdigest()
        found = request_digest(
            api_key=self._api_key, base_url=self._base_url, tenant=self._tenant, params={"file": sha}
        )
        return found or sha

    def _inline(self, call: Mapping[str, Any]) -> list[tuple[int, int, dict[str, Any], str]]:
        """Each base64 image or PDF block of the call's messages: where it is, and its key."""
        found = []
        for m, message in enumerate(call.get("messages") or ()):
            content = message.get("content") if isinstance(message, Mapping) else None
            for b, block in enumerate(content if isinstance(content, list) else ()):
                data = _base64_file(block)
                if data is not None:
                    found.append((m, b, block, self._key(data)))
        return found

    def swap(self, call: Mapping[str, Any]) -> tuple[Mapping[str, Any], list[Pending]]:
        """`call` with each known file sent by id (and the Files beta header), and the files to
        upload once the answer is under way."""
        if not self.enabled:
            return call, []
        found = self._inline(call)
        return self._swapped(call, found, [self.store.get(key) for *_, key in found])

    async def aswap(self, call: Mapping[str, Any]) -> tuple[Mapping[str, Any], list[Pending]]:
        if not self.enabled:
            return call, []
        found = self._inline(call)
        return self._swapped(call, found, [await self.store.aget(key) for *_, key in found])

    def _swapped(
        self,
        call: Mapping[str, Any],
        found: list[tuple[int, int, dict[str, Any], str]],
        ids: list[bytes | None],
    ) -> tuple[Mapping[str, Any], list[Pending]]:
        if not found:
            return call, []
        messages = [dict(m) for m in call["messages"]]
        pending = []
        for (m, b, block, key), file_id in zip(found, ids, strict=True):
            source = block["source"]
            if file_id:
                content = messages[m]["content"] = list(messages[m]["content"])
                content[b] = {**block, "source": {"type": "file", "file_id": file_id.decode()}}
                with self._lock:
                    self.reused += 1
            else:
                media = source.get("media_type", "application/octet-stream")
                name = block.get("title") or f"attachment.{_EXTENSIONS.get(media, 'pdf')}"
                pending.append(Pending(key, str(name), str(media), source["data"]))
        if len(pending) == len(found):
            return call, pending
        headers = dict(call.get("extra_headers") or {})
        betas = [b for b in str(headers.get("anthropic-beta", "")).split(",") if b.strip()]
        headers["anthropic-beta"] = ",".join([*betas, FILES_BETA] if FILES_BETA not in betas else betas)
        return {**call, "messages": messages, "extra_headers": headers}, pending

    def later(self, pending: list[Pending]) -> None:
        """Upload `pending` in a background thread; a failure is logged, the file stays inline."""
        with self._lock:
            fresh = [p for p in pending if p.key not in self._uploading]
            self._uploading.update(p.key for p in fresh)
        if fresh:
            threading.Thread(
                target=self._upload, args=(fresh,), name="firsttoken-upload", daemon=True
            ).start()

    def _upload(self, pending: list[Pending]) -> None:
        try:
            client = self._pool.sync
            for p in pending:
                meta = client.beta.files.upload(
                    file=(p.name, base64.b64decode(p.data), p.media_type),
                    expires_in_seconds=UPLOAD_TTL,
                    betas=[FILES_BETA],
                )
                self.store.set(p.key, meta.id.encode(), UPLOAD_TTL - _MARGIN)
                with self._lock:
                    self.uploaded += 1
        # Best effort in the background, after the answer began: whatever stops it (the API, the
        # engine closing) leaves the files inline, as they were. The type alone: never a secret.
        except Exception as exc:
            logger.warning(
                "firsttoken: could not upload an attachment to the Files API: %s", type(exc).__name__
            )
        finally:
            with self._lock:
                self._uploading.difference_update(p.key for p in pending)

    def forget(self, call: Mapping[str, Any], exc: BaseException) -> bool:
        """After `call`, sent with file ids, was refused: True when the refusal names a file; the
        mappings of `call`'s files (as the browser sent them) are then dropped in the background,
        and the relay sends the bytes; a later turn uploads them again."""
        refused = isinstance(exc, anthropic.BadRequestError | anthropic.NotFoundError)
        if not refused or "file" not in str(exc).lower():
            return False
        keys = [key for *_, key in self._inline(call)]

        def drop() -> None:
            for key in keys:
                self.store.set(key, b"", 1)

        threading.Thread(target=drop, name="firsttoken-upload-forget", daemon=True).start()
        return True

    def describe(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "uploaded": self.uploaded, "reused": self.reused}


def _base64_file(block: Any) -> str | None:
    """The base64 data of an image or PDF block sent inline, else None."""
    if not isinstance(block, dict) or block.get("type") not in ("image", "document"):
        return None
    source = block.get("source")
    if (
        not isinstance(source, dict)
        or source.get("type") != "base64"
        or not isinstance(source.get("data"), str)
    ):
        return None
    if block["type"] == "document" and source.get("media_type") != "application/pdf":
        return None
    data: str = source["data"]
    return data
