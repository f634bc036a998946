"""The relay's I/O, written once: this async source is the only one.

`../_sync/io.py` is generated from it (`make unasync`).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Mapping
from functools import partial
from typing import Any, cast

import anthropic

from ..._coalesce import Item, Latest, acoalesce
from ..._conversation import Recorded
from ..._errors import Refused, UpstreamFailure
from ..._events import StepStart
from ..._heartbeat import abeating
from ..._statuses import RelayStart, refusal, upstream_error
from ..._structured import PartialObject
from ..._uploads import Pending
from ..._upstream.governor import RateLimited
from ..core import RelayCore, _AsyncStream, logger

__all__ = ["AsyncRelay"]


class AsyncRelay(RelayCore):
    async def aopen(self) -> RelayStart:
        """Open the upstream stream: a 200 with the stream's headers, or the refusal as an HTTP error.

        A held chat's turn (`hold`) loads its conversation first, and is sent again as the API's
        answer asks (a lost thread replayed whole, an unthreadable one sent unthreaded). Files
        uploaded before go by their id (`upload_attachments`), their bytes again if the API lost one."""
        turn = None
        if self._chat is not None:
            turn = self._begin_turn(await self._aload_chat(self._chat))
        uploads = self._uploads
        inline = False
        pending: list[Pending] = []
        while True:
            if turn is not None and self._chat is not None and turn.needs_history:
                refused = self._history(turn, await self._aload_history(self._chat))
                if refused is not None:
                    return refused
            whole = self._turn_call()
            call: Mapping[str, Any] = whole
            if uploads is not None and not inline:
                call, pending = await uploads.aswap(whole)
            stream: _AsyncStream = self.engine.astream(**call)
            self._async = stream
            self._watch_objects(stream)
            try:
                await stream.open()
                break
            except (anthropic.APIError, RateLimited) as exc:
                if uploads is not None and call is not whole and uploads.forget(whole, exc):
                    # A file the API no longer has: this turn sends the bytes again.
                    inline = True
                    continue
                if self._turn is not None and self._turn.recovers_from(exc):
                    continue
                self.closed = True
                return upstream_error(exc)
            except Refused as exc:
                # A resumed turn's approvals that fit no paused turn: the browser's 4xx.
                self.closed = True
                return refusal(exc)
        if uploads is not None and pending:
            uploads.later(pending)
        if self._hub is not None:
            # Resumable: a producer iterates the relay from now on, whatever the connection does.
            self._producer = self._hub.produce(
                self._araw(), self.response_id, self.format, self.owner, self.chat_id
            )
        return RelayStart(200, self._headers(stream))

    def abody(self) -> AsyncIterator[bytes]:
        """The response body for a server that iterates it: the stream, with idle heartbeats."""
        if self._async is None:
            raise RuntimeError("open the relay (await relay.aopen()) before iterating it")
        producer = self._producer
        if producer is not None:
            return abeating(producer.__aiter__(), self.heartbeat())
        return abeating(self._aitems(), self.heartbeat(), self.format.token, self.window, self._left)

    def __aiter__(self) -> AsyncIterator[bytes]:
        """The bytes for this connection: the producer's, when resumable, else the relay's own."""
        producer = self._producer
        return self._araw() if producer is None else producer.__aiter__()

    def _araw(self) -> AsyncIterator[bytes]:
        """The relay's own bytes: text deltas that had arrived by each write as one token event
        (`Settings.coalesce_window`)."""
        if not self.window:
            # Nothing is held and no other task reads ahead: the events are encoded as they come,
            # with no layer between the stream and the server on the hot path.
            return cast("AsyncIterator[bytes]", self._aitems(encoded=True))
        return acoalesce(self._aitems(), self.format.token, self.window)

    async def _aitems(self, *, encoded: bool = False) -> AsyncIterator[Item]:
        """What to write, in order: text deltas as text, every other event as its bytes, or, for a
        format that keeps state (the AI SDK's), as a call that encodes it, so that whoever writes
        encodes (`_coalesce.py`); or, `encoded`, each event's bytes."""
        stream = self._async
        if stream is None:
            raise RuntimeError("open the relay (await relay.aopen()) before iterating it")
        fmt = self.format
        self._reader = threading.get_ident()
        try:
            first = fmt.start(self.response_id)
            if first:
                yield first
            async for name, data in stream.events():
                if name == "content_block_delta":
                    delta = data["delta"]
                    if delta["type"] == "text_delta":
                        if not encoded:
                            yield delta["text"]
                        elif chunk := fmt.token(delta["text"]):
                            yield chunk
                        objects = self._objects
                        if objects is not None and objects.feed(delta["text"]):
                            value = objects.value
                            # Encoded by whoever writes, and left out there if a later one shares its write.
                            yield fmt.object(value) if encoded else Latest(partial(fmt.object, value))
                        continue
                if self._objects is not None and isinstance(data, StepStart):
                    self._objects = PartialObject()
                if not encoded and fmt.stateful:
                    yield partial(self._encode, stream, name, data)
                elif chunk := self._encode(stream, name, data):
                    # A stateless format's event is encoded here: one that encodes to nothing (a
                    # text block's start in SSE) does not wake a writer thread for nothing.
                    yield chunk
            recorded = self._recorded(stream)
            if recorded is not None and self._chat is not None:
                await self._asave_chat(self._chat, recorded)
        except UpstreamFailure as exc:
            yield fmt.error(exc.type, exc.message) if encoded else partial(fmt.error, exc.type, exc.message)
            return
        finally:
            self._reader = None
            await self._aclose_upstream()
        invalid = self._checked_object()
        if invalid is not None:
            yield fmt.error(*invalid) if encoded else partial(fmt.error, *invalid)
            return
        yield self._done() if encoded else self._done

    async def _aload_chat(self, entity: str) -> bytes | None:
        try:
            return await self.engine.chats.aload_head(entity)
        except Exception as exc:  # Redis away: the turn starts a new conversation, said in the log
            logger.warning("firsttoken: cannot load a held chat: %s", type(exc).__name__)
            return None

    async def _aload_history(self, entity: str) -> list[bytes]:
        try:
            return await self.engine.chats.aload_messages(entity)
        except Exception as exc:
            logger.warning("firsttoken: cannot load a held chat's messages: %s", type(exc).__name__)
            return []

    async def _asave_chat(self, entity: str, recorded: Recorded) -> None:
        try:
            await self.engine.chats.asave(entity, recorded.head, recorded.append, replace=recorded.replace)
        except Exception as exc:  # the answer is whole; only the next turn will miss this one
            logger.warning("firsttoken: cannot hold a chat's turn: %s", type(exc).__name__)

    async def aclose(self) -> None:
        """Close the upstream stream (idempotent); a body read in another thread closes it itself.

        A resumable answer's connection only lets go: the producer goes on for the grace period.
        """
        if self._producer is not None:
            self._producer.detach()
            return
        await self._aclose_upstream()

    async def _aclose_upstream(self) -> None:
        self.closed = True
        reader = self._reader
        if self._async is not None and reader in (None, threading.get_ident()):
            await self._async.aclose()
