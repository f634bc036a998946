# Generated from _async/resuming.py by scripts/unasync.py: edit that file, then `make unasync`.
"""Resuming and stopping an answer from any worker, written once: this async source is the only one.

`../_sync/resuming.py` is generated from it (`make unasync`). These are the handle's members
(`EngineHandle` in `../handle.py` adds the rest); what they decide without I/O is the resume
package's (`../resume/`), and their I/O is the answers' Redis Streams (`_state/streams.py`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..._conversation import Conversation, load_messages
from ..._state.chats import chat_entity
from ..._statuses import RelayStart, error_response
from ..core import EngineParts
from ..resume import ResumedStream
from ..resume.protocol import owner_digest, resume_request, valid_chat_id, valid_id

if TYPE_CHECKING:
    from ..._state.streams import RedisStreams

__all__ = ["SyncResuming"]

logger = logging.getLogger("firsttoken.resume")

# Nothing to resume: no such answer (for this owner), one that ended, or no Redis at all.
NOTHING = RelayStart(204, [("Cache-Control", "no-store")])
STOPPED = RelayStart(
    200, [("Content-Type", "application/json"), ("Cache-Control", "no-store")], b'{"stopped": true}'
)
NOT_FOUND = "no answer to stop under that id"
NO_CHAT = "no chat under that id"
UNAVAILABLE = "resuming is unavailable right now"


def _find(store: RedisStreams, rid: str, owner_key: str, chat: bool) -> tuple[str, str, int | None] | None:
    """The answer `rid` of `owner_key` (with `chat`, the newest answer of the chat `rid`): its
    response id, its format and the event it ended at (None while it goes on); None if none."""
    if chat:
        if not valid_chat_id(rid):
            return None
        found_id = store.chat(owner_key, rid)
        if found_id is None:
            return None
        rid = found_id
    if not valid_id(rid):
        return None
    found = store.find(rid, owner_key)
    return None if found is None else (rid, *found)


class SyncResuming:
    __slots__ = ()

    @property
    def engine(self) -> EngineParts:
        raise NotImplementedError

    def follow(
        self,
        response_id: str,
        *,
        owner: str | None = None,
        last_event_id: str | None = None,
        protocols: Sequence[str] = (),
    ) -> ResumedStream | RelayStart:
        """`GET /api/chat/{response_id}/stream`: the answer after `Last-Event-ID`, to follow live,
        or what to answer instead (204 with nothing to resume, 400 for a bad header).

        With `?protocol=ai-sdk` the id is the AI SDK's chat id. `owner` is what the app scopes
        answers by (a session, a user id), as it was given to `chat`.
        """
        try:
            after, chat = resume_request(last_event_id, protocols)
        except ValueError as exc:
            return error_response(400, str(exc))
        hub = self.engine.resume
        if hub is None:
            return NOTHING
        try:
            found = _find(hub.store, response_id, owner_digest(owner), chat)
        except Exception as exc:  # Redis away: say so rather than a 500
            logger.warning("firsttoken: cannot resume: %s", type(exc).__name__)
            return error_response(503, UNAVAILABLE)
        resumed = None if found is None else hub.resumed(*found, after=after, chat=chat)
        return NOTHING if resumed is None else resumed

    def stop_answer(self, response_id: str, *, owner: str | None = None) -> RelayStart:
        """`POST /api/chat/{response_id}/stop`: end the answer and its upstream call wherever it
        runs; 200 `{"stopped": true}`, or 404 when `owner` has no answer under that id."""
        hub = self.engine.resume
        owner_key = owner_digest(owner)
        try:
            found = hub is not None and valid_id(response_id) and hub.store.stop(response_id, owner_key)
        except Exception as exc:
            logger.warning("firsttoken: cannot stop: %s", type(exc).__name__)
            return error_response(503, UNAVAILABLE)
        if hub is None or not found:
            return error_response(404, NOT_FOUND)
        hub.stopped(response_id, owner_key)
        return STOPPED

    def held_messages(self, chat_id: str, *, owner: str | None = None) -> RelayStart:
        """`GET /api/chat/{chat_id}/messages`: the conversation the server holds for `owner`'s chat
        `chat_id` as the contract's `messages` list (for a page reload), or 404 when it holds none
        for that owner (another owner's chat included)."""
        if not valid_chat_id(chat_id):
            return error_response(404, NO_CHAT)
        entity = chat_entity(owner_digest(owner), chat_id)
        chats = self.engine.chats
        try:
            held = Conversation.loads(chats.load_head(entity))
            if held is None:
                return error_response(404, NO_CHAT)
            held.messages = load_messages(chats.load_messages(entity))
        except Exception as exc:
            logger.warning("firsttoken: cannot read a held chat: %s", type(exc).__name__)
            return error_response(503, UNAVAILABLE)
        body = {"chat_id": chat_id, "messages": held.contract_messages()}
        return RelayStart(
            200,
            [("Content-Type", "application/json"), ("Cache-Control", "no-store")],
            json.dumps(body, ensure_ascii=False).encode(),
        )
