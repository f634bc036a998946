"""Resumable answers' pure parts: numbering events, the Last-Event-ID header, the settings."""

from __future__ import annotations

import os

import pytest

from firsttoken import Settings, SettingsError
from firsttoken._relay.ids import new_response_id
from firsttoken._relay.resume.protocol import owner_digest, parse_last_event_id, stamp, valid_id


def test_each_event_block_gets_the_next_number_and_comments_none() -> None:
    token = b'event: token\ndata: {"text":"Hi"}\n\n'
    out, entries, seq = stamp(token, 4)
    assert out == b"id: 5\n" + token
    assert entries == [(5, out)]
    assert seq == 5
    two = b'data: {"type":"text-start","id":"text-0"}\n\ndata: {"type":"text-delta"}\n\n'
    out, entries, seq = stamp(b": ping\n\n" + two, 0)
    assert out == (
        b": ping\n\n"
        b'id: 1\ndata: {"type":"text-start","id":"text-0"}\n\n'
        b'id: 2\ndata: {"type":"text-delta"}\n\n'
    )
    assert [n for n, _ in entries] == [1, 2]
    assert b"".join(block for _, block in entries if block) == out.removeprefix(b": ping\n\n")
    assert stamp(b": ping\n\n", 7) == (b": ping\n\n", [], 7)


def test_last_event_id_is_an_event_number() -> None:
    assert parse_last_event_id(None) == 0
    assert parse_last_event_id(" 12 ") == 12
    for bad in ("x", "-1", "1.5", "١٢", "9" * 13):
        with pytest.raises(ValueError, match="Last-Event-ID"):
            parse_last_event_id(bad)


def test_ids_are_unguessable_and_owners_digested() -> None:
    ids = {new_response_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(valid_id(i) and len(i) == 24 for i in ids)
    assert not valid_id("../../etc") and not valid_id("short")
    assert owner_digest("session-1") != owner_digest("session-2") != owner_digest(None)
    assert "session-1" not in owner_digest("session-1")


def test_a_forked_worker_never_hands_out_its_parents_ids() -> None:
    # The parent has read a batch of random bytes; a child forked now must read its own.
    new_response_id()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first ids, to the parent
        try:
            os.write(write, " ".join(new_response_id() for _ in range(3)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split())
    os.waitpid(pid, 0)
    parent = {new_response_id() for _ in range(600)}  # past the parent's batch
    assert len(child) == 3 and not child & parent


def test_resumable_is_on_exactly_when_redis_is_set() -> None:
    assert Settings().resumes is False
    assert Settings(redis_url="redis://127.0.0.1:1/0").resumes is True
    assert Settings(redis_url="redis://127.0.0.1:1/0", resumable=False).resumes is False
    with pytest.raises(SettingsError, match="resumable"):
        Settings(resumable=True)
    with pytest.raises(SettingsError, match="resume_grace"):
        Settings(resume_grace=0)
    with pytest.raises(SettingsError, match="FIRSTTOKEN_RESUME_TTL"):
        Settings.from_env({"FIRSTTOKEN_RESUME_TTL": "-1"})
