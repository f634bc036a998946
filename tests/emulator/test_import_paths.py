"""The emulator's public names answer from both homes: `firsttoken.testing.emulator` and the former
`firsttoken.emulator`."""

from __future__ import annotations

import anthropic


def test_the_former_import_path_gives_the_same_objects() -> None:
    import firsttoken.emulator as former
    import firsttoken.testing.emulator as current

    assert former.__all__ == current.__all__
    for name in current.__all__:
        assert getattr(former, name) is getattr(current, name), name


def test_an_emulator_imported_from_the_former_path_serves() -> None:
    from firsttoken.emulator import Emulator

    with (
        Emulator(time_scale=0.0) as emulator,
        anthropic.Anthropic(base_url=emulator.base_url, api_key="test", max_retries=0) as client,
    ):
        message = client.messages.create(
            model="claude-haiku-5-5", max_tokens=3, messages=[{"role": "user", "content": "hi"}]
        )
    assert message.usage.output_tokens == 3
