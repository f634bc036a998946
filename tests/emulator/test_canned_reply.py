"""`x-emulator-reply`: the emulator answers exactly the given text, keeping the protocol's rules."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import pytest

from firsttoken.testing.emulator import Emulator

USER = [{"role": "user", "content": "Classify: remove my account"}]


@pytest.fixture
def client() -> Iterator[anthropic.Anthropic]:
    with (
        Emulator(time_scale=0.0) as emu,
        anthropic.Anthropic(base_url=emu.base_url, api_key="test", max_retries=0) as c,
    ):
        yield c


def test_the_reply_is_the_answer(client: anthropic.Anthropic) -> None:
    reply = {"x-emulator-reply": "Delete, please."}
    message = client.messages.create(
        model="claude-haiku-5-5", max_tokens=20, messages=USER, extra_headers=reply
    )
    assert message.content[0].text == "Delete, please."  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn" and message.usage.output_tokens == 2
    with client.messages.stream(
        model="claude-haiku-5-5", max_tokens=20, messages=USER, extra_headers=reply
    ) as stream:
        assert "".join(stream.text_stream) == "Delete, please."


def test_max_tokens_and_stop_sequences_still_cut_it(client: anthropic.Anthropic) -> None:
    reply = {"x-emulator-reply": "one two three four"}
    cut = client.messages.create(model="claude-haiku-5-5", max_tokens=2, messages=USER, extra_headers=reply)
    assert cut.content[0].text == "one two" and cut.stop_reason == "max_tokens"  # type: ignore[union-attr]
    stopped = client.messages.create(
        model="claude-haiku-5-5", max_tokens=20, messages=USER, stop_sequences=[" three"], extra_headers=reply
    )
    assert stopped.content[0].text == "one two" and stopped.stop_reason == "stop_sequence"  # type: ignore[union-attr]
