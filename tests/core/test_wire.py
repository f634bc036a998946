"""Each wire format's token event is the bytes the general JSON encoder writes for it: the token
path writes them by hand (a tenth of the cost per token), and these hold it to the encoder."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from firsttoken._wire import AISDKFormat, NDJSONFormat, SSEFormat

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# Any text a model can send: every code point, lone surrogates, controls, quotes and backslashes.
TEXTS = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)


def _outcome(make: Callable[[], bytes]) -> bytes | str:
    """The bytes, or the error: a lone surrogate cannot be UTF-8, and both ways must say so alike."""
    try:
        return make()
    except UnicodeEncodeError:
        return "unencodable"


def _part(value: Any) -> bytes:
    return b"data: " + _dumps(value).encode() + b"\n\n"


@given(TEXTS)
def test_sse_tokens_are_the_encoders_bytes(text: str) -> None:
    expected = _outcome(lambda: b"event: token\ndata: " + _dumps({"text": text}).encode() + b"\n\n")
    assert _outcome(lambda: SSEFormat().token(text)) == expected


@given(TEXTS)
def test_ndjson_tokens_are_the_encoders_bytes(text: str) -> None:
    expected = _outcome(lambda: _dumps({"type": "token", "text": text}).encode() + b"\n")
    assert _outcome(lambda: NDJSONFormat().token(text)) == expected


@given(st.lists(TEXTS, min_size=1, max_size=4))
def test_ai_sdk_deltas_are_the_encoders_bytes(texts: list[str]) -> None:
    fmt, opened = AISDKFormat(), False
    for text in texts:
        expected = _outcome(partial(_part, {"type": "text-delta", "id": "text-0", "delta": text}))
        if isinstance(expected, bytes) and not opened:
            expected, opened = _part({"type": "text-start", "id": "text-0"}) + expected, True
        assert _outcome(partial(fmt.token, text)) == expected
