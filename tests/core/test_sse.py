"""The SSE decoder's fast reading of the API's `event:`/`data:` blocks gives what the spec's
field-by-field reading gives, for any block; and any chunking of a stream gives the same events."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from firsttoken._sse import SSEDecoder, _parse_block, _parse_fields

NAMES = st.sampled_from(["message_start", "content_block_delta", "ping", "", "a:b", " spaced", "event"])
DATA = st.one_of(
    st.sampled_from([b'{"type":"ping"}', b'{"a":[1,2]}', b"", b"not json", b'"\\ud800"', b"{}"]),
    st.binary(max_size=12).filter(lambda b: b"\n" not in b and b"\r" not in b),
)
LINES = st.one_of(
    st.builds(lambda n: b"event: " + n.encode(), NAMES),
    st.builds(lambda n: b"event:" + n.encode(), NAMES),
    st.builds(lambda d: b"data: " + d, DATA),
    st.builds(lambda d: b"data:" + d, DATA),
    st.sampled_from([b": comment", b"id: 7", b"retry: 10", b"data", b"event"]),
)


def _reading(block: bytes) -> object:
    try:
        return _parse_fields(block)
    except UnicodeDecodeError:
        return "undecodable"


def _fast(block: bytes) -> object:
    try:
        return _parse_block(block)
    except UnicodeDecodeError:
        return "undecodable"


# The API's own shape, which the fast reading takes, and any other, which it must hand on.
BLOCKS = st.one_of(
    st.builds(lambda n, d: b"event: " + n.encode() + b"\ndata: " + d, NAMES, DATA),
    st.lists(LINES, min_size=1, max_size=4).map(b"\n".join),
)


@given(BLOCKS)
def test_the_fast_reading_is_the_specs(block: bytes) -> None:
    assert _fast(block) == _reading(block)


@given(st.lists(LINES, min_size=1, max_size=3), st.lists(st.integers(0, 200), max_size=6))
def test_any_chunking_gives_the_same_events(lines: list[bytes], cuts: list[int]) -> None:
    stream = (b"\n".join(lines) + b"\n\n") * 3
    whole = list(SSEDecoder().feed(stream))
    decoder, events, last = SSEDecoder(), [], 0
    for cut in sorted({min(c, len(stream)) for c in cuts}):
        events += decoder.feed(stream[last:cut])
        last = cut
    events += decoder.feed(stream[last:])
    assert events == whole
